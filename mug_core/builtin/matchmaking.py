"""The built-in matchmaker: first come, first grouped."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from mug_core.plugins import hookimpl
from mug_core.registry import Registry


class FifoMatchmaker:
    """Groups waiting participants in arrival order, ``group_size`` at a time."""

    def __init__(self, group_size: int) -> None:
        if group_size < 1:
            raise ValueError("FifoMatchmaker: group_size must be 1 or more")
        self.group_size = group_size
        self._waiting: OrderedDict[str, float] = OrderedDict()

    def add(self, participant_id: str, now: float) -> list[str] | None:
        """Add a waiting participant; return a complete group (and remove it), or None."""
        self._waiting.setdefault(participant_id, now)
        if len(self._waiting) < self.group_size:
            return None
        group = list(self._waiting)[: self.group_size]
        for pid in group:
            del self._waiting[pid]
        return group

    def remove(self, participant_id: str) -> None:
        """Drop a participant who left the waiting room."""
        self._waiting.pop(participant_id, None)

    def waiting(self) -> list[tuple[str, float]]:
        """Waiting participants with the time each arrived, oldest first."""
        return list(self._waiting.items())


@hookimpl
def mug_register_matchmakers(register: Registry[Any]) -> None:
    register("fifo", FifoMatchmaker)
