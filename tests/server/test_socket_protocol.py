"""The participant protocol over a real socket: python-socketio clients against hypercorn."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import socketio

from mug_core.testing import StudyServer
from tests.conftest import survey_study
from tests.support.jsonl_sink import read_records

GOOD_ANSWERS = {"fun": 4, "hand": "Left", "genres": ["C", "A"], "comments": "nice"}


class Participant:
    """A scripted page: one socket, acked calls."""

    def __init__(self, server: StudyServer, pid: str, tab: str = "tab-1") -> None:
        self.server, self.pid, self.tab = server, pid, tab
        self.sio = socketio.AsyncClient(reconnection=False)
        self.pushed: list[dict[str, Any]] = []
        self.sio.on("scene", lambda data: self.pushed.append(data))

    async def connect(self) -> None:
        await self.sio.connect(self.server.url(), transports=["websocket"])

    async def join(self, **query: str) -> dict[str, Any]:
        return await self.sio.call(
            "join",
            {"participant_id": self.pid, "tab_id": self.tab, "query": query, "user_agent": "bot"},
            timeout=10,
        )

    async def advance(self, scene_key: str, response: dict[str, Any]) -> dict[str, Any]:
        return await self.sio.call(
            "advance", {"scene_key": scene_key, "response": response}, timeout=10
        )

    async def close(self) -> None:
        await self.sio.disconnect()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[StudyServer]:
    srv = StudyServer(survey_study(tmp_path))
    await asyncio.to_thread(srv.start)
    yield srv
    await asyncio.to_thread(srv.stop)


async def test_a_participant_walks_the_study_and_every_answer_is_recorded(
    server: StudyServer,
) -> None:
    p = Participant(server, "PROLIFIC123")
    await p.connect()
    joined = await p.join(PROLIFIC_PID="PROLIFIC123", STUDY_ID="S1", SESSION_ID="X9")
    assert joined["ok"] and joined["scene"]["scene_type"] == "start"
    refused = await p.advance("consent", {"consent": False})
    assert not refused["ok"] and "consent" in refused["errors"]
    step = await p.advance("consent", {"consent": True})
    assert step["scene"]["scene_key"] == "instructions"
    step = await p.advance("instructions", {})
    assert step["scene"]["scene_type"] == "survey"
    empty = await p.advance("survey", {"answers": {"comments": "only this"}})
    assert not empty["ok"] and set(empty["errors"]) == {"fun", "hand"}
    done = await p.advance("survey", {"answers": GOOD_ANSWERS})
    end = done["scene"]
    assert end["scene_type"] == "completion_code" and len(end["spec"]["code"]) == 10
    await p.close()

    await asyncio.to_thread(server.flush)
    records = read_records(server.config.study_dir / "records.jsonl")
    scene_rows = [r for r in records if r["kind"] == "scene"]
    assert [r["scene_key"] for r in scene_rows] == ["consent", "instructions", "survey"]
    survey_row = scene_rows[-1]["values"]
    assert {k: survey_row[k] for k in GOOD_ANSWERS} == {**GOOD_ANSWERS, "genres": ["A", "C"]}
    meta = [r for r in records if r["kind"] == "participant"][-1]["values"]
    assert meta["query_parameters"] == {
        "PROLIFIC_PID": "PROLIFIC123",
        "STUDY_ID": "S1",
        "SESSION_ID": "X9",
    }
    assert meta["completion_code"] == end["spec"]["code"] and meta["completed_at"]
    assert [s["scene_key"] for s in meta["scenes"]] == ["consent", "instructions", "survey"]


async def test_a_second_tab_is_told_and_does_not_fork_the_session(server: StudyServer) -> None:
    first, second = Participant(server, "p2", "tab-a"), Participant(server, "p2", "tab-b")
    await first.connect()
    await second.connect()
    assert (await first.join())["ok"]
    refused = await second.join()
    assert not refused["ok"] and refused["code"] == "second_tab"
    assert (await second.advance("consent", {"consent": True}))["code"] == "not_joined"
    assert (await first.advance("consent", {"consent": True}))["scene"]["scene_key"] == (
        "instructions"
    )
    await first.close()
    await asyncio.sleep(0.2)
    taken_over = await second.join()  # the first tab is gone: this one may continue
    assert taken_over["ok"] and taken_over["scene"]["scene_key"] == "instructions"
    await second.close()


async def test_a_reconnect_resumes_and_a_stale_submit_is_not_recorded_twice(
    server: StudyServer,
) -> None:
    p = Participant(server, "p3")
    await p.connect()
    await p.join()
    await p.advance("consent", {"consent": True})
    await p.close()
    again = Participant(server, "p3")
    await again.connect()
    resumed = await again.join()
    assert resumed["scene"]["scene_key"] == "instructions"
    stale = await again.advance("consent", {"consent": True})
    assert stale["ok"] and stale["scene"]["scene_key"] == "instructions"
    await again.close()
    await asyncio.to_thread(server.flush)
    rows = [r for r in read_records(server.config.study_dir / "records.jsonl")]
    assert [r["scene_key"] for r in rows if r["kind"] == "scene"] == ["consent"]


async def test_a_server_restart_resumes_the_participant(tmp_path: Path) -> None:
    srv = StudyServer(survey_study(tmp_path))
    await asyncio.to_thread(srv.start)
    p = Participant(srv, "p4")
    await p.connect()
    await p.join()
    await p.advance("consent", {"consent": True})
    await p.close()
    await asyncio.to_thread(srv.stop)
    restarted = StudyServer(survey_study(tmp_path), port=srv.port)
    await asyncio.to_thread(restarted.start)
    try:
        p = Participant(restarted, "p4")
        await p.connect()
        assert (await p.join())["scene"]["scene_key"] == "instructions"
        await p.close()
    finally:
        await asyncio.to_thread(restarted.stop)


@pytest.mark.parametrize(
    ("event", "payload", "code"),
    [
        ("join", "not an object", "bad_request"),
        ("join", {"participant_id": "../../etc/passwd", "tab_id": "t"}, "invalid_participant"),
        ("join", {"participant_id": "ok", "tab_id": 5}, "bad_request"),
        ("join", {"participant_id": "x" * 65, "tab_id": "t"}, "invalid_participant"),
        ("advance", {"scene_key": "consent"}, "not_joined"),
        ("launch_missiles", {"now": True}, "unknown_event"),
    ],
)
async def test_malformed_events_get_clear_errors(
    server: StudyServer, event: str, payload: Any, code: str
) -> None:
    p = Participant(server, "p5")
    await p.connect()
    answer = await p.sio.call(event, payload, timeout=10)
    assert answer["ok"] is False and answer["code"] == code and answer["message"]
    assert (await p.join())["ok"]  # the connection still works afterwards
    await p.close()


async def test_oversized_payloads_are_refused(server: StudyServer) -> None:
    p = Participant(server, "p6")
    await p.connect()
    await p.join()
    huge = {"answers": {"comments": "x" * 70_000}}
    answer = await p.advance("consent", huge)
    assert answer["code"] == "too_large" and "limit" in answer["message"]
    await p.close()


def test_hostile_participant_ids_in_the_url_get_a_clear_page(server: StudyServer) -> None:
    for path in ("/..%2F..%2Fetc", "/a%20b", "/" + "x" * 70, "/bob_ep3"):
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(server.url(path))
        assert info.value.code in (400, 404)
    with urllib.request.urlopen(server.url("/?PROLIFIC_PID=abc&STUDY_ID=s")) as response:
        assert response.url.startswith(server.url("/"))
        assert response.url.endswith("?PROLIFIC_PID=abc&STUDY_ID=s")
        page = response.read().decode()
    boot = json.loads(page.split('id="mug-boot" type="application/json">')[1].split("<")[0])
    assert len(boot["participant_id"]) == 32
    assert "/static/mug/scenes/survey.js" in boot["modules"]


def test_socket_refuses_other_origins(server: StudyServer) -> None:
    request = urllib.request.Request(
        server.url("/socket.io/?EIO=4&transport=polling"),
        headers={"Origin": "https://evil.example"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request)
    assert info.value.code == 400
