"""Pages of text: start (with optional consent), static, end, and completion code scenes."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import attrs

from mug_core.scenes.scene import Response, Scene, SceneContext, read_body_file


@attrs.define(eq=False)
class StaticScene(Scene):
    """A page with a header, optional subheader, an HTML body and a continue button."""

    scene_type = "static"
    scene_header: str | None = None
    scene_subheader: str | None = None
    scene_body: str | None = None
    button_text: str = "Continue"

    def display(
        self,
        scene_header: str | None = None,
        scene_subheader: str | None = None,
        scene_body: str | None = None,
        scene_body_filepath: str | Path | None = None,
        button_text: str | None = None,
    ) -> Self:
        """Set what the page shows. ``scene_body`` is HTML; or read it from a file."""
        if scene_body is not None and scene_body_filepath is not None:
            raise ValueError("display(): give scene_body or scene_body_filepath, not both")
        self.scene_header = scene_header
        self.scene_subheader = scene_subheader
        self.scene_body = (
            scene_body if scene_body is not None else read_body_file(scene_body_filepath)
        )
        if button_text is not None:
            self.button_text = button_text
        return self

    def client_spec(self, context: SceneContext) -> dict[str, Any]:
        return {
            "header": self.scene_header,
            "subheader": self.scene_subheader,
            "body": self.scene_body,
            "button_text": self.button_text,
        }


DEFAULT_CONSENT = "I have read the information above and agree to take part."


@attrs.define(eq=False)
class StartScene(StaticScene):
    """The first page; :meth:`consent` adds a checkbox the participant must tick."""

    scene_type = "start"
    consent_label: str | None = None

    def consent(self, label: str = DEFAULT_CONSENT) -> Self:
        """Require a ticked consent checkbox (checked on the server) before continuing."""
        if not isinstance(label, str) or not label.strip():
            raise ValueError("consent(): label must be non-empty text")
        self.consent_label = label
        return self

    def client_spec(self, context: SceneContext) -> dict[str, Any]:
        return {**super().client_spec(context), "consent": self.consent_label}

    def handle_response(self, payload: Mapping[str, Any], context: SceneContext) -> Response:
        if self.consent_label is None:
            return Response()
        if payload.get("consent") is not True:
            return Response(errors={"consent": "Please tick the box to give your consent."})
        return Response(values={"consent": True})


@attrs.define(eq=False)
class EndScene(StaticScene):
    """The last page. :meth:`redirect` sends the participant on, e.g. back to Prolific."""

    scene_type = "end"
    redirect_url: str | None = None
    append_subject_id: bool = False
    redirect_delay_s: float = 3.0

    def redirect(self, url: str, append_subject_id: bool = False, delay_s: float = 3.0) -> Self:
        """Redirect to ``url`` after ``delay_s`` seconds.

        With ``append_subject_id`` the participant id is appended to the URL as-is (so end the
        URL with ``?id=`` or similar); a ``{participant_id}`` placeholder is filled either way.
        """
        if not isinstance(url, str) or not url.startswith(("http://", "https://", "/")):
            raise ValueError(f"redirect(): url must start with http://, https:// or /, got {url!r}")
        if delay_s < 0:
            raise ValueError("redirect(): delay_s must be zero or more seconds")
        self.redirect_url = url
        self.append_subject_id = append_subject_id
        self.redirect_delay_s = delay_s
        return self

    def redirect_for(self, participant_id: str) -> str | None:
        """The redirect URL for one participant, or None."""
        if self.redirect_url is None:
            return None
        url = self.redirect_url.replace("{participant_id}", participant_id)
        return url + participant_id if self.append_subject_id else url

    @property
    def is_terminal(self) -> bool:
        return True

    def client_spec(self, context: SceneContext) -> dict[str, Any]:
        return {
            **super().client_spec(context),
            "redirect_url": self.redirect_for(context.participant_id),
            "redirect_delay_s": self.redirect_delay_s,
        }


def new_completion_code() -> str:
    """A random completion code: 10 characters, no look-alike letters."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(10))


@attrs.define(eq=False)
class CompletionCodeScene(EndScene):
    """An end page that shows a completion code, unique per participant unless fixed.

    ``.code("C1A2B3")`` uses one study-wide code (as Prolific studies often do).
    """

    scene_type = "completion_code"
    fixed_code: str | None = None

    def code(self, completion_code: str) -> Self:
        """Show this study-wide code instead of a random one per participant."""
        if not isinstance(completion_code, str) or not completion_code.strip():
            raise ValueError("code(): completion_code must be non-empty text")
        self.fixed_code = completion_code
        return self

    def new_code(self) -> str:
        """The code to give a participant who reaches this scene."""
        return self.fixed_code or new_completion_code()

    def client_spec(self, context: SceneContext) -> dict[str, Any]:
        return {**super().client_spec(context), "code": context.completion_code}
