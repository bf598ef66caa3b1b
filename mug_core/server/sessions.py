"""The participant protocol on the socket: join, advance, disconnect.

Each handler validates its payload and answers through the socket.io acknowledgement, so a page
always learns what happened. See ``docs/protocol.md`` for the messages.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mug_core.data.records import SCHEMA_VERSION, Record
from mug_core.server.events import ParticipantEvent
from mug_core.server.flow import Current, Flow, ParticipantState
from mug_core.server.ids import PARTICIPANT_ID_RULE, clean_query, is_valid_participant_id

if TYPE_CHECKING:
    from mug_core.server.server import MugServer

log = logging.getLogger(__name__)

SECOND_TAB_MESSAGE = (
    "This study is already open in another tab or window. Please continue there, or close it "
    "and reload this page."
)


def _fail(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"ok": False, "code": code, "message": message, **extra}


class ParticipantSessions:
    """Socket handlers and the bookkeeping of which connection drives which participant."""

    def __init__(self, server: MugServer) -> None:
        self.server = server
        self.flow = Flow(server.config.stager)  # type: ignore[arg-type]
        self.sid_to_pid: dict[str, str] = {}
        self.active: dict[str, tuple[str, str]] = {}  # participant id -> (sid, tab id)
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def experiment_id(self) -> str:
        return self.server.config.experiment_id or ""

    def attach(self, sio: Any) -> None:
        """Register the handlers on a python-socketio server."""
        sio.on("connect", self.on_connect)
        sio.on("disconnect", self.on_disconnect)
        sio.on("join", self.on_join)
        sio.on("advance", self.on_advance)
        sio.on("scene_event", self.on_scene_event)
        sio.on("*", self.on_unknown)

    def lock_for(self, participant_id: str) -> asyncio.Lock:
        """The lock under which ``participant_id``'s state changes: every handler here holds
        it, and code elsewhere (the waiting room, plugins) takes it to change that state."""
        lock = self._locks.get(participant_id)
        if lock is None:
            lock = self._locks[participant_id] = asyncio.Lock()
        return lock

    def _too_large(self, data: Any) -> dict[str, Any] | None:
        size = len(json.dumps(data, default=str))
        limit = self.server.config.max_payload_bytes
        if size > limit:
            return _fail("too_large", f"message too large ({size} bytes; the limit is {limit})")
        return None

    async def on_connect(self, sid: str, environ: Mapping[str, Any], auth: Any = None) -> bool:
        return True

    async def on_unknown(self, event: str, sid: str, data: Any = None) -> dict[str, Any]:
        log.warning("unknown socket event %r from %s", event, sid)
        return _fail("unknown_event", f"unknown event {event!r}")

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        pid = self.sid_to_pid.pop(sid, None)
        if pid is None:
            return
        self.server.waiting.leave(pid)
        if self.active.get(pid, ("",))[0] == sid:
            del self.active[pid]
            await self.server.emit_event(ParticipantEvent("disconnected", self.experiment_id, pid))

    async def on_join(self, sid: str, data: Any = None) -> dict[str, Any]:
        if not isinstance(data, dict):
            return _fail("bad_request", "join needs an object with participant_id and tab_id")
        if (error := self._too_large(data)) is not None:
            return error
        pid = data.get("participant_id")
        tab_id = data.get("tab_id")
        if not is_valid_participant_id(pid):
            return _fail("invalid_participant", f"participant ids must be {PARTICIPANT_ID_RULE}")
        if not isinstance(tab_id, str) or not 1 <= len(tab_id) <= 64:
            return _fail("bad_request", "join needs a tab_id of 1 to 64 characters")
        async with self.lock_for(pid):
            holder = self.active.get(pid)
            if (
                holder is not None
                and holder[0] != sid
                and holder[1] != tab_id
                and self.server.sio.manager.is_connected(holder[0], "/")
            ):
                return _fail("second_tab", SECOND_TAB_MESSAGE)
            if holder is not None and holder[0] != sid:
                # The same tab came back (reload, reconnect): the new connection takes over.
                self.sid_to_pid.pop(holder[0], None)
            self.active[pid] = (sid, tab_id)
            self.sid_to_pid[sid] = pid
            state = await self.server.store.get(pid)
            records: list[Record] = []
            fresh = state is None
            if state is None:
                state = ParticipantState(
                    participant_id=pid,
                    query=clean_query(data.get("query")),
                    user_agent=str(data.get("user_agent", ""))[:512] or None,
                )
            started = state.scene_started_at
            current = self.flow.enter(state, time.time())
            if fresh or started != state.scene_started_at:
                records.append(self.metadata_record(state))
                await self.server.store.commit(state, records)
        await self.server.emit_event(
            ParticipantEvent(
                "joined",
                self.experiment_id,
                pid,
                current.scene_key if current else None,
                {"resumed": not fresh},
            )
        )
        return {"ok": True, "scene": self.scene_payload(state, current)}

    async def on_advance(self, sid: str, data: Any = None) -> dict[str, Any]:
        pid = self.sid_to_pid.get(sid)
        if pid is None:
            return _fail("not_joined", "join before sending answers")
        if not isinstance(data, dict) or not isinstance(data.get("scene_key"), str):
            return _fail("bad_request", "advance needs an object with scene_key and response")
        if (error := self._too_large(data)) is not None:
            return error
        response = data.get("response", {})
        if not isinstance(response, dict):
            return _fail("bad_request", "advance: response must be an object")
        async with self.lock_for(pid):
            if self.active.get(pid, ("",))[0] != sid:
                return _fail("second_tab", SECOND_TAB_MESSAGE)
            state = await self.server.store.get(pid)
            if state is None:
                return _fail("not_joined", "join before sending answers")
            current = self.flow.current(state)
            if current is None or current.scene_key != data["scene_key"]:
                # A repeated or stale submit (e.g. its answer was lost on a reconnect): the
                # scene was already recorded, so show where the participant really is.
                return {"ok": True, "scene": self.scene_payload(state, current)}
            if current.scene.is_terminal:
                return _fail("finished", "the study is over; there is no next page")
            context = self.server.scene_context(state, current)
            result = current.scene.handle_response(response, context)
            if not result.ok:
                return {
                    "ok": False,
                    "code": "invalid_response",
                    "errors": result.errors,
                    "message": result.errors.get("", "Please check the highlighted answers."),
                }
            now = time.time()
            entry = self.flow.advance(state, current, result.values, now)
            nxt = self.flow.enter(state, now)
            records = [self.scene_record(state, entry, result.values), self.metadata_record(state)]
            try:
                await self.server.store.commit(state, records)
            except Exception:
                log.exception("could not store data for participant %s", pid)
                return _fail("storage", "Your answers could not be saved yet; please try again.")
        await self.server.emit_event(
            ParticipantEvent("advanced", self.experiment_id, pid, current.scene_key)
        )
        if nxt is not None and nxt.scene.is_terminal:
            await self.server.emit_event(
                ParticipantEvent("finished", self.experiment_id, pid, nxt.scene_key)
            )
        return {"ok": True, "scene": self.scene_payload(state, nxt)}

    async def on_scene_event(self, sid: str, data: Any = None) -> dict[str, Any]:
        """A scene-specific event (a game's step records, ...), handled by the current scene."""
        pid = self.sid_to_pid.get(sid)
        if pid is None:
            return _fail("not_joined", "join before sending scene events")
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("scene_key"), str)
            or not isinstance(data.get("name"), str)
            or not isinstance(data.get("payload", {}), dict)
        ):
            return _fail("bad_request", "scene_event needs scene_key, name and a payload object")
        if (error := self._too_large(data)) is not None:
            return error
        async with self.lock_for(pid):
            if self.active.get(pid, ("",))[0] != sid:
                return _fail("second_tab", SECOND_TAB_MESSAGE)
            state = await self.server.store.get(pid)
            current = None if state is None else self.flow.current(state)
            if state is None or current is None or current.scene_key != data["scene_key"]:
                return _fail("stale_scene", "this page's scene is over")
            if data["name"] == "wait" and getattr(current.scene, "group_size", 1) > 1:
                if current.scene_key in state.scene_state and state.scene_state[
                    current.scene_key
                ].get("group"):
                    return {"ok": True, "group": state.scene_state[current.scene_key]["group"]}
                reply = await self.server.waiting.wait(pid, sid, current.scene, current.scene_key)
                return {"ok": True, **reply}
            context = self.server.scene_context(state, current)
            try:
                result = current.scene.handle_event(data["name"], data.get("payload", {}), context)
            except Exception:
                log.exception("scene %r failed to handle %r", current.scene_key, data["name"])
                return _fail("scene_error", "the server could not handle this event")
            if not result.ok:
                return _fail(result.code, result.message)
            try:
                await self.server.store.commit(state, result.records)
            except Exception:
                log.exception("could not store data for participant %s", pid)
                return _fail("storage", "the data could not be saved yet; please retry")
        return {"ok": True, **result.reply}

    async def update_scene_state(self, pid: str, scene_key: str, changes: dict[str, Any]) -> None:
        """Merge ``changes`` into a participant's state for ``scene_key`` and save it."""
        async with self.lock_for(pid):
            state = await self.server.store.get(pid)
            if state is None:
                return
            state.scene_state.setdefault(scene_key, {}).update(changes)
            await self.server.store.commit(state, [])

    async def jump(self, pid: str, scene_id: str) -> dict[str, Any] | None:
        """Move a participant to the next scene called ``scene_id``; its payload, or None."""
        async with self.lock_for(pid):
            state = await self.server.store.get(pid)
            if state is None or not self.flow.jump_to(state, scene_id):
                return None
            current = self.flow.enter(state, time.time())
            await self.server.store.commit(state, [self.metadata_record(state)])
            return self.scene_payload(state, current)

    def scene_payload(self, state: ParticipantState, current: Current | None) -> dict | None:
        """What the page needs to show ``current`` (None past the end)."""
        if current is None:
            return None
        context = self.server.scene_context(state, current)
        return {
            "scene_key": current.scene_key,
            "scene_id": current.scene.scene_id,
            "scene_type": current.scene.scene_type,
            "index": current.index,
            "count": self.flow.count(state),
            "spec": current.scene.client_spec(context),
        }

    def metadata_record(self, state: ParticipantState) -> Record:
        """The participant's metadata document as a record."""
        return Record(
            kind="participant",
            experiment_id=self.experiment_id,
            participant_id=state.participant_id,
            values={
                "schema_version": SCHEMA_VERSION,
                "participant_id": state.participant_id,
                "experiment_id": self.experiment_id,
                "created_at": state.created_at,
                "query_parameters": state.query,
                "user_agent": state.user_agent,
                "scenes": state.timeline,
                "current_scene_started_at": state.scene_started_at,
                "completion_code": state.completion_code,
                "completed_at": state.finished_at,
            },
        )

    def scene_record(
        self, state: ParticipantState, entry: Mapping[str, Any], answers: Mapping[str, Any]
    ) -> Record:
        """The row written when a scene ends."""
        return Record(
            kind="scene",
            experiment_id=self.experiment_id,
            participant_id=state.participant_id,
            scene_key=entry["scene_key"],
            values={
                "scene_id": entry["scene_id"],
                "scene_type": entry["scene_type"],
                "scene_index": entry["index"],
                "started_at": entry["started_at"],
                "ended_at": entry["ended_at"],
                **answers,
            },
        )
