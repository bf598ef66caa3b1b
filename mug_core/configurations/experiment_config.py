"""``ExperimentConfig``: a study's stager, hosting, data sinks and plugin choices."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import attrs

from mug_core.errors import ConfigError
from mug_core.scenes.scene import ID_PATTERN, ID_RULE
from mug_core.scenes.stager import Stager

if TYPE_CHECKING:
    from mug_core.registry import Registries

SINK_EXTRAS = {"csv": "storage", "s3": "s3"}
"""Which ``mug-core`` extra installs each well-known sink, for start-up hints."""


@attrs.define(eq=False)
class ExperimentConfig:
    """Everything about one study. Build it with the chained methods::

        ExperimentConfig().experiment(stager=stager, experiment_id="pilot").hosting(port=8000)

    Nothing is checked until :meth:`validate` (called by ``app.run`` and ``mug check``), which
    reports every problem at once.
    """

    stager: Stager | None = None
    experiment_id: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    cors_allowed_origins: list[str] | None = None
    max_payload_bytes: int = 64 * 1024
    data_dir: Path = Path("data")
    sinks: list[str] = attrs.field(factory=lambda: ["csv"])
    sink_options: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    sink_processes: bool | None = None
    state_path: Path | None = None
    plugin_allow: list[str] | None = None
    plugin_block: list[str] = attrs.field(factory=list)
    extra_plugins: list[tuple[str, object]] = attrs.field(factory=list)

    def experiment(self, stager: Stager | None = None, experiment_id: str | None = None) -> Self:
        """Set the scenes (a :class:`Stager`) and the study's id (names its data folder)."""
        if stager is not None:
            if not isinstance(stager, Stager):
                raise TypeError(f"experiment(): stager must be a Stager, got {stager!r}")
            self.stager = stager
        if experiment_id is not None:
            self.experiment_id = experiment_id
        return self

    def hosting(
        self,
        host: str | None = None,
        port: int | None = None,
        cors_allowed_origins: Iterable[str] | None = None,
        max_payload_bytes: int | None = None,
    ) -> Self:
        """Where the server listens. ``host="0.0.0.0"`` serves other machines.

        The socket accepts only the server's own origin unless ``cors_allowed_origins`` lists
        others (e.g. a study page embedded elsewhere). ``max_payload_bytes`` caps one socket
        message (64 KiB by default).
        """
        if host is not None:
            self.host = host
        if port is not None:
            self.port = port
        if cors_allowed_origins is not None:
            self.cors_allowed_origins = list(cors_allowed_origins)
        if max_payload_bytes is not None:
            self.max_payload_bytes = max_payload_bytes
        return self

    def data(
        self,
        sinks: Iterable[str] | None = None,
        data_dir: str | Path | None = None,
        sink_options: Mapping[str, Mapping[str, Any]] | None = None,
        state_path: str | Path | None = None,
        sink_processes: bool | None = None,
    ) -> Self:
        """Where data goes: sink names (``["csv"]`` by default, e.g. ``["csv", "s3"]``), the
        local data folder, options per sink, and the progress store file
        (``<data_dir>/<experiment_id>/.mug-state.sqlite3`` by default).

        ``sink_processes`` decides where sinks run. By default (``None``) a sink whose class says
        it can (``process_safe = True``: mug-storage's ``csv`` and ``s3``) runs in a process of
        its own, so writing data never competes with the server for its Python interpreter,
        and any other sink runs on a thread of the server. ``True`` puts every sink a child
        process can import in a process; ``False`` keeps them all on threads."""
        if sinks is not None:
            self.sinks = [sinks] if isinstance(sinks, str) else list(sinks)
        if data_dir is not None:
            self.data_dir = Path(data_dir)
        if sink_options is not None:
            self.sink_options = {k: dict(v) for k, v in sink_options.items()}
        if state_path is not None:
            self.state_path = Path(state_path)
        if sink_processes is not None:
            self.sink_processes = bool(sink_processes)
        return self

    def plugins(
        self,
        allow: Iterable[str] | None = None,
        block: Iterable[str] = (),
        extra: Mapping[str, object] | None = None,
    ) -> Self:
        """Choose installed plugins by entry-point name: ``allow`` keeps only these, ``block``
        drops these. ``extra`` registers plugin objects in-process (name to module)."""
        self.plugin_allow = None if allow is None else list(allow)
        self.plugin_block = list(block)
        if extra:
            self.extra_plugins = list(extra.items())
        return self

    @property
    def study_dir(self) -> Path:
        """``<data_dir>/<experiment_id>``: where this study's local files go."""
        return self.data_dir / (self.experiment_id or "unnamed")

    @property
    def resolved_state_path(self) -> Path:
        """The progress store file."""
        return self.state_path or self.study_dir / ".mug-state.sqlite3"

    def problems(self, registries: Registries) -> list[str]:
        """Every configuration problem the core can see (plugins add theirs in validate)."""
        problems: list[str] = []
        if self.experiment_id is None:
            problems.append("no experiment_id: call .experiment(experiment_id='my_study')")
        elif not ID_PATTERN.match(self.experiment_id):
            problems.append(f"experiment_id must be {ID_RULE}, got {self.experiment_id!r}")
        if self.stager is None:
            problems.append("no scenes: call .experiment(stager=Stager(scenes=[...]))")
        else:
            problems.extend(self.stager.check())
            scene_ids = {scene.scene_id for scene in self.stager.all_scenes()}
            for scene in self.stager.all_scenes():
                problems.extend(scene.plugin_problems(registries))
                target = getattr(scene, "timeout_scene_id", None)
                if target is not None and target not in scene_ids:
                    problems.append(
                        f"scene {scene.scene_id!r}: waitroom(timeout_scene_id={target!r}) names "
                        "no scene of this study"
                    )
                if scene.scene_type not in registries.scene_types:
                    problems.append(
                        f"scene {scene.scene_id!r} is a {type(scene).__name__} (type "
                        f"{scene.scene_type!r}), but no installed plugin provides that scene type"
                    )
        if not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            problems.append(f"hosting(): port must be 0 to 65535, got {self.port!r}")
        if not isinstance(self.max_payload_bytes, int) or self.max_payload_bytes < 1024:
            problems.append("hosting(): max_payload_bytes must be at least 1024")
        if not self.sinks:
            problems.append("data(): choose at least one sink, e.g. sinks=['csv']")
        for sink in self.sinks:
            if sink not in registries.data_sinks:
                extra = SINK_EXTRAS.get(sink)
                hint = f"; install it with pip install 'mug-core[{extra}]'" if extra else ""
                known = ", ".join(registries.data_sinks.names()) or "none installed"
                problems.append(f"data sink {sink!r} is not installed (available: {known}){hint}")
        for name in self.sink_options:
            if name not in self.sinks:
                problems.append(f"data(): sink_options names {name!r}, which is not in sinks")
        return problems

    def validate(self, host: Any) -> None:
        """Raise :class:`ConfigError` listing every problem, from the core and from plugins."""
        registries = host.registries
        problems = self.problems(registries)
        for result in host.hook.mug_validate_config(config=self, registries=registries):
            problems.extend(result or [])
        if problems:
            raise ConfigError(problems)
