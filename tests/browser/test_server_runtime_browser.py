"""Two people in two browsers play one server-runtime game: grouped, drawn, recorded."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

import pytest

from mug_core import EndScene, ExperimentConfig, PolicyTypes, Stager
from mug_core.scenes.gym_scene import GymScene
from mug_core.testing import StudyServer

pytest.importorskip("mug_server_runtime", reason="needs mug-server-runtime")
pytestmark = pytest.mark.browser

SLIME = Path(__file__).resolve().parents[2] / "examples" / "slime_volleyball"
STEPS = 90


def _config(tmp_path: Path) -> ExperimentConfig:
    game = (
        GymScene()
        .scene("duel")
        .policies(
            policy_mapping={"agent_left": PolicyTypes.Human, "agent_right": PolicyTypes.Human}
        )
        .rendering(fps=30, game_width=600, game_height=300)
        .runtime(environment_initialization_code_filepath=SLIME / "env_file.py", runtime="server")
        .gameplay(
            action_mapping={"ArrowLeft": 1, "ArrowRight": 2},
            default_action=0,
            countdown_s=0,
            max_steps=STEPS,
        )
        .waitroom(timeout=60)
    )
    end = EndScene().scene("end").display(scene_header="Thanks for playing")
    return (
        ExperimentConfig()
        .experiment(stager=Stager([game, end]), experiment_id="duel")
        .data(data_dir=tmp_path, sinks=["csv"])
        .plugins(allow=["storage", "server_runtime"])
    )


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


def test_two_browsers_are_grouped_and_play_one_server_game(tmp_path: Path, context: Any) -> None:
    config = _config(tmp_path)
    with StudyServer(config) as server:
        left, right = context.new_page(), context.new_page()
        left.goto(server.url("/lefty"))
        left.wait_for_selector("#mug-waiting")
        assert "1 of 2" in left.inner_text("#mug-waiting")
        right.goto(server.url("/righty"))
        for page in (left, right):
            page.wait_for_function(
                "document.querySelector('#mug-waiting') === null", timeout=15_000
            )
            page.wait_for_selector("#mug-game canvas")
        # one frame for both: each page paints the "YOU" mark of its own player's slime
        for page, agent in ((left, "agent_left"), (right, "agent_right")):
            page.wait_for_selector(f"#mug-game[data-viewer='{agent}']", timeout=15_000)
        time.sleep(0.5)

        def hold(page: Any, key: str) -> None:
            page.keyboard.down(key)
            time.sleep(0.8)
            page.keyboard.up(key)

        hold(left, "ArrowLeft")
        hold(right, "ArrowRight")
        for page in (left, right):
            page.wait_for_selector("text=Thanks for playing", timeout=20_000)
        server.flush()
    study = config.study_dir
    left_steps = _rows(study / "duel" / "lefty_ep0.csv")
    right_steps = _rows(study / "duel" / "righty_ep0.csv")
    assert [int(r["step"]) for r in left_steps] == list(range(STEPS))
    assert [r["actions"] for r in left_steps] == [r["actions"] for r in right_steps]
    actions = [json.loads(r["actions"]) for r in left_steps]
    assert sum(a["agent_left"] == 1 for a in actions) >= 10
    assert sum(a["agent_right"] == 2 for a in actions) >= 10
    left_events = _rows(study / "duel" / "lefty_ep0_events.csv")
    assert [(e["type"], e["key"]) for e in left_events if e["type"] != "frame_delivery"] == [
        ("keydown", "ArrowLeft"),
        ("keyup", "ArrowLeft"),
    ]
    for name in ("lefty", "righty"):
        events = _rows(study / "duel" / f"{name}_ep0_events.csv")
        delivered = [e for e in events if e["type"] == "frame_delivery"]
        steps = [int(e["step"]) for e in delivered]
        # the first frame, then one a second (30 steps) of the 3 s game
        assert steps[0] == 0 and set(steps) <= {0, 30, 60} and len(steps) >= 2, steps
        assert all(0 < float(e["frame_rtt_ms"]) < 2000 for e in delivered), delivered
        assert all(float(e["draw_ms"]) >= 0 for e in delivered), delivered
