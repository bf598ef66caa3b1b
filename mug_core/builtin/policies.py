"""Built-in policy backends: a person at the keyboard, and seeded random actions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from mug_core.configurations.configuration_constants import PolicyTypes
from mug_core.plugins import hookimpl
from mug_core.registry import Registry


@attrs.frozen
class PolicyBackend:
    """Claims the policy-mapping values it handles (``claims(value) -> bool``)."""

    description: str
    claims: Callable[[Any], bool]


@hookimpl
def mug_register_policy_backends(register: Registry[Any]) -> None:
    register("human", PolicyBackend("a participant's keyboard", lambda v: v == PolicyTypes.Human))
    register(
        "random",
        PolicyBackend("uniformly random actions, seeded", lambda v: v == PolicyTypes.Random),
    )
