"""Constants used in study configurations: who controls each agent in a game."""

from __future__ import annotations

import enum
import re
from typing import Any

import attrs


class PolicyTypes(enum.StrEnum):
    """Policy mapping values that need no model: a person at the keyboard, or random actions."""

    Human = "human"
    Random = "random"


_REFERENCE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][\w.]*$")


@attrs.frozen
class HeuristicPolicy:
    """A scripted policy that runs beside the env: ``"module:attr"`` names a function or class
    in the env's own Python files (``heuristic:SlimeHeuristic``). A class is instantiated with
    ``kwargs``; the policy is called as ``policy(observation)`` or
    ``policy.act(observation, agent_id)`` and returns an action.
    """

    reference: str
    kwargs: dict[str, Any] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.reference, str) or not _REFERENCE.match(self.reference):
            raise ValueError(
                f"HeuristicPolicy: reference must look like 'module:name', got {self.reference!r}"
            )


__all__ = ["HeuristicPolicy", "PolicyTypes"]
