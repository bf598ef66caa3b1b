"""Game processes: server games step in a few worker processes; the study server relays bytes.

A worker process (``python -m mug_server_runtime.worker FD PHASE``) runs many games on one
fixed-rate scheduler: a heap of deadlines against the monotonic clock, one thread, no lock
contention with the event loop of the study server. It talks to the study server over a
socket pair with pickled tuples (framed by :mod:`mug_server_runtime.framing`; neither end
ever waits to write):

- server to worker: ``("build", game_id, scene, scene_key, members, seed, episodes_done,
  experiment_id)``, ``("attach", game_id, pid, sid)``, ``("detach", game_id, pid)``,
  ``("key", game_id, pid, key, down, t, received)``, ``("ack", game_id, pid, step, episode, t,
  draw_ms, received)`` (a page drew the frame of ``step``; ``received``: when the study server
  got it, monotonic), ``("start", game_id)``, ``("stop", game_id)``, ``("shutdown",)``;
- worker to server: ``("priority", realtime, reason)`` at start-up and whenever its
  scheduling changes (:mod:`mug_server_runtime.priority`), ``("built", game_id, views,
  error)``, ``("batch", items)`` with everything its games produced over a few wake-ups
  (frames, statuses, records, episode ends, game ends; see :meth:`WorkerLink.due`), and
  ``("bye", stats)`` after a shutdown, once every game's last records were sent.
"""

from __future__ import annotations

import gc
import heapq
import logging
import math
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from mug_core.data.records import Record
from mug_server_runtime.framing import Pipe
from mug_server_runtime.priority import GAME_LEVEL, Priority, wanted

log = logging.getLogger(__name__)

#: Phases per frame period that new games are spread over: few games share a wake-up, so the
#: last of them still steps on time, and the load is even over the period.
SLOTS = 30

#: Longest time a game's frames and records wait in the game process so that the output of
#: several wake-ups goes to the study server in one batch (fewer wake-ups there).
GATHER_S = 0.003


class WorkerLink:
    """The study server, as the games in a worker process see it: what they hand over is
    queued and sent in one batch (see :meth:`due` for when)."""

    def __init__(self, experiment_id: str = "", phase: float = 0.0) -> None:
        self.experiment_id = experiment_id
        self.phase = phase  # where in each slot this process's games start (0 to 1)
        self.items: list[tuple[Any, ...]] = []
        self.heap: list[tuple[float, int, Any]] = []
        self._counter = 0
        self._slot_load = [0] * SLOTS
        self._slot_of: dict[str, int] = {}

    def schedule(self, game: Any, when: float | None = None) -> None:
        """Step ``game`` at ``when``; a new game (no ``when``) starts in the least used of
        :data:`SLOTS` phases of its frame period, so that games of one phase share a wake-up
        and its one batch to the study server."""
        if when is None:
            when = self._start_time(game)
        self._counter += 1
        heapq.heappush(self.heap, (when, self._counter, game))

    def _start_time(self, game: Any) -> float:
        now = time.monotonic()
        period = getattr(game, "period", 0.0)
        if not period:
            return now
        slot = min(range(SLOTS), key=self._slot_load.__getitem__)
        self._slot_load[slot] += 1
        self._slot_of[game.game_id] = slot
        offset = (slot + self.phase) * period / SLOTS
        return math.ceil((now - offset) / period) * period + offset

    def finished(self, game: Any) -> None:
        """``game`` is over: its phase is free again."""
        slot = self._slot_of.pop(game.game_id, None)
        if slot is not None:
            self._slot_load[slot] -= 1

    def send_frames(self, frames: list[tuple[str, str, int]]) -> None:
        """Queue ``(sid, socket.io packet text, bytes of frame data)`` for the pages."""
        if not frames:
            return
        items = self.items
        if items and items[-1][0] == "frames":
            items[-1][1].extend(frames)
        else:
            items.append(("frames", list(frames)))

    def send_status(self, sids: list[str], status: dict[str, Any]) -> None:
        if sids:
            self.items.append(("status", sids, status))

    def commit(self, records: list[Record]) -> None:
        self.items.append(("commit", records))

    def episode_done(self, game: Any, episodes_done: int) -> None:
        self.items.append(("episode", game.game_id, episodes_done))

    def game_over(self, game: Any, message: str | None, ended_by: str | None = None) -> None:
        self.items.append(("over", game.game_id, message, ended_by))

    def due(self, gathered_since: float, now: float) -> bool:
        """Whether output gathered since ``gathered_since`` goes to the study server now: it
        has waited :data:`GATHER_S`, or would by the time the next game is due."""
        limit = gathered_since + GATHER_S
        return now >= limit or not self.heap or self.heap[0][0] >= limit

    def take(self) -> list[tuple[Any, ...]]:
        items, self.items = self.items, []
        return items


def _stats(game: Any) -> dict[str, Any]:
    return {
        "ticks_late": list(game.ticks_late),
        "step_count": game.step_count,
        "fps": game.achieved_fps(),
        "first_tick": game.first_tick,
    }


def serve(pipe: Pipe, phase: float = 0.0, priority: Priority | None = None) -> None:
    """The worker's loop: run due games, apply commands, send the games' output (gathered
    over a few wake-ups, at most :data:`GATHER_S`).

    Sending never waits for the study server to read: its bytes are written as the socket
    takes them, between steps, so a busy study server delays frames but not the games.
    ``phase`` (0 to 1) shifts this process's games within each slot, so that the games of
    several game processes do not all fall due at the same moments. ``priority``, if given,
    is checked on every wake-up (see :class:`mug_server_runtime.priority.Priority`)."""
    from mug_server_runtime.game import ServerGame

    link = WorkerLink(phase=phase)
    games: dict[str, ServerGame] = {}
    heap = link.heap
    monotonic = time.monotonic
    gathered_since: float | None = None  # when the output not sent yet began
    while True:
        delay = heap[0][0] - monotonic() if heap else 1.0
        try:
            messages = pipe.wait(max(delay, 0.0))
            if priority is not None:
                priority.check(monotonic())
            for message in messages:
                kind = message[0]
                if kind == "shutdown":
                    for game in games.values():
                        game.stop()
                        game.flush()
                    stats = {gid: _stats(g) for gid, g in games.items()}
                    pipe.send(("batch", link.take()))
                    pipe.send(("bye", stats))
                    pipe.flush(timeout=30.0)
                    return
                if kind == "build":
                    _, game_id, scene, scene_key, members, seed, done, experiment_id = message
                    link.experiment_id = experiment_id
                    try:
                        game = ServerGame(link, scene, scene_key, game_id, members, seed, done)
                    except Exception as exc:
                        log.exception("could not build the env of %s", scene_key)
                        pipe.send(("built", game_id, None, f"{type(exc).__name__}: {exc}"))
                    else:
                        games[game_id] = game
                        views = {pid: p.view for pid, p in game.players.items()}
                        pipe.send(("built", game_id, views, None))
                    gc.freeze()  # what the new env built stays: keep it out of full passes
                else:
                    game = games.get(message[1])
                    if game is not None:
                        _apply(game, message)
        except EOFError:
            return  # the study server has gone
        # Each due game steps once per pass: an overloaded process still sends its frames and
        # reads keys between passes instead of stepping late games back to back forever.
        limit = monotonic()
        due_now = []
        while heap and heap[0][0] <= limit:
            due_now.append(heapq.heappop(heap))
        for due, _, game in due_now:
            when = game.advance(monotonic(), due)
            if when is None:
                link.finished(game)
                games.pop(game.game_id, None)
            else:
                link.schedule(game, when)
        if link.items:
            now = monotonic()
            if gathered_since is None:
                gathered_since = limit
            if link.due(gathered_since, now):
                gathered_since = None
                try:
                    pipe.send(("batch", link.take()))
                except EOFError:
                    return


def _apply(game: Any, message: tuple[Any, ...]) -> None:
    kind = message[0]
    if kind == "key":
        game.key(*message[2:])
    elif kind == "ack":
        game.frame_ack(*message[2:])
    elif kind == "attach":
        game.attach(message[2], message[3])
    elif kind == "detach":
        game.detach(message[2])
    elif kind == "start":
        game.start()
    elif kind == "stop":
        game.stop()


def child_environment() -> dict[str, str]:
    """This process's environment, with ``PYTHONPATH`` set to its import path: a child
    Python process (a game process, a start-up check) imports what this process imports."""
    paths = [p for p in sys.path if p and os.path.isdir(p)]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def spawn(phase: float = 0.0) -> tuple[subprocess.Popen[bytes], socket.socket]:
    """Start a worker process (``phase``: see :func:`serve`); returns it and the study
    server's end of its socket pair (messages framed by :mod:`mug_server_runtime.framing`)."""
    ours, theirs = socket.socketpair()
    process = subprocess.Popen(
        [sys.executable, "-m", "mug_server_runtime.worker", str(theirs.fileno()), str(phase)],
        pass_fds=(theirs.fileno(),),
        env=child_environment(),
        stdin=subprocess.DEVNULL,
    )
    theirs.close()
    return process, ours


def main() -> None:
    # Ctrl+C reaches the whole process group; the study server decides when games stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    # The descriptor keeps the study server's number, which may be high (one per page); a
    # copy takes the lowest free one, as the pipe's microsecond-timed waits need.
    inherited = int(sys.argv[1])
    fd = os.dup(inherited)
    os.close(inherited)
    pipe = Pipe(socket.socket(fileno=fd))

    def report(realtime: bool, reason: str) -> None:
        pipe.send(("priority", realtime, reason))

    priority = Priority(report, level=GAME_LEVEL, max_busy=0.6, resume_busy=0.4, enabled=wanted())
    priority.start()
    try:
        serve(pipe, float(sys.argv[2]) if len(sys.argv) > 2 else 0.0, priority)
    finally:
        pipe.close()


if __name__ == "__main__":
    main()
