"""The Mountain Car example: Gymnasium's physics, a Surface render, and a study that checks."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))
pytest.importorskip("gymnasium")

from mountain_car_env import MountainCarMUG  # noqa: E402


def test_render_sends_scenery_once_and_then_only_the_car() -> None:
    env = MountainCarMUG()
    env.reset(seed=0)
    first = env.render()
    ids = {o["id"] for o in first["objects"]}
    assert {"hills", "pole", "flag", "car", "wheel_back", "wheel_front", "slope"} <= ids
    env.step(2)
    second = env.render()
    moved = {o["id"] for o in second["objects"]}
    assert "hills" not in moved and "flag" not in moved
    assert "car" in moved


def test_pushing_right_moves_the_car_right() -> None:
    env = MountainCarMUG()
    env.reset(seed=0)
    start = float(env.state[0])
    for _ in range(10):
        env.step(2)
    assert float(env.state[0]) > start


def test_the_study_checks_with_a_pyodide_cdn(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mug_pyodide")
    pytest.importorskip("mug_storage")
    monkeypatch.setenv("MUG_PYODIDE_URL", "https://cdn.jsdelivr.net/pyodide/v314.0.7/full/")
    from mug_core.cli.study import load_study
    from mug_core.plugins import PluginHost

    config = load_study(HERE / "study.py")
    config.validate(PluginHost.load())
