"""Where participant progress lives between requests and across restarts.

:class:`ProgressStore` is the small interface that several server processes would share;
:class:`SQLiteProgressStore` is the embedded default (one file, WAL journal, one writer thread).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

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
        """Release the store."""
        ...


class SQLiteProgressStore:
    """Progress in one SQLite file. All access runs on a dedicated thread, off the event loop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mug-store")
        self._db: sqlite3.Connection | None = None
        self._executor.submit(self._open).result()

    def _open(self) -> None:
        db = sqlite3.connect(self.path, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS participants ("
            " participant_id TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at REAL NOT NULL)"
        )
        db.commit()
        self._db = db

    def _get(self, participant_id: str) -> ParticipantState | None:
        assert self._db is not None
        row = self._db.execute(
            "SELECT state FROM participants WHERE participant_id = ?", (participant_id,)
        ).fetchone()
        return None if row is None else ParticipantState.from_dict(json.loads(row[0]))

    def _put(self, state: ParticipantState) -> None:
        assert self._db is not None

        self._db.execute(
            "INSERT INTO participants (participant_id, state, updated_at) VALUES (?, ?, ?)"
            " ON CONFLICT(participant_id) DO UPDATE SET state = excluded.state,"
            " updated_at = excluded.updated_at",
            (state.participant_id, json.dumps(state.to_dict()), time.time()),
        )
        self._db.commit()

    async def get(self, participant_id: str) -> ParticipantState | None:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._get, participant_id)

    async def put(self, state: ParticipantState) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._put, state)

    async def close(self) -> None:
        def _close() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, _close)
        self._executor.shutdown(wait=True)
