"""One fixed-rate scheduler thread that steps many games, and the hand-off to the event loop.

A thread per game makes every game fight for the interpreter lock and wakes the event loop once
per frame; here one thread keeps a heap of deadlines (each game says when it is next due, on a
schedule against the monotonic clock that does not drift) and steps whatever is due. What the
games produce goes to the event loop through an :class:`Outbox` that wakes the loop at most once
per batch, so a busy server never floods the loop's wake-up pipe (a full pipe would swallow the
SIGTERM that asks the server to stop).
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Scheduled(Protocol):
    """What the scheduler steps."""

    def advance(self, now: float) -> float | None:
        """Do what is due at ``now``; return when to be called next (monotonic seconds), or
        ``None`` when finished. Must not raise."""


class GameHost:
    """Runs :class:`Scheduled` games on one thread. ``add`` is safe from any thread."""

    def __init__(self, name: str = "mug-games") -> None:
        self._heap: list[tuple[float, int, Scheduled]] = []
        self._counter = 0
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self.games = 0  # games added and not yet finished

    def add(self, game: Scheduled, when: float | None = None) -> None:
        """Call ``game.advance`` at ``when`` (now by default) and then as it asks."""
        with self._wake:
            self.games += 1
            self._counter += 1
            heapq.heappush(self._heap, (when or time.monotonic(), self._counter, game))
            self._wake.notify()

    def close(self, timeout: float = 5.0) -> None:
        """Stop stepping games and wait for the thread to end."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        heap = self._heap
        wake = self._wake
        monotonic = time.monotonic
        while True:
            with wake:
                while not self._closed:
                    if heap:
                        delay = heap[0][0] - monotonic()
                        if delay <= 0:
                            break
                        wake.wait(delay)
                    else:
                        wake.wait()
                if self._closed:
                    return
                _, _, game = heapq.heappop(heap)
            try:
                when = game.advance(monotonic())
            except Exception:  # advance() handles its own errors; this is a last resort
                log.exception("a server game failed outside its own error handling")
                when = None
            with wake:
                if when is None:
                    self.games -= 1
                else:
                    self._counter += 1
                    heapq.heappush(heap, (when, self._counter, game))


class HostPool:
    """A few :class:`GameHost` threads; each new game goes to the least busy one, and a new
    thread starts when every thread already runs ``per_thread`` games. A slow env delays only
    the games that share its thread."""

    def __init__(self, per_thread: int = 16) -> None:
        self.per_thread = per_thread
        self.hosts: list[GameHost] = []
        self._lock = threading.Lock()

    def add(self, game: Scheduled) -> None:
        with self._lock:
            host = min(self.hosts, key=lambda h: h.games, default=None)
            if host is None or host.games >= self.per_thread:
                host = GameHost(name=f"mug-games-{len(self.hosts)}")
                self.hosts.append(host)
            host.add(game)

    def close(self) -> None:
        with self._lock:
            hosts, self.hosts = self.hosts, []
        for host in hosts:
            host.close()


class Outbox:
    """Things for the event loop, handed over in batches with at most one wake-up pending."""

    def __init__(self, loop: Any, handler: Callable[[list[tuple[Any, ...]]], None]) -> None:
        self._loop = loop
        self._handler = handler
        self._items: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()
        self._scheduled = False

    def put(self, *item: Any) -> None:
        """Queue ``item`` for the handler (any thread)."""
        with self._lock:
            self._items.append(item)
            if self._scheduled:
                return
            self._scheduled = True
        with contextlib.suppress(RuntimeError):  # a closed loop: the server has stopped
            self._loop.call_soon_threadsafe(self._drain)

    def take(self) -> list[tuple[Any, ...]]:
        """Remove and return what is queued (for a last look when the server stops)."""
        with self._lock:
            items, self._items = self._items, []
            self._scheduled = False
        return items

    def _drain(self) -> None:
        items = self.take()
        if items:
            self._handler(items)
