"""The Python side of the browser runtime (``runner.py``), run in CPython."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from mug_pyodide.plugin import RUNNER_PATH

REPO = Path(__file__).resolve().parents[3]
SLIME_DIR = REPO / "examples" / "slime_volleyball"
SLIME_ENV = "from slime_env import SlimeVolleyballEnv\nenv = SlimeVolleyballEnv(points_to_win=1)\n"
HUMAN = {"type": "human"}
HEURISTIC = {"type": "heuristic", "reference": "heuristic:SlimeHeuristic", "kwargs": {}}


def _load_runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mug_pyodide_runner", RUNNER_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


runner_module = _load_runner()
Runner = runner_module.Runner
RunnerError = runner_module.RunnerError
to_json = runner_module.to_json


@pytest.fixture
def slime_files(tmp_path: Path) -> Iterator[Path]:
    """The slime example's python files installed the way the worker installs them."""
    files = {
        name: (SLIME_DIR / name).read_text(encoding="utf-8")
        for name in ("slime_env.py", "heuristic.py")
    }
    saved = list(sys.path)
    modules = runner_module.install_python_files(files, tmp_path / "py")
    assert sorted(modules) == ["heuristic", "slime_env"]
    yield tmp_path / "py"
    sys.path[:] = saved
    for name in modules:
        sys.modules.pop(name, None)


def _slime(policies: dict[str, Any], **kwargs: Any) -> Any:
    return Runner(
        SLIME_ENV,
        "env_file.py",
        policies=policies,
        agent_ids=["agent_left", "agent_right"],
        **kwargs,
    )


def _play(runner: Any, episode: int, human_actions: list[int | None]) -> list[dict[str, Any]]:
    first = json.loads(runner.reset(episode))
    assert first["episode"] == episode and first["packet"]["clear"] is True
    steps = []
    i = 0
    while True:
        action = human_actions[i % len(human_actions)] if human_actions else None
        payload = json.dumps({"agent_left": action}) if "agent_left" in runner.humans else None
        result = json.loads(runner.step(payload))
        steps.append(result)
        i += 1
        if result["done"]:
            return steps


def test_slime_human_against_the_heuristic_records_every_step(slime_files: Path) -> None:
    runner = _slime({"agent_left": HUMAN, "agent_right": HEURISTIC}, max_steps=400, seed=7)
    assert runner.humans == ["agent_left"] and runner.external == []
    steps = _play(runner, 0, [1, 1, None, 2])
    assert [s["step"] for s in steps] == list(range(len(steps)))
    # The human's actions are the ones given; no input is the default action.
    assert [s["actions"]["agent_left"] for s in steps[:4]] == [1, 1, 0, 2]
    assert all(s["actions"]["agent_right"] in range(6) for s in steps)
    last = steps[-1]
    assert last["done"] is True
    assert all(last["terminated"].values()) or all(last["truncated"].values())
    assert len(last["observations"]["agent_left"]) == 13
    assert set(last["infos"]["agent_left"]) >= {"score", "opponent_score"}
    # The human's view: render(agent_id) marks "YOU".
    first_packet = json.loads(runner.reset(1))["packet"]
    assert any(o.get("text") == "YOU" for o in first_packet["objects"])
    assert last["returns"]["agent_left"] == sum(s["rewards"]["agent_left"] for s in steps)


def test_max_steps_truncates_every_live_agent(slime_files: Path) -> None:
    runner = _slime({"agent_left": HUMAN, "agent_right": HEURISTIC}, max_steps=25)
    steps = _play(runner, 0, [])
    assert len(steps) == 25
    assert steps[-1]["truncated"] == {"agent_left": True, "agent_right": True}
    assert not any(s["done"] for s in steps[:-1])
    with pytest.raises(RuntimeError, match="reset"):
        runner.step(None)


def test_previous_submitted_action_repeats_the_last_input(slime_files: Path) -> None:
    runner = _slime(
        {"agent_left": HUMAN, "agent_right": HEURISTIC},
        max_steps=6,
        action_population_method="previous_submitted_action",
    )
    steps = _play(runner, 0, [None, 2, None, None, 1, None])
    assert [s["actions"]["agent_left"] for s in steps] == [0, 2, 2, 2, 1, 1]


def test_random_and_heuristic_ai_are_deterministic_per_seed(slime_files: Path) -> None:
    def trajectory(seed: int, episode: int) -> list[str]:
        policies = {"agent_left": {"type": "random", "seed": 11}, "agent_right": HEURISTIC}
        runner = _slime(policies, max_steps=300, seed=seed)
        return [
            json.dumps({k: s[k] for k in ("actions", "observations")})
            for s in _play(runner, episode, [])
        ]

    assert trajectory(3, 0) == trajectory(3, 0)
    assert trajectory(3, 0) != trajectory(4, 0)
    assert trajectory(3, 1) != trajectory(3, 0)
    # The random agent really varies its actions.
    runner = _slime(
        {"agent_left": {"type": "random", "seed": 11}, "agent_right": HEURISTIC}, max_steps=50
    )
    actions = {s["actions"]["agent_left"] for s in _play(runner, 0, [])}
    assert len(actions) > 3


def test_heuristic_from_the_env_namespace_with_kwargs(slime_files: Path) -> None:
    code = SLIME_ENV + (
        "from heuristic import SlimeHeuristic as Bot\n\ndef lefty(obs):\n    return 1\n"
    )
    policies = {
        "agent_left": {"type": "heuristic", "reference": "env_file:lefty", "kwargs": {}},
        "agent_right": {"type": "heuristic", "reference": "env_file:Bot", "kwargs": {"home_x": -5}},
    }
    runner = Runner(code, "env_file.py", policies=policies, agent_ids=None, max_steps=3)
    assert runner.policies["agent_right"].impl.home_x == -5
    assert [s["actions"]["agent_left"] for s in _play(runner, 0, [])] == [1, 1, 1]


def test_unknown_agents_are_reported_with_both_lists(slime_files: Path) -> None:
    with pytest.raises(RunnerError) as info:
        Runner(
            SLIME_ENV,
            "env_file.py",
            policies={"left": HUMAN, "agent_right": HEURISTIC},
            agent_ids=["left", "agent_right"],
        )
    message = str(info.value)
    assert "['left']" in message
    assert "['left', 'agent_right']" in message
    assert "['agent_left', 'agent_right']" in message


def test_missing_policy_and_bad_reference_are_clear_errors(slime_files: Path) -> None:
    with pytest.raises(RunnerError, match=r"env.possible_agents \['agent_right'\] have no policy"):
        Runner(SLIME_ENV, "env_file.py", policies={"agent_left": HUMAN}, agent_ids=["agent_left"])
    bad = {"type": "heuristic", "reference": "nowhere:Bot", "kwargs": {}}
    with pytest.raises(RunnerError, match=r"add nowhere\.py to the scene's python_files"):
        _slime({"agent_left": HUMAN, "agent_right": bad})
    with pytest.raises(RunnerError, match="must define a global named env"):
        Runner("x = 1\n", "broken.py", policies={"0": HUMAN})


def test_env_errors_keep_their_traceback_and_file_name() -> None:
    code = "def make():\n    raise ValueError('the env is broken')\n\nenv = make()\n"
    with pytest.raises(ValueError) as info:
        Runner(code, "my_env.py", policies={"0": HUMAN})
    details = runner_module.error_details(info.value)
    assert details["message"] == "ValueError: the env is broken"
    assert 'File "my_env.py", line 2, in make' in details["traceback"]


GRID_ENV = '''
import gymnasium
from gymnasium import spaces
import numpy as np
from mug_core.rendering import Surface


class Walk(gymnasium.Env):
    """A 1-D walk to x = 5; numpy observations, NaN in the info."""

    def __init__(self):
        self.action_space = spaces.Discrete(3)
        self.observation_space = spaces.Box(-10, 10, shape=(2,), dtype=np.float32)
        self.surface = Surface(100, 20)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.x = int(self.np_random.integers(-2, 3))
        self.surface.reset()
        return np.array([self.x, 0], dtype=np.float32), {}

    def step(self, action):
        self.x += int(action) - 1
        done = self.x >= 5
        obs = np.array([self.x, 1], dtype=np.float32)
        return obs, np.float64(1.0 if done else -0.1), done, False, {"nan": float("nan")}

    def render(self):
        self.surface.circle(self.x * 10 + 50, 10, 3, id="me")
        return self.surface.commit()


env = Walk()
'''


@pytest.mark.parametrize("agent_ids", [None, [0]])
def test_a_single_agent_gymnasium_env(agent_ids: list[Any] | None) -> None:
    pytest.importorskip("gymnasium")
    key = "0"
    runner = Runner(GRID_ENV, "walk.py", policies={key: HUMAN}, agent_ids=agent_ids, seed=1)
    assert runner.keys == [key] and not runner.parallel
    first = json.loads(runner.reset(0))
    assert first["observations"][key][1] == 0.0
    assert first["packet"]["objects"][0]["id"] == "me"
    result = None
    for _ in range(30):
        result = json.loads(runner.step(json.dumps({key: 2})))
        if result["done"]:
            break
    assert result is not None and result["done"] and result["terminated"] == {key: True}
    assert result["actions"] == {key: 2}
    assert result["rewards"][key] == 1.0
    assert result["infos"][key] == {"nan": None}  # NaN is not JSON: null
    assert result["observations"][key] == [5.0, 1.0]


def test_a_single_agent_env_takes_exactly_one_agent() -> None:
    pytest.importorskip("gymnasium")
    with pytest.raises(RunnerError, match="single-agent Gymnasium env"):
        Runner(GRID_ENV, "walk.py", policies={"0": HUMAN, "1": HUMAN}, agent_ids=[0, 1])


def test_random_policy_on_a_gymnasium_space_is_seeded() -> None:
    pytest.importorskip("gymnasium")

    def actions() -> list[int]:
        runner = Runner(
            GRID_ENV, "walk.py", policies={"0": {"type": "random", "seed": 5}}, max_steps=20
        )
        runner.reset(0)
        return [json.loads(runner.step())["actions"]["0"] for _ in range(20)]

    assert actions() == actions()
    assert len(set(actions())) == 3


def test_json_of_odd_values() -> None:
    np = pytest.importorskip("numpy")
    value = {
        "array": np.arange(3, dtype=np.int64),
        "scalar": np.float32(0.5),
        "int": np.int64(7),
        "flag": np.bool_(True),
        "tuple": (1, (2, 3)),
        "set": {3, 1},
        1: "int key",
        "nan": math.nan,
        "inf": [math.inf, -math.inf],
        "np_nan": np.float64("nan"),
        "object": object.__new__(type("Thing", (), {"__str__": lambda self: "thing"})),
    }
    decoded = json.loads(to_json(value))
    assert decoded == {
        "array": [0, 1, 2],
        "scalar": 0.5,
        "int": 7,
        "flag": True,
        "tuple": [1, [2, 3]],
        "set": [1, 3],
        "1": "int key",
        "nan": None,
        "inf": [None, None],
        "np_nan": None,
        "object": "thing",
    }
    assert to_json({(1, 2): 3}) == '{"(1, 2)":3}'
    assert to_json([1.5, "a"]) == '[1.5,"a"]'


def test_install_python_files_replaces_earlier_modules(tmp_path: Path) -> None:
    saved = list(sys.path)
    try:
        runner_module.install_python_files({"mug_tmp_mod.py": "VALUE = 1\n"}, tmp_path / "a")
        import mug_tmp_mod  # type: ignore[import-not-found]

        assert mug_tmp_mod.VALUE == 1
        runner_module.install_python_files({"mug_tmp_mod.py": "VALUE = 2\n"}, tmp_path / "b")
        import mug_tmp_mod as again  # type: ignore[import-not-found]

        assert again.VALUE == 2
        with pytest.raises(RunnerError, match="relative path"):
            runner_module.install_python_files({"../evil.py": ""}, tmp_path / "c")
    finally:
        sys.path[:] = saved
        sys.modules.pop("mug_tmp_mod", None)
