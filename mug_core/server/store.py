"""Where participant progress lives between requests and across restarts.

:class:`ProgressStore` is the small interface that several server processes would share;
:class:`SQLiteProgressStore` is the embedded default: one file, WAL journal, a cache of the
participants this process serves, and group commit (a burst of saves is one transaction).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from mug_core.data.batching import BatchedWriter
from mug_core.server.flow import ParticipantState


class ProgressStore(Protocol):
    """Participant progress, keyed by participant id."""

    async def get(self, participant_id: str) -> ParticipantState | None:
        """The saved state, or None for a new participant."""
        ...

    async def put(self, state: ParticipantState) -> None:
        """Save ``state``; durable when this returns."""
        ...

    async def close(self) -> None:
        """Write what is pending and release the store."""
        ...


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(
        "CREATE TABLE IF NOT EXISTS participants ("
        " participant_id TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at REAL NOT NULL)"
    )
    db.commit()
    return db


class SQLiteProgressStore:
    """Progress in one SQLite file; reads and writes run on their own threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer_db = _connect(path)
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mug-store-read")
        self._reader_db = self._reader.submit(_connect, path).result()
        self._writer: BatchedWriter[tuple[str, str]] = BatchedWriter("store", self._write_rows)
        self._cache: dict[str, ParticipantState] = {}

    def _write_rows(self, rows: list[tuple[str, str]]) -> None:
        now = time.time()
        with self._writer_db:
            self._writer_db.executemany(
                "INSERT INTO participants (participant_id, state, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT(participant_id) DO UPDATE SET state = excluded.state,"
                " updated_at = excluded.updated_at",
                [(pid, state, now) for pid, state in rows],
            )

    def _read(self, participant_id: str) -> ParticipantState | None:
        row = self._reader_db.execute(
            "SELECT state FROM participants WHERE participant_id = ?", (participant_id,)
        ).fetchone()
        return None if row is None else ParticipantState.from_dict(json.loads(row[0]))

    async def get(self, participant_id: str) -> ParticipantState | None:
        cached = self._cache.get(participant_id)
        if cached is not None:
            return ParticipantState.from_dict(cached.to_dict())
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, self._read, participant_id)

    async def put(self, state: ParticipantState) -> None:
        snapshot = ParticipantState.from_dict(state.to_dict())
        row = (state.participant_id, json.dumps(state.to_dict()))
        await self._writer.submit([row], asyncio.get_running_loop())
        self._cache[state.participant_id] = snapshot

    async def close(self) -> None:
        await asyncio.to_thread(self._writer.close)
        self._writer_db.close()
        await asyncio.get_running_loop().run_in_executor(self._reader, self._reader_db.close)
        self._reader.shutdown(wait=True)
