"""Waiting rooms: participants of a multi-player game scene wait here until a group forms.

One room per game scene, each with the matchmaker the scene names (``fifo``, ``latency``,
``regroup`` built in; see ``mug_core.builtin.matchmaking``). A participant joins by sending the
scene event ``wait``; their page then measures its round trip to the server with
``waitroom_ping`` and reports the median with ``waitroom_rtt``. The room hands the matchmaker
every waiting participant's facts (arrival time, round trip, groups of earlier game scenes)
whenever someone arrives, reports or leaves, and once a second. While waiting, every member is
told each second how many wait and for how long (``waiting``). When a group forms, each
member's scene state records the group (so a reload keeps it) and their page gets ``group``;
runtimes learn of it through :meth:`WaitingRooms.add_listener`. After the scene's timeout (or
when the matchmaker gives up on them), a participant is moved to the scene it names, or sent
to its URL, or shown its message and completion code (``waitroom_timeout``). A participant
whose connection closes leaves the room at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import attrs

from mug_core.builtin.matchmaking import Candidate, Departure, Matches, RoomView
from mug_core.plugins import await_me_maybe
from mug_core.scenes.static_scene import new_completion_code

if TYPE_CHECKING:
    from mug_core.scenes.gym_scene import GymScene
    from mug_core.server.server import MugServer

log = logging.getLogger(__name__)

TICK_S = 1.0
MAX_RTT_MS = 60_000.0
"""Round trips reported above this are refused as nonsense."""


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
    earlier_groups: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    rtt_ms: float | None = None

    def candidate(self, pid: str) -> Candidate:
        return Candidate(pid, self.since, self.rtt_ms, self.earlier_groups)


class _Room:
    def __init__(self, scene: GymScene, matchmaker: Any) -> None:
        self.scene = scene
        self.matchmaker = matchmaker
        self.waiting: dict[str, _Waiting] = {}
        self.departed: dict[str, Departure] = {}


GroupListener = Callable[[Group], Awaitable[None] | None]


def _fail(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "code": code, "message": message}


class WaitingRooms:
    """Every waiting room of one server."""

    def __init__(self, server: MugServer) -> None:
        self.server = server
        self.rooms: dict[str, _Room] = {}
        self.listeners: list[GroupListener] = []
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        server.sio.on("waitroom_ping", self.on_ping)
        server.sio.on("waitroom_rtt", self.on_rtt)

    def add_listener(self, listener: GroupListener) -> None:
        """Call ``listener(group)`` (may be async) for every group that forms."""
        self.listeners.append(listener)

    def _room(self, scene: GymScene) -> _Room:
        room = self.rooms.get(scene.scene_id or "")
        if room is None:
            factory = self.server.plugins.registries.matchmakers.get(scene.matchmaker)
            matchmaker = factory(scene.group_size, **scene.matchmaker_options)
            room = self.rooms[scene.scene_id or ""] = _Room(scene, matchmaker)
        return room

    def start(self) -> None:
        """Start the once-a-second updates and timeouts."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the updates; groups and timeouts under way are finished (for up to 5 s)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=5.0)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def wait(self, pid: str, sid: str, scene: GymScene, scene_key: str) -> dict[str, Any]:
        """Put ``pid`` in the room of ``scene``; forms a group when the matchmaker says so."""
        room = self._room(scene)
        entry = room.waiting.get(pid)
        if entry is None:
            earlier = await self._earlier_groups(pid, scene_key)
            entry = room.waiting[pid] = _Waiting(sid, scene_key, time.time(), earlier)
            room.departed.pop(pid, None)
        else:
            entry.sid = sid
        self._match(room, time.time())
        return {"waiting": len(room.waiting), "since": entry.since}

    async def _earlier_groups(self, pid: str, scene_key: str) -> dict[str, dict[str, Any]]:
        """The groups recorded in the participant's earlier scenes, by scene key."""
        state = await self.server.store.get(pid)
        if state is None:
            return {}
        groups = {}
        for key, scene_state in state.scene_state.items():
            group = scene_state.get("group") if key != scene_key else None
            if isinstance(group, Mapping) and isinstance(group.get("members"), Mapping):
                groups[key] = dict(group["members"])
        return groups

    def leave(self, pid: str) -> None:
        """Remove ``pid`` from every room (their page closed)."""
        now = time.time()
        for room in self.rooms.values():
            if room.waiting.pop(pid, None) is not None:
                room.departed[pid] = Departure("left", now)
                self._match(room, now)

    async def on_ping(self, sid: str, data: Any = None) -> dict[str, Any]:
        """``waitroom_ping``: answered at once, so the page can time the round trip."""
        return {"ok": True}

    async def on_rtt(self, sid: str, data: Any = None) -> dict[str, Any]:
        """``waitroom_rtt`` ``{scene_key, rtt_ms}``: the page's measured round trip."""
        pid = self.server.sessions.sid_to_pid.get(sid)
        if pid is None:
            return _fail("not_joined", "join before reporting a round trip")
        if not isinstance(data, dict) or not isinstance(data.get("scene_key"), str):
            return _fail("bad_request", "waitroom_rtt needs an object with scene_key and rtt_ms")
        rtt = data.get("rtt_ms")
        if (
            isinstance(rtt, bool)
            or not isinstance(rtt, int | float)
            or not math.isfinite(rtt)
            or not 0 <= rtt <= MAX_RTT_MS
        ):
            return _fail("bad_request", f"rtt_ms must be a number from 0 to {MAX_RTT_MS:.0f}")
        for room in self.rooms.values():
            entry = room.waiting.get(pid)
            if entry is not None and entry.scene_key == data["scene_key"] and entry.sid == sid:
                entry.rtt_ms = float(rtt)
                self._match(room, time.time())
                return {"ok": True}
        return _fail("not_waiting", "this page is not in a waiting room")

    def _match(self, room: _Room, now: float) -> None:
        """Ask the room's matchmaker for groups; form them and act on the ones it gave up."""
        if not room.waiting:
            return
        scene = room.scene
        waiting = sorted(
            (entry.candidate(pid) for pid, entry in room.waiting.items()),
            key=lambda c: c.arrived_at,
        )
        view = RoomView(
            scene.scene_id or "", scene.group_size, now, MappingProxyType(room.departed)
        )
        try:
            result = room.matchmaker.match(waiting, view)
            matches = result if isinstance(result, Matches) else Matches(groups=list(result))
        except Exception:
            log.exception("the %r matchmaker of %s failed", scene.matchmaker, scene.scene_id)
            return
        for proposed in matches.groups:
            members = list(proposed)
            if (
                len(members) != scene.group_size
                or len(set(members)) != len(members)
                or any(pid not in room.waiting for pid in members)
            ):
                log.error(
                    "the %r matchmaker of %s proposed %r, which is not %d distinct waiting "
                    "participants; ignored",
                    scene.matchmaker,
                    scene.scene_id,
                    members,
                    scene.group_size,
                )
                continue
            entries = {pid: room.waiting.pop(pid) for pid in members}
            for pid in members:
                room.departed[pid] = Departure("grouped", now)
            self._spawn(self._form(room, members, entries))
        for pid in matches.give_up:
            entry = room.waiting.pop(pid, None)
            if entry is not None:
                room.departed[pid] = Departure("timed_out", now)
                self._spawn(self._time_out(room.scene, pid, entry))

    async def _form(self, room: _Room, members: list[str], entries: dict[str, _Waiting]) -> None:
        scene = room.scene
        group = Group(
            game_id=secrets.token_hex(8),
            scene_id=scene.scene_id or "",
            scene_key=entries[members[0]].scene_key,
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
        for room in list(self.rooms.values()):
            for pid, entry in list(room.waiting.items()):
                if now - entry.since >= room.scene.waitroom_timeout_s:
                    room.waiting.pop(pid, None)
                    room.departed[pid] = Departure("timed_out", now)
                    await self._time_out(room.scene, pid, entry)
            self._match(room, now)
            count = len(room.waiting)
            for entry in list(room.waiting.values()):
                update = {
                    "scene_key": entry.scene_key,
                    "waiting": count,
                    "elapsed_s": now - entry.since,
                }
                await self.server.sio.emit("waiting", update, to=entry.sid)

    async def _time_out(self, scene: GymScene, pid: str, entry: _Waiting) -> None:
        """Apply the scene's timeout outcome: a named scene, or a message, completion code
        and redirect (kept in the scene state, so a reload shows it again)."""
        if scene.timeout_scene_id is not None:
            payload = await self.server.sessions.jump(pid, scene.timeout_scene_id)
            if payload is not None:
                await self.server.sio.emit("scene", payload, to=entry.sid)
            return
        code = scene.timeout_completion_code
        if code is True:
            code = new_completion_code()
        outcome: dict[str, Any] = {
            "message": scene.timeout_message,
            "redirect_url": None,
            "completion_code": code or None,
        }
        if scene.timeout_redirect_url is not None:
            url = scene.timeout_redirect_url.replace("{participant_id}", pid)
            outcome["redirect_url"] = url.replace("{completion_code}", code or "")
        await self._record_timeout(pid, entry.scene_key, outcome)
        await self.server.sio.emit(
            "waitroom_timeout", {"scene_key": entry.scene_key, **outcome}, to=entry.sid
        )

    async def _record_timeout(self, pid: str, scene_key: str, outcome: dict[str, Any]) -> None:
        """Keep the outcome in the scene state; a completion code becomes the participant's
        code, written with their metadata record like the code of a completion-code page."""
        sessions = self.server.sessions
        async with sessions.lock_for(pid):
            state = await self.server.store.get(pid)
            if state is None:
                return
            state.scene_state.setdefault(scene_key, {})["timed_out"] = outcome
            records = []
            if outcome["completion_code"] is not None:
                state.completion_code = outcome["completion_code"]
                records.append(sessions.metadata_record(state))
            await self.server.store.commit(state, records)
