"""The mug-p2p plugin: the ``p2p`` runtime, the ``webrtc`` transport and its server side.

Registered under the ``mug`` entry-point group as ``p2p``. At server start it adds the
signalling and relay socket events of :mod:`mug_p2p.signalling` (``server.p2p_signalling``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mug_core.builtin.transport import TransportInfo
from mug_core.plugins import hookimpl
from mug_core.registry import Registry
from mug_p2p.runtime import RUNTIME_MODULE, client_bundles, mug_register_runtimes

if TYPE_CHECKING:
    from mug_core.server.server import MugServer

TRANSPORT_MODULE = "p2p_transport.js"
"""The page module of the peer transport, next to :data:`mug_p2p.runtime.RUNTIME_MODULE`."""

WEBRTC = TransportInfo(
    "WebRTC DataChannels between the players' pages, signalled through the study server; "
    "falls back to relaying through the server",
    client_module=f"/static/p2p/{TRANSPORT_MODULE}",
)


@hookimpl
def mug_register_transports(register: Registry[Any]) -> None:
    """Register ``webrtc``."""
    register("webrtc", WEBRTC)


@hookimpl
def mug_register_client_assets(register: Registry[Any]) -> None:
    """Serve the runtime and transport modules (``/static/p2p/``) and the engine's files."""
    for name, assets in client_bundles().items():
        register(name, assets)


@hookimpl
def mug_server_start(server: MugServer) -> None:
    """Add the ``p2p_signal``, ``p2p_relay`` and ``p2p_connection`` socket events."""
    from mug_p2p.signalling import Signalling

    server.p2p_signalling = Signalling(server)  # type: ignore[attr-defined]


__all__ = [
    "RUNTIME_MODULE",
    "TRANSPORT_MODULE",
    "WEBRTC",
    "mug_register_client_assets",
    "mug_register_runtimes",
    "mug_register_transports",
    "mug_server_start",
]
