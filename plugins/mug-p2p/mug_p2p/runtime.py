"""The ``p2p`` game runtime: every participant of a group runs the env in their own page.

A ``GymScene`` with several human agents and ``.multiplayer()`` asks its pages for the ``p2p``
runtime (``static/p2p_runtime.js``). It builds on mug-pyodide's worker (the same Pyodide, the
same env ``Runner``), adds the rollback session (``static/p2p_runner.py`` and the engine in
:mod:`mug_p2p.rollback`, sent to the page as plain files), and carries inputs over the peer
transport (``static/p2p_transport.js``).

Pages load three things from this plugin:

- ``/static/p2p/p2p_runtime.js`` (imported at start; registers the runtime in the page),
- ``/static/p2p/p2p_worker.js`` and ``p2p_runner.py`` (loaded into the worker on first use),
- ``/static/p2p-engine/<module>.py``: the files of :data:`ENGINE_FILES`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from mug_core.plugins import hookimpl
from mug_core.registry import Registry
from mug_core.server.assets import ClientAssets

STATIC_DIR = Path(__file__).resolve().parent / "static"
ENGINE_DIR = Path(__file__).resolve().parent / "rollback"
RUNTIME_MODULE = "p2p_runtime.js"
"""The page module of the runtime, inside :data:`STATIC_DIR`."""

ENGINE_FILES = (
    "__init__.py",
    "checksum.py",
    "desync.py",
    "events.py",
    "game.py",
    "inputs.py",
    "messages.py",
    "peers.py",
    "requests.py",
    "session.py",
    "sync_test.py",
    "timeline.py",
)
"""The rollback engine's modules; ``p2p_worker.js`` writes them into Pyodide as
``mug_p2p/rollback/`` (kept in step with the folder by a test)."""


@attrs.frozen
class P2PRuntime:
    """A runtime entry: what it does, and the browser module implementing it."""

    description: str
    client_module: str


P2P = P2PRuntime(
    description="every participant's page runs the env (Pyodide); inputs travel peer to peer "
    "and rollback hides the delay",
    client_module=f"/static/p2p/{RUNTIME_MODULE}",
)


def client_bundles() -> dict[str, ClientAssets]:
    """The runtime's client bundles: ``p2p`` (this folder's ``static``, importing
    :data:`RUNTIME_MODULE` at start) and ``p2p-engine`` (the engine's Python files)."""
    return {
        "p2p": ClientAssets(static_dir=STATIC_DIR, modules=[RUNTIME_MODULE]),
        "p2p-engine": ClientAssets(static_dir=ENGINE_DIR),
    }


@hookimpl
def mug_register_runtimes(register: Registry[Any]) -> None:
    """Register ``p2p``."""
    register("p2p", P2P)


__all__ = ["ENGINE_FILES", "P2P", "RUNTIME_MODULE", "STATIC_DIR", "P2PRuntime", "client_bundles"]
