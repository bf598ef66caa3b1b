"""Peer-to-peer Slime Volleyball workloads that must give the same results in CPython and Pyodide.

- :func:`sync_test`: the engine's sync-test session re-simulates the slime env and compares
  checksums; returns the checksums of every 25th frame and the mismatches.
- :func:`p2p_game`: two peers play through the page's game glue (``p2p_runner.P2PGame`` around
  mug-pyodide's ``Runner``) over :class:`mug_p2p.testing.SimulatedNetwork` on a virtual clock;
  returns the session statistics, the final checksums, a digest of the recorded steps, and the
  time each tick took (the frame cost, rollbacks included).

Needs ``slime_env`` importable (and, for :func:`p2p_game`, ``mug_runner``/``p2p_runner`` and
``mug_core.rendering``); ``test_p2p_slime_pyodide.py`` and ``bench/rollback.py`` set that up.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from typing import Any

from mug_p2p import SyncTestSession, fulfil_requests, state_checksum
from mug_p2p.testing import NetworkConditions, SimulatedNetwork

AGENTS = ("agent_left", "agent_right")
ENV_CODE = (
    "from slime_env import SlimeVolleyballEnv\n"
    "env = SlimeVolleyballEnv(points_to_win=1000, max_steps={frames}, fps={fps})\n"
)


class SlimeGame:
    """The slime env as an engine game: ``step`` takes one action per player handle; a finished
    match starts the next one from the env's own (saved) random generator."""

    def __init__(self, seed: int) -> None:
        from slime_env import SlimeVolleyballEnv

        self.env = SlimeVolleyballEnv(points_to_win=3, max_steps=None, fps=30)
        self.env.reset(seed=seed)

    def get_state(self) -> dict[str, Any]:
        return self.env.get_state()

    def set_state(self, state: dict[str, Any]) -> None:
        self.env.set_state(state)

    def step(self, actions: tuple[Any, ...]) -> list[float]:
        if not self.env.agents:
            self.env.reset()
        _, rewards, *_ = self.env.step(dict(zip(AGENTS, actions, strict=True)))
        return [rewards[a] for a in AGENTS]


def _digest(value: Any) -> str:
    return hashlib.blake2b(json.dumps(value).encode(), digest_size=16).hexdigest()


def sync_test(frames: int = 600, seed: int = 11) -> dict[str, Any]:
    """Sync-test the slime env for ``frames`` frames with seeded random inputs."""
    game = SlimeGame(seed)
    session = SyncTestSession(2, check_distance=4)
    rng = random.Random(seed)
    checksums = []
    for frame in range(frames):
        for handle in range(2):
            session.add_local_input(handle, rng.randrange(6))
        fulfil_requests(game, session.advance_frame())
        if frame % 25 == 0:
            checksums.append(state_checksum(game.get_state()))
    return {
        "checks": session.checks,
        "mismatches": len(session.finish()),
        "checksums": checksums,
        "final": state_checksum(game.get_state()),
    }


def p2p_game(
    rtt_ms: float,
    frames: int,
    *,
    seed: int = 0,
    fps: int = 60,
    jitter_ms: float = 20.0,
    loss: float = 0.02,
    input_delay: int = 2,
    max_prediction: int = 8,
    checksum_interval: int = 30,
) -> dict[str, Any]:
    """Two peers play one slime episode of ``frames`` steps over a simulated network."""
    import p2p_runner

    network = SimulatedNetwork(
        NetworkConditions(latency_ms=rtt_ms / 2, jitter_ms=jitter_ms, loss=loss),
        random.Random(seed),
    )
    members = {"left": "agent_left", "right": "agent_right"}
    games = {}
    for peer in members:
        runner = p2p_runner.mug_runner.Runner(
            env_code=ENV_CODE.format(frames=frames, fps=fps),
            env_filename="env_file.py",
            policies={a: {"type": "human"} for a in AGENTS},
            agent_ids=list(AGENTS),
            record_observations=True,
            seed=seed,
        )
        games[peer] = p2p_runner.P2PGame(
            runner,
            members=members,
            local_peer=peer,
            game_id="bench",
            fps=fps,
            input_delay=input_delay,
            max_prediction=max_prediction,
            checksum_interval=checksum_interval,
        )
        games[peer].reset(0)
    rngs = {peer: random.Random(seed * 7919 + i) for i, peer in enumerate(members)}
    actions = dict.fromkeys(members, 0)
    records: dict[str, list[Any]] = {peer: [] for peer in members}
    tick_ms: list[float] = []
    stalled = dict.fromkeys(members, 0)
    linger = dict.fromkeys(members, 30)
    period = 1000.0 / fps
    # The right peer starts half a frame later: the two clocks are never in phase.
    next_tick = {"left": 0.0, "right": period / 2}
    now = 0.0
    pending: dict[str, list[list[str]]] = {peer: [] for peer in members}
    while any(linger.values()):
        if now > (frames + 10 * fps) * period * 4:
            raise RuntimeError(f"the game did not end: {[len(r) for r in records.values()]}")
        for src, dst, payload in network.deliver_due(now):
            pending[dst].append([src, payload.decode()])
        for peer, game in games.items():
            if next_tick[peer] > now or not linger[peer]:
                continue
            next_tick[peer] += period
            rng = rngs[peer]
            if rng.random() < 0.2:
                actions[peer] = rng.randrange(6)
            inbox, pending[peer] = pending[peer], []
            out = json.loads(game.tick(json.dumps(actions[peer]), json.dumps(inbox)))
            tick_ms.append(out["ms"])
            stalled[peer] += out["stalled"]
            records[peer].extend(out["records"])
            for dst, text in out["out"]:
                network.send(peer, dst, text.encode(), now)
            if out["ended"]:
                linger[peer] -= 1
        candidates = [t for p, t in next_tick.items() if linger[p]]
        delivery = network.next_delivery()
        if delivery is not None:
            candidates.append(delivery)
        now = min(candidates)
    stats = {peer: game.stats() for peer, game in games.items()}
    ordered = sorted(tick_ms)
    return {
        "python": list(sys.version_info[:2]),
        "frames": frames,
        "steps_recorded": [len(r) for r in records.values()],
        "records_equal": json.dumps(records["left"]) == json.dumps(records["right"]),
        "records_digest": _digest(records["left"]),
        "final_checksums": [state_checksum(g.get_state()) for g in games.values()],
        "rollbacks": sum(s["rollbacks"] for s in stats.values()),
        "resimulated": sum(s["resimulated_frames"] for s in stats.values()),
        "max_depth": max(s["max_rollback_depth"] for s in stats.values()),
        "stalled_ticks": max(stalled.values()),
        "desyncs": sum(s["desyncs"] for s in stats.values()),
        "checksums_compared": sum(s["checksums_compared"] for s in stats.values()),
        "tick_ms_p50": ordered[len(ordered) // 2],
        "tick_ms_p95": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
        "tick_ms_mean": sum(ordered) / len(ordered),
    }
