"""Waiting rooms: participants of a multi-player game scene wait here until a group forms.

One room per game scene, each with a matchmaker from the registry (``fifo`` built in). A
participant joins by sending the scene event ``wait``; while waiting, every member is told each
second how many wait and for how long (``waiting``). When a group forms, each member's scene
state records the group (so a reload keeps it) and their page gets ``group``; runtimes learn of
it through :meth:`WaitingRooms.add_listener`. After the scene's timeout, a participant is moved
to the scene it names, sent to its URL, or shown its message (``waitroom_timeout``).
A participant whose connection closes leaves the room at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import attrs

from mug_core.plugins import await_me_maybe

if TYPE_CHECKING:
    from mug_core.scenes.gym_scene import GymScene
    from mug_core.server.server import MugServer

log = logging.getLogger(__name__)

TICK_S = 1.0


@attrs.frozen
class Group:
    """Participants who play one game: ``members`` maps participant id to agent id."""

    game_id: str
    scene_id: str
    scene_key: str
    members: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"game_id": self.game_id, "members": self.members}


@attrs.define
class _Waiting:
    sid: str
    scene_key: str
    since: float


class _Room:
    def __init__(self, scene: GymScene, matchmaker: Any) -> None:
        self.scene = scene
        self.matchmaker = matchmaker
        self.waiting: dict[str, _Waiting] = {}


GroupListener = Callable[[Group], Awaitable[None] | None]


class WaitingRooms:
    """Every waiting room of one server."""

    def __init__(self, server: MugServer) -> None:
        self.server = server
        self.rooms: dict[str, _Room] = {}
        self.listeners: list[GroupListener] = []
        self._task: asyncio.Task[None] | None = None

    def add_listener(self, listener: GroupListener) -> None:
        """Call ``listener(group)`` (may be async) for every group that forms."""
        self.listeners.append(listener)

    def _room(self, scene: GymScene) -> _Room:
        room = self.rooms.get(scene.scene_id or "")
        if room is None:
            factory = self.server.plugins.registries.matchmakers.get(scene.matchmaker)
            room = self.rooms[scene.scene_id or ""] = _Room(scene, factory(scene.group_size))
        return room

    def start(self) -> None:
        """Start the once-a-second updates and timeouts."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def wait(self, pid: str, sid: str, scene: GymScene, scene_key: str) -> dict[str, Any]:
        """Put ``pid`` in the room of ``scene``; forms a group when enough are waiting."""
        room = self._room(scene)
        now = time.time()
        entry = room.waiting.get(pid)
        if entry is None:
            room.waiting[pid] = entry = _Waiting(sid, scene_key, now)
        else:
            entry.sid = sid
        members = room.matchmaker.add(pid, now)
        if members is not None:
            asyncio.get_running_loop().create_task(self._form(room, members))
        return {"waiting": len(room.waiting), "since": entry.since}

    def leave(self, pid: str) -> None:
        """Remove ``pid`` from every room (their page closed)."""
        for room in self.rooms.values():
            if room.waiting.pop(pid, None) is not None:
                room.matchmaker.remove(pid)

    async def _form(self, room: _Room, members: list[str]) -> None:
        entries = {pid: room.waiting.pop(pid) for pid in members if pid in room.waiting}
        scene = room.scene
        first = next(iter(entries.values()))
        group = Group(
            game_id=secrets.token_hex(8),
            scene_id=scene.scene_id or "",
            scene_key=first.scene_key,
            members=dict(zip(members, scene.human_agents, strict=True)),
        )
        sessions = self.server.sessions
        for pid, entry in entries.items():
            info = {**group.to_dict(), "agent": group.members[pid]}
            await sessions.update_scene_state(pid, entry.scene_key, {"group": info})
            await self.server.sio.emit(
                "group", {"scene_key": entry.scene_key, **info}, to=entry.sid
            )
        log.info("group %s formed for %s: %s", group.game_id, group.scene_id, group.members)
        for listener in self.listeners:
            try:
                await await_me_maybe(listener(group))
            except Exception:
                log.exception("a group listener failed for game %s", group.game_id)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                await self._tick(time.time())
            except Exception:
                log.exception("waiting room update failed")

    async def _tick(self, now: float) -> None:
        for room in self.rooms.values():
            count = len(room.waiting)
            for pid, entry in list(room.waiting.items()):
                elapsed = now - entry.since
                if elapsed >= room.scene.waitroom_timeout_s:
                    room.waiting.pop(pid, None)
                    room.matchmaker.remove(pid)
                    await self._time_out(room.scene, pid, entry)
                    continue
                update = {"scene_key": entry.scene_key, "waiting": count, "elapsed_s": elapsed}
                await self.server.sio.emit("waiting", update, to=entry.sid)

    async def _time_out(self, scene: GymScene, pid: str, entry: _Waiting) -> None:
        sessions = self.server.sessions
        if scene.timeout_scene_id is not None:
            payload = await sessions.jump(pid, scene.timeout_scene_id)
            if payload is not None:
                await self.server.sio.emit("scene", payload, to=entry.sid)
            return
        outcome = {"message": scene.timeout_message, "redirect_url": None}
        if scene.timeout_redirect_url is not None:
            outcome["redirect_url"] = scene.timeout_redirect_url.replace("{participant_id}", pid)
        await sessions.update_scene_state(pid, entry.scene_key, {"timed_out": outcome})
        await self.server.sio.emit(
            "waitroom_timeout", {"scene_key": entry.scene_key, **outcome}, to=entry.sid
        )
