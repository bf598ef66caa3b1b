"""Records reach every sink exactly once, even when a sink fails for a while or the server
restarts with records still queued."""

from __future__ import annotations

import asyncio
import json
import threading
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import socketio

from mug_core.data import Record, SinkContext
from mug_core.plugins import hookimpl
from mug_core.testing import StudyServer
from tests.conftest import survey_study
from tests.support.jsonl_sink import read_records

OUTAGE = threading.Event()


class FlakySink:
    """Fails while OUTAGE is set; otherwise appends to ``flaky.jsonl``."""

    def __init__(self, context: SinkContext) -> None:
        self.path = context.data_dir / "flaky.jsonl"

    def write(self, records: Sequence[Record]) -> None:
        if OUTAGE.is_set():
            raise ConnectionError("the store is down")
        with self.path.open("a", encoding="utf-8") as file:
            for record in records:
                file.write(json.dumps({"kind": record.kind, "scene": record.scene_key}) + "\n")

    def close(self) -> None:
        pass


def _flaky_plugin() -> types.ModuleType:
    module = types.ModuleType("flaky_sink_plugin")

    def register(register: Any) -> None:
        register("flaky", FlakySink)

    module.mug_register_data_sinks = hookimpl(register)  # type: ignore[attr-defined]
    return module


def _config(tmp_path: Path) -> Any:
    config = survey_study(tmp_path)
    config.data(sinks=["jsonl", "flaky"])
    config.extra_plugins.append(("flaky", _flaky_plugin()))
    return config


async def _walk(server: StudyServer, pid: str) -> None:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(server.url(), transports=["websocket"])
    assert (await client.call("join", {"participant_id": pid, "tab_id": "t"}))["ok"]
    answer = await client.call("advance", {"scene_key": "consent", "response": {"consent": True}})
    assert answer["ok"]  # acknowledged although one sink is down: the outbox holds it
    await client.disconnect()


def _flaky_rows(config: Any) -> list[dict[str, Any]]:
    path = config.study_dir / "flaky.jsonl"
    return read_records(path) if path.exists() else []


def test_a_failing_sink_catches_up_without_loss_or_duplicates(tmp_path: Path) -> None:
    config = _config(tmp_path)
    OUTAGE.set()
    try:
        with StudyServer(config) as server:
            asyncio.run(_walk(server, "flaky1"))
            assert server.server is not None
            assert server.server.delivery.lag()["flaky"] > 0
            OUTAGE.clear()
            server.flush()
    finally:
        OUTAGE.clear()
    rows = _flaky_rows(config)
    assert [r["scene"] for r in rows if r["kind"] == "scene"] == ["consent"]
    assert len(rows) == len(read_records(config.study_dir / "records.jsonl"))


def test_queued_records_survive_a_restart(tmp_path: Path) -> None:
    config = _config(tmp_path)
    OUTAGE.set()
    try:
        server = StudyServer(config).start()
        asyncio.run(_walk(server, "flaky2"))
        assert server.server is not None
        server.server.delivery.close(timeout=0.5)  # give up while the sink is still down
        server.stop()
        assert _flaky_rows(config) == []
        OUTAGE.clear()
        with StudyServer(_config(tmp_path), port=server.port) as restarted:
            restarted.flush()
    finally:
        OUTAGE.clear()
    rows = _flaky_rows(config)
    assert [r["scene"] for r in rows if r["kind"] == "scene"] == ["consent"]


def test_records_every_sink_holds_leave_memory(tmp_path: Path) -> None:
    """The records kept in memory for the drainers are let go once every sink has them."""
    from mug_core.data.delivery import Delivery
    from mug_core.server.store import SQLiteStudyStore

    class ListSink:
        def __init__(self) -> None:
            self.records: list[Record] = []

        def write(self, records: Sequence[Record]) -> None:
            self.records.extend(records)

        def close(self) -> None:
            pass

    store = SQLiteStudyStore(tmp_path / "state.sqlite3")
    sinks = {"a": ListSink(), "b": ListSink()}
    delivery = Delivery(store, sinks)
    assert store.keep_recent  # in-process sinks get the committed objects themselves

    async def commit() -> None:
        for n in range(50):
            batch = [Record("event", "e", "p", {"n": 10 * n + k}, "s", 0) for k in range(10)]
            await store.commit(None, batch)

    asyncio.run(commit())
    assert delivery.wait_drained(timeout=30)
    delivery.close()
    asyncio.run(store.close())
    assert [r.values["n"] for r in sinks["a"].records] == list(range(500))
    assert [r.seq for r in sinks["b"].records] == list(range(1, 501))
    assert store.recent == {}
