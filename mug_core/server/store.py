"""The study's durable store: participant progress and the outbox of records, in one SQLite file.

Saving a participant's progress and the records their step produced is one transaction, so the
two never disagree, and a burst of participants is one transaction too (group commit): what the
server acknowledges is on disk. Records then flow from the outbox to the data sinks
(:mod:`mug_core.data.delivery`), which may lag (a slow or unreachable sink) without slowing
anyone down; the outbox keeps them until every sink has them, across restarts.

:class:`StudyStore` is the small interface that several server processes would share.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from mug_core.data import jsoncodec
from mug_core.data.batching import BatchedWriter
from mug_core.data.records import Record, records_to_json
from mug_core.server.flow import ParticipantState

SCHEMA = """
CREATE TABLE IF NOT EXISTS participants (
    participant_id TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS records (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sink_cursors (sink TEXT PRIMARY KEY, seq INTEGER NOT NULL);
"""


MAX_RECENT = 200_000
"""Records kept in memory for the sinks; past this, sinks read them back from the outbox."""

_Item = tuple[str | None, str | None, list[str], Sequence[Record]]


class StudyStore(Protocol):
    """Participant progress plus an outbox of records, keyed by participant id."""

    async def get(self, participant_id: str) -> ParticipantState | None:
        """The saved state, or None for a new participant."""
        ...

    async def commit(self, state: ParticipantState | None, records: Sequence[Record]) -> None:
        """Save ``state`` and queue ``records`` for the sinks, atomically and durably."""
        ...

    async def close(self) -> None:
        """Write what is pending and release the store."""
        ...


def connect(path: Path, *, synchronous: str = "FULL") -> sqlite3.Connection:
    """A connection to the store file with the schema in place."""
    db = sqlite3.connect(path, check_same_thread=False, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.executescript(SCHEMA)
    db.commit()
    return db


class SQLiteStudyStore:
    """The embedded default store. Writes run on one thread, reads on another."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer_db = connect(path)
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mug-store-read")
        self._reader_db = self._reader.submit(connect, path).result()
        self._writer: BatchedWriter[_Item] = BatchedWriter("store", self._write)
        # Records committed by this process, by outbox seq, so sinks get the objects instead
        # of parsing the JSON back; the delivery drops them once every sink has them, and
        # turns keep_recent off when no sink runs in this process (sink processes read the
        # outbox).
        self.recent: dict[int, Record] = {}
        self.keep_recent = True
        self.recent_lock = threading.Lock()
        self._cache: dict[str, str] = {}
        self.committed = threading.Condition()
        self.last_seq = self._writer_db.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM records"
        ).fetchone()[0]

    def _write(self, items: list[_Item]) -> None:
        now = time.time()
        with self._writer_db:
            states = [(pid, state, now) for pid, state, _, _ in items if pid is not None]
            self._writer_db.executemany(
                "INSERT INTO participants (participant_id, state, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT(participant_id) DO UPDATE SET state = excluded.state,"
                " updated_at = excluded.updated_at",
                states,
            )
            bodies = [(body,) for _, _, texts, _ in items for body in texts]
            if bodies:
                self._writer_db.executemany("INSERT INTO records (body) VALUES (?)", bodies)
            last = self._writer_db.execute("SELECT COALESCE(MAX(seq), 0) FROM records").fetchone()
        # One writer and AUTOINCREMENT: this batch's records got the last len(bodies) seqs.
        seq = last[0] - len(bodies)
        if self.keep_recent:
            with self.recent_lock:
                for _, _, _, records in items:
                    for record in records:
                        seq += 1
                        if len(self.recent) < MAX_RECENT:  # a sink down long: read from disk
                            self.recent[seq] = record.with_seq(seq)
        with self.committed:
            self.last_seq = last[0]
            self.committed.notify_all()

    def _read(self, participant_id: str) -> str | None:
        row = self._reader_db.execute(
            "SELECT state FROM participants WHERE participant_id = ?", (participant_id,)
        ).fetchone()
        return None if row is None else row[0]

    async def get(self, participant_id: str) -> ParticipantState | None:
        text = self._cache.get(participant_id)
        if text is None:
            loop = asyncio.get_running_loop()
            text = await loop.run_in_executor(self._reader, self._read, participant_id)
        return None if text is None else ParticipantState.from_dict(jsoncodec.loads(text))

    async def commit(self, state: ParticipantState | None, records: Sequence[Record]) -> None:
        # Serialise here, on the caller's side: a value that is not JSON fails the caller,
        # not the whole batch.
        text = None if state is None else jsoncodec.dumps(state.to_dict())
        bodies = records_to_json(records)
        pid = None if state is None else state.participant_id
        await self._writer.submit([(pid, text, bodies, records)], asyncio.get_running_loop())
        if pid is not None and text is not None:
            self._cache[pid] = text

    async def close(self) -> None:
        await asyncio.to_thread(self._writer.close)
        self._writer_db.close()
        await asyncio.get_running_loop().run_in_executor(self._reader, self._reader_db.close)
        self._reader.shutdown(wait=True)
