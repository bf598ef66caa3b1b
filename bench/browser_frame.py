"""How long does a frame of an in-browser game take, and how long until the first frame?

Plays Slime Volleyball (human ``agent_left`` vs ``SlimeHeuristic``) in headless Chromium with
the ``browser`` runtime (Pyodide in a Web Worker), served by a real study server in this
process, at ``--fps`` (default 60; the env is built with the same fps so the game runs in real
time) for ``--seconds``. Playwright holds the arrow keys in a fixed pattern (``--no-keys``:
none). The game scene is the study's first page, so nothing but the game loads.

Every number is measured in the page (``#mug-game.mugStats()``, see ``scenes/gym.js``):

- **step call**: the worker's call into Python for one step (``Runner.step``: policies,
  ``env.step``, ``env.render``, JSON), ms.
- **env.step** and **env.render**: those two inside the call (``perf_counter`` in Python), ms.
- **packet bytes**: the render packet's JSON size; **step message bytes**: the whole step
  (record + packet) the worker posts to the page.
- **parse** and **apply**: the page's ``JSON.parse`` of the step and the canvas renderer's
  ``apply(packet)``, ms.
- **draw**: one canvas paint on ``requestAnimationFrame``, ms.
- **frame work**: the work behind one painted frame: step call + parse + apply + draw, ms.
- **step to paint**: from the start of a step (worker) until its frame is painted, ms: includes
  waiting for the next animation frame, so up to one display frame (16.7 ms) is expected.
- **step interval**: between the starts of consecutive steps (1000 / fps when on schedule).
- **cold start**: from navigation start of a fresh browser context (empty cache, local assets)
  until the first frame is painted, s.

Needs ``pip install -e plugins/mug-pyodide``, ``mug assets install`` and Chromium::

    python bench/browser_frame.py --fps 60 --seconds 30

Prints a table (median and p95 per row) and, last,
``frame_p95_ms=X step_p95_ms=Y cold_start_s=Z``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SLIME_DIR = REPO / "examples" / "slime_volleyball"
sys.path.insert(0, str(REPO))

from mug_core import EndScene, ExperimentConfig, Stager  # noqa: E402
from mug_core.configurations.configuration_constants import (  # noqa: E402
    HeuristicPolicy,
    PolicyTypes,
)
from mug_core.scenes.gym_scene import GymScene  # noqa: E402
from mug_core.testing import StudyServer, launch_chromium  # noqa: E402

KEY_PATTERN = (("ArrowLeft", 0.6), (None, 0.3), ("ArrowRight", 0.6), ("ArrowUp", 0.2), (None, 0.3))

ROWS = (
    ("step call (Python, worker)", "callMs", "ms"),
    ("  env.step", "envMs", "ms"),
    ("  env.render + commit", "renderMs", "ms"),
    ("packet size", "packetBytes", "B"),
    ("step message size", "bytes", "B"),
    ("parse step JSON (page)", "parseMs", "ms"),
    ("apply packet (page)", "applyMs", "ms"),
    ("draw (page, rAF)", "drawMs", "ms"),
    ("frame work (call+parse+apply+draw)", "frameMs", "ms"),
    ("step to paint", "latencyMs", "ms"),
    ("step interval", "intervalMs", "ms"),
)


def percentile(values: list[float], q: float) -> float:
    """The ``q``-quantile (0..1) by linear interpolation; nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def study(data_dir: Path, fps: int, seconds: float) -> ExperimentConfig:
    """A study whose first page is the game: ``seconds`` of slime volleyball at ``fps``."""
    code = (
        "from slime_env import SlimeVolleyballEnv\n"
        f"env = SlimeVolleyballEnv(points_to_win=1000, max_steps=None, fps={fps})\n"
    )
    game = (
        GymScene()
        .scene("bench_game")
        .policies(
            policy_mapping={
                "agent_left": PolicyTypes.Human,
                "agent_right": HeuristicPolicy("heuristic:SlimeHeuristic"),
            }
        )
        .rendering(fps=fps, game_width=600, game_height=300, hud="{step} / {max_steps}")
        .runtime(
            environment_initialization_code=code,
            python_files=[SLIME_DIR / "slime_env.py", SLIME_DIR / "heuristic.py"],
        )
        .gameplay(
            action_mapping={"ArrowLeft": 1, "ArrowRight": 2, "ArrowUp": 3},
            num_episodes=1,
            max_steps=round(fps * seconds),
            countdown_s=0,
        )
    )
    return (
        ExperimentConfig()
        .experiment(stager=Stager([game, EndScene().scene("end")]), experiment_id="bench_frame")
        .data(data_dir=data_dir, sinks=["csv"])
    )


def play_keys(page: Any, seconds: float) -> None:
    """Hold the arrow keys in ``KEY_PATTERN`` for ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for key, hold in KEY_PATTERN:
            if key:
                page.keyboard.down(key)
            time.sleep(hold)
            if key:
                page.keyboard.up(key)
            if time.monotonic() >= end:
                return


def isolate_pages(context: Any) -> None:
    """Serve the page and the worker script with COOP/COEP headers: a cross-origin isolated
    page gets 5 µs ``performance.now()`` instead of 100 µs (nothing else changes; every
    resource is same-origin)."""
    headers = {
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Embedder-Policy": "require-corp",
    }

    def handle(route: Any) -> None:
        response = route.fetch()
        route.fulfill(response=response, headers={**response.headers, **headers})

    context.route("**/bench*", handle)
    context.route("**/static/pyodide/worker.js", handle)


def run(fps: int, seconds: float, keys: bool, isolate: bool = True) -> dict[str, Any]:
    """Play once: the page's stats, the cold start (ms) and the wall time of the game."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        config = study(Path(folder), fps, seconds)
        with StudyServer(config) as server:
            browser = launch_chromium(playwright)
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.add_init_script("globalThis.mugProfile = true;")
            if isolate:
                isolate_pages(context)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server.url("/bench1"))
            page.wait_for_function(
                "document.querySelector('#mug-game')?.mugStats?.().firstFrameAt != null",
                timeout=60_000,
            )
            cold_ms = page.evaluate("document.querySelector('#mug-game').mugStats().firstFrameAt")
            isolated = page.evaluate("globalThis.crossOriginIsolated")
            # Keep the stats function: the end page replaces the game element.
            page.evaluate("globalThis.__mugStats = document.querySelector('#mug-game').mugStats")
            started = time.monotonic()
            if keys:
                play_keys(page, max(0.0, seconds - 1))
            page.wait_for_function(
                "document.querySelector('#mug-game')?.dataset.state !== 'playing'",
                timeout=(seconds + 30) * 1000,
            )
            wall = time.monotonic() - started
            stats = page.evaluate("globalThis.__mugStats()")
            browser.close()
            if errors:
                raise RuntimeError(f"page errors: {errors}")
    return {"cold_ms": cold_ms, "wall": wall, "stats": stats, "isolated": isolated}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fps", type=int, default=60)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--no-keys", action="store_true", help="do not press any keys")
    parser.add_argument(
        "--no-isolate", action="store_true", help="no COOP/COEP headers (100 µs timer resolution)"
    )
    args = parser.parse_args()

    result = run(args.fps, args.seconds, not args.no_keys, isolate=not args.no_isolate)
    stats = result["stats"]
    series: dict[str, list[float]] = stats["series"]
    print(
        f"slime volleyball, human vs heuristic, {args.fps} fps for {args.seconds:g} s "
        f"({'scripted keys' if not args.no_keys else 'no keys'}); {stats['steps']} steps "
        f"({stats['steps'] / result['wall']:.1f}/s), {stats['draws']} paints; timer resolution "
        f"{'5 µs (cross-origin isolated)' if result['isolated'] else '100 µs'}"
    )
    print(f"{'':36} {'median':>9} {'p95':>9} {'n':>6}")
    for label, name, unit in ROWS:
        values = series.get(name, [])
        median = statistics.median(values) if values else float("nan")
        digits = 0 if unit == "B" else 3
        print(
            f"{label:36} {median:>7.{digits}f}{unit:>2} {percentile(values, 0.95):>7.{digits}f}"
            f"{unit:>2} {len(values):>6}"
        )
    cold_s = result["cold_ms"] / 1000
    print(f"{'cold start (page open to first frame)':36} {cold_s:>8.2f}s")
    print(
        f"frame_p95_ms={percentile(series['frameMs'], 0.95):.2f} "
        f"step_p95_ms={percentile(series['callMs'], 0.95):.2f} cold_start_s={cold_s:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
