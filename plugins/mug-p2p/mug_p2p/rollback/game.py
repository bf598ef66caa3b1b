"""How a caller plays a game through a session: the Game protocol and two small helpers.

For each request, in the order given:

============== ==========================================================================
request        what the caller does
============== ==========================================================================
SaveState      ``request.save(game.get_state())`` (or ``request.save(state, checksum)``)
LoadState      ``game.set_state(request.load())``
AdvanceFrame   ``game.step(request.values)``: one step with every player's input, in handle
               order; ``request.inputs`` also gives each input's status
============== ==========================================================================

Rules for the game, which make every peer compute the same thing:

- ``get_state()`` returns a fresh, JSON-like snapshot (dicts with str keys, lists, numbers,
  strings) that captures *everything* ``step`` depends on, including RNG state; ``set_state``
  restores all of it and keeps no reference into the snapshot that it later mutates.
- ``step`` depends only on the state and the inputs: no wall clock, no unseeded randomness, no
  global counters. Use integer arithmetic or plain ``+ - * /`` on floats for anything that reaches
  the state; ``math.sin`` and friends may differ between platforms in the last bit.
- AI agents act identically on every peer when their action is computed inside ``step`` from the
  state (seeded RNG kept in the state) or when one peer owns them as a local player and sends
  their actions like a human's. Either way they see only what the simulation sees, so a rollback
  re-runs them too.
- Rendering and sound happen after all requests are fulfilled, never inside ``step``.
- Record only confirmed frames: buffer what ``step`` returns per frame (a later re-simulation
  overwrites it) and write it when the frame appears in ``drain_confirmed_frames()``.
  :class:`ConfirmedStepBuffer` does exactly that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from .events import ConfirmedFrame
from .requests import AdvanceFrame, LoadState, Request, SaveState

__all__ = ["ConfirmedStepBuffer", "Game", "fulfil_requests"]


@runtime_checkable
class Game(Protocol):
    """What :func:`fulfil_requests` needs from a game (wrap a Gym/PettingZoo env to fit)."""

    def get_state(self) -> Any:
        """Return a snapshot of the whole simulation state."""
        ...

    def set_state(self, state: Any) -> None:
        """Restore a snapshot returned by ``get_state``."""
        ...

    def step(self, actions: tuple[Any, ...]) -> Any:
        """Advance one frame with one action per player handle; return what to record."""
        ...


def fulfil_requests(
    game: Game,
    requests: Iterable[Request],
    *,
    checksum: Callable[[Any], str] | None = None,
) -> list[tuple[int, Any]]:
    """Carry out ``requests`` on ``game`` in order; return ``(frame, step result)`` per advance.

    ``checksum`` computes a state's checksum on save; by default the session computes
    :func:`~mug_p2p.rollback.checksum.state_checksum` only for frames it compares.
    """
    results: list[tuple[int, Any]] = []
    for request in requests:
        if isinstance(request, SaveState):
            state = game.get_state()
            request.save(state, checksum(state) if checksum is not None else None)
        elif isinstance(request, LoadState):
            game.set_state(request.load())
        elif isinstance(request, AdvanceFrame):
            results.append((request.frame, game.step(request.values)))
        else:
            raise TypeError(f"not a request: {request!r}")
    return results


class ConfirmedStepBuffer:
    """Holds step results until their frame is confirmed, so every peer records the same thing.

    Call :meth:`stepped` with what :func:`fulfil_requests` returned (re-simulated frames replace
    earlier results), then :meth:`confirm` with ``session.drain_confirmed_frames()`` to get the
    final ``(ConfirmedFrame, step result)`` pairs, in frame order.
    """

    def __init__(self) -> None:
        self._results: dict[int, Any] = {}

    def stepped(self, results: Iterable[tuple[int, Any]]) -> None:
        for frame, result in results:
            self._results[frame] = result

    def confirm(self, frames: Iterable[ConfirmedFrame]) -> list[tuple[ConfirmedFrame, Any]]:
        out = []
        for record in frames:
            if record.frame not in self._results:
                raise KeyError(f"frame {record.frame} was confirmed but never stepped")
            out.append((record, self._results.pop(record.frame)))
        return out

    def __len__(self) -> int:
        return len(self._results)
