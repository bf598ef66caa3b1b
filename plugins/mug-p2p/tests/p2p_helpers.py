"""Shared test helpers: peers wired together by hand, so a test decides what arrives when.

A plain module (not conftest.py) so that its name cannot clash with other test suites' conftest
modules when several are collected in one pytest run.
"""

from __future__ import annotations

from typing import Any

from mug_p2p import (
    AdvanceFrame,
    ConfirmedFrame,
    ConfirmedStepBuffer,
    LoadState,
    P2PSession,
    Request,
    Stalled,
    fulfil_requests,
)
from mug_p2p.testing import ToyGame


class HandPeer:
    """One session plus its game; keeps what happened so tests can look."""

    def __init__(self, players: tuple[Any, ...], peer: Any, **options: Any) -> None:
        self.session = P2PSession(players, peer, **options)
        self.game = ToyGame(len(players), seed=99)
        self.buffer = ConfirmedStepBuffer()
        self.requests: list[list[Request]] = []
        self.confirmed: list[ConfirmedFrame] = []
        self.events: list[Any] = []
        self.outbox: list[tuple[Any, bytes]] = []

    def tick(self, *values: Any) -> list[Request] | Stalled:
        """Give one input per local handle, advance, fulfil; return the result."""
        for handle, value in zip(self.session.local_handles, values, strict=True):
            self.session.add_local_input(handle, value)
        result = self.session.advance_frame()
        if not isinstance(result, Stalled):
            self.requests.append(result)
            self.buffer.stepped(fulfil_requests(self.game, result))
        self._collect()
        return result

    def settle(self) -> list[Request]:
        result = self.session.settle()
        self.requests.append(result)
        self.buffer.stepped(fulfil_requests(self.game, result))
        self._collect()
        return result

    def send(self) -> list[tuple[Any, bytes]]:
        """Drain outgoing messages into the outbox and return them."""
        out = self.session.drain_outgoing()
        self.outbox.extend(out)
        return out

    def _collect(self) -> None:
        self.events.extend(self.session.drain_events())
        for record, _ in self.buffer.confirm(self.session.drain_confirmed_frames()):
            self.confirmed.append(record)

    def loads(self) -> list[LoadState]:
        return [r for batch in self.requests for r in batch if isinstance(r, LoadState)]

    def advances(self) -> list[AdvanceFrame]:
        return [r for batch in self.requests for r in batch if isinstance(r, AdvanceFrame)]


def deliver(messages: list[tuple[Any, bytes]], peers: dict[Any, HandPeer], sender: Any) -> None:
    for dst, data in messages:
        peers[dst].session.handle_message(sender, data)


def exchange(peers: dict[Any, HandPeer]) -> None:
    """Every peer sends to every other, delivered at once and in order."""
    for name, peer in peers.items():
        deliver(peer.send(), peers, name)


def make_pair(**options: Any) -> dict[str, HandPeer]:
    """Peers "a" (handle 0) and "b" (handle 1) with the same session options."""
    players = ("a", "b")
    return {p: HandPeer(players, p, **options) for p in players}
