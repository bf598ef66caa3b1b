"""A participant plays the Overcooked example with the scripted chef, in Chromium, on a server
that steps CoGrid's env: the kitchen is drawn on the canvas and their key presses are recorded
at the steps they were applied."""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mug_core.testing import StudyServer

pytest.importorskip("cogrid", reason="the Overcooked example needs cogrid")
pytest.importorskip("mug_server_runtime", reason="needs mug-server-runtime")
pytest.importorskip("mug_storage", reason="needs mug-storage")
pytestmark = pytest.mark.browser

OVERCOOKED = Path(__file__).resolve().parents[2] / "examples" / "overcooked"
STEPS = 64  # eight seconds at 8 fps
RIGHT, INTERACT = 3, 4


def _study(tmp_path: Path) -> Any:
    if str(OVERCOOKED) not in sys.path:
        sys.path.insert(0, str(OVERCOOKED))
    from overcooked_study import build_study

    config = build_study(
        "ai",
        experiment_id="overcooked_browser",
        data_dir=tmp_path,
        num_episodes=1,
        max_steps=STEPS,
        countdown_s=1,
        seed=7,  # the participant's chef starts out of the scripted chef's way
    )
    return config.data(data_dir=tmp_path, sinks=["csv"]).plugins(
        allow=["storage", "server_runtime"]
    )


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


CANVAS_COLOURS = """() => {
  const canvas = document.querySelector('#mug-game canvas');
  const ctx = canvas.getContext('2d');
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  const colours = new Set();
  for (let i = 0; i < data.length; i += 4 * 97) {
    colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
  }
  return colours.size;
}"""


def test_a_participant_cooks_with_the_ai_chef_in_the_browser(tmp_path: Path, context: Any) -> None:
    config = _study(tmp_path)
    with StudyServer(config) as server:
        page = context.new_page()
        page.goto(server.url("/cook1"))
        page.wait_for_selector("text=computer-controlled chef")
        page.click("#mug-continue")
        page.wait_for_selector("#mug-game canvas")
        page.wait_for_function(
            "Number(document.querySelector('#mug-game')?.dataset.step ?? -1) >= 4",
            timeout=20_000,
        )
        assert page.evaluate(CANVAS_COLOURS) >= 8  # the kitchen, not a blank canvas
        for key in ("ArrowRight", "Space"):
            page.keyboard.press(key)
            time.sleep(0.4)
        page.wait_for_selector("text=Thank you!", timeout=30_000)
        server.flush()

    folder = config.study_dir / "overcooked"
    steps = _rows(folder / "cook1_ep0.csv")
    assert [int(r["step"]) for r in steps] == list(range(STEPS))
    actions = [json.loads(r["actions"]) for r in steps]
    mine = [a["0"] for a in actions]
    assert mine.count(RIGHT) == 1 and mine.count(INTERACT) == 1
    assert mine.index(RIGHT) < mine.index(INTERACT)
    partner = [a["1"] for a in actions]
    assert len(set(partner)) >= 3  # the scripted chef walks, turns and picks up
    assert sum(json.loads(r["rewards"])["1"] for r in steps) >= 3  # an onion went into the pot
    assert len(json.loads(steps[0]["observations"])["0"]) == 892
    events = _rows(folder / "cook1_ep0_events.csv")
    presses = [(e["type"], e["key"]) for e in events if e["type"] in ("keydown", "keyup")]
    assert presses == [
        ("keydown", "ArrowRight"),
        ("keyup", "ArrowRight"),
        ("keydown", " "),
        ("keyup", " "),
    ]
