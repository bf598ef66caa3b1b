"""Constants used in study configurations: who controls each agent in a game."""

from __future__ import annotations

import enum


class PolicyTypes(enum.StrEnum):
    """Policy mapping values that need no model: a person at the keyboard, or random actions."""

    Human = "human"
    Random = "random"


__all__ = ["PolicyTypes"]
