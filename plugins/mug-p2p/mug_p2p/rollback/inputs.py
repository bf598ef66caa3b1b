"""Input values and the per-player queue of confirmed inputs.

Input values travel inside JSON messages, so every value is brought to its JSON form when it
enters the session: a tuple becomes a list, dict keys become strings. The game therefore sees the
same value on every peer, whether the input was local or came over the wire. Two inputs are equal
when their canonical JSON spellings are equal (so ``1``, ``1.0`` and ``True`` are different
inputs, as they may drive a game differently).
"""

from __future__ import annotations

import enum
import json
from typing import Any

__all__ = ["MAX_INPUT_CHARS", "InputQueue", "Prediction", "canonical_input"]

#: Longest JSON spelling of one input: 16 players' inputs always fit in one message.
MAX_INPUT_CHARS = 2048


class Prediction(enum.StrEnum):
    """How a missing remote input is guessed."""

    #: Repeat the player's last confirmed input (suits held keys and Gym discrete actions).
    REPEAT_LAST = "repeat_last"
    #: Use the default input (suits one-shot key presses).
    DEFAULT = "default"


def canonical_input(value: Any) -> tuple[Any, str]:
    """Return ``(json_value, key)``: the value as it will arrive on a peer, and its JSON spelling.

    Raises ``TypeError`` naming the problem when the value cannot travel as JSON.
    """
    try:
        key = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"an input must be JSON data (int, float, str, bool, None, lists, dicts with str "
            f"keys); got {value!r}: {exc}"
        ) from None
    if len(key) > MAX_INPUT_CHARS:
        raise TypeError(
            f"an input's JSON form has {len(key)} characters; at most {MAX_INPUT_CHARS} are "
            "allowed (send key codes or action ids, not observations)"
        )
    return json.loads(key), key


class InputQueue:
    """Confirmed inputs of one player, indexed by frame, contiguous from the oldest kept frame.

    Frames are appended in order and never change once stored. Old frames can be pruned; the
    newest frame is always kept (it is the basis for repeat-last prediction).
    """

    __slots__ = ("_base", "_keys", "_values")

    def __init__(self) -> None:
        self._base = 0
        self._values: list[Any] = []
        self._keys: list[str] = []

    @property
    def last(self) -> int:
        """The newest stored frame, or -1 when nothing was stored yet."""
        return self._base + len(self._values) - 1

    @property
    def first(self) -> int:
        """The oldest frame still stored (``last + 1`` when empty)."""
        return self._base

    def append(self, value: Any, key: str) -> int:
        """Store the input of frame ``last + 1`` and return that frame."""
        self._values.append(value)
        self._keys.append(key)
        return self.last

    def value(self, frame: int) -> Any:
        return self._values[self._index(frame)]

    def key(self, frame: int) -> str:
        return self._keys[self._index(frame)]

    def values(self, start: int, stop: int) -> list[Any]:
        """Values of frames ``start`` to ``stop - 1`` (all must be stored)."""
        if start < stop:
            self._index(start)
            self._index(stop - 1)
        return self._values[start - self._base : stop - self._base]

    def prune_before(self, frame: int) -> None:
        """Forget frames older than ``frame``, keeping at least the newest one."""
        drop = min(frame - self._base, len(self._values) - 1)
        if drop > 0:
            del self._values[:drop]
            del self._keys[:drop]
            self._base += drop

    def _index(self, frame: int) -> int:
        index = frame - self._base
        if not 0 <= index < len(self._values):
            raise KeyError(f"frame {frame} is not stored (stored: {self._base}..{self.last})")
        return index
