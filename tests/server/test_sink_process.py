"""A data sink in a process of its own gets every record exactly once, also after that process
dies, and gives way to no one: the server's own records stay in the outbox until it has them."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mug_core.data import Record, SinkContext
from mug_core.data.delivery import Delivery
from mug_core.data.sink_process import GATHER_S, ProcessDrainer, factory_ref
from mug_core.server.flow import ParticipantState
from mug_core.server.store import SQLiteStudyStore
from tests.support.jsonl_sink import BatchLogSink, JsonlSink, read_records

if TYPE_CHECKING:
    from mug_core.testing import StudyServer


def _commit(store: SQLiteStudyStore, first: int, count: int) -> None:
    records = [
        Record("step", "exp", "p1", {"n": n}, scene_key="game", episode=0)
        for n in range(first, first + count)
    ]

    async def commit() -> None:
        await store.commit(ParticipantState(participant_id="p1"), records)

    asyncio.run(commit())


def test_only_classes_a_child_can_import_run_in_a_process() -> None:
    class Local(JsonlSink):
        pass

    assert factory_ref(JsonlSink) == "tests.support.jsonl_sink:JsonlSink"
    assert factory_ref(Local) is None


def test_a_sink_process_takes_every_record_once_and_survives_its_own_death(
    tmp_path: Path,
) -> None:
    context = SinkContext("exp", tmp_path / "data")
    store = SQLiteStudyStore(tmp_path / "state.sqlite3")
    delivery = Delivery(store, {"jsonl": JsonlSink(context)}, {"jsonl": context})
    try:
        (drainer,) = delivery.drainers
        assert isinstance(drainer, ProcessDrainer)
        assert delivery.wait_started()
        # background work: the server and its games come first on a busy machine
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, drainer._process.pid) == min(19, ours + 10)
        _commit(store, 0, 300)
        # no sink reads objects in this process: the records live in the outbox only
        assert not store.keep_recent and store.recent == {}
        assert delivery.wait_drained(timeout=60)
        drainer.kill()  # the sink's process dies; a new one takes over at its cursor
        _commit(store, 300, 300)
        assert delivery.wait_drained(timeout=60)
    finally:
        delivery.close()
        asyncio.run(store.close())
    numbers = [row["values"]["n"] for row in read_records(context.data_dir / "records.jsonl")]
    assert numbers == list(range(600))


def test_a_sink_process_writes_records_that_come_in_quick_succession_together(
    tmp_path: Path,
) -> None:
    """Fewer, larger writes (one fsync per file each): after a batch, a sink process lets the
    records that keep coming gather for a moment."""
    context = SinkContext("exp", tmp_path / "data")
    store = SQLiteStudyStore(tmp_path / "state.sqlite3")
    delivery = Delivery(store, {"log": BatchLogSink(context)}, {"log": context})
    try:
        assert delivery.wait_started()
        _commit(store, 0, 1)
        assert delivery.wait_drained(timeout=30)
        began = time.monotonic()
        for n in range(1, 21):  # one record at a time, as pages commit them
            _commit(store, n, 1)
        took = time.monotonic() - began
        assert delivery.wait_drained(timeout=30)
    finally:
        delivery.close()
        asyncio.run(store.close())
    batches = [int(n) for n in (context.data_dir / "batches.txt").read_text().split()]
    assert sum(batches) == 21 and batches[0] == 1
    # a slow disk spreads the 20 commits out; each gathering window still takes in all the
    # commits of its span, where a sink that did not gather would write 20 batches
    assert len(batches) <= 3 + int(took / GATHER_S), (batches, took)
    numbers = [row["values"]["n"] for row in read_records(context.data_dir / "records.jsonl")]
    assert numbers == list(range(21))


def test_records_wait_in_the_outbox_for_a_sink_process_of_a_later_start(tmp_path: Path) -> None:
    context = SinkContext("exp", tmp_path / "data")
    store = SQLiteStudyStore(tmp_path / "state.sqlite3")
    _commit(store, 0, 50)  # committed while no sink runs
    asyncio.run(store.close())
    store = SQLiteStudyStore(tmp_path / "state.sqlite3")
    delivery = Delivery(store, {"jsonl": JsonlSink(context)}, {"jsonl": context})
    try:
        assert delivery.wait_drained(timeout=60)
    finally:
        delivery.close()
        asyncio.run(store.close())
    numbers = [row["values"]["n"] for row in read_records(context.data_dir / "records.jsonl")]
    assert numbers == list(range(50))


def test_a_study_server_can_run_its_sinks_in_processes(tmp_path: Path) -> None:
    import socketio

    from mug_core.testing import StudyServer
    from tests.conftest import survey_study

    config = survey_study(tmp_path).data(sink_processes=True)

    async def walk(server: StudyServer) -> None:
        client = socketio.AsyncClient(reconnection=False)
        await client.connect(server.url(), transports=["websocket"])
        assert (await client.call("join", {"participant_id": "proc1", "tab_id": "t"}))["ok"]
        answer = await client.call(
            "advance", {"scene_key": "consent", "response": {"consent": True}}
        )
        assert answer["ok"]
        await client.disconnect()

    with StudyServer(config) as server:
        assert server.server is not None
        assert all(isinstance(d, ProcessDrainer) for d in server.server.delivery.drainers)
        asyncio.run(walk(server))
        server.flush()
    rows = read_records(config.study_dir / "records.jsonl")
    assert [r["scene_key"] for r in rows if r["kind"] == "scene"] == ["consent"]


def test_by_default_only_sinks_that_say_so_run_in_processes(tmp_path: Path) -> None:
    """``csv`` (``process_safe``) gets a process of its own unless the study says otherwise; a
    sink that does not declare it stays on a thread."""
    pytest.importorskip("mug_storage", reason="the csv sink comes with mug-storage")
    import csv

    from mug_core.data.delivery import SinkDrainer
    from mug_core.testing import StudyServer
    from tests.conftest import survey_study

    config = survey_study(tmp_path).data(sinks=["csv", "jsonl"])
    config.plugins(allow=["storage"])
    with StudyServer(config) as server:
        assert server.server is not None
        kinds = {d.name: type(d) for d in server.server.delivery.drainers}
        assert kinds == {"csv": ProcessDrainer, "jsonl": SinkDrainer}
        asyncio.run(_consent(server, "auto1"))
        server.flush()
    with open(config.study_dir / "consent" / "auto1.csv", newline="") as file:
        assert [row["participant_id"] for row in csv.DictReader(file)] == ["auto1"]

    threads = survey_study(tmp_path / "threads", sink="csv").data(sink_processes=False)
    with StudyServer(threads) as server:
        assert server.server is not None
        assert [type(d) for d in server.server.delivery.drainers] == [SinkDrainer]


async def _consent(server: StudyServer, pid: str) -> None:
    import socketio

    client = socketio.AsyncClient(reconnection=False)
    await client.connect(server.url(), transports=["websocket"])
    assert (await client.call("join", {"participant_id": pid, "tab_id": "t"}))["ok"]
    answer = await client.call("advance", {"scene_key": "consent", "response": {"consent": True}})
    assert answer["ok"]
    await client.disconnect()
