"""The study server's side of the game processes: a handle per worker and per game.

:class:`Worker` owns one ``mug_server_runtime.worker`` process and reads its batches on the
event loop (no thread, no cross-thread wake-ups); :class:`GameProxy` stands for one game running
there and forwards what the pages do (join, leave, keys, frame acknowledgements).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable
from typing import Any

from mug_server_runtime.framing import frame, unframe
from mug_server_runtime.worker import spawn

log = logging.getLogger(__name__)

#: Seconds messages to a game process gather before they are written together.
GATHER_S = 0.001


class Channel:
    """A non-blocking, message-framed socket on the event loop: ``send`` never blocks (what
    the socket cannot take yet waits in a buffer that the loop writes out), and ``on_message``
    gets each complete message (framed as :mod:`mug_server_runtime.framing` frames them).
    Messages sent within :data:`GATHER_S` of each other go out in one write, so a game
    process wakes once for the keys of many pages."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        on_message: Callable[[Any], None],
        on_closed: Callable[[], None],
    ) -> None:
        self.loop = loop
        self.sock = sock
        sock.setblocking(False)
        self.on_message = on_message
        self.on_closed = on_closed
        self._in = bytearray()
        self._out = bytearray()
        self._writing = False
        self._flush_at: asyncio.TimerHandle | None = None
        self.open = True
        loop.add_reader(sock.fileno(), self._readable)

    def send(self, message: Any) -> None:
        """Queue ``message``; what is queued within :data:`GATHER_S` is written at once."""
        if not self.open:
            return
        self._out += frame(message)
        if not self._writing and self._flush_at is None:
            self._flush_at = self.loop.call_later(GATHER_S, self._flush)

    def _flush(self) -> None:
        self._flush_at = None
        if self.open and not self._writing:
            self._writable()
            if self.open and self._out:
                self._writing = True
                self.loop.add_writer(self.sock.fileno(), self._writable)

    def _writable(self) -> None:
        try:
            sent = self.sock.send(self._out)
        except BlockingIOError:
            return
        except OSError:
            self.close()
            return
        del self._out[:sent]
        if not self._out and self._writing:
            self._writing = False
            self.loop.remove_writer(self.sock.fileno())

    def _readable(self) -> None:
        try:
            chunk = self.sock.recv(1 << 20)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self.close()
            return
        self._in += chunk
        for message in unframe(self._in):
            self.on_message(message)
            if not self.open:
                return

    def close(self, notify: bool = True) -> None:
        """Close the socket; ``on_closed`` is called unless ``notify`` is false."""
        if not self.open:
            return
        self.open = False
        if self._flush_at is not None:
            self._flush_at.cancel()
        with contextlib.suppress(Exception):
            self.loop.remove_reader(self.sock.fileno())
        if self._writing:
            with contextlib.suppress(Exception):
                self.loop.remove_writer(self.sock.fileno())
        self.sock.close()
        if notify:
            self.on_closed()


class Worker:
    """One game process. ``on_batch(worker, items)`` gets what its games produced;
    ``on_exit(worker)`` is called once if the process ends unexpectedly; ``phase`` shifts
    its schedule against the other game processes' (see :func:`mug_server_runtime.worker.serve`)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_batch: Callable[[Worker, list[tuple[Any, ...]]], None],
        on_exit: Callable[[Worker], None],
        phase: float = 0.0,
    ) -> None:
        self.loop = loop
        self.process, sock = spawn(phase)
        self.games: set[str] = set()
        self.on_batch = on_batch
        self.on_exit = on_exit
        self.alive = True
        self.realtime: bool | None = None  # None until the process reports its scheduling
        self._built: dict[str, asyncio.Future[Any]] = {}
        self.bye: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.channel = Channel(loop, sock, self._message, self._lost)

    def send(self, message: tuple[Any, ...]) -> None:
        """Queue ``message`` for the process (never blocks the event loop)."""
        self.channel.send(message)

    async def build(self, game_id: str, *args: Any) -> dict[str, Any]:
        """Build a game in this process; returns each player's view, raises on env errors."""
        future = self._built[game_id] = self.loop.create_future()
        self.games.add(game_id)
        self.send(("build", game_id, *args))
        try:
            views, error = await future
        except BaseException:
            self.games.discard(game_id)
            raise
        finally:
            self._built.pop(game_id, None)
        if error is not None:
            self.games.discard(game_id)
            raise RuntimeError(error)
        return views

    def _message(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "batch":
            self.on_batch(self, message[1])
        elif kind == "built":
            future = self._built.get(message[1])
            if future is not None and not future.done():
                future.set_result((message[2], message[3]))
        elif kind == "priority":
            self._priority(message[1], message[2])
        elif kind == "bye" and not self.bye.done():
            self.bye.set_result(message[1])

    def _priority(self, realtime: bool, reason: str) -> None:
        pid = self.process.pid
        if self.realtime is None:
            if realtime:
                log.info("game process %s steps its games at real-time priority", pid)
            else:
                log.info("game process %s steps its games at normal priority: %s", pid, reason)
        elif realtime:
            log.info("game process %s is back at real-time priority (%s)", pid, reason)
        else:
            log.warning("game process %s now steps at normal priority: %s", pid, reason)
        self.realtime = realtime

    def _lost(self) -> None:
        if not self.alive:
            return
        self.alive = False
        self.channel.close()
        with contextlib.suppress(OSError):
            self.process.kill()
        self.loop.create_task(asyncio.to_thread(self.process.wait))  # reap it
        for future in self._built.values():
            if not future.done():
                future.set_result((None, "the game process ended"))
        if not self.bye.done():
            self.bye.set_result({})
            self.on_exit(self)

    async def close(self, timeout: float = 10.0) -> dict[str, Any]:
        """Stop every game of this process (their last records arrive first) and end it;
        returns per-game timing statistics."""
        self.send(("shutdown",))
        try:
            stats = await asyncio.wait_for(asyncio.shield(self.bye), timeout)
        except TimeoutError:
            log.error("a game process did not stop within %s s; killing it", timeout)
            stats = {}
        self.alive = False
        self.channel.close(notify=False)  # a stop, not a loss
        try:
            await asyncio.to_thread(self.process.wait, timeout)
        except Exception:
            self.process.kill()
        return stats


class RemotePlayer:
    """A player of a game in a worker process, as the study server tracks them."""

    def __init__(self, agent: Any, view: Any) -> None:
        self.agent = agent
        self.view = view
        self.sid: str | None = None


class GameProxy:
    """One game running in a worker process (same entry points as the game itself)."""

    def __init__(
        self,
        worker: Worker,
        game_id: str,
        scene_key: str,
        members: dict[str, Any],
        views: dict[str, Any],
    ) -> None:
        self.worker = worker
        self.game_id = game_id
        self.scene_key = scene_key
        self.players = {pid: RemotePlayer(agent, views[pid]) for pid, agent in members.items()}
        self.streams = {player.view: 0 for player in self.players.values()}
        self.started = False
        self.stopped = False
        # timing, filled in when the server stops (for benchmarks)
        self.ticks_late: list[float] = []
        self.step_count = 0
        self.fps = 0.0
        self.first_tick = 0.0

    def achieved_fps(self) -> float:
        return self.fps

    def attach(self, pid: str, sid: str) -> None:
        """(Re)connect a player's page: their view starts a new stream."""
        player = self.players[pid]
        player.sid = sid
        self.streams[player.view] += 1
        self.worker.send(("attach", self.game_id, pid, sid))

    def stream_of(self, pid: str) -> int:
        return self.streams[self.players[pid].view]

    def detach(self, pid: str) -> None:
        player = self.players.get(pid)
        if player is not None and player.sid is not None:
            player.sid = None
            self.worker.send(("detach", self.game_id, pid))

    def key(self, pid: str, key: str, down: bool, client_t: float | None) -> None:
        self.worker.send(("key", self.game_id, pid, key, down, client_t, time.monotonic()))

    def frame_ack(self, pid: str, step: int, episode: int, client_t: float, draw_ms: float) -> None:
        """``pid``'s page drew the frame of ``step``; forwarded with the acknowledgement's
        arrival stamped now (see :meth:`mug_server_runtime.game.ServerGame.frame_ack`)."""
        message = ("ack", self.game_id, pid, step, episode, client_t, draw_ms, time.monotonic())
        self.worker.send(message)

    def all_attached(self) -> bool:
        return all(p.sid is not None for p in self.players.values())

    def start(self) -> None:
        self.started = True
        self.worker.send(("start", self.game_id))

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self.worker.send(("stop", self.game_id))

    def take_stats(self, stats: dict[str, Any]) -> None:
        self.ticks_late = stats.get("ticks_late", [])
        self.step_count = stats.get("step_count", 0)
        self.fps = stats.get("fps", 0.0)
        self.first_tick = stats.get("first_tick", 0.0)
