"""A page that loses its connection for 20 s mid-episode keeps playing, keeps its records, and
delivers every one of them exactly once when it is back online."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import pytest

from mug_core.testing import StudyServer
from tests.support.examples import load_example

pytest.importorskip("mug_pyodide", reason="needs the browser runtime (mug-pyodide)")
pytestmark = pytest.mark.browser

STEPS = 900  # 30 s at 30 fps: the outage sits inside the episode
OUTAGE_S = 20


def _study(tmp_path: Path) -> Any:
    return load_example("slime_volleyball/study.py").build_study(
        opponent="heuristic",
        data_dir=tmp_path,
        experiment_id="offline",
        num_episodes=1,
        max_steps=STEPS,
        countdown_s=0,
    )


def _step(page: Any) -> int:
    return int(page.get_attribute("#mug-game", "data-step") or -1)


def test_twenty_seconds_offline_mid_episode_loses_and_doubles_nothing(
    tmp_path: Path, context: Any
) -> None:
    config = _study(tmp_path)
    with StudyServer(config) as server:
        page = context.new_page()
        page.goto(server.url("/wanderer"))
        page.click("#mug-continue")
        page.wait_for_function(
            "Number(document.querySelector('#mug-game')?.dataset.step ?? -1) >= 90",
            timeout=60_000,
        )
        page.keyboard.down("ArrowLeft")
        context.set_offline(True)
        page.wait_for_function(
            "document.documentElement.dataset.connection !== 'connected'", timeout=15_000
        )
        before = _step(page)
        time.sleep(OUTAGE_S)
        during = _step(page)
        assert page.evaluate("document.documentElement.dataset.connection") != "connected"
        page.keyboard.up("ArrowLeft")
        context.set_offline(False)
        # The game ran on while offline (the env steps in the page), recording all the while.
        assert during - before > 5 * OUTAGE_S
        page.wait_for_selector('[data-question="fun"]', timeout=90_000)
        server.flush()
    with (config.study_dir / "slime_game" / "wanderer_ep0.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    # Every step from the first to the episode's end (a game over, or the step limit), once.
    assert [int(r["step"]) for r in rows] == list(range(len(rows)))
    assert len(rows) > during
    last = rows[-1]
    assert len(rows) == STEPS or "true" in last["terminated"] + last["truncated"]
    assert {r["attempt"] for r in rows} == {"0"}
    assert len({r["seq"] for r in rows}) == len(rows)
    with (config.study_dir / "slime_game" / "wanderer_ep0_events.csv").open(newline="") as file:
        events = [(r["type"], r["key"]) for r in csv.DictReader(file)]
    # The key pressed and released while offline arrived too.
    assert ("keydown", "ArrowLeft") in events and ("keyup", "ArrowLeft") in events
