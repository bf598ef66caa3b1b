"""What a session asks the caller to do: save, load and advance requests, and the stall result.

A session never touches the game. :meth:`P2PSession.advance_frame` returns an ordered list of
requests; the caller fulfils them in order, then renders. See :mod:`mug_p2p.rollback.game` for
the loop with an env that has ``get_state()``, ``set_state()`` and ``step()``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from .checksum import state_checksum

__all__ = [
    "AdvanceFrame",
    "GameStateCell",
    "InputStatus",
    "LoadState",
    "Request",
    "SaveState",
    "Stalled",
]


class InputStatus(enum.StrEnum):
    """How certain one player's input for one frame is."""

    #: The player's real input for the frame.
    CONFIRMED = "confirmed"
    #: A guess (the last confirmed input, or the default); may be corrected by a rollback later.
    PREDICTED = "predicted"
    #: The player has left; the value is the session's default input.
    DISCONNECTED = "disconnected"


class GameStateCell:
    """Holds one saved game state of one frame, shared between the session and the caller.

    The caller fills a cell through :meth:`SaveState.save` and reads it back through
    :meth:`LoadState.load`. The session keeps the state object as given and hands the same object
    back on load, so the state must be a snapshot: ``get_state()`` must return a fresh object and
    ``set_state()`` must not keep references into it that the game later mutates.
    """

    __slots__ = ("checksum", "frame", "needs_checksum", "saved", "state")

    def __init__(self, frame: int, *, needs_checksum: bool = False) -> None:
        self.frame = frame
        self.needs_checksum = needs_checksum
        self.state: Any = None
        self.checksum: str | None = None
        self.saved = False

    def save(self, state: Any, checksum: str | None = None) -> None:
        """Store ``state`` (and its checksum) for this cell's frame.

        When the session needs a checksum of this frame (desync detection, sync test) and none is
        given, it is computed with :func:`state_checksum`, which needs a JSON-like state. A
        checksum given here must be computed the same way on every peer.
        """
        if checksum is None and self.needs_checksum:
            checksum = state_checksum(state)
        if checksum is not None and not isinstance(checksum, str):
            raise TypeError(f"checksum must be a str, not {type(checksum).__name__}")
        self.state = state
        self.checksum = checksum
        self.saved = True

    def load(self) -> Any:
        """Return the saved state; raises ``RuntimeError`` if it was never saved."""
        if not self.saved:
            raise RuntimeError(f"the state of frame {self.frame} was never saved")
        return self.state

    def __repr__(self) -> str:
        return f"GameStateCell(frame={self.frame}, saved={self.saved}, checksum={self.checksum!r})"


@dataclass(frozen=True, slots=True)
class SaveState:
    """Save the game's current state as the state of ``frame`` (before that frame's inputs).

    Fulfil with ``request.save(game.get_state())`` or ``request.save(state, checksum)``.
    """

    frame: int
    cell: GameStateCell = field(repr=False, compare=False)

    def save(self, state: Any, checksum: str | None = None) -> None:
        """Store the state (see :meth:`GameStateCell.save`)."""
        self.cell.save(state, checksum)


@dataclass(frozen=True, slots=True)
class LoadState:
    """Restore the state saved for ``frame``: ``game.set_state(request.load())``."""

    frame: int
    cell: GameStateCell = field(repr=False, compare=False)

    def load(self) -> Any:
        """Return the state to restore."""
        return self.cell.load()


@dataclass(frozen=True, slots=True)
class AdvanceFrame:
    """Advance the game by one step, from the state of ``frame`` to the state of ``frame + 1``.

    ``inputs`` holds one ``(value, status)`` pair per player handle, in handle order. A
    disconnected player's value is the session's default input.
    """

    frame: int
    inputs: tuple[tuple[Any, InputStatus], ...]

    @property
    def values(self) -> tuple[Any, ...]:
        """The input values alone, in handle order (what ``env.step`` usually wants)."""
        return tuple(value for value, _ in self.inputs)

    @property
    def confirmed(self) -> bool:
        """True when no input of this step is a prediction."""
        return all(status is not InputStatus.PREDICTED for _, status in self.inputs)


#: One request of the list that ``advance_frame()`` returns.
Request = SaveState | LoadState | AdvanceFrame


@dataclass(frozen=True, slots=True)
class Stalled:
    """``advance_frame()`` did not advance: the prediction window is full.

    This is a normal result, not an error, and there is nothing to fulfil. The frame stays at
    ``frame``. The local inputs of the first stalled tick were kept (and are sent to the peers);
    inputs given in the following stalled ticks are ignored. Keep polling the transport, feeding
    messages and calling ``advance_frame()`` each tick: the session resumes once the inputs of
    the players in ``waiting_for`` arrive (or they are disconnected).
    """

    #: The frame the session is waiting to simulate.
    frame: int
    #: Handles of the players whose confirmed inputs are missing.
    waiting_for: tuple[int, ...]
    #: The last frame for which every player's input is confirmed (-1 if none).
    confirmed_frame: int
