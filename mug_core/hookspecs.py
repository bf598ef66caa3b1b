"""Every hook of the MUG plugin contract, grouped by lifecycle phase.

A plugin is a module (or object) with functions decorated by :data:`mug_core.hookimpl` whose
names match the specs below. Install it as a distribution with an entry point in the ``mug``
group::

    [project.entry-points.mug]
    my_plugin = "my_package.plugin"

Registration hooks are called once per plugin host, each implementation with a registry view that
records which plugin registered what; registering a name twice is an error that names both
plugins. Lifecycle hooks may return an awaitable; the server awaits it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from mug_core.configurations.experiment_config import ExperimentConfig
    from mug_core.registry import Registries, Registry
    from mug_core.server.events import ParticipantEvent
    from mug_core.server.server import MugServer

hookspec = pluggy.HookspecMarker("mug")

# -- Registration: what a plugin adds ---------------------------------------------------------


@hookspec
def mug_register_scene_types(register: Registry[Any]) -> None:
    """Register scene types: ``register("survey", SceneType(...))``.

    Called once per plugin host. A scene type names the Python scene class (so the server can
    check a study's scenes) and the client JS module that renders it in the page.
    """


@hookspec
def mug_register_runtimes(register: Registry[Any]) -> None:
    """Register game runtimes: where a GymScene's env steps (``"browser"``, ``"server"``).

    Values are runtime objects or lazy ``"module:attr"`` references to them.
    """


@hookspec
def mug_register_policy_backends(register: Registry[Any]) -> None:
    """Register policy backends: who claims a policy spec in a policy mapping.

    A backend names the spec it handles (``"human"``, ``"random"``, ``"onnx"``, ...).
    """


@hookspec
def mug_register_renderers(register: Registry[Any]) -> None:
    """Register renderers: how a Surface packet is drawn in the browser (``"canvas"``).

    Values name the client JS module that implements the renderer.
    """


@hookspec
def mug_register_transports(register: Registry[Any]) -> None:
    """Register transports: how players' inputs meet (``"server"`` relay, ``"webrtc"``)."""


@hookspec
def mug_register_data_sinks(register: Registry[Any]) -> None:
    """Register data sinks (``"csv"``, ``"s3"``): classes implementing :class:`DataSink`.

    Values are classes or lazy ``"module:Class"`` references, so heavy imports (boto3) happen
    only when a study selects the sink.
    """


@hookspec
def mug_register_matchmakers(register: Registry[Any]) -> None:
    """Register matchmakers that form groups of waiting participants (``"fifo"``, ...)."""


@hookspec
def mug_register_client_assets(register: Registry[Any]) -> None:
    """Register what a plugin ships to the browser: static folders and JS modules.

    ``register("my_plugin", ClientAssets(static_dir=..., modules=["scene.js"]))``; the page
    imports each module, which registers into the browser kernel's registry.
    """


@hookspec
def mug_register_commands(register: Registry[Any]) -> None:
    """Register ``mug`` sub-commands: ``register("export", Command(help=..., add_arguments=...,
    run=...))``."""


# -- Configuration ----------------------------------------------------------------------------


@hookspec
def mug_validate_config(config: ExperimentConfig, registries: Registries) -> list[str] | None:
    """Check a study's configuration before the server starts.

    Return a list of problems, each a message that says what to change (or None). Every problem
    from every plugin is reported together, at start-up, before any participant arrives.
    """


# -- Server lifecycle -------------------------------------------------------------------------


@hookspec
def mug_server_start(server: MugServer) -> Any:
    """Called once the server is built and before it accepts connections. May be async."""


@hookspec
def mug_server_stop(server: MugServer) -> Any:
    """Called when the server shuts down, after it stops accepting connections. May be async."""


@hookspec
def mug_participant_event(event: ParticipantEvent) -> Any:
    """Observe a participant event: ``joined``, ``advanced``, ``disconnected`` or ``finished``.

    Called after the event took effect (and after its data is durable). May be async; an error
    in an observer is logged and never breaks the participant's session.
    """
