"""Fan records out to every configured sink, off the event loop, with group commit.

Each sink gets one worker thread. Records queued while a sink is busy are written together in
the sink's next ``write`` call, so a burst of participants costs one fsync per file per batch
rather than one per record. :meth:`DataRouter.write` returns when every sink holds the records.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Sequence

from mug_core.data.records import Record
from mug_core.data.sinks import DataSink

log = logging.getLogger(__name__)

MAX_BATCH = 5000
_STOP = object()


class SinkWorker:
    """One thread that drains a queue of record batches into one sink."""

    def __init__(self, name: str, sink: DataSink) -> None:
        self.name = name
        self.sink = sink
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"mug-sink-{name}", daemon=True)
        self._thread.start()

    def submit(self, records: Sequence[Record], loop: asyncio.AbstractEventLoop) -> asyncio.Future:
        future = loop.create_future()
        self._queue.put((records, future, loop))
        return future

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            batch = [item]
            count = len(item[0])
            stop = False
            while count < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                batch.append(more)
                count += len(more[0])
            records = [r for recs, _, _ in batch for r in recs]
            error: BaseException | None = None
            try:
                self.sink.write(records)
            except BaseException as exc:  # reported to every waiting caller
                log.exception("data sink %r failed to write %d records", self.name, len(records))
                error = exc
            for _, future, loop in batch:
                loop.call_soon_threadsafe(_settle, future, error)
            if stop:
                break

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=30)
        self.sink.close()


def _settle(future: asyncio.Future, error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


class DataRouter:
    """Writes records to all sinks; ``await write(records)`` means durable everywhere."""

    def __init__(self, sinks: dict[str, DataSink]) -> None:
        self.workers = [SinkWorker(name, sink) for name, sink in sinks.items()]

    async def write(self, records: Sequence[Record]) -> None:
        """Store ``records`` in every sink; raises if any sink failed."""
        if not records:
            return
        loop = asyncio.get_running_loop()
        futures = [w.submit(records, loop) for w in self.workers]
        results = await asyncio.gather(*futures, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

    def close(self) -> None:
        """Finish queued writes and close every sink."""
        for worker in self.workers:
            worker.close()
