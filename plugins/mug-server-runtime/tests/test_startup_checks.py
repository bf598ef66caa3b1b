"""Start-up checks of server game scenes: each env is built once, in a process of its own, and
every mistake is a message at start-up that says what to change, before any participant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mug_server_runtime import checks

from mug_core import EndScene, ExperimentConfig, PolicyTypes, Stager
from mug_core.configurations.configuration_constants import HeuristicPolicy
from mug_core.errors import ConfigError
from mug_core.scenes.gym_scene import GymScene
from mug_core.server.app import create_server

SLIME = Path(__file__).resolve().parents[3] / "examples" / "slime_volleyball"
SLIME_ENV = "from slime_env import SlimeVolleyballEnv\nenv = SlimeVolleyballEnv(max_steps=30)\n"


def _scene(env_code: str = SLIME_ENV, policies: dict[Any, Any] | None = None) -> GymScene:
    return (
        GymScene()
        .scene("match")
        .policies(
            policy_mapping=policies
            or {
                "agent_left": PolicyTypes.Human,
                "agent_right": HeuristicPolicy("heuristic:SlimeHeuristic"),
            }
        )
        .gameplay(action_mapping={"ArrowLeft": 1}, default_action=0)
        .runtime(
            environment_initialization_code=env_code,
            python_files=[SLIME / "slime_env.py", SLIME / "heuristic.py"],
            runtime="server",
        )
    )


def test_a_scene_whose_env_builds_and_matches_its_policies_passes() -> None:
    assert checks.scene_problems(_scene()) == []


def test_the_example_studies_env_file_passes() -> None:
    scene = (
        GymScene()
        .scene("match")
        .policies(
            policy_mapping={"agent_left": PolicyTypes.Human, "agent_right": PolicyTypes.Random}
        )
        .gameplay(action_mapping={"ArrowLeft": 1}, default_action=0)
        .runtime(environment_initialization_code_filepath=SLIME / "env_file.py", runtime="server")
    )
    assert scene.check() == []  # ships the env file's sibling modules, as start-up does
    assert checks.scene_problems(scene) == []


def test_an_env_file_that_fails_says_so_with_its_error() -> None:
    problems = checks.scene_problems(_scene(SLIME_ENV + "1 / 0\n"))
    assert problems == [
        "GymScene 'match': its env could not be built: env.py failed: ZeroDivisionError: "
        "division by zero"
    ]


def test_an_env_file_without_an_env_says_so() -> None:
    problems = checks.scene_problems(_scene("x = 1\n"))
    assert problems == [
        "GymScene 'match': its env could not be built: env.py ran but defined no global named env"
    ]


def test_policy_keys_that_are_not_the_envs_agents_are_named_with_the_agents() -> None:
    problems = checks.scene_problems(
        _scene(policies={"left": PolicyTypes.Human, "agent_right": PolicyTypes.Random})
    )
    assert problems == [
        "GymScene 'match': policy_mapping names 'left', which its env does not have; its "
        "agents are 'agent_left', 'agent_right'",
        "GymScene 'match': its env's agent 'agent_left' has no policy; give every agent one "
        "in policy_mapping",
    ]


def test_a_policy_that_does_not_load_is_a_start_up_error() -> None:
    problems = checks.scene_problems(
        _scene(
            policies={
                "agent_left": PolicyTypes.Human,
                "agent_right": HeuristicPolicy("heuristic:NoSuchPolicy"),
            }
        )
    )
    assert len(problems) == 1 and "NoSuchPolicy" in problems[0], problems


def test_an_env_that_hangs_does_not_hang_the_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checks, "TIMEOUT_S", 3.0)
    problems = checks.scene_problems(_scene("import time\ntime.sleep(60)\n"))
    assert problems == ["GymScene 'match': building its env took over 3 s; does the env file wait?"]


def test_an_env_that_kills_its_process_is_reported() -> None:
    problems = checks.scene_problems(_scene("import os\nos._exit(3)\n"))
    assert problems == ["GymScene 'match': building its env ended its process (exit code 3)"]


def test_the_server_refuses_to_start_with_a_broken_server_scene(tmp_path: Path) -> None:
    config = (
        ExperimentConfig()
        .experiment(
            stager=Stager(
                [_scene(SLIME_ENV + "raise RuntimeError('no GPU')\n"), EndScene().scene("end")]
            ),
            experiment_id="broken",
        )
        .data(data_dir=tmp_path, sinks=["csv"])
    )
    with pytest.raises(ConfigError) as raised:
        create_server(config)
    message = "GymScene 'match': its env could not be built: env.py failed: RuntimeError: no GPU"
    assert message in str(raised.value)


def test_every_agent_without_a_policy_is_named() -> None:
    problems = checks.scene_problems(_scene(policies={"x": PolicyTypes.Human}))
    assert problems[1] == (
        "GymScene 'match': its env's agents 'agent_left', 'agent_right' have no policy; give "
        "every agent one in policy_mapping"
    )


def test_a_scene_that_cannot_reach_a_game_process_says_so() -> None:
    scene = _scene()
    scene.policy_mapping["agent_right"] = lambda observation: 0  # no pickling a lambda
    problems = checks.scene_problems(scene)
    assert len(problems) == 1
    assert problems[0].startswith("GymScene 'match' cannot be sent to a game process (")
