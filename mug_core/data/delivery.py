"""Deliver records from the store's outbox to every data sink, in order, off the event loop.

One thread per sink reads records past that sink's cursor, hands them to ``sink.write`` in
batches, and moves the cursor on. A sink that fails is retried with backoff while the others go
on; its records wait in the outbox (also across restarts) until it takes them. Records every
sink has are removed from the outbox.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mug_core.data.records import Record, records_from_json
from mug_core.data.sink_process import ProcessDrainer, factory_ref
from mug_core.data.sinks import DataSink, SinkContext

log = logging.getLogger(__name__)

BATCH = 5000
MAX_BACKOFF_S = 30.0


class SinkDrainer:
    """Moves records from the outbox into one sink."""

    def __init__(self, name: str, sink: DataSink, delivery: Delivery) -> None:
        self.name = name
        self.sink = sink
        self.delivery = delivery
        self.cursor = 0
        self.failures = 0
        self._thread = threading.Thread(target=self._run, name=f"mug-sink-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _run(self) -> None:
        db = self.delivery.connect()
        db.execute("INSERT OR IGNORE INTO sink_cursors (sink, seq) VALUES (?, 0)", (self.name,))
        db.commit()
        self.cursor = db.execute(
            "SELECT seq FROM sink_cursors WHERE sink = ?", (self.name,)
        ).fetchone()[0]
        try:
            while True:
                records = self._recent_batch() or self._stored_batch(db)
                if not records:
                    if not self.delivery.wait_for_records(self.cursor):
                        return
                    continue
                if not self._deliver(records):
                    if self.delivery.stopping.wait(min(MAX_BACKOFF_S, 0.25 * 2**self.failures)):
                        return  # stopping while the sink is down: records stay in the outbox
                    continue
                self.cursor = records[-1].seq
                with db:
                    db.execute(
                        "UPDATE sink_cursors SET seq = ? WHERE sink = ?", (self.cursor, self.name)
                    )
                self.delivery.advanced(db)
        finally:
            db.close()

    def _recent_batch(self) -> list[Record] | None:
        """The next batch from the records this process committed, if it holds all of them
        (the common case: no reading back or parsing)."""
        store = self.delivery.store
        count = min(BATCH, store.last_seq - self.cursor)
        if count <= 0:
            return None
        with store.recent_lock:
            batch = [
                store.recent.get(seq) for seq in range(self.cursor + 1, self.cursor + count + 1)
            ]
        return None if None in batch else batch  # type: ignore[return-value]

    def _stored_batch(self, db: sqlite3.Connection) -> list[Record]:
        """The next batch read back from the outbox (after a restart, or a long outage)."""
        rows = db.execute(
            "SELECT seq, body FROM records WHERE seq > ? ORDER BY seq LIMIT ?",
            (self.cursor, BATCH),
        ).fetchall()
        recent = self.delivery.store.recent
        if all(seq in recent for seq, _ in rows):
            return [recent[seq] for seq, _ in rows]
        return records_from_json(rows)

    def _deliver(self, records: list[Record]) -> bool:
        try:
            self.sink.write(records)
        except Exception:
            self.failures += 1
            log.exception(
                "data sink %r failed to write %d records (attempt %d); they stay queued",
                self.name,
                len(records),
                self.failures,
            )
            return False
        self.failures = 0
        return True


class Delivery:
    """All sink drainers of one study, fed by a :class:`~mug_core.server.store.SQLiteStudyStore`."""

    def __init__(
        self,
        store: Any,
        sinks: dict[str, DataSink],
        contexts: Mapping[str, SinkContext] | None = None,
    ) -> None:
        """Start delivering to ``sinks``. A sink whose context is in ``contexts`` and whose
        class a child process can import runs in a process of its own
        (:mod:`mug_core.data.sink_process`); the instance given here is closed unused."""
        self.store = store
        self.path: Path = store.path
        self.sinks = sinks
        self.stopping = threading.Event()
        self.drainers: list[Any] = []
        self._in_process: dict[str, DataSink] = {}
        self._dropped = store.last_seq  # records up to here are not in store.recent
        for name, sink in sinks.items():
            ref = factory_ref(type(sink)) if contexts and name in contexts else None
            if ref is None or contexts is None:
                self._in_process[name] = sink
                self.drainers.append(SinkDrainer(name, sink, self))
            else:
                sink.close()
                self.drainers.append(ProcessDrainer(name, ref, contexts[name], self))
        if not self._in_process:
            store.keep_recent = False  # sink processes read the outbox, never these objects
            with store.recent_lock:
                store.recent.clear()
        for drainer in self.drainers:
            drainer.start()
        self._children = [d for d in self.drainers if isinstance(d, ProcessDrainer)]
        if self._children:
            threading.Thread(
                target=self._notify_children, name="mug-sink-notify", daemon=True
            ).start()

    def wait_started(self, timeout: float = 30.0) -> bool:
        """Block until every sink process is running and knows its cursor (True), or
        ``timeout`` passes. In-process sinks start at once."""
        deadline = time.monotonic() + timeout
        return all(c.ready.wait(max(0.0, deadline - time.monotonic())) for c in self._children)

    def _notify_children(self) -> None:
        """Tell sink processes about new records as they are committed."""
        told = -1
        condition = self.store.committed
        while not self.stopping.is_set():
            with condition:
                if self.store.last_seq == told:
                    condition.wait(0.5)
                last = self.store.last_seq
            if last != told:
                told = last
                for child in self._children:
                    child.notify()

    def connect(self) -> sqlite3.Connection:
        from mug_core.server.store import connect

        # Losing a cursor update in a power cut means re-delivery, never loss.
        return connect(self.path, synchronous="NORMAL")

    def wait_for_records(self, cursor: int) -> bool:
        """Block until the outbox has records past ``cursor``; False when stopping and idle."""
        condition = self.store.committed
        with condition:
            while self.store.last_seq <= cursor:
                if self.stopping.is_set():
                    return False
                condition.wait(0.2)
        return True

    def advanced(self, db: sqlite3.Connection) -> None:
        """A drainer moved on: drop records every sink has, and wake :meth:`wait_drained`."""
        names = list(self.sinks)
        marks = ",".join("?" for _ in names)
        done = min(d.cursor for d in self.drainers)
        recent = self.store.recent
        with self.store.recent_lock:
            if self.store.keep_recent:  # else nothing is kept: sink processes read the outbox
                # By number, not by taking the dict's first key: after many deletions at its
                # front, finding a dict's first key means stepping over every deleted slot.
                for seq in range(self._dropped + 1, done + 1):
                    recent.pop(seq, None)
            self._dropped = max(self._dropped, done)
        with db:
            db.execute(
                f"DELETE FROM records WHERE seq <= "
                f"(SELECT MIN(seq) FROM sink_cursors WHERE sink IN ({marks}))",
                names,
            )
        with self.store.committed:
            self.store.committed.notify_all()

    def lag(self) -> dict[str, int]:
        """How many committed records each sink has yet to take."""
        return {d.name: max(0, self.store.last_seq - d.cursor) for d in self.drainers}

    def wait_drained(self, timeout: float = 30.0, *, unless_failing: bool = False) -> bool:
        """Block until every sink holds every committed record (True), or ``timeout`` passes.

        With ``unless_failing``, give up as soon as every lagging sink is failing (it would
        not catch up by waiting).
        """
        for child in self._children:
            child.flush()  # no gathering while someone waits
        deadline = time.monotonic() + timeout
        condition = self.store.committed
        with condition:
            while lagging := [d for d in self.drainers if d.cursor < self.store.last_seq]:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (unless_failing and all(d.failures for d in lagging)):
                    return False
                condition.wait(min(remaining, 0.1))
        return True

    def close(self, timeout: float = 30.0) -> None:
        """Deliver what is queued, stop the drainers, close the sinks (idempotent).

        Records a failing sink has not taken stay in the outbox for the next start.
        """
        if self.stopping.is_set():
            return
        if not self.wait_drained(timeout, unless_failing=True):
            log.warning("stopping with records still queued for sinks: %s", self.lag())
        self.stopping.set()
        with self.store.committed:
            self.store.committed.notify_all()
        for child in self._children:
            child.stop()
        for drainer in self.drainers:
            drainer.join(timeout)
        for child in self._children:
            child.kill()
        for sink in self._in_process.values():
            sink.close()
