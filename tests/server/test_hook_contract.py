"""Every hook is documented, and every hook is called by a real server run."""

from __future__ import annotations

import asyncio
import inspect
import types
from pathlib import Path
from typing import Any

import pytest
import socketio

from mug_core import ConfigError, hookspecs
from mug_core.cli.main import main as mug_main
from mug_core.plugins import hookimpl
from mug_core.server.assets import ClientAssets
from mug_core.testing import StudyServer
from tests.conftest import survey_study

HOOKS = sorted(n for n, f in vars(hookspecs).items() if n.startswith("mug_") and callable(f))
DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def test_there_are_hooks_for_every_extension_point() -> None:
    assert len(HOOKS) == 13


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_a_docstring_and_a_section_in_the_plugin_guide(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name))
    assert doc and len(doc) > 40
    assert f"`{name}`" in DOCS.read_text(encoding="utf-8")


def _recording_plugin(calls: dict[str, list[Any]], problems: list[str]) -> types.ModuleType:
    plugin = types.ModuleType("recording_plugin")

    def record(name: str, result: Any = None) -> Any:
        def impl(**kwargs: Any) -> Any:
            calls.setdefault(name, []).append(kwargs)
            return result

        return impl

    for name in HOOKS:
        if name.startswith("mug_register_"):
            kind = name.removeprefix("mug_register_")

            def register_impl(register: Any, kind: str = kind, name: str = name) -> None:
                calls.setdefault(name, []).append(register)
                value = ClientAssets(static_dir=Path(".")) if kind == "client_assets" else object()
                register(f"recorded_{kind}", value)

            setattr(plugin, name, hookimpl(register_impl))

    def validate(config: Any, registries: Any) -> list[str]:
        calls.setdefault("mug_validate_config", []).append(config)
        return list(problems)

    async def started(server: Any) -> None:  # lifecycle hooks may be async
        calls.setdefault("mug_server_start", []).append(server)

    def stopped(server: Any) -> None:
        calls.setdefault("mug_server_stop", []).append(server)

    def event(event: Any) -> None:
        calls.setdefault("mug_participant_event", []).append(event.name)

    plugin.mug_validate_config = hookimpl(validate)
    plugin.mug_server_start = hookimpl(started)
    plugin.mug_server_stop = hookimpl(stopped)
    plugin.mug_participant_event = hookimpl(event)
    return plugin


def test_every_hook_is_called_by_a_real_server(tmp_path: Path) -> None:
    calls: dict[str, list[Any]] = {}
    config = survey_study(tmp_path)
    config.extra_plugins.append(("recording", _recording_plugin(calls, [])))

    async def walk(server: StudyServer) -> None:
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(server.url(), transports=["websocket"])
        join = {"participant_id": "hooks1", "tab_id": "t"}
        await client.call("join", join, timeout=10)
        await client.call("advance", {"scene_key": "consent", "response": {"consent": True}})
        await client.call("advance", {"scene_key": "instructions", "response": {}})
        answers = {"fun": 1, "hand": "Left"}
        await client.call("advance", {"scene_key": "survey", "response": {"answers": answers}})
        await client.disconnect()
        await asyncio.sleep(0.3)

    with StudyServer(config) as server:
        asyncio.run(walk(server))
    assert set(calls) == set(HOOKS)
    assert calls["mug_participant_event"][:2] == ["joined", "advanced"]
    assert {"finished", "disconnected"} <= set(calls["mug_participant_event"])


def test_a_plugin_problem_stops_start_up(tmp_path: Path) -> None:
    config = survey_study(tmp_path)
    config.extra_plugins.append(("recording", _recording_plugin({}, ["set the thing to 3"])))
    with pytest.raises(ConfigError, match="set the thing to 3"):
        StudyServer(config).start()


def test_cli_lists_plugins_and_checks_a_study(tmp_path: Path, capsys: Any) -> None:
    assert mug_main(["plugins"]) == 0
    listing = capsys.readouterr().out
    assert "mug_core.builtin.scenes" in listing and "scene type: static" in listing
    study = tmp_path / "study.py"
    study.write_text(
        "from mug_core import ExperimentConfig, Stager, StaticScene, EndScene\n"
        "from mug_core.server import app\n"
        "s = Stager([StaticScene().scene('a'), EndScene().scene('b')])\n"
        "app.run(ExperimentConfig().experiment(stager=s, experiment_id='x')"
        ".data(sinks=['nope']))\n"
    )
    assert mug_main(["check", str(study)]) == 2
    assert "data sink 'nope' is not installed" in capsys.readouterr().err
