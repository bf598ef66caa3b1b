"""Start-up checks (``mug_validate_config``): each mistake gives a message saying what to change."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mug_onnx import plugin
from onnx import TensorProto

from mug_core import ExperimentConfig, PluginHost, PolicyTypes, Stager
from mug_core.configurations.configuration_constants import ModelConfig
from mug_core.registry import Registries
from mug_core.scenes.gym_scene import GymScene

SLIME_DIR = Path(__file__).resolve().parents[3] / "examples" / "slime_volleyball"

TINY_ENV = '''
import numpy as np
from gymnasium import spaces


class TinyEnv:
    """PettingZoo-style: per-agent spaces."""

    possible_agents = ["a", "b"]

    def __init__(self, n=3, actions=4, continuous=False):
        self._obs = spaces.Box(-1.0, 1.0, shape=(n,), dtype=np.float32)
        self._act = spaces.Box(-1.0, 1.0, (2,)) if continuous else spaces.Discrete(actions)

    def observation_space(self, agent):
        return self._obs

    def action_space(self, agent):
        return self._act
'''


def _weights(n: int, actions: int) -> np.ndarray:
    return np.random.default_rng(0).standard_normal((n, actions)).astype(np.float32)


def check(
    tmp_path: Path, policy: Any, env_code: str = "from tiny_env import TinyEnv\nenv = TinyEnv()"
) -> list[str]:
    """``mug_validate_config`` for one GymScene where agent ``"a"`` plays ``policy``."""
    module = tmp_path / "tiny_env.py"
    module.write_text(TINY_ENV)
    scene = (
        GymScene()
        .scene("game")
        .policies({"a": policy, "b": PolicyTypes.Human})
        .runtime(environment_initialization_code=env_code, python_files=[module])
        .gameplay(action_mapping={"ArrowLeft": 1})
    )
    config = ExperimentConfig().experiment(stager=Stager([scene]), experiment_id="s")
    return plugin.mug_validate_config(config=config, registries=Registries()) or []


def one(problems: list[str]) -> str:
    assert len(problems) == 1, problems
    assert problems[0].startswith("GymScene 'game', agent 'a': ModelConfig: ")
    return problems[0]


def test_a_fitting_model_passes(tmp_path: Path, models: Any) -> None:
    assert check(tmp_path, ModelConfig(models.linear("ok.onnx", _weights(3, 4)))) == []


def test_missing_file(tmp_path: Path) -> None:
    message = one(check(tmp_path, ModelConfig(tmp_path / "nope.onnx")))
    assert "no file at onnx_path=" in message and "nope.onnx" in message


def test_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"this is not a protobuf")
    message = one(check(tmp_path, ModelConfig(path)))
    assert "does not load as an ONNX model" in message and "export the model again" in message


def test_wrong_input_name(tmp_path: Path, models: Any) -> None:
    path = models.linear("m.onnx", _weights(3, 4), obs_name="observation")
    message = one(check(tmp_path, ModelConfig(path)))
    assert "obs_input 'obs' is not an input" in message
    assert "its inputs are ['observation']: set obs_input=" in message


def test_wrong_output_name(tmp_path: Path, models: Any) -> None:
    path = models.linear("m.onnx", _weights(3, 4), logits_name="action_logits")
    message = one(check(tmp_path, ModelConfig(path)))
    assert "logit_output 'logits' is not an output" in message
    assert "its outputs are ['action_logits']: set logit_output=" in message


def test_observation_shape_mismatch(tmp_path: Path, models: Any) -> None:
    message = one(check(tmp_path, ModelConfig(models.linear("m.onnx", _weights(4, 4)))))
    assert "obs_input 'obs' takes shape [batch, 4]" in message
    assert "observations flatten to 3 float32 values" in message


def test_logits_size_mismatch(tmp_path: Path, models: Any) -> None:
    message = one(check(tmp_path, ModelConfig(models.linear("m.onnx", _weights(3, 5)))))
    assert "gives 5 values per observation, but the agent has Discrete(4) actions" in message


def test_observation_input_must_be_float32(tmp_path: Path, models: Any) -> None:
    path = models.linear("m.onnx", _weights(3, 4), obs_type=TensorProto.DOUBLE)
    message = one(check(tmp_path, ModelConfig(path)))
    assert "takes tensor(double)" in message and "float32" in message


def test_state_names_and_shape(tmp_path: Path, models: Any) -> None:
    path = models.recurrent("rnn.onnx", n=3, actions=4, hidden=4)
    good = ModelConfig(path, state_inputs=["h"], state_outputs=["h_out"], state_shape=[1, 4])
    assert check(tmp_path, good) == []

    unfed = one(check(tmp_path, ModelConfig(path)))
    assert "also takes input 'h' (tensor(float) [1, 4]), which nothing feeds" in unfed

    wrong_in = check(
        tmp_path,
        ModelConfig(path, state_inputs=["hidden"], state_outputs=["h_out"], state_shape=[1, 4]),
    )
    assert any("state_inputs names 'hidden', which is not an input" in p for p in wrong_in)
    assert any("['obs', 'h']" in p for p in wrong_in)

    wrong_out = one(
        check(
            tmp_path, ModelConfig(path, state_inputs=["h"], state_outputs=["c"], state_shape=[1, 4])
        )
    )
    assert "state_outputs names 'c', which is not an output" in wrong_out
    assert "['logits', 'h_out']" in wrong_out

    wrong_shape = one(
        check(
            tmp_path,
            ModelConfig(path, state_inputs=["h"], state_outputs=["h_out"], state_shape=[1, 5]),
        )
    )
    assert "state_shape=[1, 5] does not fit state input 'h', which takes [1, 4]" in wrong_shape


def test_fixed_inputs(tmp_path: Path, models: Any) -> None:
    path = models.fixed("fixed.onnx", n=3, actions=4)
    good = ModelConfig(path, fixed_inputs={"bias": [[0.0] * 4], "mode": [1]})
    assert check(tmp_path, good) == []
    misnamed = one(
        check(tmp_path, ModelConfig(path, fixed_inputs={"bias": [[0.0] * 4], "mod": [1]}))
    )
    assert "fixed_inputs names 'mod', which is not an input" in misnamed
    assert "['obs', 'bias', 'mode']" in misnamed
    unfed = one(check(tmp_path, ModelConfig(path, fixed_inputs={"bias": [[0.0] * 4]})))
    assert "also takes input 'mode' (tensor(int64) [1]), which nothing feeds" in unfed
    badly_shaped = one(
        check(tmp_path, ModelConfig(path, fixed_inputs={"bias": [0.0] * 4, "mode": [1]}))
    )
    assert "fixed_inputs['bias'] has shape [4], but input 'bias' takes [1, 4]" in badly_shaped


def test_action_space_must_be_discrete(tmp_path: Path, models: Any) -> None:
    env_code = "from tiny_env import TinyEnv\nenv = TinyEnv(continuous=True)"
    message = one(check(tmp_path, ModelConfig(models.linear("m.onnx", _weights(3, 4))), env_code))
    assert "use a Discrete action space" in message


def test_a_browser_only_env_skips_the_shape_check(
    tmp_path: Path, models: Any, caplog: pytest.LogCaptureFixture
) -> None:
    env_code = "import js\nfrom tiny_env import TinyEnv\nenv = TinyEnv()"
    wrong_size = ModelConfig(models.linear("m.onnx", _weights(4, 4)))
    with caplog.at_level(logging.WARNING, logger="mug_onnx"):
        assert check(tmp_path, wrong_size, env_code) == []
    assert "skipped the ONNX observation-shape checks" in caplog.text
    assert "js" in caplog.text
    # Name checks still run without the env.
    misnamed = ModelConfig(models.linear("n.onnx", _weights(4, 4)), obs_input="x")
    assert "obs_input 'x' is not an input" in one(check(tmp_path, misnamed, env_code))


def test_single_agent_gymnasium_env(tmp_path: Path, models: Any) -> None:
    env_code = textwrap.dedent(
        """
        import gymnasium
        env = gymnasium.make("CartPole-v1")
        """
    )
    assert check(tmp_path, ModelConfig(models.linear("cp.onnx", _weights(4, 2))), env_code) == []
    message = one(check(tmp_path, ModelConfig(models.linear("cp3.onnx", _weights(4, 3))), env_code))
    assert "Discrete(2)" in message


def test_the_example_policy_fits_the_slime_env() -> None:
    model = SLIME_DIR / "policy.onnx"
    if not model.is_file():
        pytest.skip("examples/slime_volleyball/policy.onnx is not trained yet")
    scene = (
        GymScene()
        .scene("slime")
        .policies({"agent_left": PolicyTypes.Human, "agent_right": ModelConfig(model, act_every=2)})
        .runtime(environment_initialization_code_filepath=SLIME_DIR / "env_file.py")
        .gameplay(action_mapping={"ArrowLeft": 1})
    )
    config = ExperimentConfig().experiment(stager=Stager([scene]), experiment_id="s")
    before = set(sys.modules)
    assert plugin.mug_validate_config(config=config, registries=Registries()) == []
    assert "slime_env" not in set(sys.modules) - before  # the temporary import is forgotten


def test_studies_without_model_configs_are_not_checked() -> None:
    scene = GymScene().scene("g").policies({0: PolicyTypes.Random})
    config = ExperimentConfig().experiment(stager=Stager([scene]), experiment_id="s")
    assert plugin.mug_validate_config(config=config, registries=Registries()) is None


def test_the_plugin_registers_the_backend_and_the_browser_bundle() -> None:
    host = PluginHost.load()
    backends = host.registries.policy_backends
    assert backends.plugin_of("onnx") == "onnx"
    assert backends.get("onnx").claims(ModelConfig("x.onnx"))
    assert not backends.get("onnx").claims(PolicyTypes.Human)
    assets = host.registries.client_assets.get("onnx")
    assert assets.modules == ("onnx_policy.js",)
    assert (assets.static_dir / "onnx_policy.js").is_file()
    assert assets.npm == {"onnxruntime-web": plugin.ORT_WEB_VERSION}
    assert set(assets.vendor) == {f"onnxruntime-web/{f}" for f in plugin.ORT_WEB_FILES}
    assert all(p.startswith("onnxruntime-web/dist/") for p in assets.vendor.values())


def test_without_the_plugin_a_study_is_told_to_install_it(tmp_path: Path) -> None:
    scene = GymScene().scene("g").policies({0: ModelConfig(tmp_path / "m.onnx")})
    problems = scene.plugin_problems(Registries())
    assert any("pip install 'mug-core[onnx]'" in p for p in problems)


def test_importing_the_plugin_loads_no_onnxruntime() -> None:
    code = "import sys, mug_onnx.plugin; print('onnxruntime' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
