"""Events a session reports, the confirmed-frame stream, and session statistics.

Events are drained with ``drain_events()``; the confirmed-frame stream has its own
``drain_confirmed_frames()`` so that a data recorder never loses a frame among other events.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from .requests import InputStatus

__all__ = [
    "ChecksumMismatch",
    "ConfirmedFrame",
    "DesyncDetected",
    "DisconnectFrameAgreed",
    "DroppedByPeer",
    "Event",
    "PeerConnected",
    "PeerDisconnected",
    "SessionResumed",
    "SessionStalled",
    "SessionStats",
    "WaitRecommended",
]

#: How the caller names a peer (a socket id, a participant id, an int...). Never sent on the wire.
PeerId = Hashable


@dataclass(frozen=True, slots=True)
class PeerConnected:
    """The first valid message from ``peer`` arrived."""

    peer: PeerId


@dataclass(frozen=True, slots=True)
class PeerDisconnected:
    """``peer`` was disconnected, by the caller or because another peer reported it gone.

    ``handles`` are its players. The frame from which their inputs become DISCONNECTED is agreed
    with the remaining peers and reported by :class:`DisconnectFrameAgreed`.
    """

    peer: PeerId
    handles: tuple[int, ...]
    #: True when the caller called ``disconnect_peer``/``disconnect_player``; False when learned
    #: from another peer's message.
    by_caller: bool


@dataclass(frozen=True, slots=True)
class DisconnectFrameAgreed:
    """All remaining peers agree: player ``handle``'s inputs are DISCONNECTED from ``frame`` on."""

    handle: int
    frame: int


@dataclass(frozen=True, slots=True)
class DroppedByPeer:
    """``peer`` reported that it disconnected this session's own player ``handle``.

    That peer has stopped playing with this one; the caller usually ends the game here.
    """

    peer: PeerId
    handle: int
    frame: int


@dataclass(frozen=True, slots=True)
class DesyncDetected:
    """The confirmed state of ``frame`` has a different checksum on ``peer``.

    Only confirmed frames are compared, so this is a real divergence (a nondeterministic game,
    or a state that ``get_state()`` does not fully capture), never a misprediction.
    """

    frame: int
    local_checksum: str
    remote_checksum: str
    peer: PeerId


@dataclass(frozen=True, slots=True)
class ChecksumMismatch:
    """Sync test: re-simulating ``frame`` gave a different checksum than the first run."""

    frame: int
    first_checksum: str
    resimulated_checksum: str


@dataclass(frozen=True, slots=True)
class SessionStalled:
    """The session stopped advancing at ``frame``: the prediction window is full."""

    frame: int
    waiting_for: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class SessionResumed:
    """The session advanced again at ``frame`` after ``stalled_ticks`` stalled calls."""

    frame: int
    stalled_ticks: int


@dataclass(frozen=True, slots=True)
class WaitRecommended:
    """This peer runs ahead of the others: skip ``frames`` ticks (do not call advance_frame).

    Skipping lets the others catch up, which keeps rollbacks short and stalls rare.
    """

    frames: int
    frames_ahead: float


#: Anything ``drain_events()`` returns.
Event = (
    PeerConnected
    | PeerDisconnected
    | DisconnectFrameAgreed
    | DroppedByPeer
    | DesyncDetected
    | ChecksumMismatch
    | SessionStalled
    | SessionResumed
    | WaitRecommended
)


@dataclass(frozen=True, slots=True)
class ConfirmedFrame:
    """One frame whose inputs are final on every peer, in frame order, each frame exactly once.

    ``inputs`` holds one ``(value, status)`` pair per handle; status is CONFIRMED or
    DISCONNECTED, never PREDICTED. The frame's final simulation has already been requested when
    it appears, so a recorder can commit what it buffered for ``frame`` from the last
    AdvanceFrame of that frame.
    """

    frame: int
    inputs: tuple[tuple[Any, InputStatus], ...]

    @property
    def values(self) -> tuple[Any, ...]:
        """The input values alone, in handle order."""
        return tuple(value for value, _ in self.inputs)


@dataclass(frozen=True, slots=True)
class SessionStats:
    """Counters for tests, logs and dashboards."""

    #: Frames advanced (AdvanceFrame requests for new frames, excluding re-simulation).
    frames_advanced: int
    #: Number of rollbacks (LoadState requests).
    rollbacks: int
    #: Deepest rollback, in frames re-simulated; never more than the prediction window.
    max_rollback_depth: int
    #: Frames re-simulated by rollbacks, in total.
    resimulated_frames: int
    #: Calls to ``advance_frame()`` that returned :class:`Stalled`.
    stalled_ticks: int
    messages_sent: int
    messages_received: int
    #: Messages refused by ``handle_message`` (malformed or inconsistent).
    messages_rejected: int
    #: Checksums of confirmed frames compared with a peer's.
    checksums_compared: int
    desyncs: int
