"""Sync test: prove a game deterministic by rolling back and re-simulating every frame.

All players are local and there is no network. On every frame the session saves the state, loads
the state of ``check_distance`` frames back, re-simulates up to the current frame (saving each
state again) and then advances. The checksum of every re-simulated state is compared with the one
saved the first time; a difference is a :class:`ChecksumMismatch`. A game fails it when its step
depends on anything ``get_state()`` does not capture (a global RNG, a wall clock, a counter kept
outside the state) or when ``set_state()`` does not restore everything.

Drive it exactly like :class:`P2PSession`: ``add_local_input`` for every handle, then
``advance_frame`` and fulfil the requests.
"""

from __future__ import annotations

from typing import Any

from .events import ChecksumMismatch
from .inputs import InputQueue, canonical_input
from .messages import MAX_PLAYERS
from .requests import AdvanceFrame, GameStateCell, InputStatus, LoadState, Request, SaveState

__all__ = ["SyncTestSession"]


class SyncTestSession:
    """Re-simulates ``check_distance`` frames on every frame and compares checksums.

    Args:
        num_players: every player is local; give each an input per tick.
        check_distance: how many frames to roll back each frame (at least 1).
        input_delay: as in :class:`P2PSession` (inputs apply this many frames later).
        default_input: input of the first ``input_delay`` frames.
    """

    def __init__(
        self,
        num_players: int,
        *,
        check_distance: int = 2,
        input_delay: int = 0,
        default_input: Any = 0,
    ) -> None:
        if type(num_players) is not int or not 1 <= num_players <= MAX_PLAYERS:
            raise ValueError(f"num_players must be 1 to {MAX_PLAYERS}, got {num_players!r}")
        if type(check_distance) is not int or not 1 <= check_distance <= 64:
            raise ValueError(f"check_distance must be 1 to 64, got {check_distance!r}")
        if type(input_delay) is not int or not 0 <= input_delay <= 32:
            raise ValueError(f"input_delay must be 0 to 32, got {input_delay!r}")
        self._n = num_players
        self._distance = check_distance
        self._default, self._default_key = canonical_input(default_input)
        self._inputs = [InputQueue() for _ in range(num_players)]
        for queue in self._inputs:
            for _ in range(input_delay):
                queue.append(self._default, self._default_key)
        self._pending: dict[int, tuple[Any, str]] = {}
        self._frame = 0
        self._states: dict[int, GameStateCell] = {}
        self._unchecked: list[GameStateCell] = []
        self._first: dict[int, str] = {}
        self._mismatches: list[ChecksumMismatch] = []
        self._events: list[ChecksumMismatch] = []
        self._checks = 0

    @property
    def current_frame(self) -> int:
        return self._frame

    @property
    def mismatches(self) -> list[ChecksumMismatch]:
        """Every mismatch found so far (empty for a deterministic game)."""
        return list(self._mismatches)

    @property
    def checks(self) -> int:
        """How many re-simulated checksums were compared."""
        return self._checks

    def add_local_input(self, handle: int, value: Any) -> None:
        """Give player ``handle``'s input for this tick (JSON data)."""
        if not 0 <= handle < self._n:
            raise ValueError(f"no player {handle}")
        self._pending[handle] = canonical_input(value)

    def advance_frame(self) -> list[Request]:
        """Return the requests of this frame: save, load, re-simulate, advance."""
        self._check_previous()
        missing = [h for h in range(self._n) if h not in self._pending]
        if missing:
            raise ValueError(f"add_local_input() was not called for player(s) {missing}")
        for handle, (value, key) in sorted(self._pending.items()):
            self._inputs[handle].append(value, key)
        self._pending.clear()
        frame = self._frame
        requests: list[Request] = [self._save(frame)]
        back = frame - self._distance
        if back >= 0:
            requests.append(LoadState(back, self._states[back]))
            for resim in range(back, frame):
                requests.append(self._advance(resim))
                requests.append(self._save(resim + 1))
        requests.append(self._advance(frame))
        self._frame = frame + 1
        for old in [f for f in self._states if f < back]:
            del self._states[old]
        return requests

    def finish(self) -> list[ChecksumMismatch]:
        """Compare the checksums of the last call's requests (call after fulfilling them)."""
        self._check_previous()
        return self.mismatches

    def drain_events(self) -> list[ChecksumMismatch]:
        """Mismatches found since the last call."""
        out, self._events = self._events, []
        return out

    def _save(self, frame: int) -> SaveState:
        cell = GameStateCell(frame, needs_checksum=True)
        self._states[frame] = cell
        self._unchecked.append(cell)
        return SaveState(frame, cell)

    def _advance(self, frame: int) -> AdvanceFrame:
        return AdvanceFrame(
            frame,
            tuple((q.value(frame), InputStatus.CONFIRMED) for q in self._inputs),
        )

    def _check_previous(self) -> None:
        for cell in self._unchecked:
            if not cell.saved or cell.checksum is None:
                raise RuntimeError(f"SaveState(frame={cell.frame}) was not fulfilled")
        for cell in self._unchecked:
            assert cell.checksum is not None
            first = self._first.get(cell.frame)
            if first is None:
                self._first[cell.frame] = cell.checksum
                continue
            self._checks += 1
            if first != cell.checksum:
                mismatch = ChecksumMismatch(cell.frame, first, cell.checksum)
                self._mismatches.append(mismatch)
                self._events.append(mismatch)
        self._unchecked.clear()
        for old in [f for f in self._first if f < self._frame - self._distance - 1]:
            del self._first[old]
        for queue in self._inputs:
            queue.prune_before(self._frame - self._distance - 1)
