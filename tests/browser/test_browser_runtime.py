"""The ``browser`` runtime end to end: Pyodide in a Web Worker, a real server, real Chromium.

Each fresh page loads Pyodide (about 3 s of CPU), so the tests share one server for the slime
study and keep to three game pages.
"""

from __future__ import annotations

import csv
import itertools
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mug_core import EndScene, ExperimentConfig, Stager
from mug_core.configurations.configuration_constants import PolicyTypes
from mug_core.scenes.gym_scene import GymScene
from mug_core.server.assets import find_vendor_file
from mug_core.testing import StudyServer
from tests.support.examples import load_example

pytestmark = pytest.mark.browser

plugin = pytest.importorskip(
    "mug_pyodide.plugin",
    reason="the browser runtime is not installed: pip install -e plugins/mug-pyodide",
)
if plugin.pyodide_url() is None and find_vendor_file("pyodide/pyodide.asm.wasm") is None:
    pytest.skip(
        "Pyodide is not installed locally: run `mug assets install`", allow_module_level=True
    )

REPO = Path(__file__).resolve().parents[2]
SLIME_DIR = REPO / "examples" / "slime_volleyball"
FPS = 30
MAX_STEPS = 150
LEFT, RIGHT, NOOP = 1, 2, 0
MARGIN_MS = 70  # about two frames: a key change reaches the worker within this


def _load_study_module() -> Any:
    return load_example("slime_volleyball/study.py")


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def _step(page: Any) -> int:
    return int(page.get_attribute("#mug-game", "data-step") or -1)


def _wait_playing(page: Any, timeout: float = 30_000) -> None:
    page.wait_for_function(
        "Number(document.querySelector('#mug-game')?.dataset.step ?? -1) >= 0", timeout=timeout
    )


@pytest.fixture(scope="module")
def slime_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StudyServer]:
    study = _load_study_module()
    config = study.build_study(
        opponent="heuristic",
        data_dir=tmp_path_factory.mktemp("slime"),
        experiment_id="slime_test",
        num_episodes=1,
        max_steps=MAX_STEPS,
        countdown_s=1,
    )
    with StudyServer(config) as server:
        yield server


def _start_game(page: Any, server: StudyServer, participant: str) -> None:
    page.goto(server.url(f"/{participant}"))
    page.click("#mug-continue")
    page.wait_for_selector("#mug-game canvas")


def _hold(page: Any, key: str, seconds: float) -> None:
    page.keyboard.down(key)
    time.sleep(seconds)
    page.keyboard.up(key)


def test_a_participant_plays_slime_volleyball_with_the_keyboard(
    slime_server: StudyServer, context: Any
) -> None:
    page = context.new_page()
    _start_game(page, slime_server, "keys1")
    assert page.locator("#mug-game").get_attribute("data-episode") == "0"
    page.wait_for_selector("#mug-countdown:not([hidden])")
    _wait_playing(page)
    assert page.is_hidden("#mug-countdown")
    time.sleep(0.3)
    _hold(page, "ArrowLeft", 1.0)
    time.sleep(0.5)
    _hold(page, "ArrowRight", 1.0)
    assert "Your points" in page.inner_text("#mug-hud")
    # The episode ends at max_steps; then the survey and the completion code.
    page.wait_for_selector('[data-question="fun"]', timeout=20_000)
    page.check('input[name="fun"][value="4"]')
    page.check('input[name="ai_skill"][value="2"]')
    page.click("#mug-continue")
    assert page.wait_for_selector("#mug-completion-code").inner_text().strip()
    slime_server.flush()

    folder = slime_server.config.study_dir / "slime_game"
    steps = _rows(folder / "keys1_ep0.csv")
    events = _rows(folder / "keys1_ep0_events.csv")
    assert [int(r["step"]) for r in steps] == list(range(MAX_STEPS))
    last = steps[-1]
    assert json.loads(last["truncated"]) == {"agent_left": True, "agent_right": True}
    assert not any(json.loads(r["truncated"])["agent_left"] for r in steps[:-1])
    assert all(json.loads(r["observations"])["agent_left"] for r in steps)
    times = [float(r["t"]) for r in steps]
    assert times == sorted(times)
    # About fps: 150 steps in 5 s (generous bounds for a busy 2-core machine).
    assert 4000 < times[-1] - times[0] < 6500

    keys = [(e["type"], e["key"], float(e["t"])) for e in events if e["type"].startswith("key")]
    assert [(kind, key) for kind, key, _ in keys] == [
        ("keydown", "ArrowLeft"),
        ("keyup", "ArrowLeft"),
        ("keydown", "ArrowRight"),
        ("keyup", "ArrowRight"),
    ]
    assert all(e["agent"] == "agent_left" for e in events if e["type"].startswith("key"))
    (left_down, left_up, right_down, right_up) = (t for _, _, t in keys)

    def actions_between(start: float, end: float) -> list[int]:
        return [
            json.loads(r["actions"])["agent_left"]
            for r in steps
            if start + MARGIN_MS < float(r["t"]) < end - MARGIN_MS
        ]

    held_left = actions_between(left_down, left_up)
    held_right = actions_between(right_down, right_up)
    assert len(held_left) >= 20 and set(held_left) == {LEFT}
    assert len(held_right) >= 20 and set(held_right) == {RIGHT}
    assert set(actions_between(times[0] - 1, left_down)) <= {NOOP}
    assert set(actions_between(left_up, right_down)) == {NOOP}
    assert set(actions_between(right_up, times[-1] + 1)) == {NOOP}
    # The AI played too.
    assert len({json.loads(r["actions"])["agent_right"] for r in steps}) > 1

    (scene_row,) = _rows(folder / "keys1.csv")
    assert scene_row["episodes_done"] == "1"


def test_keys_map_to_actions_by_the_longest_held_combination(
    slime_server: StudyServer, context: Any
) -> None:
    page = context.new_page()
    page.goto(slime_server.url("/healthz"))
    results = page.evaluate(
        """async () => {
        const { KeyMap, normKey } = await import("/static/pyodide/runtime.js");
        const keys = new KeyMap([[["ArrowLeft"], 1], [["ArrowRight"], 2], [["ArrowUp"], 3],
                                 [["ArrowLeft", "ArrowUp"], 4], [["a"], 7]]);
        const out = [keys.action()];
        keys.press("ArrowLeft"); out.push(keys.action());
        keys.press("ArrowUp"); out.push(keys.action());        // the pair beats each key
        keys.press("ArrowRight"); out.push(keys.action());     // still the longest: the pair
        keys.release("ArrowUp"); out.push(keys.action());      // Left and Right: the latest
        keys.release("ArrowRight"); out.push(keys.action());
        keys.press("ArrowRight"); out.push(keys.action("ArrowUp")); // none with ArrowUp
        keys.release("ArrowLeft"); keys.release("ArrowRight");
        keys.press(normKey("A")); out.push(keys.action());     // Shift does not matter
        return out;
    }"""
    )
    assert results == [None, 1, 4, 4, 2, 1, None, 7]


def test_stepping_continues_in_the_background_and_off_the_main_thread(
    slime_server: StudyServer, context: Any
) -> None:
    page = context.new_page()
    _start_game(page, slime_server, "background1")
    _wait_playing(page)
    # Another tab in front for 2 s: the game keeps stepping at about fps.
    before = _step(page)
    other = context.new_page()
    other.goto("about:blank")
    other.bring_to_front()
    time.sleep(2.0)
    advanced = _step(page) - before
    page.bring_to_front()
    other.close()
    assert FPS * 2 * 0.6 < advanced < FPS * 2 * 1.4, advanced
    # A busy main thread (1 s) does not stop the worker: the steps made meanwhile keep their
    # times, about one frame apart.
    blocked = page.evaluate(
        "() => { const s = performance.timeOrigin + performance.now();"
        " while (performance.now() < s - performance.timeOrigin + 1000) {} "
        " return [s, performance.timeOrigin + performance.now()]; }"
    )
    page.wait_for_function(
        "document.querySelector('#mug-game')?.dataset.state === 'done'"
        " || document.querySelector('[data-question]') !== null",
        timeout=20_000,
    )
    slime_server.flush()
    steps = _rows(slime_server.config.study_dir / "slime_game" / "background1_ep0.csv")
    assert [int(r["step"]) for r in steps] == list(range(MAX_STEPS))
    inside = [float(r["t"]) for r in steps if blocked[0] < float(r["t"]) < blocked[1]]
    assert len(inside) >= FPS * 0.7, len(inside)
    gaps = [b - a for a, b in itertools.pairwise(inside)]
    assert max(gaps) < 3 * 1000 / FPS, gaps


BROKEN_AT_START = "raise RuntimeError('the env cannot start: boom 42')\n"
BROKEN_AT_STEP = '''
class Space:
    n = 2


class Fragile:
    """Fails on its sixth step."""

    action_space = Space()

    def reset(self, seed=None, options=None):
        self.n = 0
        return 0, {}

    def step(self, action):
        self.n += 1
        if self.n == 6:
            raise ValueError("step 6 exploded")
        return self.n, 0.0, False, False, {}

    def render(self):
        return None


env = Fragile()
'''


def _broken_scene(scene_id: str, code: str) -> GymScene:
    return (
        GymScene()
        .scene(scene_id)
        .policies(policy_mapping={0: PolicyTypes.Random})
        .runtime(environment_initialization_code=code)
        .gameplay(num_episodes=1, countdown_s=0)
    )


def test_env_errors_are_shown_on_the_page_and_reported(
    tmp_path: Path, context: Any, caplog: pytest.LogCaptureFixture
) -> None:
    scenes = [
        _broken_scene("start_fails", BROKEN_AT_START),
        _broken_scene("step_fails", BROKEN_AT_STEP),
        EndScene().scene("end").display(scene_header="Bye"),
    ]
    config = (
        ExperimentConfig()
        .experiment(stager=Stager(scenes), experiment_id="broken")
        .data(data_dir=tmp_path, sinks=["csv"])
    )
    caplog.set_level(logging.ERROR, logger="mug_core")
    with StudyServer(config) as server:
        page = context.new_page()
        page.goto(server.url("/broken1"))
        error = page.wait_for_selector("#mug-game-error:not([hidden])", timeout=30_000)
        assert "RuntimeError: the env cannot start: boom 42" in error.inner_text()
        assert page.get_attribute("#mug-game", "data-state") == "error"
        page.click("#mug-game-continue")
        # The next game runs in the same worker and fails on its sixth step.
        page.wait_for_function(
            "document.querySelector('#mug-game-error:not([hidden])')?.innerText"
            ".includes('step 6 exploded')",
            timeout=30_000,
        )
        page.click("#mug-game-continue")
        page.wait_for_selector("text=Bye")
        server.flush()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "boom 42" in logged and "step 6 exploded" in logged
    assert 'File "env.py", line 1' in logged  # the traceback names the env file
    study = config.study_dir
    (first,) = _rows(study / "start_fails" / "broken1.csv")
    assert "boom 42" in first["errors"] and first["episodes_done"] == "0"
    (second,) = _rows(study / "step_fails" / "broken1.csv")
    assert "step 6 exploded" in second["errors"]
    # The five steps before the failure were recorded.
    steps = _rows(study / "step_fails" / "broken1_ep0.csv")
    assert [int(r["step"]) for r in steps] == [0, 1, 2, 3, 4]


def test_a_reload_mid_game_resumes_at_the_episode_in_progress(tmp_path: Path, context: Any) -> None:
    study = _load_study_module()
    config = study.build_study(
        opponent="heuristic",
        data_dir=tmp_path,
        experiment_id="resume",
        num_episodes=2,
        max_steps=45,
        countdown_s=0,
    )
    with StudyServer(config) as server:
        page = context.new_page()
        _start_game(page, server, "reload1")
        page.wait_for_function(
            "document.querySelector('#mug-game')?.dataset.episode === '1'"
            " && Number(document.querySelector('#mug-game').dataset.step) >= 10",
            timeout=40_000,
        )
        played = _step(page)
        page.reload()
        page.wait_for_selector("#mug-game canvas")
        assert page.get_attribute("#mug-game", "data-episode") == "1"
        page.wait_for_selector('[data-question="fun"]', timeout=40_000)
        server.flush()
    folder = config.study_dir / "slime_game"
    first = [int(r["step"]) for r in _rows(folder / "reload1_ep0.csv")]
    assert first == list(range(45))
    # Episode 1 was replayed from its start after the reload. Every step the first page played
    # is kept once (even those not yet sent when it went away) as attempt 0; the replay
    # follows, whole, as attempt 1.
    second = [(int(r["step"]), int(r["attempt"])) for r in _rows(folder / "reload1_ep1.csv")]
    restart = second.index((0, 1))
    assert restart > played
    assert second[:restart] == [(step, 0) for step in range(restart)]
    assert second[restart:] == [(step, 1) for step in range(45)]
    seqs = [r["seq"] for r in _rows(folder / "reload1_ep1.csv")]
    assert len(set(seqs)) == len(seqs)
    (row,) = _rows(folder / "reload1.csv")
    assert row["episodes_done"] == "2"


def test_an_onnx_opponent_acts_in_the_worker_as_on_the_server(
    tmp_path: Path, context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("mug_onnx.policy", reason="install mug-onnx for ONNX policies")
    if find_vendor_file("onnxruntime-web/dist/ort-wasm-simd-threaded.wasm") is None:
        pytest.skip("onnxruntime-web is not installed: run `mug assets install`")
    from mug_onnx.policy import OnnxPolicy

    from mug_core.configurations.configuration_constants import ModelConfig

    model = ModelConfig(SLIME_DIR / "policy.onnx")
    study = _load_study_module()
    config = study.build_study(
        opponent="heuristic",
        data_dir=tmp_path,
        experiment_id="onnx",
        num_episodes=1,
        max_steps=40,
        countdown_s=0,
    )
    game = config.stager.all_scenes()[1]
    game.policy_mapping["agent_right"] = model
    game.seed = 1234
    with StudyServer(config) as server:
        page = context.new_page()
        _start_game(page, server, "onnx1")
        page.wait_for_selector('[data-question="fun"]', timeout=40_000)
        server.flush()
    steps = _rows(config.study_dir / "slime_game" / "onnx1_ep0.csv")
    assert len(steps) == 40
    # Replay on the server side: the same observations, seed and episode give the same actions.
    monkeypatch.syspath_prepend(str(SLIME_DIR))
    namespace: dict[str, Any] = {}
    exec((SLIME_DIR / "env_file.py").read_text(), namespace)
    env = namespace["env"]
    observation = env.reset(seed=1234)[0]["agent_right"]
    policy = OnnxPolicy(model, action_space_n=6, seed=1234 + 1)
    policy.reset(0)
    for row in steps:
        assert json.loads(row["actions"])["agent_right"] == policy.act(observation)
        observation = json.loads(row["observations"])["agent_right"]
