"""Game records the server had not acknowledged when a page went away are sent by the next
page of the same participant and scene (they are kept in the browser's storage)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from mug_core.testing import StudyServer
from tests.support.examples import load_example

pytest.importorskip("mug_pyodide", reason="needs the browser runtime (mug-pyodide)")
pytestmark = pytest.mark.browser


def _study(tmp_path: Path) -> Any:
    return load_example("slime_volleyball/study.py").build_study(
        opponent="heuristic",
        data_dir=tmp_path,
        experiment_id="upload",
        num_episodes=1,
        max_steps=30,
        countdown_s=0,
    )


def test_a_chunk_left_unacknowledged_is_delivered_by_the_next_page(
    tmp_path: Path, context: Any
) -> None:
    config = _study(tmp_path)
    left_behind = {
        "episode": 0,
        "seq": 0,
        "steps": [
            {
                "step": 0,
                "t": 1.0,
                "actions": {"agent_left": 5, "agent_right": 0},
                "rewards": {"agent_left": 0, "agent_right": 0},
                "terminated": {"agent_left": False, "agent_right": False},
                "truncated": {"agent_left": False, "agent_right": False},
                "infos": {"left_behind": True},
            }
        ],
        "events": [],
    }
    with StudyServer(config) as server:
        page = context.new_page()
        page.goto(server.url("/keeper"))
        page.wait_for_selector("#mug-continue")
        # What an earlier page of this participant had queued when it was closed.
        page.evaluate(
            "([key, chunk]) => localStorage.setItem(key, JSON.stringify([chunk]))",
            ["mug-gym-pending:keeper:slime_game", left_behind],
        )
        page.click("#mug-continue")
        page.wait_for_selector('[data-question="fun"]', timeout=40_000)
        assert page.evaluate("localStorage.getItem('mug-gym-pending:keeper:slime_game')") is None
        server.flush()
    with (config.study_dir / "slime_game" / "keeper_ep0.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    kept = [r for r in rows if json.loads(r["infos"] or "{}").get("left_behind")]
    assert len(kept) == 1 and kept[0]["step"] == "0"
    assert len(rows) == 31  # the chunk left behind, then the game's own 30 steps
