"""The games of one study server: created when their players arrive, fed with their keys.

Games step in a few game processes (:mod:`mug_server_runtime.worker`, one per core up to 4,
or ``MUG_GAME_PROCESSES``), each running many games on one fixed-rate scheduler; this process
only relays what they produce: frames to the pages, records to the store. Once the first game
process starts, the event loop relays at real-time priority where the server may use it
(:mod:`mug_server_runtime.priority`).

Socket events (besides the kernel's):

- ``game_join`` ``{scene_key}`` from a page on a server-runtime game scene: attaches the page to
  its game (creating it: alone, or for the group its waiting room formed), answered with
  ``{ok, game_id, agent, stream}``. Frames follow as ``game_frame`` ``{stream, data}`` (see
  :mod:`mug_server_runtime.encoding`), and ``game_status`` ``{countdown, episode}`` between
  episodes. A reconnecting page sends ``game_join`` again and gets a fresh stream.
- ``game_input`` ``{key, down, t}``: a key went down or up (changes only, never auto-repeats).
- ``game_frame_ack`` ``{stream, step, episode, t, draw_ms}``: the page drew the frame of
  ``step`` (``t``: the page's clock in ms when its message arrived; ``draw_ms``: from then until
  it was drawn). Pages acknowledge the first frame of each stream and then one frame per second
  of game time; the game records a ``frame_delivery`` event with the time from handing the frame
  over to receiving its acknowledgement, on the server's clock. Malformed ones are ignored.
- ``game_over`` (to pages) ``{scene_key, message}``: the game ended (``message`` is set when it
  ended early); the page then submits the scene as usual.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from typing import TYPE_CHECKING, Any

from engineio import packet as engineio_packet

from mug_core.scenes.gym_scene import GymScene
from mug_server_runtime.priority import LOOP_LEVEL, WINDOW_S, Priority, wanted
from mug_server_runtime.remote import GameProxy, Worker

if TYPE_CHECKING:
    from mug_core.server.server import MugServer

log = logging.getLogger(__name__)
MESSAGE = engineio_packet.MESSAGE
_INT_LIMIT = 2**31  # stream, step and episode numbers of an acknowledgement are below this
_MAX_CLIENT_T = 1e14  # a page clock in ms beyond this (year 5138) is not a clock
_MAX_DRAW_MS = 600_000.0  # ten minutes from arrival to drawing: longer is not a report


def _fail(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "code": code, "message": message}


class GameManager:
    """Owns every server game of one :class:`MugServer`."""

    def __init__(self, server: MugServer) -> None:
        self.server = server
        self.loop = asyncio.get_running_loop()
        self.games: dict[str, GameProxy] = {}
        self.by_pid: dict[str, GameProxy] = {}
        self._building: dict[str, asyncio.Task[GameProxy]] = {}
        self.workers: list[Worker] = []
        self._started = 0  # game processes started so far
        self._commits: set[asyncio.Future[Any]] = set()
        self.bytes_sent = 0
        self.frames_sent = 0
        self.processes = int(os.environ.get("MUG_GAME_PROCESSES") or min(os.cpu_count() or 1, 4))
        self.loop_priority: Priority | None = None
        self._priority_check: asyncio.TimerHandle | None = None
        server.sio.on("game_join", self.on_join)
        server.sio.on("game_input", self.on_input)
        server.sio.on("game_frame_ack", self.on_frame_ack)
        server.add_event_listener(self.on_participant_event)

    @property
    def experiment_id(self) -> str:
        return self.server.config.experiment_id or ""

    # -- socket handlers (event loop) ---------------------------------------------------------

    async def on_join(self, sid: str, data: Any = None) -> dict[str, Any]:
        pid = self.server.sessions.sid_to_pid.get(sid)
        if pid is None:
            return _fail("not_joined", "join the study before the game")
        if not isinstance(data, dict) or not isinstance(data.get("scene_key"), str):
            return _fail("bad_request", "game_join needs a scene_key")
        state = await self.server.store.get(pid)
        current = None if state is None else self.server.sessions.flow.current(state)
        if state is None or current is None or current.scene_key != data["scene_key"]:
            return _fail("stale_scene", "this page's scene is over")
        scene = current.scene
        if not isinstance(scene, GymScene) or scene.runtime_name != "server":
            return _fail("bad_request", "this scene does not run on the server")
        scene_state = state.scene_state.get(current.scene_key, {})
        if scene_state.get("ended") or scene_state.get("episodes_done", 0) >= scene.num_episodes:
            return {"ok": True, "over": True}
        if scene.group_size > 1:
            group = scene_state.get("group")
            if not group:
                return _fail("no_group", "wait for the other players first (scene event 'wait')")
            game_id, members = group["game_id"], group["members"]
        else:
            game_id = f"solo-{pid}-{current.scene_key}"
            members = {pid: scene.human_agents[0]} if scene.human_agents else {}
        try:
            game = await self._game(game_id, scene, current.scene_key, members, scene_state)
        except Exception as exc:
            log.exception("could not build the env of %s", current.scene_key)
            return _fail("env_error", f"The game could not start: {exc}")
        game.attach(pid, sid)
        if not game.started and game.all_attached():
            game.start()
        player = game.players[pid]
        return {
            "ok": True,
            "game_id": game_id,
            "agent": player.agent,
            "stream": game.stream_of(pid),
        }

    async def _game(
        self,
        game_id: str,
        scene: GymScene,
        scene_key: str,
        members: dict[str, Any],
        scene_state: dict[str, Any],
    ) -> GameProxy:
        """The game ``game_id``, built once even when its players arrive together."""
        game = self.games.get(game_id)
        if game is not None:
            return game
        building = self._building.get(game_id)
        if building is None:
            seed = _game_seed(scene, scene_state, game_id)
            done = int(scene_state.get("episodes_done", 0))
            building = self._building[game_id] = self.loop.create_task(
                self._build(game_id, scene, scene_key, members, seed, done)
            )
        try:
            game = await building
        finally:
            self._building.pop(game_id, None)
        return game

    async def _build(
        self,
        game_id: str,
        scene: GymScene,
        scene_key: str,
        members: dict[str, Any],
        seed: int,
        episodes_done: int,
    ) -> GameProxy:
        worker = self._worker()
        views = await worker.build(
            game_id, scene, scene_key, members, seed, episodes_done, self.experiment_id
        )
        game = GameProxy(worker, game_id, scene_key, members, views)
        self.games[game_id] = game
        for member in members:
            self.by_pid[member] = game
        return game

    def _worker(self) -> Worker:
        """The game process with the fewest games (starting processes up to the limit)."""
        self.workers = [w for w in self.workers if w.alive]
        if len(self.workers) < self.processes:
            if self.loop_priority is None:
                self._start_loop_priority()
            self._started += 1
            phase = (self._started - 1) % self.processes / self.processes
            worker = Worker(self.loop, self._deliver, self._worker_lost, phase)
            self.workers.append(worker)
            return worker
        return min(self.workers, key=lambda w: len(w.games))

    def _start_loop_priority(self) -> None:
        """Frames are relayed from now on: the event loop runs just below the game processes
        (busy over 90% of a second, it competes fairly again)."""
        self.loop_priority = Priority(
            _log_loop_priority, level=LOOP_LEVEL, max_busy=0.9, resume_busy=0.7, enabled=wanted()
        )
        self.loop_priority.start()
        if self.loop_priority.allowed:
            self._priority_check = self.loop.call_later(WINDOW_S, self._check_loop_priority)

    def _check_loop_priority(self) -> None:
        if self.loop_priority is not None:
            self.loop_priority.check(time.monotonic())
            self._priority_check = self.loop.call_later(WINDOW_S, self._check_loop_priority)

    async def on_input(self, sid: str, data: Any = None) -> None:
        pid = self.server.sessions.sid_to_pid.get(sid)
        game = self.by_pid.get(pid or "")
        if game is None or not isinstance(data, dict):
            return
        key, down, t = data.get("key"), data.get("down"), data.get("t")
        if isinstance(key, str) and len(key) <= 32 and isinstance(down, bool):
            game.key(pid or "", key, down, t if isinstance(t, int | float) else None)

    def on_frame_ack(self, sid: str, data: Any = None, *_: Any) -> None:
        """A page drew a frame (``game_frame_ack``): forward it, stamped with its arrival, to
        the player's game; anything malformed is dropped."""
        pid = self.server.sessions.sid_to_pid.get(sid)
        game = self.by_pid.get(pid or "")
        if game is None or type(data) is not dict:
            return
        stream, step, episode = data.get("stream"), data.get("step"), data.get("episode")
        t, draw_ms = data.get("t"), data.get("draw_ms")
        if not (_count(stream) and _count(step) and _count(episode)):
            return
        if _within(t, _MAX_CLIENT_T) and _within(draw_ms, _MAX_DRAW_MS):
            game.frame_ack(pid or "", step, episode, t, draw_ms)

    def on_participant_event(self, event: Any) -> None:
        if event.name == "disconnected":
            game = self.by_pid.get(event.participant_id)
            if game is not None:
                game.detach(event.participant_id)

    # -- from the game processes (event loop) -------------------------------------------------

    def _deliver(self, worker: Worker, items: list[tuple[Any, ...]]) -> None:
        """Everything a game process handed over in one batch, in order."""
        for item in items:
            kind = item[0]
            if kind == "frames":
                self.loop.create_task(self._relay(item[1]))
            elif kind == "status":
                for sid in item[1]:
                    self.loop.create_task(self.server.sio.emit("game_status", item[2], to=sid))
            elif kind == "commit":
                future = asyncio.ensure_future(self.server.store.commit(None, item[1]))
                self._commits.add(future)
                future.add_done_callback(self._committed)
            elif kind == "episode":
                game = self.games.get(item[1])
                for pid in game.players if game is not None else ():
                    self.loop.create_task(
                        self.server.sessions.update_scene_state(
                            pid, game.scene_key, {"episodes_done": item[2]}
                        )
                    )
            elif kind == "over":
                game = self.games.get(item[1])
                if game is not None:
                    self.loop.create_task(self._game_over(game, item[2], item[3]))

    def _committed(self, future: asyncio.Future[Any]) -> None:
        self._commits.discard(future)
        _log_failure(future)

    def _worker_lost(self, worker: Worker) -> None:
        log.error("a game process ended unexpectedly; its games end")
        for game in list(self.games.values()):
            if game.worker is worker:
                message = "The game stopped because its server process ended."
                self.loop.create_task(self._game_over(game, message, None))

    async def _relay(self, frames: list[tuple[str, str, int]]) -> None:
        """Send each ``(sid, packet text, size)`` frame straight to its engine.io socket: one
        task per batch, one websocket message per frame, no per-frame encoding here."""
        sio = self.server.sio
        send = sio.eio.send_packet
        eio_sid_of = sio.manager.eio_sid_from_sid
        Packet = engineio_packet.Packet
        for sid, text, size in frames:
            eio_sid = eio_sid_of(sid, "/")
            if eio_sid is not None:
                await send(eio_sid, Packet(MESSAGE, text))
                self.bytes_sent += size
                self.frames_sent += 1

    async def _game_over(self, game: GameProxy, message: str | None, ended_by: str | None) -> None:
        if self.games.pop(game.game_id, None) is None:
            return  # already over
        game.stop()
        game.worker.games.discard(game.game_id)
        for pid, player in game.players.items():
            if message is not None:
                changes = {"ended": {"message": message, "ended_by": ended_by}}
                await self.server.sessions.update_scene_state(pid, game.scene_key, changes)
            if player.sid is not None:
                await self.server.sio.emit(
                    "game_over", {"scene_key": game.scene_key, "message": message}, to=player.sid
                )
            if self.by_pid.get(pid) is game:
                self.by_pid.pop(pid, None)

    async def stop(self) -> None:
        """Stop every game and game process; their last records are stored before this
        returns, and the timing of each game still running (``ticks_late``, ``step_count``) is
        filled in."""
        if self._priority_check is not None:
            self._priority_check.cancel()
        if self.loop_priority is not None:
            self.loop_priority.stop()
            self.loop_priority = None
        workers, self.workers = self.workers, []
        results = await asyncio.gather(*(w.close() for w in workers))
        stats = {game_id: s for result in results for game_id, s in result.items()}
        for game in self.games.values():
            if game.game_id in stats:
                game.take_stats(stats[game.game_id])
        if self._commits:
            await asyncio.gather(*self._commits, return_exceptions=True)


def _count(value: Any) -> bool:
    """Whether ``value`` is an ``int`` (not a ``bool``) from 0 to below 2**31."""
    return type(value) is int and 0 <= value < _INT_LIMIT


def _within(value: Any, limit: float) -> bool:
    """Whether ``value`` is an ``int`` or ``float`` (not a ``bool``) from 0 to ``limit``."""
    return (type(value) is int or type(value) is float) and 0 <= value <= limit


def _log_loop_priority(realtime: bool, reason: str) -> None:
    if realtime:
        log.info("the event loop relays frames at real-time priority (%s)", reason)
    else:
        log.info("the event loop relays frames at normal priority: %s", reason)


def _log_failure(future: Any) -> None:
    if future.exception() is not None:
        log.error("could not store game records: %s", future.exception())


def _game_seed(scene: GymScene, scene_state: dict[str, Any], game_id: str) -> int:
    """The study's seed (``.gameplay(seed=...)``); else the one the page was given; else one
    taken from the game id, so different games start differently."""
    if scene.seed is not None:
        return int(scene.seed)
    if isinstance(scene_state.get("seed"), int):
        return int(scene_state["seed"])
    return int.from_bytes(hashlib.sha256(game_id.encode()).digest()[:4], "big") >> 1
