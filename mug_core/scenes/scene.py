"""The base of every scene: an id, a type name, and the hooks the server calls."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

import attrs

ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ID_RULE = "1 to 64 letters, digits, '_' or '-'"


def check_id(value: object, what: str) -> str:
    """Return ``value`` if it is a valid scene, question or experiment id, else raise."""
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise ValueError(f"{what} must be {ID_RULE}, got {value!r}")
    return value


@attrs.frozen
class SceneContext:
    """What a scene may use when it describes itself to one participant's page.

    ``scene_state`` is this participant's state for this scene (JSON-serialisable); changes a
    scene makes to it are saved together with the records it returns, atomically.
    """

    participant_id: str
    scene_key: str
    answers: Mapping[str, Mapping[str, Any]]
    completion_code: str | None = None
    experiment_id: str = ""
    scene_state: dict[str, Any] = attrs.field(factory=dict)
    max_payload_bytes: int = 64 * 1024


@attrs.frozen
class EventResult:
    """What a scene makes of a page event: records to store and the acknowledgement's fields,
    or a refusal (``ok=False`` with a ``code`` and ``message``)."""

    records: list[Any] = attrs.field(factory=list)
    reply: dict[str, Any] = attrs.field(factory=dict)
    ok: bool = True
    code: str = ""
    message: str = ""

    @classmethod
    def refuse(cls, code: str, message: str) -> EventResult:
        return cls(ok=False, code=code, message=message)


@attrs.frozen
class Response:
    """A participant's validated response to a scene: the values to record, or the problems.

    ``errors`` maps a field (question id, or ``""`` for the whole scene) to a message shown next
    to it in the page.
    """

    values: dict[str, Any] = attrs.field(factory=dict)
    errors: dict[str, str] = attrs.field(factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def read_body_file(path: str | Path | None) -> str | None:
    """Read an HTML body file for ``display(scene_body_filepath=...)``."""
    if path is None:
        return None
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"display(): scene_body_filepath {str(path)!r} is not a file")
    return file.read_text(encoding="utf-8")


@attrs.define(eq=False)
class Scene:
    """A page in a study. Subclasses set :attr:`scene_type` (the registry name).

    Builder methods return the scene so calls chain: ``StaticScene().scene("intro").display(...)``.
    """

    scene_type: ClassVar[str] = ""
    scene_id: str | None = None

    def scene(self, scene_id: str, **kwargs: Any) -> Self:
        """Name the scene. The id names its data files, so it must be unique in the study."""
        self.scene_id = check_id(scene_id, "scene(): scene_id")
        if kwargs:
            raise TypeError(f"scene(): unexpected arguments {', '.join(sorted(kwargs))}")
        return self

    def check(self) -> list[str]:
        """Problems with this scene's configuration, each saying what to change."""
        if self.scene_id is None:
            return [f"a {type(self).__name__} has no scene_id: call .scene(scene_id=...)"]
        return []

    def served_files(self) -> dict[str, Path]:
        """Files the page fetches for this scene (models, images): URL name to local path,
        served at ``/study-files/<name>``."""
        return {}

    def plugin_problems(self, registries: Any) -> list[str]:
        """Problems only the installed plugins can reveal (a missing runtime, ...)."""
        return []

    def client_spec(self, context: SceneContext) -> dict[str, Any]:
        """The JSON the page's renderer for :attr:`scene_type` receives."""
        return {}

    def handle_response(self, payload: Mapping[str, Any], context: SceneContext) -> Response:
        """Validate what the page sent when the participant continues; default: nothing."""
        return Response()

    def handle_event(
        self, name: str, payload: Mapping[str, Any], context: SceneContext
    ) -> EventResult:
        """Handle a scene-specific page event (``scene_event``); default: refuse it."""
        return EventResult.refuse("unknown_event", f"{self.scene_type} scenes have no {name!r}")

    @property
    def is_terminal(self) -> bool:
        """True for scenes that end the study (no continue button)."""
        return False
