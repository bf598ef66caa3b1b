"""Test helpers: a deterministic simulated network, toy games, and a multi-peer driver.

Everything here is deterministic for a given seed: the network draws from a seeded
``random.Random`` and runs on a virtual clock (milliseconds, no real time passes), so a failing
schedule can be replayed exactly. Third-party plugin authors can use these to test their own games
against the engine::

    result = run_simulation(SimulationConfig(players=(0, 1), frames=300, seed=7,
                                             network=NetworkConditions(latency_ms=80, loss=0.1)))
    result.assert_consistent()      # identical confirmed logs, final states equal to a replay
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .rollback import (
    ConfirmedFrame,
    ConfirmedStepBuffer,
    Event,
    Game,
    P2PSession,
    SessionStats,
    Stalled,
    WaitRecommended,
    fulfil_requests,
    state_checksum,
)

__all__ = [
    "DivergingToyGame",
    "HiddenStateToyGame",
    "NetworkConditions",
    "PeerResult",
    "SimulatedNetwork",
    "SimulationConfig",
    "SimulationResult",
    "SimulationTimeout",
    "ToyGame",
    "lockstep_replay",
    "run_simulation",
]

_MOVES = (0, 1, -1, 7, -7)
_MOD = (1 << 61) - 1


class ToyGame:
    """A small deterministic game whose state depends on every input, in order.

    Players move on a ring of 1000 cells (actions 0-4); an order-sensitive running hash absorbs
    every input of every frame; an AI agent moves by a seeded LCG kept in the state and chases
    player 0, so it acts identically on every peer and under rollback.
    """

    def __init__(self, num_players: int, seed: int = 0) -> None:
        self.num_players = num_players
        self.frame = 0
        self.pos = [100 * i for i in range(num_players)]
        self.hash = 17
        self.ai_pos = 500
        self.ai_rng = seed & 0xFFFFFFFFFFFFFFFF

    def get_state(self) -> dict[str, Any]:
        return {
            "frame": self.frame,
            "pos": list(self.pos),
            "hash": self.hash,
            "ai": [self.ai_pos, self.ai_rng],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.frame = state["frame"]
        self.pos = list(state["pos"])
        self.hash = state["hash"]
        self.ai_pos, self.ai_rng = state["ai"]

    def step(self, actions: Sequence[Any]) -> dict[str, Any]:
        if len(actions) != self.num_players:
            raise ValueError(f"expected {self.num_players} actions, got {len(actions)}")
        for handle, action in enumerate(actions):
            code = action if type(action) is int else len(repr(action))
            self.pos[handle] = (self.pos[handle] + _MOVES[code % 5]) % 1000
            self.hash = (self.hash * 1_000_003 + (handle + 1) * 131 + code) % _MOD
        self.ai_rng = (self.ai_rng * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        chase = 1 if self.pos[0] > self.ai_pos else -1
        self.ai_pos = (self.ai_pos + chase * ((self.ai_rng >> 33) % 3)) % 1000
        self.frame += 1
        return {"frame": self.frame, "reward": (self.pos[0] - self.ai_pos) % 7}


class HiddenStateToyGame(ToyGame):
    """Nondeterministic under rollback: a step counter outside ``get_state`` feeds the hash."""

    def __init__(self, num_players: int, seed: int = 0) -> None:
        super().__init__(num_players, seed)
        self.steps_taken = 0

    def step(self, actions: Sequence[Any]) -> dict[str, Any]:
        self.steps_taken += 1
        self.hash = (self.hash + self.steps_taken) % _MOD
        return super().step(actions)


class DivergingToyGame(ToyGame):
    """Like ToyGame, but moves player 0 one extra cell when stepping frame ``diverge_at``."""

    def __init__(self, num_players: int, seed: int = 0, *, diverge_at: int = 30) -> None:
        super().__init__(num_players, seed)
        self.diverge_at = diverge_at

    def step(self, actions: Sequence[Any]) -> dict[str, Any]:
        if self.frame == self.diverge_at:
            self.pos[0] = (self.pos[0] + 1) % 1000
        return super().step(actions)


def lockstep_replay(game: Game, confirmed: Sequence[ConfirmedFrame]) -> tuple[Any, list[str]]:
    """Step ``game`` through a confirmed-input log; return its final state and per-frame checksums.

    The checksum list holds the checksum of the state of each frame ``0..len(confirmed)``.
    """
    checksums = [state_checksum(game.get_state())]
    for expected, record in enumerate(confirmed):
        if record.frame != expected:
            raise ValueError(f"log jumps from frame {expected - 1} to {record.frame}")
        game.step(record.values)
        checksums.append(state_checksum(game.get_state()))
    return game.get_state(), checksums


# --------------------------------------------------------------------------- network
@dataclass(frozen=True, slots=True)
class NetworkConditions:
    """Delivery behaviour of every link (one-way delays in milliseconds, rates in 0..1)."""

    latency_ms: float = 30.0
    #: Extra uniform delay in 0..jitter_ms per message (reorders close messages).
    jitter_ms: float = 0.0
    loss: float = 0.0
    #: Probability a message is delivered twice (the copy has its own delay).
    duplicate: float = 0.0
    #: Probability a message is held back by up to ``reorder_ms`` (arrives after later ones).
    reorder: float = 0.0
    reorder_ms: float = 100.0


class SimulatedNetwork:
    """Unreliable, unordered delivery on a virtual clock, driven by a seeded RNG."""

    def __init__(self, conditions: NetworkConditions, rng: random.Random) -> None:
        self.conditions = conditions
        self._rng = rng
        self._queue: list[tuple[float, int, Any, Any, bytes]] = []
        self._seq = 0
        self._cut: set[Any] = set()
        self.sent = self.lost = self.duplicated = self.delivered = 0

    def send(self, src: Any, dst: Any, payload: bytes, now: float) -> None:
        """Queue ``payload`` from ``src`` to ``dst`` at virtual time ``now``."""
        self.sent += 1
        c = self.conditions
        if src in self._cut or dst in self._cut or self._rng.random() < c.loss:
            self.lost += 1
            return
        copies = 2 if self._rng.random() < c.duplicate else 1
        self.duplicated += copies - 1
        for _ in range(copies):
            delay = c.latency_ms + self._rng.uniform(0.0, c.jitter_ms)
            if self._rng.random() < c.reorder:
                delay += self._rng.uniform(0.0, c.reorder_ms)
            self._seq += 1
            heapq.heappush(self._queue, (now + delay, self._seq, src, dst, payload))

    def next_delivery(self) -> float | None:
        return self._queue[0][0] if self._queue else None

    def deliver_due(self, now: float) -> list[tuple[Any, Any, bytes]]:
        """Pop every message due by ``now``, in delivery order: ``(src, dst, payload)``."""
        out = []
        while self._queue and self._queue[0][0] <= now:
            _, _, src, dst, payload = heapq.heappop(self._queue)
            if src in self._cut or dst in self._cut:
                self.lost += 1
                continue
            self.delivered += 1
            out.append((src, dst, payload))
        return out

    def cut(self, peer: Any) -> None:
        """Drop everything to and from ``peer`` from now on (it vanished)."""
        self._cut.add(peer)


# --------------------------------------------------------------------------- driver
@dataclass(frozen=True)
class SimulationConfig:
    """One simulated game: who plays, how long, over which network, with which session knobs.

    Peers are numbered ``0..max(players)``; ``players[h]`` is the peer owning handle ``h``.
    """

    players: tuple[int, ...] = (0, 1)
    frames: int = 120
    seed: int = 0
    network: NetworkConditions = field(default_factory=NetworkConditions)
    input_delay: int | tuple[int, ...] = 0
    max_prediction: int = 8
    checksum_interval: int = 0
    prediction: str = "repeat_last"
    fps: float = 60.0
    #: Per peer: when it starts ticking, and its clock rate (1.0 exact, 1.01 runs 1% slow).
    start_offsets_ms: tuple[float, ...] = ()
    tick_scale: tuple[float, ...] = ()
    #: Skip ticks when the session recommends waiting.
    time_sync: bool = True
    #: Probability each frame that a player switches to a new random action.
    input_change: float = 0.2
    #: ``(peer, time_ms)``: the peer vanishes at that time (its messages stop).
    disconnects: tuple[tuple[int, float], ...] = ()
    #: How long the other peers' callers take to notice a vanished peer (plus up to 100 ms).
    detect_ms: float = 500.0
    #: Peers whose caller notices a vanished peer (None: all); the others learn from messages.
    noticing_peers: tuple[int, ...] | None = None
    #: ``game_factory(peer, num_players)``; ToyGame by default.
    game_factory: Callable[[int, int], Game] | None = None
    #: Give up (SimulationTimeout) after this much virtual time, or this long without progress.
    max_time_ms: float = 600_000.0
    no_progress_ms: float = 20_000.0


@dataclass
class PeerResult:
    """What one peer ended with."""

    peer: int
    final_state: Any
    final_checksum: str
    confirmed: list[ConfirmedFrame]
    step_results: list[Any]
    stats: SessionStats
    events: list[Event]


@dataclass
class SimulationResult:
    config: SimulationConfig
    #: Results of the peers that stayed to the end, by peer.
    peers: dict[int, PeerResult]
    virtual_time_ms: float
    network: SimulatedNetwork

    @property
    def max_rollback_depth(self) -> int:
        return max(p.stats.max_rollback_depth for p in self.peers.values())

    def events_of(self, kind: type) -> list[tuple[int, Any]]:
        return [(p.peer, e) for p in self.peers.values() for e in p.events if isinstance(e, kind)]

    def assert_consistent(self, game_factory: Callable[[int, int], Game] | None = None) -> None:
        """Every peer logged the same confirmed frames, and its final state replays from them."""
        factory = game_factory or self.config.game_factory or _toy_factory
        results = list(self.peers.values())
        reference = results[0]
        assert len(reference.confirmed) == self.config.frames, "confirmed log is incomplete"
        n = len(self.config.players)
        state, _ = lockstep_replay(factory(reference.peer, n), reference.confirmed)
        for result in results:
            assert result.confirmed == reference.confirmed, (
                f"peer {result.peer} logged other inputs"
            )
            assert result.step_results == reference.step_results, f"peer {result.peer} steps differ"
            assert result.final_state == state, f"peer {result.peer} final state is not the replay"


class SimulationTimeout(AssertionError):
    """The simulated game did not finish within ``max_time_ms`` (a deadlock)."""


def _toy_factory(peer: int, num_players: int) -> Game:
    return ToyGame(num_players, seed=12345)


class _PeerRunner:
    def __init__(self, peer: int, config: SimulationConfig, game: Game) -> None:
        self.peer = peer
        self.config = config
        self.game = game
        delay = config.input_delay
        if isinstance(delay, tuple):
            delay = delay[peer]
        self.session = P2PSession(
            config.players,
            peer,
            input_delay=delay,
            max_prediction=config.max_prediction,
            checksum_interval=config.checksum_interval,
            prediction=config.prediction,
            session_id=f"sim-{config.seed}",
        )
        self.buffer = ConfirmedStepBuffer()
        self.confirmed: list[ConfirmedFrame] = []
        self.step_results: list[Any] = []
        self.events: list[Event] = []
        self.skip = 0
        self.done = False
        self._rngs = {h: random.Random(config.seed * 7919 + h) for h in self.session.local_handles}
        self._actions = dict.fromkeys(self.session.local_handles, 0)

    def _input(self, handle: int) -> int:
        rng = self._rngs[handle]
        if rng.random() < self.config.input_change:
            self._actions[handle] = rng.randrange(5)
        return self._actions[handle]

    def tick(self) -> list[tuple[Any, bytes]]:
        session = self.session
        if self.skip > 0:
            self.skip -= 1
        elif session.current_frame < self.config.frames:
            for handle in session.local_handles:
                session.add_local_input(handle, self._input(handle))
            result = session.advance_frame()
            if not isinstance(result, Stalled):
                self.buffer.stepped(fulfil_requests(self.game, result))
        else:
            self.buffer.stepped(fulfil_requests(self.game, session.settle()))
        for event in session.drain_events():
            self.events.append(event)
            if isinstance(event, WaitRecommended) and self.config.time_sync:
                self.skip += event.frames
        for record, outcome in self.buffer.confirm(session.drain_confirmed_frames()):
            self.confirmed.append(record)
            self.step_results.append(outcome)
        self.done = (
            session.current_frame >= self.config.frames
            and len(self.confirmed) >= self.config.frames
        )
        return session.drain_outgoing()

    def result(self) -> PeerResult:
        state = self.game.get_state()
        return PeerResult(
            self.peer,
            state,
            state_checksum(state),
            self.confirmed,
            self.step_results,
            self.session.stats(),
            self.events,
        )


def run_simulation(config: SimulationConfig) -> SimulationResult:
    """Run every peer of ``config`` until all remaining peers confirmed ``config.frames`` frames.

    Raises :class:`SimulationTimeout` if that does not happen within ``config.max_time_ms``.
    """
    rng = random.Random(config.seed)
    network = SimulatedNetwork(config.network, random.Random(rng.getrandbits(64)))
    peer_ids = sorted(set(config.players))
    factory = config.game_factory or _toy_factory
    runners = {p: _PeerRunner(p, config, factory(p, len(config.players))) for p in peer_ids}
    interval = 1000.0 / config.fps
    offsets = config.start_offsets_ms or (0.0,) * len(peer_ids)
    scales = config.tick_scale or (1.0,) * len(peer_ids)
    next_tick = {p: float(offsets[i]) for i, p in enumerate(peer_ids)}
    alive = set(peer_ids)

    # (time, order, kind, peer, target): "vanish" cuts a peer; "notice" tells a caller.
    scheduled: list[tuple[float, int, str, int, int]] = []
    for order, (peer, at) in enumerate(config.disconnects):
        scheduled.append((at, order, "vanish", peer, peer))
        for other in peer_ids:
            if other != peer and (config.noticing_peers is None or other in config.noticing_peers):
                delay = config.detect_ms + rng.uniform(0.0, 100.0)
                scheduled.append((at + delay, order, "notice", other, peer))
    scheduled.sort()

    now = last_progress_at = 0.0
    last_progress = -1
    while True:
        candidates = [next_tick[p] for p in alive]
        if scheduled:
            candidates.append(scheduled[0][0])
        delivery = network.next_delivery()
        if delivery is not None:
            candidates.append(delivery)
        now = min(candidates)
        progress = sum(r.session.current_frame + len(r.confirmed) for r in runners.values())
        if progress != last_progress:
            last_progress, last_progress_at = progress, now
        if now > config.max_time_ms or now - last_progress_at > config.no_progress_ms:
            where = {p: (r.session.current_frame, len(r.confirmed)) for p, r in runners.items()}
            raise SimulationTimeout(
                f"no finish by {now:.0f} ms (peer: (frame, confirmed frames)): {where}"
            )
        for src, dst, payload in network.deliver_due(now):
            if dst in alive:
                runners[dst].session.handle_message(src, payload)
        while scheduled and scheduled[0][0] <= now:
            _, _, kind, peer, target = scheduled.pop(0)
            if kind == "vanish":
                alive.discard(peer)
                network.cut(peer)
            elif peer in alive:
                runners[peer].session.disconnect_peer(target)
        for index, peer in enumerate(peer_ids):
            if peer in alive and next_tick[peer] <= now:
                for dst, payload in runners[peer].tick():
                    network.send(peer, dst, payload, now)
                next_tick[peer] += interval * scales[index]
        if alive and all(runners[p].done for p in alive) and not scheduled:
            break
    return SimulationResult(config, {p: runners[p].result() for p in sorted(alive)}, now, network)
