"""The server side of game scenes: step chunks recorded once, in order, and validated."""

from __future__ import annotations

import asyncio
import types
from pathlib import Path
from typing import Any

import pytest
import socketio

from mug_core import EndScene, ExperimentConfig, PluginHost, PolicyTypes, Stager
from mug_core.configurations.configuration_constants import HeuristicPolicy
from mug_core.plugins import hookimpl
from mug_core.scenes.gym_scene import GymScene
from mug_core.testing import StudyServer
from tests.support import jsonl_sink
from tests.support.jsonl_sink import read_records

ENV = "import math\nenv = None  # the page builds the real env\n"


def _runtime_plugin() -> types.ModuleType:
    module = types.ModuleType("fake_runtime_plugin")

    def register(register: Any) -> None:
        register("browser", object())

    module.mug_register_runtimes = hookimpl(register)  # type: ignore[attr-defined]
    return module


def _game(**gameplay: Any) -> GymScene:
    return (
        GymScene()
        .scene("game")
        .policies(policy_mapping={"left": PolicyTypes.Human, "right": PolicyTypes.Random})
        .runtime(environment_initialization_code=ENV)
        .gameplay(action_mapping={"ArrowLeft": 1, ("ArrowLeft", "ArrowUp"): 4}, **gameplay)
    )


def _config(tmp_path: Path, game: GymScene) -> ExperimentConfig:
    config = (
        ExperimentConfig()
        .experiment(stager=Stager([game, EndScene().scene("end")]), experiment_id="games")
        .data(data_dir=tmp_path, sinks=["jsonl"])
    )
    config.plugins(allow=[], extra={"jsonl": jsonl_sink, "fake_runtime": _runtime_plugin()})
    return config


def _step(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "step": i,
        "t": 1000.0 + i,
        "actions": {"left": 1, "right": 0},
        "rewards": {"left": 0.0, "right": 0.0},
        "terminated": {"left": False, "right": False},
        "truncated": {"left": False, "right": False},
        "infos": {},
        **extra,
    }


class Page:
    def __init__(self, server: StudyServer) -> None:
        self.server = server
        self.sio = socketio.AsyncClient(reconnection=False)

    async def __aenter__(self) -> Page:
        await self.sio.connect(self.server.url(), transports=["websocket"])
        joined = await self.sio.call("join", {"participant_id": "gamer", "tab_id": "t"})
        self.spec = joined["scene"]["spec"]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.sio.disconnect()

    async def event(self, name: str, payload: Any, scene_key: str = "game") -> dict[str, Any]:
        data = {"scene_key": scene_key, "name": name, "payload": payload}
        return await self.sio.call("scene_event", data, timeout=10)


def test_the_scene_spec_follows_the_protocol(tmp_path: Path) -> None:
    async def run(server: StudyServer) -> dict[str, Any]:
        async with Page(server) as page:
            return page.spec

    with StudyServer(_config(tmp_path, _game(num_episodes=2, seed=7))) as server:
        spec = asyncio.run(run(server))
    assert spec["runtime"] == "browser" and spec["env_code"] == ENV
    assert spec["policies"] == {"left": {"type": "human"}, "right": {"type": "random", "seed": 8}}
    assert spec["action_mapping"] == [[["ArrowLeft"], 1], [["ArrowLeft", "ArrowUp"], 4]]
    assert spec["num_episodes"] == 2 and spec["episodes_done"] == 0 and spec["seed"] == 7


def test_chunks_are_recorded_once_and_episodes_gate_the_next_scene(tmp_path: Path) -> None:
    async def run(server: StudyServer) -> None:
        async with Page(server) as page:
            events = [{"t": 999.0, "type": "keydown", "key": "ArrowLeft", "agent": "left"}]
            first = await page.event(
                "steps", {"episode": 0, "seq": 0, "steps": [_step(0), _step(1)], "events": events}
            )
            assert first == {"ok": True, "acked": 0}
            again = await page.event(
                "steps", {"episode": 0, "seq": 0, "steps": [_step(0), _step(1)], "events": events}
            )
            assert again["ok"] and again["duplicate"]
            bad = await page.event("steps", {"episode": 0, "seq": 1, "steps": [{"step": "x"}]})
            assert bad["code"] == "bad_request"
            assert (await page.event("steps", {"episode": 5, "seq": 0}))["code"] == "bad_request"
            early = await page.sio.call("advance", {"scene_key": "game", "response": {}})
            assert not early["ok"] and "still to be played" in early["errors"][""]
            end = await page.event("episode_end", {"episode": 0, "steps": 2, "returns": {}})
            assert end == {"ok": True, "episodes_done": 1}
            stale = await page.event("steps", {"episode": 0, "seq": 2}, scene_key="end")
            assert stale["code"] == "stale_scene"
            done = await page.sio.call("advance", {"scene_key": "game", "response": {}})
            assert done["ok"] and done["scene"]["scene_key"] == "end"

    config = _config(tmp_path, _game())
    with StudyServer(config) as server:
        asyncio.run(run(server))
        server.flush()
    records = read_records(config.study_dir / "records.jsonl")
    steps = [r["values"] for r in records if r["kind"] == "step"]
    assert [s["step"] for s in steps] == [0, 1]
    assert steps[0]["actions"] == {"left": 1, "right": 0} and "observations" in steps[0]
    events = [r["values"] for r in records if r["kind"] == "event"]
    assert events == [
        {"t": 999.0, "type": "keydown", "key": "ArrowLeft", "agent": "left", "attempt": 0}
    ]


def test_an_episode_played_again_after_a_reload_is_numbered_as_a_new_attempt(
    tmp_path: Path,
) -> None:
    async def run(server: StudyServer) -> None:
        async with Page(server) as page:
            for seq, steps in enumerate([[0, 1], [2, 3], [0, 1], [2], [3, 4]]):
                chunk = {"episode": 0, "seq": seq, "steps": [_step(i) for i in steps]}
                assert (await page.event("steps", chunk))["acked"] == seq
            # A chunk re-sent after a lost acknowledgement starts no attempt.
            again = {"episode": 0, "seq": 3, "steps": [_step(2)]}
            assert (await page.event("steps", again))["duplicate"]
            # The third attempt starts inside a chunk.
            last = {"episode": 0, "seq": 5, "steps": [_step(5), _step(0)], "events": []}
            assert (await page.event("steps", last))["acked"] == 5

    config = _config(tmp_path, _game())
    with StudyServer(config) as server:
        asyncio.run(run(server))
        server.flush()
    records = read_records(config.study_dir / "records.jsonl")
    steps = [r["values"] for r in records if r["kind"] == "step"]
    assert [(s["step"], s["attempt"]) for s in steps] == [
        (0, 0), (1, 0), (2, 0), (3, 0), (0, 1), (1, 1), (2, 1), (3, 1), (4, 1), (5, 1), (0, 2)
    ]  # fmt: skip
    assert list(steps[0])[:3] == ["step", "attempt", "t"]


def test_an_error_in_the_page_is_logged_and_lets_the_participant_go_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def run(server: StudyServer) -> None:
        async with Page(server) as page:
            answer = await page.event("error", {"message": "ZeroDivisionError: boom"})
            assert answer["ok"]
            done = await page.sio.call("advance", {"scene_key": "game", "response": {}})
            assert done["ok"]

    with StudyServer(_config(tmp_path, _game())) as server:
        asyncio.run(run(server))
    assert "ZeroDivisionError: boom" in caplog.text


def test_a_missing_runtime_or_bad_env_is_a_start_up_error(tmp_path: Path) -> None:
    game = _game()
    config = (
        ExperimentConfig()
        .experiment(stager=Stager([game, EndScene().scene("end")]), experiment_id="g")
        .data(sinks=["jsonl"])
    )
    host = PluginHost.load(entry_points=[], extra_plugins=[("jsonl", jsonl_sink)])
    problems = config.problems(host.registries)
    assert any("pip install 'mug-core[pyodide]'" in p for p in problems)
    broken = GymScene().scene("g").runtime(environment_initialization_code="env = (")
    assert any("does not parse" in p for p in broken.check())
    with pytest.raises(ValueError, match="no env file"):
        GymScene().runtime(environment_initialization_code_filepath=tmp_path / "missing.py")
    with pytest.raises(ValueError, match="reference must look like"):
        HeuristicPolicy("not a reference")


def test_images_the_env_registers_are_served_from_the_assets_folder(tmp_path: Path) -> None:
    import urllib.error
    import urllib.request

    assets = tmp_path / "assets"
    (assets / "atlas").mkdir(parents=True)
    (assets / "ball.png").write_bytes(b"\x89PNG fake")
    (assets / "atlas" / "frames.json").write_text("{}")
    game = _game().rendering(assets_dir=assets)

    async def spec(server: StudyServer) -> dict[str, Any]:
        async with Page(server) as page:
            return page.spec

    with StudyServer(_config(tmp_path, game)) as server:
        assert asyncio.run(spec(server))["assets_base"] == "/study-files/game/"
        with urllib.request.urlopen(server.url("/study-files/game/ball.png")) as response:
            assert response.read() == b"\x89PNG fake"
        with urllib.request.urlopen(server.url("/study-files/game/atlas/frames.json")) as response:
            assert response.read() == b"{}"
        for path in ("/study-files/game/missing.png", "/study-files/game/../ball.png"):
            with pytest.raises(urllib.error.HTTPError):
                urllib.request.urlopen(server.url(path))


def test_a_flood_of_repeated_and_malformed_chunks_records_each_step_once(
    tmp_path: Path,
) -> None:
    malformed: list[Any] = [
        None,
        "steps",
        {"episode": 0},
        {"episode": 0, "seq": -1, "steps": []},
        {"episode": 0, "seq": True, "steps": []},
        {"episode": 99, "seq": 0, "steps": []},
        {"episode": 0, "seq": 10_000, "steps": "x"},
        {"episode": 0, "seq": 10_000, "steps": [{"step": 0}]},
        {"episode": 0, "seq": 10_000, "steps": [], "events": [{"type": "boom", "t": 1}]},
    ]

    async def run(server: StudyServer) -> None:
        async with Page(server) as page:
            for seq in range(20):
                chunk = {"episode": 0, "seq": seq, "steps": [_step(2 * seq), _step(2 * seq + 1)]}
                # Every chunk five times at once, with malformed ones in between.
                answers = await asyncio.gather(
                    *(page.event("steps", chunk) for _ in range(5)),
                    *(page.event("steps", bad) for bad in malformed),
                )
                assert all(a["ok"] and a["acked"] == seq for a in answers[:5])
                assert sum(not a.get("duplicate", False) for a in answers[:5]) == 1
                assert not any(a["ok"] for a in answers[5:])

    config = _config(tmp_path, _game())
    with StudyServer(config) as server:
        asyncio.run(run(server))
        server.flush()
    records = read_records(config.study_dir / "records.jsonl")
    steps = [r["values"]["step"] for r in records if r["kind"] == "step"]
    assert steps == list(range(40))
