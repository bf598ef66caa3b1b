"""The games of one study server: created when their players arrive, fed with their keys.

Socket events (besides the kernel's):

- ``game_join`` ``{scene_key}`` from a page on a server-runtime game scene: attaches the page to
  its game (creating it: alone, or for the group its waiting room formed), answered with
  ``{ok, game_id, agent, stream}``. Frames follow as ``game_frame`` ``{stream, data}`` (see
  :mod:`mug_server_runtime.encoding`), and ``game_status`` ``{countdown, episode}`` between
  episodes. A reconnecting page sends ``game_join`` again and gets a fresh stream.
- ``game_input`` ``{key, down, t}``: a key went down or up (changes only, never auto-repeats).
- ``game_over`` (to pages) ``{scene_key, message}``: the game ended (``message`` is set when it
  ended early); the page then submits the scene as usual.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from engineio import packet as engineio_packet
from socketio import packet as socketio_packet

from mug_core.data.records import Record
from mug_core.scenes.gym_scene import GymScene
from mug_server_runtime.game import ServerGame
from mug_server_runtime.schedule import HostPool, Outbox

if TYPE_CHECKING:
    from mug_core.server.server import MugServer

log = logging.getLogger(__name__)
MESSAGE = engineio_packet.MESSAGE


def _fail(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "code": code, "message": message}


class GameManager:
    """Owns every server game of one :class:`MugServer`."""

    def __init__(self, server: MugServer) -> None:
        self.server = server
        self.loop = asyncio.get_running_loop()
        self.games: dict[str, ServerGame] = {}
        self.by_pid: dict[str, ServerGame] = {}
        self._building: dict[str, asyncio.Task[ServerGame]] = {}
        self.bytes_sent = 0
        self.frames_sent = 0
        self.hosts = HostPool()
        self.outbox = Outbox(self.loop, self._deliver)
        server.sio.on("game_join", self.on_join)
        server.sio.on("game_input", self.on_input)
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
        if not game.started.is_set() and game.all_attached():
            game.started.set()
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
    ) -> ServerGame:
        """The game ``game_id``, built once even when its players arrive together."""
        game = self.games.get(game_id)
        if game is not None:
            return game
        building = self._building.get(game_id)
        if building is None:
            building = self._building[game_id] = self.loop.create_task(
                asyncio.to_thread(
                    ServerGame,
                    self,
                    scene,
                    scene_key,
                    game_id,
                    members,
                    int(scene_state.get("seed") or 0),
                    int(scene_state.get("episodes_done", 0)),
                )
            )
        try:
            game = await building
        finally:
            self._building.pop(game_id, None)
        self.games[game_id] = game
        for member in members:
            self.by_pid[member] = game
        return game

    async def on_input(self, sid: str, data: Any = None) -> None:
        pid = self.server.sessions.sid_to_pid.get(sid)
        game = self.by_pid.get(pid or "")
        if game is None or not isinstance(data, dict):
            return
        key, down, t = data.get("key"), data.get("down"), data.get("t")
        if isinstance(key, str) and len(key) <= 32 and isinstance(down, bool):
            game.key(pid or "", key, down, t if isinstance(t, int | float) else None)

    def on_participant_event(self, event: Any) -> None:
        if event.name == "disconnected":
            game = self.by_pid.get(event.participant_id)
            if game is not None:
                game.detach(event.participant_id)

    # -- called from game threads --------------------------------------------------------------

    def send_frames(self, frames: list[tuple[str, int, bytes]]) -> None:
        if frames:
            self.outbox.put("frames", frames)

    def send_status(self, sids: list[str], status: dict[str, Any]) -> None:
        if sids:
            self.outbox.put("status", sids, status)

    def commit(self, records: list[Record]) -> None:
        self.outbox.put("commit", records)

    def episode_done(self, game: ServerGame, episodes_done: int) -> None:
        self.outbox.put("episode", game, episodes_done)

    def game_over(self, game: ServerGame, message: str | None, ended_by: str | None = None) -> None:
        self.outbox.put("over", game, message, ended_by)

    # -- on the event loop ---------------------------------------------------------------------

    def _deliver(self, items: list[tuple[Any, ...]]) -> None:
        """Everything the games handed over since the last batch, in order."""
        frames: list[tuple[str, int, bytes]] = []
        for item in items:
            kind = item[0]
            if kind == "frames":
                frames.extend(item[1])
                continue
            if frames:
                self.loop.create_task(self._relay(frames))
                frames = []
            if kind == "status":
                for sid in item[1]:
                    self.loop.create_task(self.server.sio.emit("game_status", item[2], to=sid))
            elif kind == "commit":
                future = asyncio.ensure_future(self.server.store.commit(None, item[1]))
                future.add_done_callback(_log_failure)
            elif kind == "episode":
                game, episodes_done = item[1], item[2]
                for pid in game.players:
                    self.loop.create_task(
                        self.server.sessions.update_scene_state(
                            pid, game.scene_key, {"episodes_done": episodes_done}
                        )
                    )
            elif kind == "over":
                self.loop.create_task(self._game_over(item[1], item[2], item[3]))
        if frames:
            self.loop.create_task(self._relay(frames))

    async def _relay(self, frames: list[tuple[str, int, bytes]]) -> None:
        """Send each ``(sid, stream, data)`` as a ``game_frame`` event, straight to the
        engine.io sockets: one task for the whole batch instead of several per frame."""
        sio = self.server.sio
        eio = sio.eio
        eio_sid_of = sio.manager.eio_sid_from_sid
        encode = sio.packet_class
        for sid, stream, data in frames:
            eio_sid = eio_sid_of(sid, "/")
            if eio_sid is None:
                continue
            parts = encode(
                socketio_packet.EVENT,
                namespace="/",
                data=["game_frame", {"stream": stream, "data": data}],
            ).encode()
            for part in parts if isinstance(parts, list) else [parts]:
                await eio.send_packet(eio_sid, engineio_packet.Packet(MESSAGE, part))
            self.bytes_sent += len(data)
            self.frames_sent += 1

    async def _game_over(self, game: ServerGame, message: str | None, ended_by: str | None) -> None:
        game.stop()
        for pid, player in game.players.items():
            if message is not None:
                changes = {"ended": {"message": message, "ended_by": ended_by}}
                await self.server.sessions.update_scene_state(pid, game.scene_key, changes)
            if player.sid is not None:
                await self.server.sio.emit(
                    "game_over", {"scene_key": game.scene_key, "message": message}, to=player.sid
                )
            self.by_pid.pop(pid, None)
        self.games.pop(game.game_id, None)

    async def stop(self) -> None:
        """Stop every game (their last records are committed) and the scheduler threads."""
        games = list(self.games.values())
        for game in games:
            game.stop()
        await asyncio.to_thread(self.hosts.close)
        records = [r for item in self.outbox.take() if item[0] == "commit" for r in item[1]]
        for game in games:
            records.extend(game.take_records())
        if records:
            await self.server.store.commit(None, records)


def _log_failure(future: Any) -> None:
    if future.exception() is not None:
        log.error("could not store game records: %s", future.exception())
