"""The peer-to-peer rollback session: one per peer, no clock, no socket, no asyncio.

The caller's loop, once per tick (see :mod:`mug_p2p.rollback.game` for a complete one)::

    for peer, data in transport.receive():          # whatever arrived, in any order
        session.handle_message(peer, data)          # MalformedMessage: log it and go on
    for event in session.drain_events(): ...        # WaitRecommended: skip ticks
    session.add_local_input(handle, read_keys())    # once per local player
    result = session.advance_frame()
    if not isinstance(result, Stalled):
        fulfil(result)                              # SaveState / LoadState / AdvanceFrame, in order
    for record in session.drain_confirmed_frames(): recorder.write(record)
    for peer, data in session.drain_outgoing(): transport.send(peer, data)

Frames count from 0. The state of frame F is the state before frame F's inputs are applied;
``AdvanceFrame(F)`` turns it into the state of frame F + 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .desync import ChecksumExchange
from .events import (
    ConfirmedFrame,
    DisconnectFrameAgreed,
    DroppedByPeer,
    Event,
    PeerConnected,
    PeerDisconnected,
    PeerId,
    SessionResumed,
    SessionStalled,
    SessionStats,
    WaitRecommended,
)
from .inputs import Prediction, canonical_input
from .messages import (
    MAX_BLOCK_INPUTS,
    MAX_CHECKSUMS,
    MAX_MESSAGE_BYTES,
    MAX_PLAYERS,
    MAX_SESSION_ID,
    InputBlock,
    MalformedMessage,
    PeerMessage,
    decode_message,
    encode_message,
)
from .peers import RemotePeer
from .requests import Request, Stalled
from .timeline import Timeline

__all__ = ["P2PSession"]

MAX_INPUT_DELAY = 32
MAX_PREDICTION = 64
#: Most ticks one WaitRecommended asks to skip.
MAX_WAIT_FRAMES = 8
_Blocks = list[tuple[int, int, list[tuple[Any, str]]]]


class P2PSession:
    """Rollback session of one peer in a game of ``len(players)`` players.

    Args:
        players: the peer that owns each player handle, in handle order (handle = index). Every
            peer must be given the same list; a peer may own several handles.
        local_peer: which entry of ``players`` is this peer; its handles are the local players.
        input_delay: an input given at frame F applies at frame F + input_delay; the first
            ``input_delay`` frames use ``default_input``. Each peer may choose its own.
        max_prediction: how many frames may be simulated ahead of the last frame whose inputs
            are all confirmed; beyond it :meth:`advance_frame` returns :class:`Stalled`. 0 is
            lockstep (no prediction, no rollback). Rollbacks never go deeper than this.
        checksum_interval: every this many frames, the checksum of the confirmed state is sent
            to the peers and compared with theirs (0 turns desync detection off).
        default_input: the input of the first ``input_delay`` frames and of departed players.
        prediction: how missing remote inputs are guessed (repeat the last, or the default).
        session_id: a tag every message carries; messages of another session are refused.
        wait_threshold: emit :class:`WaitRecommended` when running this many frames ahead.
        time_sync_interval: how often, in frames, to consider a wait recommendation.
    """

    def __init__(
        self,
        players: Sequence[PeerId],
        local_peer: PeerId,
        *,
        input_delay: int = 0,
        max_prediction: int = 8,
        checksum_interval: int = 0,
        default_input: Any = 0,
        prediction: Prediction | str = Prediction.REPEAT_LAST,
        session_id: str = "",
        wait_threshold: float = 3.0,
        time_sync_interval: int = 30,
    ) -> None:
        players = tuple(players)
        if not 1 <= len(players) <= MAX_PLAYERS:
            raise ValueError(f"players must list 1 to {MAX_PLAYERS} owners, got {len(players)}")
        if local_peer not in players:
            raise ValueError(f"local_peer {local_peer!r} owns no player in {players!r}")
        _check_int("input_delay", input_delay, 0, MAX_INPUT_DELAY)
        _check_int("max_prediction", max_prediction, 0, MAX_PREDICTION)
        _check_int("checksum_interval", checksum_interval, 0, 1_000_000)
        _check_int("time_sync_interval", time_sync_interval, 1, 1_000_000)
        if not isinstance(session_id, str) or len(session_id) > MAX_SESSION_ID:
            raise ValueError(f"session_id must be a str of at most {MAX_SESSION_ID} characters")
        if not wait_threshold > 0:
            raise ValueError("wait_threshold must be positive")
        self._owner = players
        self._n = len(players)
        self._local_peer = local_peer
        self._local_handles = tuple(h for h, p in enumerate(players) if p == local_peer)
        self._session_id = session_id
        self._wait_threshold = float(wait_threshold)
        self._time_sync_interval = time_sync_interval
        self._t = Timeline(
            self._n,
            self._local_handles,
            input_delay=input_delay,
            max_prediction=max_prediction,
            checksum_interval=checksum_interval,
            default_input=default_input,
            prediction=Prediction(prediction),
        )
        self._peers: dict[PeerId, RemotePeer] = {}
        for peer in players:
            if peer != local_peer and peer not in self._peers:
                handles = tuple(h for h, p in enumerate(players) if p == peer)
                self._peers[peer] = RemotePeer(peer, handles, [-1] * self._n)
        self._pending: dict[int, tuple[Any, str]] = {}
        self._inputs_taken_for = -1  # the frame whose local inputs were committed
        self._checksums = ChecksumExchange(checksum_interval)
        self._confirmed_out: list[ConfirmedFrame] = []
        self._events: list[Event] = []
        self._stalled_ticks_now = 0
        self._counts = dict.fromkeys(
            ("frames_advanced", "stalled_ticks", "messages_sent", "messages_received"), 0
        )
        self._counts["messages_rejected"] = 0

    # ----------------------------------------------------------------- properties
    @property
    def num_players(self) -> int:
        return self._n

    @property
    def local_handles(self) -> tuple[int, ...]:
        return self._local_handles

    @property
    def remote_peers(self) -> tuple[PeerId, ...]:
        return tuple(self._peers)

    @property
    def current_frame(self) -> int:
        """The frame the next :meth:`advance_frame` simulates."""
        return self._t.frame

    @property
    def confirmed_frame(self) -> int:
        """The newest frame for which every player's input is known (-1 if none)."""
        return self._t.confirmed()

    @property
    def input_delay(self) -> int:
        return self._t.delay

    @property
    def max_prediction(self) -> int:
        return self._t.max_prediction

    def stats(self) -> SessionStats:
        """Counters: frames, rollbacks and their depth, stalls, messages, checksums."""
        t = self._t
        return SessionStats(
            rollbacks=t.rollbacks,
            max_rollback_depth=t.max_depth,
            resimulated_frames=t.resimulated,
            checksums_compared=self._checksums.compared,
            desyncs=self._checksums.desyncs,
            **self._counts,
        )

    def frames_ahead(self) -> float:
        """How many frames this peer runs ahead of the furthest-behind connected peer.

        Estimated from recent messages (latency cancels out); negative when behind, 0.0 before
        any peer was heard.
        """
        estimates = [
            e
            for p in self._peers.values()
            if p.connected and (e := p.advantage_estimate()) is not None
        ]
        return max(estimates, default=0.0)

    # ----------------------------------------------------------------- frames
    def add_local_input(self, handle: int, value: Any) -> None:
        """Give local player ``handle``'s input for this tick (it applies ``input_delay`` later).

        Call once per local player before each :meth:`advance_frame`; a second call in the same
        tick replaces the value. ``value`` must be JSON data (``TypeError`` otherwise). While the
        session is stalled the input of the stalled frame is already taken (and sent), so values
        given in later stalled ticks are ignored.
        """
        if handle not in self._local_handles:
            raise ValueError(f"handle {handle} is not a local player ({self._local_handles})")
        self._pending[handle] = canonical_input(value)

    def advance_frame(self) -> list[Request] | Stalled:
        """Advance one frame: return the requests to fulfil in order, or :class:`Stalled`.

        The list may start with a rollback (``LoadState`` then re-simulation) and always ends
        with ``AdvanceFrame`` of :attr:`current_frame`. Raises ``RuntimeError`` if a SaveState
        of the previous call was not fulfilled and ``ValueError`` if a local input is missing.
        """
        t = self._t
        self._begin_call()
        frame = t.frame
        if self._inputs_taken_for != frame:
            missing = [h for h in self._local_handles if h not in self._pending]
            if missing:
                raise ValueError(f"add_local_input() was not called for local player(s) {missing}")
            # Taken even if this call stalls: the peers need it to move on (lockstep with no
            # input delay would otherwise wait forever on both sides).
            t.commit_local(self._pending)
            self._inputs_taken_for = frame
        self._pending.clear()
        confirmed = t.confirmed()
        if frame - confirmed > t.max_prediction:
            waiting = t.blocking(frame)
            self._counts["stalled_ticks"] += 1
            if self._stalled_ticks_now == 0:
                self._events.append(SessionStalled(frame, waiting))
            self._stalled_ticks_now += 1
            return Stalled(frame, waiting, confirmed)
        if self._stalled_ticks_now:
            self._events.append(SessionResumed(frame, self._stalled_ticks_now))
            self._stalled_ticks_now = 0
        requests = t.correct(confirmed)
        requests.extend(t.step(frame, confirmed))
        t.frame = frame + 1
        self._counts["frames_advanced"] += 1
        self._end_call(confirmed)
        self._sync_time()
        return requests

    def settle(self) -> list[Request]:
        """Apply corrections that have arrived without simulating a new frame.

        Use it when the game has stopped advancing (the episode ended, or the caller waits):
        it rolls back if a prediction proved wrong and lets :meth:`drain_confirmed_frames` reach
        the last simulated frame once its inputs arrive. Never stalls.
        """
        self._begin_call()
        confirmed = self.confirmed_frame
        requests = self._t.correct(confirmed)
        self._end_call(confirmed)
        return requests

    def drain_confirmed_frames(self) -> list[ConfirmedFrame]:
        """Frames that became confirmed since the last call, in order, each exactly once."""
        out, self._confirmed_out = self._confirmed_out, []
        return out

    def drain_events(self) -> list[Event]:
        """Events since the last call, oldest first."""
        out, self._events = self._events, []
        return out

    # ----------------------------------------------------------------- network
    def handle_message(self, from_peer: PeerId, data: bytes | str) -> None:
        """Feed one message received from ``from_peer`` (any order, duplicates welcome).

        Raises :class:`MalformedMessage` (a ``ValueError``) when the message cannot be decoded,
        comes from an unknown peer, belongs to another session, or contradicts inputs already
        received; the session is then left exactly as it was. Messages from a disconnected peer
        are ignored.
        """
        self._counts["messages_received"] += 1
        try:
            message = decode_message(data)
            peer = self._peers.get(from_peer)
            if peer is None:
                raise MalformedMessage(f"message from unknown peer {from_peer!r}")
            if not peer.connected:
                return
            blocks = self._check(message, peer)
        except MalformedMessage:
            self._counts["messages_rejected"] += 1
            raise
        self._apply(message, peer, blocks)

    def drain_outgoing(self) -> list[tuple[PeerId, bytes]]:
        """One message for each connected remote peer; send each with an unreliable transport.

        Call once per tick: each message repeats everything the peer has not acknowledged.
        """
        t = self._t
        out = []
        departures = tuple((h, d.frame) for h, d in sorted(t.departures.items()))
        acks = tuple(q.last for q in t.inputs)
        for peer in self._peers.values():
            if not peer.connected:
                continue
            per_block = MAX_BLOCK_INPUTS
            while True:
                blocks = []
                for handle in self._served_handles(peer):
                    queue = t.inputs[handle]
                    start = max(peer.acks[handle] + 1, queue.first)
                    stop = min(queue.last + 1, start + per_block)
                    if start < stop:
                        blocks.append(InputBlock(handle, start, tuple(queue.values(start, stop))))
                message = PeerMessage(
                    session=self._session_id,
                    frame=t.frame,
                    advantage=t.frame - peer.last_frame if peer.last_frame >= 0 else 0,
                    acks=acks,
                    inputs=tuple(blocks),
                    checksums=tuple(peer.checksums_to_send[:MAX_CHECKSUMS]),
                    checksum_ack=peer.checksum_received,
                    disconnects=departures,
                )
                data = encode_message(message)
                # Large inputs: send fewer per message rather than a message peers refuse.
                if len(data) <= MAX_MESSAGE_BYTES or per_block == 1:
                    break
                per_block //= 2
            out.append((peer.peer, data))
        self._counts["messages_sent"] += len(out)
        return out

    def disconnect_peer(self, peer: PeerId) -> None:
        """Disconnect a remote peer (the caller decides when: a timeout, a closed channel...).

        Its players' inputs become DISCONNECTED (the default input) from a frame agreed with the
        remaining peers; the game goes on. Idempotent.
        """
        if peer == self._local_peer:
            raise ValueError("the local peer cannot be disconnected from itself")
        if peer not in self._peers:
            raise ValueError(f"unknown peer {peer!r}")
        self._disconnect(peer, by_caller=True)

    def disconnect_player(self, handle: int) -> None:
        """Disconnect the remote peer that owns ``handle`` (with all of its players)."""
        if not 0 <= handle < self._n:
            raise ValueError(f"no player {handle}")
        self.disconnect_peer(self._owner[handle])

    # ----------------------------------------------------------------- internals: calls
    def _begin_call(self) -> None:
        t = self._t
        t.check_fulfilled()
        self._events.extend(self._checksums.harvest(t.states, t.final_bound, self._peers.values()))
        t.forget_states_before(t.final_bound)

    def _end_call(self, confirmed: int) -> None:
        t = self._t
        self._confirmed_out.extend(t.finish_call(confirmed))
        # Keep every input some connected peer has not acknowledged: ours must be resent, and
        # another player's may have to be relayed if that player leaves.
        floors = {}
        for handle in range(self._n):
            acks = [
                p.acks[handle] + 1
                for p in self._peers.values()
                if p.connected and self._owner[handle] != p.peer
            ]
            if acks:
                floors[handle] = min(acks)
        t.prune(confirmed, floors)

    def _sync_time(self) -> None:
        frame = self._t.frame
        for peer in self._peers.values():
            if peer.connected and peer.last_frame >= 0:
                local_advantage = frame - peer.last_frame
                peer.samples.append((local_advantage - peer.remote_advantage) / 2)
        if frame % self._time_sync_interval == 0:
            ahead = self.frames_ahead()
            if ahead >= self._wait_threshold:
                frames = min(round(ahead), MAX_WAIT_FRAMES)
                self._events.append(WaitRecommended(frames, ahead))
                for peer in self._peers.values():
                    peer.samples.clear()

    # ----------------------------------------------------------------- internals: network
    def _served_handles(self, peer: RemotePeer) -> list[int]:
        """Handles whose inputs we send to ``peer``: ours, and departed players' (relayed)."""
        return [
            h
            for h in range(self._n)
            if self._owner[h] != peer.peer and (h in self._local_handles or h in self._t.departures)
        ]

    def _check(self, message: PeerMessage, peer: RemotePeer) -> _Blocks:
        """Validate ``message`` against what we know, changing nothing."""
        if message.session != self._session_id:
            raise MalformedMessage(
                f"message of session {message.session!r}, expected {self._session_id!r}"
            )
        if len(message.acks) != self._n:
            raise MalformedMessage(f"acks for {len(message.acks)} players, expected {self._n}")
        reported = set()
        for handle, _ in message.disconnects:
            if handle >= self._n or self._owner[handle] == peer.peer:
                raise MalformedMessage(f"peer cannot report player {handle} as disconnected")
            reported.add(handle)
        blocks = []
        for block in message.inputs:
            handle = block.handle
            if handle >= self._n or handle in self._local_handles:
                raise MalformedMessage(f"peer cannot send inputs of player {handle}")
            departed = handle in self._t.departures or handle in reported
            if self._owner[handle] != peer.peer and not departed:
                raise MalformedMessage(f"peer {peer.peer!r} does not own player {handle}")
            queue = self._t.inputs[handle]
            items = [canonical_input(value) for value in block.values]
            for offset, (_, key) in enumerate(items):
                frame = block.start + offset
                if queue.first <= frame <= queue.last and queue.key(frame) != key:
                    raise MalformedMessage(
                        f"input of player {handle} at frame {frame} contradicts the one received"
                    )
            blocks.append((handle, block.start, items))
        return blocks

    def _apply(self, message: PeerMessage, peer: RemotePeer, blocks: _Blocks) -> None:
        t = self._t
        if not peer.heard:
            peer.heard = True
            self._events.append(PeerConnected(peer.peer))
        if message.frame >= peer.last_frame:
            peer.last_frame = message.frame
            peer.remote_advantage = message.advantage
        for handle, ack in enumerate(message.acks):
            peer.acks[handle] = max(peer.acks[handle], ack)
        peer.acknowledge_checksums(message.checksum_ack)

        for handle, frame in message.disconnects:
            if handle in self._local_handles:
                if handle not in peer.dropped_us:
                    peer.dropped_us.add(handle)
                    self._events.append(DroppedByPeer(peer.peer, handle, frame))
                continue
            if handle not in t.departures:
                self._disconnect(self._owner[handle], by_caller=False)
            peer.departure_reports[handle] = max(peer.departure_reports.get(handle, 0), frame)
            departure = t.departures[handle]
            if not departure.final and frame > departure.frame:
                departure.frame = frame
        for handle, start, items in blocks:
            t.receive(handle, start, items)
        self._agree_on_departures()

        self._events.extend(self._checksums.receive(peer, message.checksums))

    def _disconnect(self, peer_id: PeerId, *, by_caller: bool) -> None:
        peer = self._peers[peer_id]
        if not peer.connected:
            return
        peer.connected = False
        peer.checksums_to_send.clear()
        peer.remote_checksums.clear()
        peer.samples.clear()
        for handle in peer.handles:
            self._t.depart(handle)
        self._events.append(PeerDisconnected(peer_id, peer.handles, by_caller))
        self._agree_on_departures()

    def _agree_on_departures(self) -> None:
        """Finalise each departure that every remaining peer reports at the same frame."""
        for handle, departure in self._t.departures.items():
            if departure.final:
                continue
            remaining = [
                p for p in self._peers.values() if p.connected and p.peer != self._owner[handle]
            ]
            if all(p.departure_reports.get(handle) == departure.frame for p in remaining):
                self._t.finalise_departure(handle)
                self._events.append(DisconnectFrameAgreed(handle, departure.frame))


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if type(value) is not int or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")
