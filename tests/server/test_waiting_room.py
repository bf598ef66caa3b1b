"""Waiting rooms for multi-player games: groups form, leavers are dropped, timeouts act."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import socketio

from mug_core import EndScene, ExperimentConfig, PolicyTypes, Stager, StaticScene
from mug_core.scenes.gym_scene import GymScene
from mug_core.testing import StudyServer
from tests.server.test_game_recording import _runtime_plugin, _step
from tests.support import jsonl_sink
from tests.support.jsonl_sink import read_records


def _config(
    tmp_path: Path, agents: dict[str, PolicyTypes] | None = None, **waitroom: Any
) -> ExperimentConfig:
    game = (
        GymScene()
        .scene("duel")
        .policies(policy_mapping=agents or {"left": PolicyTypes.Human, "right": PolicyTypes.Human})
        .runtime(environment_initialization_code="env = None\n")
        .gameplay(action_mapping={"ArrowLeft": 1})
        .waitroom(**waitroom)
    )
    sorry = StaticScene().scene("sorry").display(scene_header="No partner")
    config = (
        ExperimentConfig()
        .experiment(stager=Stager([game, sorry, EndScene().scene("end")]), experiment_id="wr")
        .data(data_dir=tmp_path, sinks=["jsonl"])
    )
    config.plugins(allow=[], extra={"jsonl": jsonl_sink, "fake_runtime": _runtime_plugin()})
    return config


class Player:
    """A participant's page, played with a python-socketio client: what the server pushes to
    it (``group``, ``waiting``, ``waitroom_timeout``, ``scene``) is kept in ``pushed``."""

    def __init__(self, server: StudyServer, pid: str) -> None:
        self.server, self.pid = server, pid
        self.sio = socketio.AsyncClient(reconnection=False)
        self.pushed: dict[str, list[Any]] = {}
        for name in ("group", "waiting", "waitroom_timeout", "scene"):
            self.sio.on(name, lambda data, name=name: self.pushed.setdefault(name, []).append(data))

    async def enter(self) -> dict[str, Any]:
        await self.sio.connect(self.server.url(), transports=["websocket"])
        joined = await self.sio.call("join", {"participant_id": self.pid, "tab_id": "t"})
        return joined["scene"]

    async def event(self, name: str, payload: Any, scene_key: str = "duel") -> dict[str, Any]:
        data = {"scene_key": scene_key, "name": name, "payload": payload}
        return await self.sio.call("scene_event", data, timeout=10)

    async def wait(self, scene_key: str = "duel") -> dict[str, Any]:
        return await self.event("wait", {}, scene_key)

    async def report_rtt(self, rtt_ms: Any, scene_key: str = "duel") -> dict[str, Any]:
        """Report a round trip to the server, as the page does after its pings."""
        data = {"scene_key": scene_key, "rtt_ms": rtt_ms}
        return await self.sio.call("waitroom_rtt", data, timeout=10)

    async def play_one_episode(self, scene_key: str) -> dict[str, Any]:
        """Record a one-step episode of a one-episode game and submit it: the next scene."""
        chunk = {"episode": 0, "seq": 0, "steps": [_step(0)], "events": []}
        assert (await self.event("steps", chunk, scene_key))["ok"]
        end = {"episode": 0, "steps": 1, "returns": {}}
        assert (await self.event("episode_end", end, scene_key))["ok"]
        done = await self.sio.call("advance", {"scene_key": scene_key, "response": {}})
        assert done["ok"], done
        return done["scene"]

    async def until(self, name: str, timeout: float = 5.0) -> Any:
        for _ in range(int(timeout / 0.05)):
            if self.pushed.get(name):
                return self.pushed[name][-1]
            await asyncio.sleep(0.05)
        raise AssertionError(f"{self.pid} never got {name!r}")


def test_two_waiting_players_are_grouped_into_distinct_slots(tmp_path: Path) -> None:
    async def run(server: StudyServer) -> None:
        gone, a, b = Player(server, "gone"), Player(server, "pa"), Player(server, "pb")
        spec = (await gone.enter())["spec"]
        assert spec["group_size"] == 2 and spec["group"] is None
        assert (await gone.wait())["waiting"] == 1
        await gone.sio.disconnect()  # leaving the room removes the participant at once
        await asyncio.sleep(0.2)
        await a.enter()
        assert (await a.wait())["waiting"] == 1
        await b.enter()
        await b.wait()
        group_a, group_b = await a.until("group"), await b.until("group")
        assert group_a["game_id"] == group_b["game_id"]
        assert {group_a["agent"], group_b["agent"]} == {"left", "right"}
        assert group_a["members"] == {"pa": "left", "pb": "right"}
        assert "group" not in gone.pushed
        await a.sio.disconnect()
        again = Player(server, "pa")
        assert (await again.enter())["spec"]["group"]["agent"] == "left"  # a reload keeps it
        await again.sio.disconnect()
        await b.sio.disconnect()

    with StudyServer(_config(tmp_path, timeout=30)) as server:
        asyncio.run(run(server))


def test_a_timeout_moves_the_participant_to_the_named_scene(tmp_path: Path) -> None:
    async def run(server: StudyServer) -> None:
        alone = Player(server, "alone")
        await alone.enter()
        await alone.wait()
        update = await alone.until("waiting")
        assert update["waiting"] == 1 and update["elapsed_s"] >= 0
        scene = await alone.until("scene", timeout=6)
        assert scene["scene_id"] == "sorry"
        await alone.sio.disconnect()

    with StudyServer(_config(tmp_path, timeout=1.5, timeout_scene_id="sorry")) as server:
        asyncio.run(run(server))


def test_a_timeout_can_redirect_with_a_message(tmp_path: Path) -> None:
    async def run(server: StudyServer) -> None:
        alone = Player(server, "alone2")
        await alone.enter()
        await alone.wait()
        outcome = await alone.until("waitroom_timeout", timeout=6)
        assert outcome["redirect_url"] == "https://example.org/back?id=alone2"
        assert outcome["message"] == "Nobody came."
        await alone.sio.disconnect()

    config = _config(
        tmp_path,
        timeout=1.0,
        timeout_redirect_url="https://example.org/back?id={participant_id}",
        timeout_message="Nobody came.",
    )
    with StudyServer(config) as server:
        asyncio.run(run(server))


def test_a_closed_page_leaves_the_room_at_once_and_the_others_see_it(tmp_path: Path) -> None:
    async def run(server: StudyServer) -> None:
        stays, goes = Player(server, "stays"), Player(server, "goes")
        await stays.enter()
        await stays.wait()
        await goes.enter()
        await goes.wait()
        room = server.server.waiting.rooms["duel"]
        await goes.sio.disconnect()
        await asyncio.sleep(0.3)  # well under the room's once-a-second update
        assert list(room.waiting) == ["stays"]
        stays.pushed.pop("waiting", None)
        assert (await stays.until("waiting"))["waiting"] == 1
        await stays.sio.disconnect()

    # Three humans, so the two waiting here are not grouped before one leaves.
    agents = {"a": PolicyTypes.Human, "b": PolicyTypes.Human, "c": PolicyTypes.Human}
    with StudyServer(_config(tmp_path, timeout=30, agents=agents)) as server:
        asyncio.run(run(server))


def test_a_timeout_can_show_a_completion_code_that_is_recorded(tmp_path: Path) -> None:
    async def run(server: StudyServer) -> None:
        alone = Player(server, "alone3")
        await alone.enter()
        await alone.wait()
        outcome = await alone.until("waitroom_timeout", timeout=6)
        assert outcome["completion_code"] == "NOPARTNER"
        assert outcome["redirect_url"] == "https://example.org/done?cc=NOPARTNER"
        await alone.sio.disconnect()
        again = Player(server, "alone3")
        spec = (await again.enter())["spec"]
        assert spec["waitroom"]["timed_out"]["completion_code"] == "NOPARTNER"  # a reload too
        await again.sio.disconnect()
        server.flush()

    config = _config(
        tmp_path,
        timeout=1.0,
        timeout_completion_code="NOPARTNER",
        timeout_redirect_url="https://example.org/done?cc={completion_code}",
    )
    with StudyServer(config) as server:
        asyncio.run(run(server))
    records = read_records(config.study_dir / "records.jsonl")
    metadata = [r for r in records if r["kind"] == "participant"]
    assert metadata[-1]["values"]["completion_code"] == "NOPARTNER"
