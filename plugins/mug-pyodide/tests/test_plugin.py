"""Registration of the ``browser`` runtime, its bundle, and the start-up checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from mug_pyodide import plugin

from mug_core import ExperimentConfig, PluginHost, Stager
from mug_core.configurations.configuration_constants import HeuristicPolicy, PolicyTypes
from mug_core.scenes.gym_scene import GymScene

SLIME_DIR = Path(__file__).resolve().parents[3] / "examples" / "slime_volleyball"


def test_the_entry_point_registers_the_runtime_and_the_bundle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(plugin.PYODIDE_URL_ENV, raising=False)
    host = PluginHost.load()
    runtime = host.registries.runtimes.get("browser")
    assert runtime is plugin.BROWSER
    assert runtime.client_module == "/static/pyodide/runtime.js"
    assets = host.registries.client_assets.get("pyodide")
    assert assets.modules == ("runtime.js",)
    assert assets.npm == {"pyodide": plugin.PYODIDE_VERSION}
    assert assets.vendor["pyodide/pyodide.asm.wasm"] == "pyodide/pyodide.asm.wasm"
    assert set(assets.vendor) == {f"pyodide/{name}" for name in plugin.PYODIDE_FILES}
    for name in ("runtime.js", "worker.js", "runner.py"):
        assert (Path(assets.static_dir) / name).is_file()


def test_a_pyodide_url_replaces_the_local_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(plugin.PYODIDE_URL_ENV, "https://cdn.example/pyodide/v1/full")
    assert plugin.pyodide_url() == "https://cdn.example/pyodide/v1/full/"
    assets = plugin.client_assets()
    assert assets.vendor == {} and assets.npm == {}
    assert assets.modules == ("runtime.js?pyodide=https%3A//cdn.example/pyodide/v1/full/",)


def _game(**runtime: object) -> GymScene:
    return (
        GymScene()
        .scene("game")
        .policies(
            policy_mapping={
                "agent_left": PolicyTypes.Human,
                "agent_right": HeuristicPolicy("heuristic:SlimeHeuristic"),
            }
        )
        .runtime(environment_initialization_code_filepath=SLIME_DIR / "env_file.py", **runtime)
        .gameplay(action_mapping={"ArrowLeft": 1})
    )


def test_start_up_checks_of_browser_games(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(plugin.PYODIDE_URL_ENV, raising=False)
    assert plugin.scene_problems(_game()) == []
    missing = _game(python_files=[SLIME_DIR / "slime_env.py"], packages_to_install=["numpy"])
    problems = plugin.scene_problems(missing)
    assert len(problems) == 2
    assert "heuristic.py is not among the python files" in problems[0]
    assert "numpy" in problems[1] and plugin.PYODIDE_URL_ENV in problems[1]
    monkeypatch.setenv(plugin.PYODIDE_URL_ENV, "https://cdn.example/pyodide/")
    assert len(plugin.scene_problems(missing)) == 1
    config = ExperimentConfig().experiment(stager=Stager([missing]), experiment_id="checks")
    found = plugin.mug_validate_config(config, PluginHost.load().registries)
    assert found == plugin.scene_problems(missing)
