"""The frame timeline of a session: inputs, predictions, saved states and rollback planning.

Internal to :class:`~mug_p2p.rollback.session.P2PSession`, which adds peers and messages. The
invariants that keep every peer identical live here:

- a frame is simulated with predictions only while it is at most ``max_prediction`` frames past
  the confirmed frame (the session stalls otherwise), so a misprediction is never older than the
  window and a rollback is never deeper than it (GGRS issue 70 cannot happen: there is no path
  that drops a rollback);
- the inputs each simulated frame used are remembered until the frame is confirmed, and every
  arriving input is compared with them, so each misprediction is corrected exactly once;
- a state is final once every input before it is confirmed and corrections have been requested;
  only final states are checksummed, and only confirmed frames are reported.
"""

from __future__ import annotations

import math
from typing import Any

from .events import ConfirmedFrame
from .inputs import InputQueue, Prediction, canonical_input
from .peers import Departure
from .requests import AdvanceFrame, GameStateCell, InputStatus, LoadState, Request, SaveState

__all__ = ["Timeline"]

NEVER = math.inf


class Timeline:
    """Inputs of every player and the frames simulated with them (internal)."""

    def __init__(
        self,
        num_players: int,
        local_handles: tuple[int, ...],
        *,
        input_delay: int,
        max_prediction: int,
        checksum_interval: int,
        default_input: Any,
        prediction: Prediction,
    ) -> None:
        self.n = num_players
        self.local_handles = local_handles
        self.delay = input_delay
        self.max_prediction = max_prediction
        self.interval = checksum_interval
        self.default, self.default_key = canonical_input(default_input)
        self.prediction = prediction
        self.inputs = [InputQueue() for _ in range(num_players)]
        for handle in local_handles:
            for _ in range(input_delay):
                self.inputs[handle].append(self.default, self.default_key)
        self.departures: dict[int, Departure] = {}
        #: The next frame to simulate.
        self.frame = 0
        self._used: dict[int, list[str]] = {}  # frame -> input keys it was simulated with
        self._first_incorrect: int | None = None
        self.states: dict[int, GameStateCell] = {}
        self._unfilled: list[GameStateCell] = []
        #: Saved states of frames up to this one are final (once the caller fulfilled them).
        self.final_bound = -1
        self.emitted = -1
        self.rollbacks = self.max_depth = self.resimulated = 0

    # ------------------------------------------------------------------ knowledge
    def known_until(self, handle: int) -> float:
        """The newest frame whose input of ``handle`` is known (``NEVER``: all are)."""
        queue = self.inputs[handle]
        departure = self.departures.get(handle)
        if departure is not None and departure.final and queue.last >= departure.frame - 1:
            return NEVER
        return queue.last

    def confirmed(self) -> int:
        """The newest frame with every player's input known (-1 if none)."""
        return int(min(self.known_until(h) for h in range(self.n)))

    def blocking(self, frame: int) -> tuple[int, ...]:
        """Remote handles whose missing inputs keep ``frame`` from being simulated."""
        oldest = frame - self.max_prediction
        return tuple(
            h for h in range(self.n) if h not in self.local_handles and self.known_until(h) < oldest
        )

    def input_for(self, handle: int, frame: int) -> tuple[Any, InputStatus, str]:
        """``(value, status, key)`` of ``handle``'s input at ``frame``, predicting if needed."""
        departure = self.departures.get(handle)
        if departure is not None and departure.final and frame >= departure.frame:
            return self.default, InputStatus.DISCONNECTED, self.default_key
        queue = self.inputs[handle]
        if frame <= queue.last:
            return queue.value(frame), InputStatus.CONFIRMED, queue.key(frame)
        if departure is not None and frame >= departure.frame:
            return self.default, InputStatus.PREDICTED, self.default_key
        if self.prediction is Prediction.REPEAT_LAST and queue.last >= 0:
            return queue.value(queue.last), InputStatus.PREDICTED, queue.key(queue.last)
        return self.default, InputStatus.PREDICTED, self.default_key

    def is_checksum_frame(self, frame: int) -> bool:
        return self.interval > 0 and frame % self.interval == 0

    # ------------------------------------------------------------------ inputs arriving
    def commit_local(self, pending: dict[int, tuple[Any, str]]) -> None:
        for handle in self.local_handles:
            value, key = pending[handle]
            self.inputs[handle].append(value, key)

    def receive(self, handle: int, start: int, items: list[tuple[Any, str]]) -> None:
        """Store remote inputs of frames ``start...``; remember the oldest misprediction."""
        queue = self.inputs[handle]
        departure = self.departures.get(handle)
        limit = departure.frame if departure is not None else NEVER
        if start > queue.last + 1:
            return  # a gap: the sender resends from our ack, so this cannot last
        for value, key in items[queue.last + 1 - start :]:
            frame = queue.last + 1
            if frame >= limit:
                break
            queue.append(value, key)
            self._note(handle, frame, key)

    def depart(self, handle: int) -> None:
        """Mark ``handle`` as leaving after the newest input we hold."""
        self.departures[handle] = Departure(self.inputs[handle].last + 1)

    def finalise_departure(self, handle: int) -> None:
        """The departure frame is agreed: later frames simulated with other inputs roll back."""
        departure = self.departures[handle]
        departure.final = True
        for frame in range(departure.frame, self.frame):
            self._note(handle, frame, self.default_key)

    def _note(self, handle: int, frame: int, key: str) -> None:
        used = self._used.get(frame) if frame < self.frame else None
        if used is not None and used[handle] != key:
            first = self._first_incorrect
            self._first_incorrect = frame if first is None else min(first, frame)

    # ------------------------------------------------------------------ requests
    def check_fulfilled(self) -> None:
        for cell in self._unfilled:
            if not cell.saved:
                raise RuntimeError(
                    f"SaveState(frame={cell.frame}) from the previous call was not fulfilled"
                )
        self._unfilled.clear()

    def step(self, frame: int, confirmed: int, *, save: bool = True) -> list[Request]:
        """Requests that simulate ``frame``: save its state if it may be needed, then advance."""
        requests: list[Request] = []
        # Only states a rollback may load (past the confirmed frame) or that are checksummed.
        if save and (frame > confirmed or self.is_checksum_frame(frame)):
            cell = GameStateCell(frame, needs_checksum=self.is_checksum_frame(frame))
            self.states[frame] = cell
            self._unfilled.append(cell)
            requests.append(SaveState(frame, cell))
        inputs = [self.input_for(h, frame) for h in range(self.n)]
        self._used[frame] = [key for _, _, key in inputs]
        requests.append(AdvanceFrame(frame, tuple((v, s) for v, s, _ in inputs)))
        return requests

    def correct(self, confirmed: int) -> list[Request]:
        """The rollback that fixes every misprediction noticed so far (empty if none)."""
        first, self._first_incorrect = self._first_incorrect, None
        if first is None or first >= self.frame:
            return []
        depth = self.frame - first
        cell = self.states.get(first)
        # Mispredictions are never older than the window by construction; if that ever broke,
        # dropping the rollback would desync the peers silently (GGRS issue 70), so fail loudly.
        if depth > self.max_prediction or cell is None:
            raise RuntimeError(
                f"internal error: rollback to frame {first} from {self.frame} is impossible "
                f"(window {self.max_prediction}, state saved: {cell is not None})"
            )
        requests: list[Request] = [LoadState(first, cell)]
        for frame in range(first, self.frame):
            requests.extend(self.step(frame, confirmed, save=frame > first))
        self.rollbacks += 1
        self.resimulated += depth
        self.max_depth = max(self.max_depth, depth)
        return requests

    def finish_call(self, confirmed: int) -> list[ConfirmedFrame]:
        """Book-keeping after a call's requests: return the frames that became confirmed."""
        simulated = self.frame - 1
        self.final_bound = max(self.final_bound, min(confirmed + 1, simulated))
        out = []
        for frame in range(self.emitted + 1, min(confirmed, simulated) + 1):
            known = [self.input_for(h, frame) for h in range(self.n)]
            out.append(ConfirmedFrame(frame, tuple((value, status) for value, status, _ in known)))
            self.emitted = frame
        for frame in [f for f in self._used if f <= confirmed]:
            del self._used[frame]
        return out

    def prune(self, confirmed: int, floors: dict[int, int]) -> None:
        """Forget inputs no longer needed; ``floors`` keeps inputs peers still need relayed."""
        keep = min(self.emitted + 1, confirmed + 1)
        for handle, queue in enumerate(self.inputs):
            queue.prune_before(min(keep, floors.get(handle, keep)))

    def forget_states_before(self, frame: int) -> None:
        for old in [f for f in self.states if f < frame]:
            del self.states[old]
