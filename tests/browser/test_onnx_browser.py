"""ONNX policies in Chromium: onnxruntime-web (through ``onnx_policy.js``, served by the real
study server) against onnxruntime (``mug_onnx.policy``) on the trained Slime Volleyball policy.

Checks that logits agree within 1e-5, that argmax and seeded sampling choose the same actions
over ~200 recorded observations, and that flattening, the generator and the selection are
bit-identical on both sides.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mug_core import EndScene, ExperimentConfig, Stager, StaticScene
from mug_core.server.assets import find_vendor_file
from mug_core.testing import StudyServer

pytestmark = pytest.mark.browser

mug_onnx_policy = pytest.importorskip("mug_onnx.policy", reason="pip install -e plugins/mug-onnx")
from mug_onnx.preprocess import flatten_observation  # noqa: E402

from mug_core.configurations.configuration_constants import ModelConfig  # noqa: E402
from mug_core.scenes.gym_scene import GymScene  # noqa: E402

SLIME_DIR = Path(__file__).resolve().parents[2] / "examples" / "slime_volleyball"
MODEL = SLIME_DIR / "policy.onnx"
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")

if any(find_vendor_file(f"onnxruntime-web/dist/{name}") is None for name in ORT_FILES):
    pytest.skip("onnxruntime-web is not installed: run mug assets install", allow_module_level=True)
if not MODEL.is_file():
    pytest.skip("examples/slime_volleyball/policy.onnx is missing", allow_module_level=True)


def recorded_observations(count: int = 200) -> list[list[float]]:
    """Observations of both players from a seeded match (heuristic vs. random actions)."""
    sys.path.insert(0, str(SLIME_DIR))
    try:
        from heuristic import SlimeHeuristic
        from slime_env import SlimeVolleyballEnv
    finally:
        sys.path.remove(str(SLIME_DIR))
    env = SlimeVolleyballEnv(render_mode=None, use_gymnasium_spaces=False, serve_delay=0.0)
    heuristic, rng = SlimeHeuristic(), random.Random(7)
    observations, _ = env.reset(seed=3)
    recorded: list[list[float]] = []
    while len(recorded) < count:
        recorded += [observations["agent_left"], observations["agent_right"]]
        actions = {
            "agent_left": heuristic(observations["agent_left"]),
            "agent_right": rng.randrange(6),
        }
        observations, _, terminated, truncated, _ = env.step(actions)
        if any(terminated.values()) or any(truncated.values()):
            observations, _ = env.reset()
    return recorded[:count]


OBSERVATIONS = recorded_observations()


def spec_for(config: ModelConfig, seed: int) -> dict[str, Any]:
    """The page's policy spec, made by the real GymScene code."""
    return GymScene().policy_spec("agent_right", config, seed)


@pytest.fixture(scope="module")
def page(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A participant page of a real study server with mug-onnx loaded, the model routed in."""
    data = tmp_path_factory.mktemp("onnx-data")
    stager = Stager(
        [StaticScene().scene("wait").display(scene_header="Wait"), EndScene().scene("end")]
    )
    config = (
        ExperimentConfig()
        .experiment(stager=stager, experiment_id="onnx")
        .data(data_dir=data, sinks=["csv"])
        .plugins(allow=["onnx", "storage"])
    )
    url = spec_for(ModelConfig(MODEL), 0)["url"]
    with StudyServer(config) as server:
        context = browser.new_context()
        context.set_default_timeout(30_000)
        page = context.new_page()
        page.route(
            f"**{url}",
            lambda route: route.fulfill(
                body=MODEL.read_bytes(), content_type="application/octet-stream"
            ),
        )
        page.goto(server.url("/onnx1"))
        page.wait_for_function("() => globalThis.mug && globalThis.mug.onnx")
        yield page
        context.close()


def js_run(page: Any, spec: dict[str, Any], mode: str, resets: list[int] | None = None) -> Any:
    """In the page: load the policy, then ``logits`` or ``act`` over OBSERVATIONS."""
    return page.evaluate(
        """async ([spec, observations, mode, resets]) => {
            const policy = await mug.onnx.loadOnnxPolicy(spec, {actionCount: 6, defaultAction: 0});
            const out = [];
            if (resets) policy.reset(resets[0]);
            for (const obs of observations) {
                const value = mode === "logits" ? Array.from(await policy.logits(obs)) : null;
                out.push(value ?? (await policy.act(obs)));
            }
            await policy.dispose();
            return out;
        }""",
        [spec, OBSERVATIONS, mode, resets],
    )


def py_policy(config: ModelConfig, seed: int) -> Any:
    return mug_onnx_policy.OnnxPolicy(config, action_space_n=6, seed=seed, default_action=0)


def test_logits_equal_onnxruntime_within_1e_5(page: Any) -> None:
    config = ModelConfig(MODEL)
    browser_logits = np.array(js_run(page, spec_for(config, 0), "logits"), dtype=np.float64)
    policy = py_policy(config, 0)
    server_logits = np.array([policy.logits(obs) for obs in OBSERVATIONS], dtype=np.float64)
    assert browser_logits.shape == server_logits.shape == (len(OBSERVATIONS), 6)
    assert np.max(np.abs(browser_logits - server_logits)) <= 1e-5


def test_argmax_actions_match(page: Any) -> None:
    config = ModelConfig(MODEL, selection="argmax")
    browser_actions = js_run(page, spec_for(config, 0), "act")
    policy = py_policy(config, 0)
    assert browser_actions == [policy.act(obs) for obs in OBSERVATIONS]
    assert len(set(browser_actions)) > 1


@pytest.mark.parametrize(
    ("temperature", "act_every", "between", "episode"),
    [(1.0, 1, "repeat", 0), (0.5, 2, "repeat", 3), (2.0, 3, "default", 1)],
)
def test_seeded_sampling_matches(
    page: Any, temperature: float, act_every: int, between: str, episode: int
) -> None:
    config = ModelConfig(MODEL, temperature=temperature, act_every=act_every, between=between)
    browser_actions = js_run(page, spec_for(config, 1234), "act", resets=[episode])
    policy = py_policy(config, 1234)
    policy.reset(episode)
    assert browser_actions == [policy.act(obs) for obs in OBSERVATIONS]
    assert len(set(browser_actions)) > 2


def test_selection_is_bit_identical_given_the_same_logits(page: Any) -> None:
    policy = py_policy(ModelConfig(MODEL), 0)
    logits = [policy.logits(obs).tolist() for obs in OBSERVATIONS]
    rng = mug_onnx_policy.Mulberry32(mug_onnx_policy.episode_seed(77, 5))
    draws = [rng.random() for _ in logits]
    expected = [
        mug_onnx_policy.select_action(np.asarray(x, dtype=np.float32), "sample", t, u)
        for x, u in zip(logits, draws, strict=True)
        for t in (0.3, 1.0, 3.0)
    ]
    got = page.evaluate(
        """([logits, seed, episode]) => {
            const {mulberry32, episodeSeed, selectAction} = mug.onnx;
            const rng = mulberry32(episodeSeed(seed, episode));
            const out = [];
            for (const x of logits) {
                const u = rng.random();
                const values = Float32Array.from(x);
                for (const t of [0.3, 1.0, 3.0]) out.push(selectAction(values, "sample", t, u));
            }
            return out;
        }""",
        [logits, 77, 5],
    )
    assert got == expected
    weights = page.evaluate("xs => xs.map(x => mug.onnx.exp64(x))", [-0.1 * i for i in range(400)])
    assert weights == [mug_onnx_policy.exp64(-0.1 * i) for i in range(400)]


def tiny_models(folder: Path) -> dict[str, Path]:
    """A recurrent model (``h_out = h + obs @ U``, ``logits = h_out @ V``) and one with fixed
    float and int64 inputs (``logits = obs @ W + bias + mode``), built with ``onnx.helper``."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    u, v, w = (rng.standard_normal(s).astype(np.float32) for s in ((3, 4), (4, 5), (3, 5)))
    f32, i64 = TensorProto.FLOAT, TensorProto.INT64
    graphs = {
        "rnn": helper.make_graph(
            [
                helper.make_node("MatMul", ["obs", "U"], ["inc"]),
                helper.make_node("Add", ["h", "inc"], ["h_out"]),
                helper.make_node("MatMul", ["h_out", "V"], ["logits"]),
            ],
            "rnn",
            [helper.make_tensor_value_info(n, f32, s) for n, s in (("obs", [1, 3]), ("h", [1, 4]))],
            [
                helper.make_tensor_value_info("logits", f32, [1, 5]),
                helper.make_tensor_value_info("h_out", f32, [1, 4]),
            ],
            initializer=[numpy_helper.from_array(u, "U"), numpy_helper.from_array(v, "V")],
        ),
        "fixed": helper.make_graph(
            [
                helper.make_node("MatMul", ["obs", "W"], ["mm"]),
                helper.make_node("Add", ["mm", "bias"], ["biased"]),
                helper.make_node("Cast", ["mode"], ["mode_f"], to=f32),
                helper.make_node("Add", ["biased", "mode_f"], ["logits"]),
            ],
            "fixed",
            [
                helper.make_tensor_value_info("obs", f32, ["batch", 3]),
                helper.make_tensor_value_info("bias", f32, [1, 5]),
                helper.make_tensor_value_info("mode", i64, [1]),
            ],
            [helper.make_tensor_value_info("logits", f32, ["batch", 5])],
            initializer=[numpy_helper.from_array(w, "W")],
        ),
    }
    paths = {}
    for name, graph in graphs.items():
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        paths[name] = folder / f"{name}.onnx"
        onnx.save(model, str(paths[name]))
    return paths


def serve_bytes(body: bytes) -> Any:
    """A Playwright route handler answering with ``body``."""

    def handler(route: Any) -> None:
        route.fulfill(body=body, content_type="application/octet-stream")

    return handler


def test_recurrent_state_and_fixed_inputs_match(page: Any, tmp_path: Path) -> None:
    models = tiny_models(tmp_path)
    configs = [
        ModelConfig(
            models["rnn"], state_inputs=["h"], state_outputs=["h_out"], state_shape=[1, 4],
            act_every=2, temperature=0.7,
        ),
        ModelConfig(
            models["fixed"], fixed_inputs={"bias": [[0.5, 0, -0.5, 1, 0]], "mode": [3]},
            selection="argmax",
        ),
    ]  # fmt: skip
    observations = [[o[0] / 24, o[4] / 24, o[5] / 12] for o in OBSERVATIONS[:60]]
    for config in configs:
        spec = spec_for(config, 5)
        page.route(f"**{spec['url']}", serve_bytes(Path(config.onnx_path).read_bytes()))
        got = page.evaluate(
            """async ([spec, observations]) => {
                const policy = await mug.onnx.loadOnnxPolicy(spec, {actionCount: 5});
                const run = async () => {
                    const out = [];
                    for (const obs of observations) {
                        out.push([await policy.act(obs), Array.from(await policy.logits(obs))]);
                    }
                    return out;
                };
                policy.reset();  // episode 0, as a runtime does at every episode start
                const first = await run();
                policy.reset();  // episode 1
                const second = await run();
                return [first, second];
            }""",
            [spec, observations],
        )
        policy = mug_onnx_policy.OnnxPolicy(config, action_space_n=5, seed=5)
        for episode in range(2):
            policy.reset(episode)
            for (action, logits), obs in zip(got[episode], observations, strict=True):
                assert action == policy.act(obs)
                np.testing.assert_allclose(logits, policy.logits(obs), atol=1e-5)


def test_flattening_is_bit_identical(page: Any) -> None:
    observations = [
        {"pos": [0.1, 1 / 3], "ball": [[1e-8, -2.5], [3.0, 4.0]], "alive": True},
        [[0.1, 0.2, 0.3], [1e30, -1e-30, 7.0]],
        {"b": {"y": 2, "x": 1}, "a": [0.7, [0.9, 1.1]]},
        5,
    ]
    for obs in observations:
        js = page.evaluate(
            "o => Array.from(new Uint8Array(mug.onnx.flattenObservation(o).buffer))", obs
        )
        assert bytes(js) == flatten_observation(obs).tobytes()
