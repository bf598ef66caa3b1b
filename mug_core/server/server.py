"""``MugServer``: one study served by hypercorn with quart and python-socketio."""

from __future__ import annotations

import asyncio
import gc
import logging
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import socketio
from hypercorn.asyncio import serve
from hypercorn.config import Config as HypercornConfig

from mug_core.configurations.experiment_config import ExperimentConfig
from mug_core.data.delivery import Delivery
from mug_core.data.sinks import SinkContext
from mug_core.errors import ConfigError
from mug_core.plugins import PluginHost, await_me_maybe, call_lifecycle
from mug_core.scenes.scene import SceneContext
from mug_core.server.assets import ClientAssets, find_vendor_file
from mug_core.server.events import ParticipantEvent
from mug_core.server.flow import Current, ParticipantState
from mug_core.server.http import build_http_app
from mug_core.server.sessions import ParticipantSessions
from mug_core.server.store import SQLiteStudyStore
from mug_core.server.waiting import WaitingRooms

log = logging.getLogger(__name__)


class MugServer:
    """A study server. Build with :func:`mug_core.server.app.create_server`, then
    ``await server.serve()``; or let :func:`mug_core.server.app.run` do both.

    Construction loads plugins and validates the configuration, so every mistake is reported
    before anything listens. Sinks and the progress store open in :meth:`serve`.
    """

    def __init__(self, config: ExperimentConfig, host: PluginHost | None = None) -> None:
        self.config = config
        self.plugins = host or PluginHost.load(
            allow=config.plugin_allow, block=config.plugin_block, extra_plugins=config.extra_plugins
        )
        config.validate(self.plugins)
        self.static_dirs: dict[str, Path] = {}
        self.client_modules: list[str] = []
        self.vendor_files: dict[str, Path] = {}
        self.study_files: dict[str, Path] = {}
        runtimes = {getattr(s, "runtime_name", None) for s in self._scenes()}
        self.runtimes_used: list[str] = sorted(r for r in runtimes if r)
        """Runtimes the study's game scenes use, so pages can preload them."""
        self._listeners: list[Any] = []
        for scene in self._scenes():
            self.study_files.update(scene.served_files())
        self._collect_assets()
        self.secret_key = secrets.token_hex(32)
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            cors_allowed_origins=config.cors_allowed_origins,
            # Larger messages than this close the connection; below it, handlers answer
            # oversized payloads with a clear error.
            max_http_buffer_size=config.max_payload_bytes * 2,
            logger=False,
            engineio_logger=False,
        )
        self.sessions = ParticipantSessions(self)
        self.waiting = WaitingRooms(self)
        self.sessions.attach(self.sio)
        self.http = build_http_app(self)
        self.http.secret_key = self.secret_key
        self.asgi = socketio.ASGIApp(self.sio, other_asgi_app=self.http)
        self.store: Any = None
        self.delivery: Any = None

    def _scenes(self) -> list[Any]:
        stager = self.config.stager
        return stager.all_scenes() if stager is not None else []

    def _collect_assets(self) -> None:
        missing: list[str] = []
        registry = self.plugins.registries.client_assets
        for name in registry.names():
            assets = registry.get(name)
            if not isinstance(assets, ClientAssets):
                raise ConfigError(
                    f"plugin {registry.plugin_of(name)!r} registered client assets {name!r} "
                    f"as {type(assets).__name__}; register a ClientAssets"
                )
            self.static_dirs[name] = Path(assets.static_dir)
            self.client_modules.extend(f"/static/{name}/{m}" for m in assets.modules)
            for url_path, package_path in assets.vendor.items():
                found = find_vendor_file(package_path)
                if found is None:
                    missing.append(package_path)
                else:
                    self.vendor_files[url_path] = found
        if missing:
            raise ConfigError(
                "browser packages are not installed: "
                + ", ".join(missing)
                + ". Run `mug assets install` (needs npm), or set MUG_VENDOR_DIR to a folder "
                "whose node_modules holds them"
            )

    def scene_context(self, state: ParticipantState, current: Current) -> SceneContext:
        """What a scene may know about the participant it is shown to."""
        return SceneContext(
            participant_id=state.participant_id,
            scene_key=current.scene_key,
            answers=state.answers,
            completion_code=state.completion_code,
            experiment_id=self.config.experiment_id or "",
            scene_state=state.scene_state.setdefault(current.scene_key, {}),
            max_payload_bytes=self.config.max_payload_bytes,
        )

    def add_event_listener(self, listener: Any) -> None:
        """Call ``listener(event)`` (may be async) for every participant event of this server,
        after the plugins' ``mug_participant_event`` hooks."""
        self._listeners.append(listener)

    async def emit_event(self, event: ParticipantEvent) -> None:
        """Tell every plugin about ``event``; an observer's error is logged, never raised."""
        try:
            results = [
                *self.plugins.hook.mug_participant_event(event=event),
                *(listener(event) for listener in self._listeners),
            ]
            for result in results:
                await await_me_maybe(result)
        except Exception:
            log.exception("a plugin failed while observing %s", event.name)

    def _open_data(self) -> None:
        study_dir = self.config.study_dir
        study_dir.mkdir(parents=True, exist_ok=True)
        sinks, contexts = {}, {}
        for name in self.config.sinks:
            sink_class = self.plugins.registries.data_sinks.get(name)
            options = self.config.sink_options.get(name, {})
            contexts[name] = SinkContext(self.config.experiment_id or "", study_dir, options)
            sinks[name] = sink_class(contexts[name])
        self.store = SQLiteStudyStore(self.config.resolved_state_path)
        self.delivery = Delivery(self.store, sinks, _in_processes(self.config, sinks, contexts))
        if not self.delivery.wait_started():
            log.error("a data sink's process did not start; its records wait in the outbox")

    async def serve(self, shutdown: asyncio.Event | None = None) -> None:
        """Serve until ``shutdown`` is set (or forever). Opens and closes sinks and the store."""
        shutdown = shutdown or asyncio.Event()
        self._open_data()
        self.waiting.start()
        await call_lifecycle(self.plugins.hook.mug_server_start(server=self))
        # Everything built so far lives as long as the server: keep it out of the collector's
        # full passes, which otherwise pause every participant at once.
        gc.collect()
        gc.freeze()
        hc = HypercornConfig()
        hc.bind = [f"{self.config.host}:{self.config.port}"]
        hc.accesslog = None
        hc.errorlog = logging.getLogger("hypercorn.error")
        hc.graceful_timeout = 2.0
        try:
            await serve(self.asgi, hc, shutdown_trigger=shutdown.wait)  # type: ignore[arg-type]
        finally:
            await self.waiting.stop()
            await call_lifecycle(self.plugins.hook.mug_server_stop(server=self))
            await self.sio.shutdown()
            await self.store.close()
            await asyncio.to_thread(self.delivery.close)


def _in_processes(
    config: ExperimentConfig, sinks: Mapping[str, Any], contexts: dict[str, SinkContext]
) -> dict[str, SinkContext] | None:
    """The contexts of the sinks that run in processes of their own (see
    :meth:`ExperimentConfig.data`): by default those whose class is ``process_safe``."""
    if config.sink_processes is None:
        chosen = {n: c for n, c in contexts.items() if getattr(sinks[n], "process_safe", False)}
        return chosen or None
    return contexts if config.sink_processes else None
