"""The built-in transport: players' inputs meet on the study server's socket."""

from __future__ import annotations

from typing import Any

import attrs

from mug_core.plugins import hookimpl
from mug_core.registry import Registry


@attrs.frozen
class TransportInfo:
    """A way for players' inputs to meet, and the client module that implements it (if any)."""

    description: str
    client_module: str | None = None


@hookimpl
def mug_register_transports(register: Registry[Any]) -> None:
    register("server", TransportInfo("inputs relayed through the study server's socket"))
