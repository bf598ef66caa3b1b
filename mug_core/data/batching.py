"""Group commit: one thread that writes whatever queued up while it was busy, in one go.

Used for data sinks and for the progress store: under a burst, N callers cost one durable
write (one fsync, one transaction) instead of N.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
_STOP = object()


class BatchedWriter(Generic[T]):
    """Runs ``write_batch(items)`` on its own thread; :meth:`submit` resolves when written."""

    def __init__(
        self, name: str, write_batch: Callable[[list[T]], None], max_batch: int = 5000
    ) -> None:
        self.name = name
        self._write_batch = write_batch
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"mug-{name}", daemon=True)
        self._thread.start()

    def submit(self, items: Sequence[T], loop: asyncio.AbstractEventLoop) -> asyncio.Future:
        """Queue ``items``; the future resolves (or fails) once they are written."""
        future = loop.create_future()
        self._queue.put((items, future, loop))
        return future

    def _take_batch(self, first: Any) -> tuple[list[Any], bool]:
        batch = [first]
        count = len(first[0])
        while count < self._max_batch:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is _STOP:
                return batch, True
            batch.append(more)
            count += len(more[0])
        return batch, False

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is _STOP:
                break
            batch, stop = self._take_batch(first)
            items = [item for entries, _, _ in batch for item in entries]
            error: BaseException | None = None
            try:
                self._write_batch(items)
            except BaseException as exc:  # handed to every waiting caller
                log.exception("%s failed to write %d items", self.name, len(items))
                error = exc
            for _, future, loop in batch:
                loop.call_soon_threadsafe(_settle, future, error)

    def close(self, timeout: float = 30.0) -> None:
        """Write what is queued, then stop the thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout)


def _settle(future: asyncio.Future, error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
