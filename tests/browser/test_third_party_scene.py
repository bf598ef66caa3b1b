"""A scene type from a separately installed distribution is discovered and runs in the page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mug_core import EndScene, ExperimentConfig, PluginHost, Stager
from mug_core.testing import StudyServer

countdown = pytest.importorskip(
    "mug_countdown_scene", reason="install tests/fixtures/mug-countdown-scene"
)
pytestmark = pytest.mark.browser


def test_the_entry_point_registers_the_scene_type_and_its_module() -> None:
    host = PluginHost.load()
    assert host.registries.scene_types.plugin_of("countdown") == "countdown"
    assert host.registries.scene_types.get("countdown") is countdown.CountdownScene


def test_a_third_party_scene_runs_in_the_browser(tmp_path: Path, context: Any) -> None:
    wait = countdown.CountdownScene().scene("wait").display(scene_header="Get ready").countdown(1)
    config = (
        ExperimentConfig()
        .experiment(stager=Stager([wait, EndScene().scene("end")]), experiment_id="third")
        .data(data_dir=tmp_path, sinks=["csv"])
    )
    with StudyServer(config) as server:
        page = context.new_page()
        page.goto(server.url("/tp1"))
        page.wait_for_selector("#countdown-remaining")
        assert page.is_disabled("#mug-continue")
        page.wait_for_selector("#mug-continue:not([disabled])", timeout=5000)
        page.click("#mug-continue")
        page.wait_for_function("document.querySelector('#countdown-remaining') === null")
    rows = (config.study_dir / "wait" / "tp1.csv").read_text().splitlines()
    header, row = rows[0].split(","), rows[1].split(",")
    assert int(dict(zip(header, row, strict=True))["waited_ms"]) >= 900
    meta = json.loads((config.study_dir / "metadata" / "tp1.json").read_text())
    assert [s["scene_type"] for s in meta["scenes"]] == ["countdown"]
