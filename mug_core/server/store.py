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
import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from mug_core.data.batching import BatchedWriter
from mug_core.data.records import Record
from mug_core.server.flow import ParticipantState

SCHEMA = """
CREATE TABLE IF NOT EXISTS participants (
    participant_id TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS records (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sink_cursors (sink TEXT PRIMARY KEY, seq INTEGER NOT NULL);
"""


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
        self._writer: BatchedWriter[tuple[str | None, str | None, list[str]]] = BatchedWriter(
            "store", self._write
        )
        self._cache: dict[str, str] = {}
        self.committed = threading.Condition()
        self.last_seq = self._writer_db.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM records"
        ).fetchone()[0]

    def _write(self, items: list[tuple[str | None, str | None, list[str]]]) -> None:
        now = time.time()
        with self._writer_db:
            states = [(pid, state, now) for pid, state, _ in items if pid is not None]
            self._writer_db.executemany(
                "INSERT INTO participants (participant_id, state, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT(participant_id) DO UPDATE SET state = excluded.state,"
                " updated_at = excluded.updated_at",
                states,
            )
            bodies = [(body,) for _, _, records in items for body in records]
            if bodies:
                self._writer_db.executemany("INSERT INTO records (body) VALUES (?)", bodies)
            last = self._writer_db.execute("SELECT COALESCE(MAX(seq), 0) FROM records").fetchone()
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
        return None if text is None else ParticipantState.from_dict(json.loads(text))

    async def commit(self, state: ParticipantState | None, records: Sequence[Record]) -> None:
        # Serialise here, on the caller's side: a value that is not JSON fails the caller,
        # not the whole batch.
        text = None if state is None else json.dumps(state.to_dict())
        bodies = [record.to_json() for record in records]
        pid = None if state is None else state.participant_id
        await self._writer.submit([(pid, text, bodies)], asyncio.get_running_loop())
        if pid is not None and text is not None:
            self._cache[pid] = text

    async def close(self) -> None:
        await asyncio.to_thread(self._writer.close)
        self._writer_db.close()
        await asyncio.get_running_loop().run_in_executor(self._reader, self._reader_db.close)
        self._reader.shutdown(wait=True)
