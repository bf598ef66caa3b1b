"""Desync detection: checksums of confirmed frames, sent to peers and compared with theirs.

Only states that are final (every input before them confirmed, corrections applied) are ever
checksummed, so a mismatch is a real divergence, never a misprediction (the false positives of
GGRS PR 86 and bevy_ggrs 71/112 came from comparing unconfirmed frames). Internal to the session.
"""

from __future__ import annotations

from collections.abc import Iterable

from .events import DesyncDetected
from .peers import RemotePeer
from .requests import GameStateCell

__all__ = ["ChecksumExchange"]

#: Local checksums kept for comparing late reports.
LOCAL_CHECKSUMS_KEPT = 256


class ChecksumExchange:
    """Checksums of every ``interval``-th confirmed frame, and their comparison with peers."""

    def __init__(self, interval: int) -> None:
        self.interval = interval
        #: Frames up to this one were harvested (their checksums, if any, are known).
        self.harvested = -1
        self._local: dict[int, str] = {}
        self.compared = 0
        self.desyncs = 0

    def harvest(
        self, states: dict[int, GameStateCell], final_bound: int, peers: Iterable[RemotePeer]
    ) -> list[DesyncDetected]:
        """Take the checksums of final states up to ``final_bound``; queue and compare them."""
        found: list[DesyncDetected] = []
        if self.interval and final_bound > self.harvested:
            peers = [p for p in peers if p.connected]
            first = (self.harvested // self.interval + 1) * self.interval
            for frame in range(first, final_bound + 1, self.interval):
                cell = states.get(frame)
                if cell is None or cell.checksum is None:
                    continue
                self._local[frame] = cell.checksum
                for peer in peers:
                    peer.queue_checksum(frame, cell.checksum)
                    remote = peer.remote_checksums.pop(frame, None)
                    if remote is not None:
                        found.extend(self._compare(peer, frame, cell.checksum, remote))
            if len(self._local) > LOCAL_CHECKSUMS_KEPT:
                while len(self._local) > LOCAL_CHECKSUMS_KEPT:
                    del self._local[next(iter(self._local))]
                oldest = next(iter(self._local))
                for peer in peers:
                    peer.compared = {f for f in peer.compared if f >= oldest}
        self.harvested = max(self.harvested, final_bound)
        return found

    def receive(self, peer: RemotePeer, reports: Iterable[tuple[int, str]]) -> list[DesyncDetected]:
        """Take a peer's reports: compare those we can, keep the others for later."""
        found: list[DesyncDetected] = []
        for frame, checksum in reports:
            peer.checksum_received = max(peer.checksum_received, frame)
            if frame > self.harvested:
                peer.store_remote_checksum(frame, checksum)
            elif frame in self._local:
                found.extend(self._compare(peer, frame, self._local[frame], checksum))
        return found

    def _compare(
        self, peer: RemotePeer, frame: int, local: str, remote: str
    ) -> list[DesyncDetected]:
        if frame in peer.compared:
            return []
        peer.compared.add(frame)
        self.compared += 1
        if local == remote:
            return []
        self.desyncs += 1
        return [DesyncDetected(frame, local, remote, peer.peer)]
