"""The page-side game glue (``static/p2p_runner.py``) in CPython: two peers, one slime game.

Two :class:`P2PGame` objects, each around its own mug-pyodide ``Runner``, exchange messages
through a delayed in-memory channel (the worker and the transport do that in the browser).
"""

from __future__ import annotations

import json
import random
import sys
from collections import deque
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mug_pyodide", reason="the game glue builds on mug-pyodide's runner")

STATIC = Path(__file__).resolve().parents[1] / "mug_p2p" / "static"
SLIME = Path(__file__).resolve().parents[3] / "examples" / "slime_volleyball"
# Appended, not prepended: the example's generic module names must not shadow others'.
sys.path += [str(path) for path in (STATIC, SLIME) if str(path) not in sys.path]

import p2p_runner  # noqa: E402

MEMBERS = {"alice": "agent_left", "bob": "agent_right"}
ENV_CODE = (
    "from slime_env import SlimeVolleyballEnv\n"
    "env = SlimeVolleyballEnv(points_to_win=2, max_steps={steps}, fps=30)\n"
)


def make_game(peer: str, *, steps: int = 240, policies: dict[str, Any] | None = None, **kw: Any):
    runner = p2p_runner.mug_runner.Runner(
        env_code=ENV_CODE.format(steps=steps),
        env_filename="env_file.py",
        policies=policies or {"agent_left": {"type": "human"}, "agent_right": {"type": "human"}},
        agent_ids=["agent_left", "agent_right"],
        seed=7,
    )
    members = kw.pop("members", MEMBERS)
    return p2p_runner.P2PGame(runner, members=members, local_peer=peer, game_id="g1", fps=30, **kw)


def play(
    games: dict[str, Any],
    *,
    delay_ticks: int = 3,
    seed: int = 1,
    max_ticks: int = 2000,
    events: list[Any] | None = None,
) -> dict[str, list[Any]]:
    """Tick every game until each confirmed its episode's end (plus a short linger); the
    games' events go to ``events`` when given."""
    rng = random.Random(seed)
    in_flight: deque[tuple[int, str, str, str]] = deque()
    records: dict[str, list[Any]] = {p: [] for p in games}
    linger = dict.fromkeys(games, 20)
    for tick in range(max_ticks):
        inbox: dict[str, list[list[str]]] = {p: [] for p in games}
        while in_flight and in_flight[0][0] <= tick:
            _, sender, receiver, text = in_flight.popleft()
            inbox[receiver].append([sender, text])
        for peer, game in games.items():
            if linger[peer] == 0:
                continue
            action = rng.choice([0, 1, 2, 3, None])
            out = json.loads(game.tick(json.dumps(action), json.dumps(inbox[peer])))
            records[peer].extend(out["records"])
            if events is not None:
                events.extend(out["events"])
            for receiver, text in out["out"]:
                if rng.random() > 0.05:  # a little loss: every message repeats what is unacked
                    in_flight.append((tick + delay_ticks, peer, receiver, text))
            if out["ended"]:
                linger[peer] -= 1
        if not any(linger.values()):
            return records
    raise AssertionError(f"the games did not end in {max_ticks} ticks")


def test_two_peers_record_identical_confirmed_steps() -> None:
    games = {p: make_game(p) for p in MEMBERS}
    for game in games.values():
        first = json.loads(game.reset(0))
        assert first["packet"] is not None
        assert "YOU" in json.dumps(first["packet"])  # each page draws its own player's view
    records = play(games)
    alice, bob = records["alice"], records["bob"]
    assert alice and json.dumps(alice) == json.dumps(bob)
    steps = [record["step"] for record, _ in alice]
    assert steps == list(range(len(steps)))
    assert alice[-1][1]["done"] is True
    assert alice[10][0]["t"] == 10 * 1000 / 30
    stats = games["alice"].stats()
    assert stats["desyncs"] == 0 and stats["checksums_compared"] > 0
    assert stats["rollbacks"] > 0  # the delay made predictions that were corrected
    assert games["alice"].get_state() == games["bob"].get_state()


def test_ai_agent_acts_identically_on_every_peer() -> None:
    members = {"alice": "agent_left"}
    policies = {"agent_left": {"type": "human"}, "agent_right": {"type": "random", "seed": 3}}
    games = {"alice": make_game("alice", policies=policies, members=members)}
    games["alice"].reset(0)
    solo = play(games)["alice"]
    again = {"alice": make_game("alice", policies=policies, members=members)}
    again["alice"].reset(0)
    assert [r["actions"] for r, _ in play(again)["alice"]] == [r["actions"] for r, _ in solo]
    actions = {r["actions"]["agent_right"] for r, _ in solo}
    assert len(actions) > 2  # it really is random, but reproducibly so


def test_departed_player_is_replaced_by_the_policy() -> None:
    games = {p: make_game(p, steps=120, replacement={"type": "random", "seed": 5}) for p in MEMBERS}
    for game in games.values():
        game.reset(0)
    game = games["alice"]
    game.disconnect("bob")
    records = []
    for _ in range(400):
        out = json.loads(game.tick("0", "[]"))
        records += out["records"]
        if out["ended"]:
            break
    assert records and records[-1][1]["done"]
    right = [r["actions"]["agent_right"] for r, _ in records[5:]]
    assert len(set(right)) > 2, "the departed player's agent should act (random replacement)"


def test_group_must_cover_the_human_agents() -> None:
    with pytest.raises(p2p_runner.mug_runner.RunnerError, match="does not cover"):
        make_game("alice", members={"alice": "agent_left"})


THREE_AGENT_ENV = """
class Arena:
    possible_agents = ["red", "blue", "bot"]

    def __init__(self):
        self.agents = []

    def reset(self, seed=None):
        self.agents = list(self.possible_agents)
        self.pos = {a: 0 for a in self.possible_agents}
        self.t = 0
        return self._obs(), {a: {} for a in self.agents}

    def _obs(self):
        return {a: [self.pos[b] for b in self.possible_agents] for a in self.agents}

    def step(self, actions):
        for agent, action in actions.items():
            self.pos[agent] = (self.pos[agent] * 3 + action + 1) % 1009
        self.t += 1
        done = self.t >= 150
        if done:
            self.agents = []
        rewards = {a: float(self.pos[a] % 2) for a in self.possible_agents}
        flags = {a: done for a in self.possible_agents}
        return self._obs(), rewards, flags, dict(flags), {a: {} for a in self.possible_agents}

    def action_space(self, agent):
        class Space:
            n = 4
        return Space()

    def get_state(self):
        return {"agents": list(self.agents), "pos": dict(self.pos), "t": self.t}

    def set_state(self, state):
        self.agents = list(state["agents"])
        self.pos = dict(state["pos"])
        self.t = state["t"]

env = Arena()
"""


def test_two_humans_and_a_random_ai_agree_on_every_peer() -> None:
    members = {"alice": "red", "bob": "blue"}
    policies = {
        "red": {"type": "human"},
        "blue": {"type": "human"},
        "bot": {"type": "random", "seed": 41},
    }
    games = {}
    for peer in members:
        runner = p2p_runner.mug_runner.Runner(
            env_code=THREE_AGENT_ENV, policies=policies, agent_ids=["red", "blue", "bot"], seed=3
        )
        games[peer] = p2p_runner.P2PGame(
            runner, members=members, local_peer=peer, game_id="g3", fps=30, input_delay=1
        )
        games[peer].reset(0)
    records = play(games, delay_ticks=4, seed=5)
    alice, bob = records["alice"], records["bob"]
    assert len(alice) == 150 and json.dumps(alice) == json.dumps(bob)
    bot_actions = [record["actions"]["bot"] for record, _ in alice]
    assert len(set(bot_actions)) == 4
    assert games["alice"].stats()["rollbacks"] > 0  # the AI was re-simulated, identically


def test_a_desync_is_reported_with_the_frame_and_both_checksums() -> None:
    # Each peer's env drifts by its own hidden amount: state that get_state() does not capture.
    members = {"alice": "red", "bob": "blue"}
    policies = {"red": {"type": "human"}, "blue": {"type": "human"}, "bot": {"type": "random"}}
    games = {}
    for drift, peer in enumerate(members):
        code = THREE_AGENT_ENV.replace(
            "self.t += 1", f"self.t += 1\n        self.pos['bot'] += {drift}"
        )
        runner = p2p_runner.mug_runner.Runner(
            env_code=code, policies=policies, agent_ids=["red", "blue", "bot"]
        )
        games[peer] = p2p_runner.P2PGame(
            runner, members=members, local_peer=peer, game_id="d", fps=30, checksum_interval=10
        )
        games[peer].reset(0)
    events: list[dict[str, Any]] = []
    play(games, events=events)
    desyncs = [e for e in events if e["type"] == "desync"]
    assert desyncs, "the drifting envs should disagree"
    first = desyncs[0]
    assert first["frame"] % 10 == 0 and first["peer"] in members
    assert first["local_checksum"] != first["remote_checksum"]


def test_an_env_without_state_methods_is_refused_by_name() -> None:
    runner = p2p_runner.mug_runner.Runner(
        env_code=THREE_AGENT_ENV.replace("def get_state", "def snapshot"),
        env_filename="arena.py",
        policies={"red": {"type": "human"}, "blue": {"type": "human"}, "bot": {"type": "random"}},
        agent_ids=["red", "blue", "bot"],
    )
    with pytest.raises(p2p_runner.mug_runner.RunnerError, match=r"arena\.py has no get_state\(\)"):
        p2p_runner.P2PGame(
            runner, members={"a": "red", "b": "blue"}, local_peer="a", game_id="g", fps=30
        )
