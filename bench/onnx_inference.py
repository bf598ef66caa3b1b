"""How long does one ONNX policy decision take, on the server and in the browser?

Times ``act(observation)`` of the trained Slime Volleyball policy
(``examples/slime_volleyball/policy.onnx``, a 13-64-64-6 MLP) on recorded observations:

* **server**: ``mug_onnx.policy.OnnxPolicy.act`` (flatten, onnxruntime CPU with one thread,
  seeded sampling), timed with ``perf_counter_ns``; raw ``session.run`` alongside.
* **browser**: ``onnx_policy.js``'s ``policy.act`` in headless Chromium (onnxruntime-web WASM,
  one thread, as a participant's page runs it), served by a real study server. The page is made
  cross-origin isolated (COOP/COEP headers added by the test driver) only so that
  ``performance.now()`` has microsecond resolution; the thread count is kept at 1.

Both sample (``selection="sample"``) and infer at every step (``act_every=1``); the per-frame
cost is the share of one 30 fps frame (33.3 ms). Needs ``pip install -e plugins/mug-onnx``,
``mug assets install`` and Chromium (``apt-get install chromium``)::

    python bench/onnx_inference.py --calls 3000

Prints a table and, last, ``browser_p95_us=X server_p95_us=Y``.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SLIME_DIR = REPO / "examples" / "slime_volleyball"
MODEL = SLIME_DIR / "policy.onnx"
FRAME_US = 1e6 / 30


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def observations(count: int) -> list[list[float]]:
    """Observations of both players from a seeded heuristic-vs-random match."""
    sys.path.insert(0, str(SLIME_DIR))
    from heuristic import SlimeHeuristic
    from slime_env import SlimeVolleyballEnv

    env = SlimeVolleyballEnv(render_mode=None, use_gymnasium_spaces=False)
    heuristic, rng = SlimeHeuristic(), random.Random(0)
    obs, _ = env.reset(seed=0)
    out: list[list[float]] = []
    while len(out) < count:
        out += [obs["agent_left"], obs["agent_right"]]
        obs, _, term, trunc, _ = env.step(
            {"agent_left": heuristic(obs["agent_left"]), "agent_right": rng.randrange(6)}
        )
        if any(term.values()) or any(trunc.values()):
            obs, _ = env.reset()
    return out[:count]


def server_times(data: list[list[float]], warmup: int) -> dict[str, list[float]]:
    """Microseconds per ``OnnxPolicy.act`` and per raw ``session.run``."""
    import numpy as np
    from mug_onnx.policy import OnnxPolicy

    from mug_core.configurations.configuration_constants import ModelConfig

    start = time.perf_counter()
    policy = OnnxPolicy(ModelConfig(MODEL), action_space_n=6, seed=1)
    load_ms = (time.perf_counter() - start) * 1e3
    for obs in data[:warmup]:
        policy.act(obs)
    acts = []
    for obs in data:
        t0 = time.perf_counter_ns()
        policy.act(obs)
        acts.append((time.perf_counter_ns() - t0) / 1e3)
    runs = []
    session = policy.session
    for obs in data:
        feed = {"obs": np.asarray([obs], dtype=np.float32)}
        t0 = time.perf_counter_ns()
        session.run(["logits"], feed)
        runs.append((time.perf_counter_ns() - t0) / 1e3)
    return {"act": acts, "session.run": runs, "load_ms": [load_ms]}


BROWSER_LOOP = """async ([spec, data, warmup]) => {
    const ort = await mug.onnx.loadOrt();
    ort.env.wasm.numThreads = 1;  // as on a participant's (not isolated) page
    const t0 = performance.now();
    const policy = await mug.onnx.loadOnnxPolicy(spec, {actionCount: 6});
    const loadMs = performance.now() - t0;
    for (const obs of data.slice(0, warmup)) await policy.act(obs);
    const acts = [];
    for (const obs of data) {
        const s = performance.now();
        await policy.act(obs);
        acts.push((performance.now() - s) * 1000);
    }
    const logits = [];
    for (const obs of data) {
        const s = performance.now();
        await policy.logits(obs);
        logits.push((performance.now() - s) * 1000);
    }
    const s = performance.now();
    for (const obs of data) await policy.act(obs);
    const meanUs = (performance.now() - s) * 1000 / data.length;
    return {act: acts, logits, load_ms: [loadMs], batch_mean_act: [meanUs],
            isolated: [crossOriginIsolated ? 1 : 0]};
}"""


def browser_times(data: list[list[float]], warmup: int) -> dict[str, list[float]]:
    """Microseconds per ``policy.act`` (and ``policy.logits``) in headless Chromium."""
    from playwright.sync_api import sync_playwright

    from mug_core import EndScene, ExperimentConfig, Stager, StaticScene
    from mug_core.configurations.configuration_constants import ModelConfig
    from mug_core.scenes.gym_scene import GymScene
    from mug_core.testing import StudyServer, launch_chromium

    spec = GymScene().policy_spec("agent_right", ModelConfig(MODEL), 1)
    with tempfile.TemporaryDirectory() as folder:
        stager = Stager([StaticScene().scene("wait"), EndScene().scene("end")])
        config = (
            ExperimentConfig()
            .experiment(stager=stager, experiment_id="bench_onnx")
            .data(data_dir=Path(folder), sinks=["csv"])
            .plugins(allow=["onnx", "storage"])
        )
        with StudyServer(config) as server, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page()
            page.set_default_timeout(120_000)
            page.route(
                f"**{spec['url']}",
                lambda route: route.fulfill(body=MODEL.read_bytes()),
            )

            def isolate(route: Any) -> None:
                response = route.fetch()
                headers = {
                    **response.headers,
                    "cross-origin-opener-policy": "same-origin",
                    "cross-origin-embedder-policy": "require-corp",
                }
                route.fulfill(response=response, headers=headers)

            page.route(server.url("/bench1"), isolate)
            page.goto(server.url("/bench1"))
            page.wait_for_function("() => globalThis.mug && globalThis.mug.onnx")
            result = page.evaluate(BROWSER_LOOP, [spec, data, warmup])
            browser.close()
    return result


def row(name: str, values: list[float]) -> str:
    med, p95 = statistics.median(values), percentile(values, 0.95)
    return (
        f"{name:<24}{len(values):>7}{med:>12.1f}{p95:>10.1f}{statistics.fmean(values):>10.1f}"
        f"{100 * p95 / FRAME_US:>14.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000, help="timed decisions per side")
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # server shutdown chatter
    if not MODEL.is_file():
        sys.exit(f"no {MODEL}: run examples/slime_volleyball/train_ppo.py")
    data = observations(args.calls)
    server = server_times(data, args.warmup)
    browser = browser_times(data, args.warmup)
    print(f"{'where':<24}{'calls':>7}{'median us':>12}{'p95 us':>10}{'mean us':>10}"
          f"{'p95 % frame':>14}")  # fmt: skip
    print(row("server OnnxPolicy.act", server["act"]))
    print(row("server session.run", server["session.run"]))
    print(row("browser policy.act", browser["act"]))
    print(row("browser policy.logits", browser["logits"]))
    print(
        f"session load: server {server['load_ms'][0]:.0f} ms, browser "
        f"{browser['load_ms'][0]:.0f} ms (first load includes onnxruntime-web's WASM); "
        f"browser act mean over an untimed loop {browser['batch_mean_act'][0]:.1f} us; "
        f"page cross-origin isolated for timing: {bool(browser['isolated'][0])}"
    )
    print(
        f"per 30 fps frame ({FRAME_US:.0f} us): one ONNX agent costs "
        f"{statistics.median(browser['act']):.0f} us median in the page and "
        f"{statistics.median(server['act']):.0f} us on the server; act_every=N divides this by N"
    )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average (1, 5, 15 min) at the end: {load} on {os.cpu_count()} CPUs")
    browser_p95 = percentile(browser["act"], 0.95)
    server_p95 = percentile(server["act"], 0.95)
    print(f"browser_p95_us={browser_p95:.1f} server_p95_us={server_p95:.1f}")


if __name__ == "__main__":
    main()
