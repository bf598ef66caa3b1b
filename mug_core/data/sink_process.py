"""Run a data sink in a child process of its own, so its work does not share the server's GIL.

A :class:`ProcessDrainer` stands in for the in-process drainer of :mod:`mug_core.data.delivery`:
the child builds the sink from its class and :class:`~mug_core.data.sinks.SinkContext`, reads
records past its cursor straight from the outbox (the SQLite file), writes them, moves the
cursor on in the outbox and reports it back over a pipe. The server tells it when new records
are committed. Delivery guarantees are unchanged: records leave the outbox only when every sink
has them.

Exactly one writer per sink and data folder: the child holds an exclusive lock on
``<data_dir>/.mug-sink-<name>.lock`` while it writes, so a child left behind by a killed server
finishes its batch before a new one starts. A child whose server is gone (the pipe closes)
stops. A child that dies is started again after a pause.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import logging
import multiprocessing
import os
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from mug_core.data.records import records_from_json
from mug_core.data.sinks import SinkContext

log = logging.getLogger(__name__)

RESTART_PAUSE_S = 1.0


GATHER_S = 0.25
"""After a batch that was not full, how long a sink process lets records gather before the
next one: fewer, larger writes (one fsync per file per batch), while the outbox keeps the
records durable meanwhile."""

CHILD_NICENESS = 10
"""How much lower than the server's the CPU priority of a sink process is (see ``nice(1)``)."""


def factory_ref(sink_class: type) -> str | None:
    """``"module:qualname"`` if a child process can import ``sink_class`` by name, else None."""
    module, qualname = sink_class.__module__, sink_class.__qualname__
    if "<locals>" in qualname or module == "__main__":
        return None
    try:
        found: Any = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return None
    return f"{module}:{qualname}" if found is sink_class else None


def _load(ref: str) -> Any:
    module, _, qualname = ref.partition(":")
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def _lock(data_dir: Path, name: str) -> int:
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(data_dir / f".mug-sink-{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)  # waits for a child a killed server left behind
    return fd


def child_main(
    name: str, ref: str, context: SinkContext, db_path: str, conn: Connection
) -> None:  # pragma: no cover - runs in the child process (covered by the delivery tests)
    """The child's loop: deliver outbox records to the sink until told to stop."""
    from mug_core.data.delivery import BATCH, MAX_BACKOFF_S  # the in-process drainer's pace
    from mug_core.server.store import connect

    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s mug-sink-{name} %(message)s")
    # Background work: the outbox already holds every record durably, so the participants'
    # games and pages come first when the machine is busy.
    with contextlib.suppress(OSError):
        os.nice(CHILD_NICENESS)
    lock = _lock(Path(context.data_dir), name)
    sink = _load(ref)(context)
    db = connect(Path(db_path), synchronous="NORMAL")
    db.execute("INSERT OR IGNORE INTO sink_cursors (sink, seq) VALUES (?, 0)", (name,))
    db.commit()
    cursor = db.execute("SELECT seq FROM sink_cursors WHERE sink = ?", (name,)).fetchone()[0]
    conn.send(("cursor", cursor))
    stopping, flushing, failures = False, False, 0
    try:
        while True:
            while conn.poll():
                message = conn.recv()[0]
                stopping = stopping or message == "stop"
                flushing = flushing or message == "flush"
            rows = db.execute(
                "SELECT seq, body FROM records WHERE seq > ? ORDER BY seq LIMIT ?",
                (cursor, BATCH),
            ).fetchall()
            if not rows:
                if stopping:
                    return
                flushing = False  # caught up
                conn.poll(0.2)  # woken by the server's "committed" message
                continue
            try:
                sink.write(records_from_json(rows))
            except Exception as exc:
                failures += 1
                log.exception("data sink %r failed to write %d records", name, len(rows))
                conn.send(("failed", failures, f"{type(exc).__name__}: {exc}"))
                retry_at = time.monotonic() + min(MAX_BACKOFF_S, 0.25 * 2**failures)
                while not stopping and (left := retry_at - time.monotonic()) > 0:
                    if conn.poll(left) and conn.recv()[0] == "stop":
                        stopping = True
                if stopping:
                    return  # stopping while the sink is down: records stay in the outbox
                continue
            failures = 0
            cursor = rows[-1][0]
            with db:
                db.execute("UPDATE sink_cursors SET seq = ? WHERE sink = ?", (cursor, name))
            conn.send(("cursor", cursor))
            gathered = time.monotonic() + GATHER_S if len(rows) < BATCH else 0.0
            while not (stopping or flushing) and (left := gathered - time.monotonic()) > 0:
                if conn.poll(left):
                    message = conn.recv()[0]
                    stopping = message == "stop"
                    flushing = message == "flush"
    except (EOFError, BrokenPipeError, ConnectionResetError):
        return  # the server is gone
    finally:
        sink.close()
        db.close()
        os.close(lock)


class ProcessDrainer:
    """Delivers records to one sink running in a child process (see the module docstring)."""

    def __init__(self, name: str, ref: str, context: SinkContext, delivery: Any) -> None:
        self.name = name
        self.ref = ref
        self.context = context
        self.delivery = delivery
        self.cursor = 0
        self.failures = 0
        self.ready = threading.Event()
        self._process: Any = None
        self._conn: Connection | None = None
        self._send_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"mug-sink-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def notify(self) -> None:
        """Tell the child that records were committed."""
        self._send(("committed",))

    def _send(self, message: tuple[Any, ...]) -> None:
        with self._send_lock:
            if self._conn is not None:
                with contextlib.suppress(OSError):  # the child is gone; _run starts another
                    self._conn.send(message)

    def _spawn(self) -> Connection:
        ctx = multiprocessing.get_context("spawn")
        ours, theirs = ctx.Pipe()
        self._process = ctx.Process(
            target=child_main,
            args=(self.name, self.ref, self.context, str(self.delivery.path), theirs),
            name=f"mug-sink-{self.name}",
            daemon=True,
        )
        self._process.start()
        theirs.close()
        return ours

    def _run(self) -> None:
        db = self.delivery.connect()
        try:
            while True:
                conn = self._spawn()
                with self._send_lock:
                    self._conn = conn
                if self.delivery.stopping.is_set():
                    self._send(("stop",))
                self._listen(conn, db)
                with self._send_lock:
                    self._conn = None
                conn.close()
                self._process.join(10)
                if self.delivery.stopping.is_set():
                    return
                log.error("data sink %r: its process ended; starting it again", self.name)
                if self.delivery.stopping.wait(RESTART_PAUSE_S):
                    return
        finally:
            self.ready.set()
            db.close()

    def _listen(self, conn: Connection, db: Any) -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return
            if message[0] == "cursor":
                self.cursor = message[1]
                self.failures = 0
                self.ready.set()
                self.delivery.advanced(db)
            elif message[0] == "failed":
                self.failures = message[1]
                log.error("data sink %r: %s (attempt %d)", self.name, message[2], message[1])

    def flush(self) -> None:
        """Ask the child to take what is queued now, without letting records gather first."""
        self._send(("flush",))

    def stop(self) -> None:
        """Ask the child to deliver what is queued and exit."""
        self._send(("stop",))

    def kill(self) -> None:
        """End the child at once (records it had not taken stay in the outbox)."""
        if self._process is not None and self._process.is_alive():
            self._process.terminate()
