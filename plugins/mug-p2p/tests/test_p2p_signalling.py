"""The server side of the peer transport over real sockets: a hypercorn study server and
python-socketio clients standing in for the participants' pages.

Only members of one group reach each other; malformed, oversized and hostile events get a clear
error; connection reports become event records; a page that drops is reported to its partners.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

socketio = pytest.importorskip("socketio")
pytest.importorskip("aiohttp", reason="needs python-socketio[asyncio-client]")

import mug_p2p.plugin  # noqa: E402
from mug_p2p.signalling import RECORD_TYPE, SignallingLimits  # noqa: E402

from mug_core import EndScene, ExperimentConfig, PolicyTypes, Stager  # noqa: E402
from mug_core.data import Record, SinkContext  # noqa: E402
from mug_core.plugins import hookimpl  # noqa: E402
from mug_core.scenes.gym_scene import GymScene  # noqa: E402
from mug_core.testing import StudyServer  # noqa: E402

GAME = "trio"


class _JsonlSink:
    """Every record as one JSON line in ``<data_dir>/records.jsonl`` (fsynced)."""

    def __init__(self, context: SinkContext) -> None:
        context.data_dir.mkdir(parents=True, exist_ok=True)
        self.file = open(context.data_dir / "records.jsonl", "a", encoding="utf-8")  # noqa: SIM115

    def write(self, records: Sequence[Record]) -> None:
        for r in records:
            row = {"kind": r.kind, "participant_id": r.participant_id, "scene_key": r.scene_key}
            self.file.write(json.dumps({**row, "episode": r.episode, "values": dict(r.values)}))
            self.file.write("\n")
        self.file.flush()
        os.fsync(self.file.fileno())

    def close(self) -> None:
        self.file.close()


def _support_plugin() -> types.ModuleType:
    """A data sink and a stand-in ``browser`` runtime, so the test needs no other plugin."""
    module = types.ModuleType("p2p_test_support")

    def sinks(register: Any) -> None:
        register("jsonl", _JsonlSink)

    def runtimes(register: Any) -> None:
        register("browser", object())

    module.mug_register_data_sinks = hookimpl(sinks)  # type: ignore[attr-defined]
    module.mug_register_runtimes = hookimpl(runtimes)  # type: ignore[attr-defined]
    return module


def _config(tmp_path: Path) -> ExperimentConfig:
    humans = {"a0": PolicyTypes.Human, "a1": PolicyTypes.Human, "a2": PolicyTypes.Human}
    game = (
        GymScene()
        .scene(GAME)
        .policies(policy_mapping=humans)
        .runtime(environment_initialization_code="env = None\n")
        .gameplay(action_mapping={"ArrowLeft": 1})
    )
    config = (
        ExperimentConfig()
        .experiment(stager=Stager([game, EndScene().scene("end")]), experiment_id="sig")
        .data(data_dir=tmp_path, sinks=["jsonl"])
    )
    return config.plugins(allow=[], extra={"p2p": mug_p2p.plugin, "support": _support_plugin()})


def _records(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "sig" / "records.jsonl"
    if not path.exists():
        path = next(tmp_path.rglob("records.jsonl"))
    with path.open(encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


class Page:
    """A participant's page: a socket.io client that keeps what the server pushes to it."""

    def __init__(self, server: StudyServer, pid: str) -> None:
        self.server, self.pid = server, pid
        self.sio = socketio.AsyncClient(reconnection=False)
        self.pushed: dict[str, list[Any]] = {}
        for name in ("group", "p2p_signal", "p2p_relay", "p2p_peer"):
            self.sio.on(name, lambda data, name=name: self.pushed.setdefault(name, []).append(data))

    async def enter(self, wait: bool = True) -> None:
        await self.sio.connect(self.server.url(), transports=["websocket"])
        joined = await self.sio.call("join", {"participant_id": self.pid, "tab_id": "t"})
        assert joined["ok"], joined
        if wait:
            event = {"scene_key": GAME, "name": "wait", "payload": {}}
            assert (await self.sio.call("scene_event", event, timeout=10))["ok"]

    async def call(self, event: str, data: Any) -> dict[str, Any]:
        return await self.sio.call(event, data, timeout=10)

    async def until(self, name: str, count: int = 1, timeout: float = 5.0) -> list[Any]:
        for _ in range(int(timeout / 0.02)):
            if len(self.pushed.get(name, [])) >= count:
                return self.pushed[name]
            await asyncio.sleep(0.02)
        raise AssertionError(f"{self.pid} got {self.pushed.get(name)} of {name!r}")

    async def group(self) -> dict[str, Any]:
        return (await self.until("group"))[0]


async def _trio(server: StudyServer) -> tuple[list[Page], Page, str]:
    """Three grouped pages and a fourth still waiting; the game id of the group."""
    pages = [Page(server, p) for p in ("pa", "pb", "pc")]
    outsider = Page(server, "pz")
    for page in pages:
        await page.enter()
    group = await pages[0].group()
    assert set(group["members"]) == {"pa", "pb", "pc"}
    await outsider.enter()
    return pages, outsider, group["game_id"]


async def _close(*pages: Page) -> None:
    for page in pages:
        if page.sio.connected:
            await page.sio.disconnect()


def test_signals_and_relayed_messages_reach_only_the_members_of_the_group(
    tmp_path: Path,
) -> None:
    async def run(server: StudyServer) -> None:
        (a, b, c), z, game_id = await _trio(server)
        offer = {"type": "offer", "sdp": "v=0\r\n" + "a=x\r\n" * 50}
        assert await a.call("p2p_signal", {"game_id": game_id, "to": "pb", "data": offer}) == {
            "ok": True
        }
        got = (await b.until("p2p_signal"))[0]
        assert got == {"game_id": game_id, "from": "pa", "data": offer}

        assert (await b.call("p2p_relay", {"game_id": game_id, "data": "hello all"}))["ok"]
        for page in (a, c):
            assert (await page.until("p2p_relay"))[0] == {
                "game_id": game_id,
                "from": "pb",
                "data": "hello all",
            }
        assert (await c.call("p2p_relay", {"game_id": game_id, "to": "pa", "data": "to a"}))["ok"]
        assert [m["data"] for m in await a.until("p2p_relay", 2)] == ["hello all", "to a"]

        # The outsider can neither send into the group nor be reached from it.
        for event in ("p2p_signal", "p2p_relay"):
            answer = await z.call(event, {"game_id": game_id, "to": "pa", "data": "x"})
            assert answer["ok"] is False and answer["code"] == "not_member", answer
        answer = await a.call("p2p_signal", {"game_id": game_id, "to": "pz", "data": offer})
        assert answer["code"] == "unknown_peer"
        answer = await a.call("p2p_relay", {"game_id": game_id, "to": "pz", "data": "x"})
        assert answer["code"] == "unknown_peer"
        await asyncio.sleep(0.2)
        assert "p2p_signal" not in z.pushed and "p2p_relay" not in z.pushed
        assert "p2p_relay" not in b.pushed  # a sender does not hear its own broadcast
        assert len(c.pushed["p2p_relay"]) == 1 and len(b.pushed["p2p_signal"]) == 1
        await _close(a, b, c, z)

    with StudyServer(_config(tmp_path)) as server:
        asyncio.run(run(server))


def test_malformed_oversized_and_unjoined_events_get_clear_errors(tmp_path: Path) -> None:
    async def run(server: StudyServer) -> None:
        (a, b, c), z, game_id = await _trio(server)
        stranger = socketio.AsyncClient(reconnection=False)
        await stranger.connect(server.url(), transports=["websocket"])
        answer = await stranger.call("p2p_relay", {"game_id": game_id, "data": "x"}, timeout=10)
        assert answer["code"] == "not_joined"
        await stranger.disconnect()

        limits = SignallingLimits()
        cases: list[tuple[str, Any, str]] = [
            ("p2p_signal", None, "bad_request"),
            ("p2p_signal", "not an object", "bad_request"),
            ("p2p_signal", {"to": "pb", "data": {}}, "bad_request"),
            ("p2p_signal", {"game_id": 7, "to": "pb", "data": {}}, "bad_request"),
            ("p2p_signal", {"game_id": "x" * 500, "to": "pb", "data": {}}, "bad_request"),
            ("p2p_signal", {"game_id": "nope", "to": "pb", "data": {}}, "not_member"),
            ("p2p_signal", {"game_id": game_id, "to": "pb", "data": 5}, "bad_request"),
            ("p2p_signal", {"game_id": game_id, "to": "pa", "data": {}}, "unknown_peer"),
            ("p2p_signal", {"game_id": game_id, "to": ["pb"], "data": {}}, "unknown_peer"),
            ("p2p_signal", {"game_id": game_id, "data": {}}, "unknown_peer"),
            (
                "p2p_signal",
                {"game_id": game_id, "to": "pb", "data": {"sdp": "x" * limits.max_signal_bytes}},
                "too_large",
            ),
            ("p2p_relay", {"game_id": game_id, "data": {"not": "text"}}, "bad_request"),
            ("p2p_relay", {"game_id": game_id, "to": "../pb", "data": "x"}, "unknown_peer"),
            (
                "p2p_relay",
                {"game_id": game_id, "data": "x" * (limits.max_relay_bytes + 1)},
                "too_large",
            ),
            ("p2p_connection", {"game_id": game_id, "peer": "pb", "state": "??"}, "bad_request"),
            (
                "p2p_connection",
                {"game_id": game_id, "peer": "pb", "state": "open", "via": "carrier pigeon"},
                "bad_request",
            ),
            (
                "p2p_connection",
                {"game_id": game_id, "peer": "pz", "state": "open", "via": "relay"},
                "unknown_peer",
            ),
            (
                "p2p_connection",
                {"game_id": game_id, "peer": "pb", "state": "open", "via": "relay", "rtt_ms": -1},
                "bad_request",
            ),
        ]
        for event, data, code in cases:
            answer = await a.call(event, data)
            assert answer["ok"] is False and answer["code"] == code, (event, data, answer)
            assert isinstance(answer["message"], str) and answer["message"]
        # Nothing leaked through, and the server still serves the group.
        await asyncio.sleep(0.2)
        assert "p2p_signal" not in b.pushed and "p2p_relay" not in b.pushed
        assert (await a.call("p2p_relay", {"game_id": game_id, "to": "pb", "data": "ok"}))["ok"]
        assert (await b.until("p2p_relay"))[0]["data"] == "ok"
        await _close(a, b, c, z)

    with StudyServer(_config(tmp_path)) as server:
        asyncio.run(run(server))


def test_a_flood_of_relay_messages_is_cut_at_the_rate_limit(tmp_path: Path) -> None:
    async def run(server: StudyServer) -> None:
        (a, b, c), z, game_id = await _trio(server)
        assert server.server is not None
        limits = SignallingLimits(relay_rate=10, report_rate=2)
        server.server.p2p_signalling.limits = limits  # type: ignore[attr-defined]
        began = time.monotonic()
        answers = [
            await a.call("p2p_relay", {"game_id": game_id, "to": "pb", "data": str(i)})
            for i in range(100)
        ]
        elapsed = time.monotonic() - began
        refused = [x for x in answers if not x["ok"]]
        assert refused and all(x["code"] == "rate_limited" for x in refused)
        # 10 a second for each of two partners: a burst of 40, plus what refills meanwhile.
        assert 40 <= len(answers) - len(refused) <= 41 + 20 * elapsed
        assert len(b.pushed.get("p2p_relay", [])) == len(answers) - len(refused)
        # Connection reports (written to disk) have their own, smaller budget.
        report = {"game_id": game_id, "peer": "pc", "state": "lost", "via": "relay"}
        codes = [(await a.call("p2p_connection", report)).get("code") for _ in range(10)]
        assert codes[:4] == [None] * 4 and "rate_limited" in codes
        await _close(a, b, c, z)

    with StudyServer(_config(tmp_path)) as server:
        asyncio.run(run(server))


def test_connection_reports_are_recorded_as_events_of_the_game_scene(tmp_path: Path) -> None:
    async def run(server: StudyServer) -> None:
        (a, b, c), z, game_id = await _trio(server)
        reports = [
            {"peer": "pb", "state": "open", "via": "webrtc", "rtt_ms": 0.8},
            {"peer": "pc", "state": "fallback", "via": "relay", "reason": "ice failed"},
        ]
        for report in reports:
            assert (await a.call("p2p_connection", {"game_id": game_id, **report}))["ok"]
        await _close(a, b, c, z)

    config = _config(tmp_path)
    with StudyServer(config) as server:
        asyncio.run(run(server))
        server.flush()
    rows = [r for r in _records(tmp_path) if r["kind"] == "event"]
    assert [(r["participant_id"], r["scene_key"], r["episode"]) for r in rows] == [
        ("pa", GAME, 0),
        ("pa", GAME, 0),
    ]
    values = [r["values"] for r in rows]
    assert all(v["type"] == RECORD_TYPE for v in values)
    assert [(v["peer"], v["state"], v["via"], v["reason"], v["rtt_ms"]) for v in values] == [
        ("pb", "open", "webrtc", None, 0.8),
        ("pc", "fallback", "relay", "ice failed", None),
    ]
    assert all(isinstance(v["t"], float) for v in values)


def test_partners_hear_when_a_member_drops_and_the_group_survives_a_restart(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)

    async def first(server: StudyServer) -> str:
        (a, b, c), z, game_id = await _trio(server)
        await b.sio.disconnect()
        for page in (a, c):
            assert (await page.until("p2p_peer"))[0] == {
                "game_id": game_id,
                "peer": "pb",
                "state": "lost",
            }
        answer = await a.call("p2p_relay", {"game_id": game_id, "to": "pb", "data": "x"})
        assert answer["code"] == "peer_offline"
        assert "p2p_peer" not in z.pushed
        await _close(a, c, z)
        return game_id

    async def after_restart(server: StudyServer, game_id: str) -> None:
        a, b = Page(server, "pa"), Page(server, "pb")
        await a.enter(wait=False)
        await b.enter(wait=False)
        assert (await a.call("p2p_relay", {"game_id": game_id, "data": "again"}))["ok"]
        assert (await b.until("p2p_relay"))[0]["data"] == "again"
        await _close(a, b)

    with StudyServer(config) as server:
        game_id = asyncio.run(first(server))
    with StudyServer(config) as server:
        asyncio.run(after_restart(server, game_id))
