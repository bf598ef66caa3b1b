"""Book-keeping a session holds about each remote peer and each departed player (internal)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from .events import PeerId

__all__ = ["Departure", "RemotePeer"]

#: Time-sync samples averaged for ``frames_ahead()``.
TIME_SYNC_SAMPLES = 32
#: Checksum reports kept for one peer while unacknowledged, and remote ones awaiting comparison.
CHECKSUM_BACKLOG = 64


@dataclass(slots=True)
class RemotePeer:
    """What this session knows about one remote peer."""

    peer: PeerId
    handles: tuple[int, ...]
    #: Per handle: the newest frame up to which the peer holds all inputs (its acks to us).
    acks: list[int]
    heard: bool = False
    connected: bool = True
    #: The newest frame the peer reported being at, and its advantage over us at that time.
    last_frame: int = -1
    remote_advantage: int = 0
    samples: deque[float] = field(default_factory=lambda: deque(maxlen=TIME_SYNC_SAMPLES))
    #: Our confirmed checksums the peer has not acknowledged yet, oldest first.
    checksums_to_send: list[tuple[int, str]] = field(default_factory=list)
    #: Newest checksum frame received from the peer (sent back as our ack).
    checksum_received: int = -1
    #: The peer's checksums of frames we have not confirmed yet.
    remote_checksums: dict[int, str] = field(default_factory=dict)
    #: Checksum frames already compared with this peer (duplicates are not compared again).
    compared: set[int] = field(default_factory=set)
    #: Per departed handle: the largest departure frame the peer reported.
    departure_reports: dict[int, int] = field(default_factory=dict)
    #: Our own handles this peer reported as disconnected (reported once each).
    dropped_us: set[int] = field(default_factory=set)

    def queue_checksum(self, frame: int, checksum: str) -> None:
        self.checksums_to_send.append((frame, checksum))
        if len(self.checksums_to_send) > CHECKSUM_BACKLOG:
            del self.checksums_to_send[0]

    def acknowledge_checksums(self, frame: int) -> None:
        if self.checksums_to_send and self.checksums_to_send[0][0] <= frame:
            self.checksums_to_send = [c for c in self.checksums_to_send if c[0] > frame]

    def store_remote_checksum(self, frame: int, checksum: str) -> None:
        self.remote_checksums[frame] = checksum
        if len(self.remote_checksums) > CHECKSUM_BACKLOG:
            del self.remote_checksums[min(self.remote_checksums)]

    def advantage_estimate(self) -> float | None:
        """Mean of the recent samples of how many frames we run ahead of this peer."""
        if not self.samples:
            return None
        return sum(self.samples) / len(self.samples)


@dataclass(slots=True)
class Departure:
    """A disconnected player: from ``frame`` on, its inputs are DISCONNECTED.

    ``frame`` is the largest departure frame any remaining peer reported (each reports one more
    than the newest input it holds), so no peer ever replaces a real input it already confirmed.
    Inputs before ``frame`` are real and are relayed between the remaining peers. ``final``
    becomes true once every remaining peer reports the same frame.
    """

    frame: int
    final: bool = False
