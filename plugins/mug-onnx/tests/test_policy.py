"""OnnxPolicy: the generator, selection, cadence, fixed inputs and recurrent state."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest
from mug_onnx.policy import (
    Mulberry32,
    OnnxPolicy,
    episode_seed,
    exp64,
    feed_shape,
    select_action,
)

from mug_core.configurations.configuration_constants import ModelConfig

# Golden values from the reference JS mulberry32 (node), which onnx_policy.js also returns.
MULBERRY32_GOLDEN = {
    0: [1144304738, 1416247, 958946056, 627933444, 2007157716],
    1: [2693262067, 11749833, 2265367787, 4213581821, 4159151403],
    42: [2581720956, 1925393290, 3661312704, 2876485805, 750819978],
    4294967295: [3850105811, 813802916, 3073704848, 4054706436, 3630262831],
}
# onnx_policy.js: selectAction([0.5, -1.25, 2, 0, 1, -3], "sample", 0.7, rng.random()) x 20,
# rng = mulberry32(99).
SAMPLE_GOLDEN = [2, 3, 2, 2, 0, 3, 0, 2, 2, 2, 2, 0, 2, 2, 2, 2, 2, 2, 2, 2]


def test_mulberry32_golden_values() -> None:
    for seed, expected in MULBERRY32_GOLDEN.items():
        rng = Mulberry32(seed)
        assert [rng.next_uint32() for _ in range(5)] == expected
    assert Mulberry32(-1).next_uint32() == MULBERRY32_GOLDEN[4294967295][0]
    assert Mulberry32(2**32 + 42).next_uint32() == MULBERRY32_GOLDEN[42][0]
    assert Mulberry32(0).random() == 1144304738 / 2**32


def test_episode_seed() -> None:
    assert episode_seed(7, 0) == 7
    assert episode_seed(7, 3) == 3668340018
    assert episode_seed(4294967295, 1) == 2654435768
    assert episode_seed(-5, 2) == 1013904237


def test_exp64_is_close_to_math_exp() -> None:
    rng = random.Random(0)
    for _ in range(20000):
        x = -rng.random() * 700
        assert exp64(x) == pytest.approx(math.exp(x), rel=5e-16)
    assert exp64(0.0) == 1.0
    assert exp64(-math.inf) == 0.0
    assert exp64(-701.0) == 0.0


def test_argmax_takes_the_first_largest() -> None:
    assert select_action(np.array([0.0, 2.0, 2.0, 1.0], np.float32), "argmax", 1.0, None) == 1
    assert select_action([-math.inf, -1.0], "argmax", 1.0, None) == 1


def test_sampling_matches_the_js_golden_sequence() -> None:
    rng = Mulberry32(99)
    logits = np.array([0.5, -1.25, 2.0, 0.0, 1.0, -3.0], dtype=np.float32)
    actions = [select_action(logits, "sample", 0.7, rng.random()) for _ in range(20)]
    assert actions == SAMPLE_GOLDEN


def test_sampling_follows_the_softmax() -> None:
    logits = np.array([1.0, 0.0, -1.0, 0.5], dtype=np.float32)
    for temperature in (1.0, 0.5, 2.0):
        rng = Mulberry32(5)
        counts = np.zeros(4)
        for _ in range(40000):
            counts[select_action(logits, "sample", temperature, rng.random())] += 1
        z = logits.astype(np.float64) / temperature
        probs = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
        np.testing.assert_allclose(counts / counts.sum(), probs, atol=0.01)


def test_sampling_edges() -> None:
    masked = [-math.inf, 0.0, -math.inf]
    assert {select_action(masked, "sample", 1.0, u) for u in (0.0, 0.5, 0.999999)} == {1}
    assert select_action([0.0, 0.0], "sample", 1.0, 0.0) == 0
    assert select_action([0.0, 0.0], "sample", 1.0, (2**32 - 1) / 2**32) == 1
    assert select_action([10.0, 0.0], "sample", 1e-3, 0.999) == 0  # near-greedy when cold
    with pytest.raises(ValueError, match="cannot be used"):
        select_action([0.0, math.nan], "sample", 1.0, 0.5)
    with pytest.raises(ValueError, match="cannot sample"):
        select_action([-math.inf, -math.inf], "sample", 1.0, 0.5)


def test_feed_shape() -> None:
    assert feed_shape(["batch", 13], 13) == (1, 13)
    assert feed_shape([13], 13) == (13,)
    assert feed_shape([1, 3, 2, 2], 12) == (1, 3, 2, 2)
    assert feed_shape(["batch", 3, "h"], 12) == (1, 3, 4)
    assert feed_shape([], 5) == (1, 5)
    assert feed_shape(None, 5) == (1, 5)
    with pytest.raises(ValueError, match="do not fit"):
        feed_shape(["batch", 12], 13)
    with pytest.raises(ValueError, match="more than one dynamic"):
        feed_shape(["batch", "a", "b"], 13)


# -- OnnxPolicy with real onnxruntime sessions -------------------------------------------------


def _weights(n: int = 3, actions: int = 4, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, actions)).astype(np.float32)


def test_argmax_policy_matches_numpy(models: Any) -> None:
    w = _weights()
    path = models.linear("lin.onnx", w)
    policy = OnnxPolicy(ModelConfig(path, selection="argmax"), action_space_n=4, seed=1)
    rng = np.random.default_rng(1)
    for _ in range(50):
        obs = rng.standard_normal(3)
        expected = obs.astype(np.float32) @ w
        np.testing.assert_allclose(policy.logits(obs), expected, rtol=1e-6, atol=1e-6)
        assert policy.act(obs.tolist()) == int(np.argmax(policy.logits(obs)))


def test_unbatched_input_and_dict_observations(models: Any) -> None:
    w = _weights(n=3)
    path = models.linear("unbatched.onnx", w, batch=False)
    policy = OnnxPolicy(ModelConfig(path, selection="argmax"), action_space_n=4)
    obs = {"b": [2.0, 3.0], "a": 1.0}
    np.testing.assert_allclose(policy.logits(obs), np.array([1, 2, 3], np.float32) @ w, rtol=1e-6)


def test_seeded_sampling_replays_per_episode(models: Any) -> None:
    path = models.linear("lin.onnx", _weights())
    config = ModelConfig(path, selection="sample", temperature=1.5)
    observations = [np.random.default_rng(i).standard_normal(3) for i in range(60)]

    def episode(policy: OnnxPolicy, index: int | None = None) -> list[int]:
        policy.reset(index)
        return [policy.act(obs) for obs in observations]

    first = OnnxPolicy(config, 4, seed=11)
    runs = [episode(first) for _ in range(3)]  # episodes 0, 1, 2
    assert runs[0] != runs[1] != runs[2]
    replay = OnnxPolicy(config, 4, seed=11)
    assert episode(replay, 2) == runs[2]
    assert episode(replay, 0) == runs[0]
    assert episode(OnnxPolicy(config, 4, seed=12), 0) != runs[0]


def test_sampling_uses_the_documented_selection(models: Any) -> None:
    path = models.linear("lin.onnx", _weights())
    policy = OnnxPolicy(ModelConfig(path, temperature=0.8), 4, seed=3)
    policy.reset(5)
    rng = Mulberry32(episode_seed(3, 5))
    for i in range(30):
        obs = [i * 0.1, -i * 0.05, 1.0]
        expected = select_action(policy.logits(obs), "sample", 0.8, rng.random())
        assert policy.act(obs) == expected


class CountingSession:
    """Wraps an onnxruntime session and counts ``run`` calls."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.runs = 0

    def get_inputs(self) -> Any:
        return self.session.get_inputs()

    def run(self, *args: Any) -> Any:
        self.runs += 1
        return self.session.run(*args)


def test_cadence_repeat_and_default(models: Any) -> None:
    from mug_onnx.policy import create_session

    path = models.linear("lin.onnx", _weights())
    for between in ("repeat", "default"):
        config = ModelConfig(path, selection="argmax", act_every=3, between=between)
        session = CountingSession(create_session(path))
        policy = OnnxPolicy(config, 4, default_action=0, session=session)
        observations = [np.random.default_rng(i).standard_normal(3) for i in range(9)]
        greedy = [int(np.argmax(policy.logits(o))) for o in observations]
        session.runs = 0
        actions = [policy.act(o) for o in observations]
        assert session.runs == 3
        for step, action in enumerate(actions):
            inferred = greedy[step - step % 3]
            if step % 3 == 0 or between == "repeat":
                assert action == inferred
            else:
                assert action == 0
        policy.reset()
        policy.act(observations[0])
        assert session.runs == 4  # a new episode infers at its first step


def test_cadence_draws_only_when_inferring(models: Any) -> None:
    path = models.linear("lin.onnx", _weights())
    every = OnnxPolicy(ModelConfig(path, act_every=1), 4, seed=9)
    sparse = OnnxPolicy(ModelConfig(path, act_every=2), 4, seed=9)
    observations = [np.random.default_rng(i).standard_normal(3) for i in range(20)]
    dense_actions = [every.act(o) for o in observations[::2]]
    sparse_actions = [sparse.act(o) for o in observations]
    assert sparse_actions[::2] == dense_actions
    assert sparse_actions[1::2] == dense_actions


def test_recurrent_state_carries_and_resets(models: Any) -> None:
    path = models.recurrent("rnn.onnx", n=2, actions=3, hidden=4)
    config = ModelConfig(
        path, state_inputs=["h"], state_outputs=["h_out"], state_shape=[1, 4], selection="argmax"
    )
    policy = OnnxPolicy(config, 3)
    obs = [1.0, -0.5]
    first = policy.logits(obs)
    np.testing.assert_array_equal(policy.logits(obs), first)  # logits() keeps the state
    policy.act(obs)
    second = policy.logits(obs)
    np.testing.assert_allclose(second, 2 * first, rtol=1e-5)  # the state summed one obs
    policy.act(obs)
    np.testing.assert_allclose(policy.logits(obs), 3 * first, rtol=1e-5)
    policy.reset()
    np.testing.assert_array_equal(policy.state["h"], np.zeros((1, 4), np.float32))
    np.testing.assert_array_equal(policy.logits(obs), first)


def test_fixed_inputs_are_fed(models: Any) -> None:
    path = models.fixed("fixed.onnx", n=2, actions=3)
    bias = [[0.0, 5.0, 0.0]]
    config = ModelConfig(path, fixed_inputs={"bias": bias, "mode": [2]}, selection="argmax")
    policy = OnnxPolicy(config, 3)
    np.testing.assert_allclose(policy.logits([1.0, 1.0]), [4.0, 9.0, 4.0])
    assert policy.act([1.0, 1.0]) == 1


def test_wrong_logit_count_is_reported(models: Any) -> None:
    path = models.linear("lin.onnx", _weights(actions=5))
    policy = OnnxPolicy(ModelConfig(path), 6)
    with pytest.raises(ValueError, match="5 values, but the action space has 6"):
        policy.act([0.0, 0.0, 0.0])


def test_unknown_input_names_are_reported(models: Any) -> None:
    path = models.linear("lin.onnx", _weights())
    with pytest.raises(ValueError, match=r"no input\(s\) \['x'\].*\['obs'\]"):
        OnnxPolicy(ModelConfig(path, obs_input="x"), 4)
