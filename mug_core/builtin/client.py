"""The browser kernel's own bundle: page modules and the socket.io client."""

from __future__ import annotations

from typing import Any

from mug_core.plugins import hookimpl
from mug_core.registry import Registry
from mug_core.server.assets import CLIENT_DIR, ClientAssets

SOCKETIO_CLIENT_VERSION = "4.8.1"


@hookimpl
def mug_register_client_assets(register: Registry[Any]) -> None:
    register(
        "mug",
        ClientAssets(
            static_dir=CLIENT_DIR,
            modules=("scenes/static.js", "scenes/survey.js", "scenes/gym.js"),
            vendor={"socket.io.min.js": "socket.io-client/dist/socket.io.min.js"},
            npm={"socket.io-client": SOCKETIO_CLIENT_VERSION},
        ),
    )
