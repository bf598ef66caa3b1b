"""Tests for the Slime Volleyball example env and its heuristic policy."""

from __future__ import annotations

import ast
import hashlib
import json
import random
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from heuristic import SlimeHeuristic
from slime_env import (
    ACTION_MEANINGS,
    AGENTS,
    LEFT_AGENT,
    OBS_SIZE,
    RIGHT_AGENT,
    Box,
    Discrete,
    SlimeVolleyballEnv,
    action_from,
    mirror_action,
    state_checksum,
)

EXAMPLE_DIR = Path(__file__).resolve().parent.parent


def random_actions(seed: int, n: int) -> list[dict[str, int]]:
    """A fixed list of random joint actions."""
    rng = random.Random(seed)
    return [{a: rng.randrange(len(ACTION_MEANINGS)) for a in AGENTS} for _ in range(n)]


def run(env: SlimeVolleyballEnv, actions: list[dict[str, int]], seed: int) -> list[Any]:
    """Step through ``actions``, resetting (seed + episode) when an episode ends."""
    trace: list[Any] = []
    episode = 0
    for joint in actions:
        if not env.agents:
            trace.append(env.reset(seed=seed + episode))
            episode += 1
        trace.append(env.step(joint))
    return trace


def blake2b_of_state(env: SlimeVolleyballEnv) -> str:
    data = json.dumps(env.get_state(), sort_keys=True).encode()
    return hashlib.blake2b(data).hexdigest()


# ---------------------------------------------------------------------- determinism and state
def test_same_seed_same_trajectory() -> None:
    actions = random_actions(7, 1500)
    first = run(SlimeVolleyballEnv(points_to_win=3, max_steps=600), actions, seed=123)
    second = run(SlimeVolleyballEnv(points_to_win=3, max_steps=600), actions, seed=123)
    assert len(first) == len(second) > 1500
    for a, b in zip(first, second, strict=True):
        assert a == b


def test_different_seeds_serve_differently() -> None:
    ball = []
    for seed in (1, 2):
        env = SlimeVolleyballEnv()
        env.reset(seed=seed)
        ball.append(env.get_state()["ball"])
    assert ball[0] != ball[1]


@pytest.mark.parametrize("through_json", [False, True])
def test_state_round_trip_continues_identically(through_json: bool) -> None:
    env = SlimeVolleyballEnv(points_to_win=50, max_steps=None)
    env.reset(seed=99)
    run(env, random_actions(1, 400), seed=99)
    state = env.get_state()
    if through_json:
        state = json.loads(json.dumps(state))
    assert json.loads(json.dumps(state)) == state
    future = random_actions(2, 800)
    expected = run(env, future, seed=5)
    expected_state = env.get_state()

    other = SlimeVolleyballEnv(points_to_win=50, max_steps=None)
    other.reset(seed=12345)  # a different history, overwritten by set_state
    other.set_state(state)
    assert run(other, future, seed=5) == expected
    assert other.get_state() == expected_state

    env.set_state(state)  # rollback in place
    assert run(env, future, seed=5) == expected


def test_get_state_is_a_copy() -> None:
    env = SlimeVolleyballEnv()
    env.reset(seed=3)
    state = env.get_state()
    state["ball"][0] = 999.0
    state["rng"][1][0] = 0
    assert env.get_state() != state


def test_set_state_rejects_other_config() -> None:
    env = SlimeVolleyballEnv(fps=30)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="config"):
        SlimeVolleyballEnv(fps=60).set_state(env.get_state())


def test_checksum_after_1000_steps_is_reproducible() -> None:
    digests = []
    for _ in range(2):
        env = SlimeVolleyballEnv()
        env.reset(seed=2024)
        run(env, random_actions(11, 1000), seed=2024)
        digests.append(blake2b_of_state(env))
        assert env.state_checksum() == state_checksum(env.get_state())
    assert digests[0] == digests[1]


def test_stdlib_only_run_matches_this_process() -> None:
    """Without numpy/gymnasium the module still works and simulates the very same game."""
    script = f"""
import sys
sys.modules["numpy"] = None
sys.modules["gymnasium"] = None
sys.path.insert(0, {str(EXAMPLE_DIR)!r})
import random
from slime_env import SlimeVolleyballEnv, Discrete
from heuristic import SlimeHeuristic
env = SlimeVolleyballEnv()
assert isinstance(env.action_space("agent_left"), Discrete)
obs, _ = env.reset(seed=8)
policy, rng = SlimeHeuristic(), random.Random(4)
for _ in range(700):
    if not env.agents:
        obs, _ = env.reset()
    obs = env.step({{"agent_left": policy(obs["agent_left"]), "agent_right": rng.randrange(6)}})[0]
sys.stdout.write(env.state_checksum())
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    env = SlimeVolleyballEnv()
    obs, _ = env.reset(seed=8)
    policy, rng = SlimeHeuristic(), random.Random(4)
    for _ in range(700):
        if not env.agents:
            obs, _ = env.reset()
        joint = {LEFT_AGENT: policy(obs[LEFT_AGENT]), RIGHT_AGENT: rng.randrange(6)}
        obs = env.step(joint)[0]
    assert out == env.state_checksum()


def test_simulation_uses_only_correctly_rounded_math() -> None:
    """No libm functions (sin, cos, exp, ...) outside the drawing code: they differ by platform."""
    for name in ("slime_env.py", "heuristic.py"):
        tree = ast.parse((EXAMPLE_DIR / name).read_text())
        drawing = {
            id(node)
            for top in tree.body
            if (isinstance(top, ast.FunctionDef) and top.name == "_draw_frame")
            or (isinstance(top, ast.Assign) and "_HALF_CIRCLE" in ast.unparse(top.targets[0]))
            for node in ast.walk(top)
        }
        used = {
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "math"
            and id(node) not in drawing
        }
        assert used <= {"sqrt"}, (name, used)


# ---------------------------------------------------------------------- episode rules
def test_terminates_at_score_limit() -> None:
    env = SlimeVolleyballEnv(points_to_win=2, max_steps=None)
    env.reset(seed=4)
    rng = random.Random(0)
    totals = dict.fromkeys(AGENTS, 0.0)
    steps = 0
    while env.agents:
        _, rewards, terms, truncs, infos = env.step({a: rng.randrange(6) for a in AGENTS})
        steps += 1
        assert sum(rewards.values()) == 0.0
        assert all(abs(r) in (0.0, 1.0) for r in rewards.values())
        for agent in AGENTS:
            totals[agent] += rewards[agent]
        assert steps < 20_000
    assert all(terms.values()) and not any(truncs.values())
    assert max(infos[a]["score"] for a in AGENTS) == 2
    winner = max(AGENTS, key=lambda a: infos[a]["score"])
    assert infos[winner]["point_scored_by"] == winner
    assert totals[winner] > 0 > min(totals.values())
    with pytest.raises(RuntimeError, match="reset"):
        env.step(dict.fromkeys(AGENTS, 0))


def test_truncates_at_max_steps() -> None:
    env = SlimeVolleyballEnv(points_to_win=1000, max_steps=50)
    env.reset(seed=4)
    for i in range(50):
        _, _, terms, truncs, _ = env.step(dict.fromkeys(AGENTS, 0))
        assert not any(terms.values())
        assert all(truncs.values()) == (i == 49)
    assert env.agents == []
    obs, infos = env.reset()
    assert env.agents == list(AGENTS) and set(obs) == set(infos) == set(AGENTS)


@pytest.mark.parametrize(
    "action", [6, -1, 2.0, "1", None, True], ids=["6", "-1", "float", "str", "None", "bool"]
)
def test_invalid_action_is_a_clear_value_error(action: Any) -> None:
    env = SlimeVolleyballEnv()
    env.reset(seed=0)
    before = env.get_state()
    with pytest.raises(ValueError, match=rf"invalid action {action!r} for agent 'agent_right'"):
        env.step({LEFT_AGENT: 0, RIGHT_AGENT: action})
    assert env.get_state() == before


def test_missing_or_unknown_agents_are_rejected() -> None:
    env = SlimeVolleyballEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="agent_right"):
        env.step({LEFT_AGENT: 0})
    with pytest.raises(ValueError, match="nobody"):
        env.step({LEFT_AGENT: 0, RIGHT_AGENT: 0, "nobody": 1})


def test_step_before_reset_raises() -> None:
    with pytest.raises(RuntimeError, match="reset"):
        SlimeVolleyballEnv().step(dict.fromkeys(AGENTS, 0))


# ---------------------------------------------------------------------- spaces and observations
@pytest.mark.parametrize("use_gymnasium", [False, None])
def test_spaces_describe_actions_and_observations(use_gymnasium: bool | None) -> None:
    env = SlimeVolleyballEnv(use_gymnasium_spaces=use_gymnasium)
    for agent in env.possible_agents:
        assert env.action_space(agent) is env.action_space(agent)
        assert env.action_space(agent).n == len(ACTION_MEANINGS) == 6
        assert tuple(env.observation_space(agent).shape) == (OBS_SIZE,)
    if use_gymnasium is False:
        space = env.action_space(LEFT_AGENT)
        assert isinstance(space, Discrete) and isinstance(env.observation_space(LEFT_AGENT), Box)
        assert space.contains(5) and not space.contains(6) and not space.contains(True)
        rng = random.Random(1)
        assert all(space.contains(space.sample(rng=rng)) for _ in range(100))
        assert space.sample(mask=[0, 0, 0, 1, 0, 0]) == 3
    obs, _ = env.reset(seed=1)
    for joint in random_actions(3, 300):
        if not env.agents:
            obs, _ = env.reset()
        for agent in AGENTS:
            assert len(obs[agent]) == OBS_SIZE
            assert all(isinstance(v, float) for v in obs[agent])
            box = SlimeVolleyballEnv(use_gymnasium_spaces=False).observation_space(agent)
            assert box.contains(obs[agent])
        obs = env.step(joint)[0]


def test_observations_are_mirrored_for_the_right_player() -> None:
    env = SlimeVolleyballEnv()
    obs, _ = env.reset(seed=6)
    for joint in random_actions(9, 120):
        left, right = obs[LEFT_AGENT], obs[RIGHT_AGENT]
        assert left[12] == 1.0 and right[12] == -1.0
        assert left[0] < 0 and right[0] < 0  # each sees itself on the negative-x half
        # x and vx flip sign, y and vy do not; own and opponent swap places.
        assert right[0:4] == [-left[8], left[9], -left[10], left[11]]
        assert right[4:8] == [-left[4], left[5], -left[6], left[7]]
        assert right[8:12] == [-left[0], left[1], -left[2], left[3]]
        obs = env.step(joint)[0]


def test_action_helpers() -> None:
    assert [action_from(d, j) for j in (False, True) for d in (0, -1, 1)] == [0, 1, 2, 3, 4, 5]
    assert [mirror_action(a) for a in range(6)] == [0, 2, 1, 3, 5, 4]


# ---------------------------------------------------------------------- heuristic
def play(policies: dict[str, Any], seed: int, episodes: int) -> tuple[dict[str, int], float]:
    """Play ``episodes`` to 5 points; return points per agent and net crossings per point."""
    env = SlimeVolleyballEnv(max_steps=None)
    rng = random.Random(seed)
    points = dict.fromkeys(AGENTS, 0)
    crossings = 0
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        side = env.get_state()["ball"][0] < 0
        while env.agents:
            joint = {
                a: rng.randrange(6) if p == "random" else p(obs[a]) for a, p in policies.items()
            }
            obs, rewards, *_ = env.step(joint)
            ball_x = env.get_state()["ball"][0]
            crossings += (ball_x < 0) != side
            side = ball_x < 0
            for agent, reward in rewards.items():
                points[agent] += reward > 0
    return points, crossings / sum(points.values())


def test_heuristic_returns_valid_deterministic_actions() -> None:
    env = SlimeVolleyballEnv()
    policy = SlimeHeuristic()
    obs, _ = env.reset(seed=2)
    seen = set()
    for joint in random_actions(5, 600):
        if not env.agents:
            obs, _ = env.reset()
        for agent in AGENTS:
            action = policy(obs[agent])
            assert isinstance(action, int) and env.action_space(agent).contains(action)
            assert action == policy.act(list(obs[agent]), agent) == SlimeHeuristic()(obs[agent])
            assert policy.act(obs[agent][:12], agent) == action  # side from agent id
            seen.add(action)
        obs = env.step(joint)[0]
    assert len(seen) >= 4


@pytest.mark.parametrize("heuristic_side", [LEFT_AGENT, RIGHT_AGENT])
def test_heuristic_beats_random(heuristic_side: str) -> None:
    other = RIGHT_AGENT if heuristic_side == LEFT_AGENT else LEFT_AGENT
    points, _ = play({heuristic_side: SlimeHeuristic(), other: "random"}, seed=31, episodes=3)
    assert points[heuristic_side] >= 10  # at least two of the three games won
    assert points[heuristic_side] >= 3 * points[other]


def test_heuristic_returns_the_ball() -> None:
    policy = SlimeHeuristic()
    points, crossings_per_point = play({LEFT_AGENT: policy, RIGHT_AGENT: policy}, 17, 1)
    assert max(points.values()) == 5
    assert crossings_per_point > 4


# ---------------------------------------------------------------------- env file and rendering
def test_env_file_defines_env() -> None:
    namespace = runpy.run_path(str(EXAMPLE_DIR / "env_file.py"))
    env = namespace["env"]
    assert env.possible_agents == list(AGENTS)
    obs, _ = env.reset(seed=0)
    assert set(obs) == set(AGENTS)


def test_render_returns_a_packet() -> None:
    rendering = pytest.importorskip("mug_core.rendering")
    if not hasattr(rendering, "Surface"):
        pytest.skip("mug_core.rendering.Surface is not available yet")
    env = SlimeVolleyballEnv()
    env.reset(seed=0)
    assert isinstance(env.render(), dict)
    env.step(dict.fromkeys(AGENTS, 5))
    assert isinstance(env.render(), dict)
    env.close()


def test_one_frame_marks_each_players_slime_for_that_player_only() -> None:
    pytest.importorskip("mug_core.rendering")
    env = SlimeVolleyballEnv()
    env.reset(seed=0)
    packet = env.render()
    marks = {o["viewer"]: o for o in packet["objects"] if o.get("text") == "YOU"}
    assert set(marks) == set(AGENTS)
    slimes = {o["id"]: o for o in packet["objects"] if o["id"].startswith("slime_")}
    for agent, mark in marks.items():
        assert mark["x"] == slimes[f"slime_{agent}"]["x"]  # above that agent's own slime
    assert all("viewer" not in o for o in packet["objects"] if o.get("text") != "YOU")
    env.close()


def test_rendered_frames_rebuild_the_whole_court_in_every_episode() -> None:
    rendering = pytest.importorskip("mug_core.rendering")
    env = SlimeVolleyballEnv(points_to_win=1, serve_delay=0)
    scene: Any = None
    actions = random_actions(seed=3, n=400)
    env.reset(seed=3)
    episodes = 1
    for joint in actions:
        if not env.agents:
            env.reset()
            episodes += 1
        env.step(joint)
        scene = rendering.apply_packet(scene, env.render())
        ids = set(scene["objects"])
        assert {"sky", "ground", "net", "net_cap", "ball"} <= ids
        assert {f"slime_{a}" for a in AGENTS} | {f"you_{a}" for a in AGENTS} <= ids
        assert scene["order"][0] == "sky"
    assert episodes >= 2
