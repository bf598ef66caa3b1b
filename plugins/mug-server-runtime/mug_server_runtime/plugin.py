"""Registers the ``server`` runtime and wires its games into the study server."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from mug_core.plugins import hookimpl
from mug_core.registry import Registry
from mug_core.server.assets import ClientAssets

if TYPE_CHECKING:
    from mug_core.configurations.experiment_config import ExperimentConfig
    from mug_core.registry import Registries
    from mug_core.server.server import MugServer


@attrs.frozen
class ServerRuntime:
    """The ``server`` runtime: the env steps on the host; frames stream to the pages."""

    description: str = "the env steps on the study server; frames stream to the pages"
    client_module: str = "/static/server_runtime/server_runtime.js"


@hookimpl
def mug_register_runtimes(register: Registry[Any]) -> None:
    register("server", ServerRuntime())


@hookimpl
def mug_register_client_assets(register: Registry[Any]) -> None:
    register(
        "server_runtime",
        ClientAssets(static_dir=Path(__file__).parent / "static", modules=["server_runtime.js"]),
    )


@hookimpl
def mug_validate_config(config: ExperimentConfig, registries: Registries) -> list[str] | None:
    """Build the env of every game scene that runs in the ``server`` runtime once, in a
    process of its own (see :mod:`mug_server_runtime.checks`)."""
    if config.stager is None:
        return None
    from mug_server_runtime.checks import scene_problems

    problems: list[str] = []
    checked: set[str] = set()
    for scene in config.stager.all_scenes():
        if getattr(scene, "scene_type", None) != "gym" or scene.runtime_name != "server":
            continue
        if scene.scene_id not in checked:
            checked.add(scene.scene_id)
            problems.extend(scene_problems(scene))
    return problems


@hookimpl
def mug_server_start(server: MugServer) -> None:
    from mug_server_runtime.games import GameManager

    server.games = GameManager(server)  # type: ignore[attr-defined]


@hookimpl
async def mug_server_stop(server: MugServer) -> None:
    manager = getattr(server, "games", None)
    if manager is not None:
        await manager.stop()
