"""The server side of the peer transport: WebRTC signalling, the relay, connection records.

Pages of one group (formed by the core's waiting room) reach each other through these socket
events; the server forwards a message only between members of the same group:

- ``p2p_signal`` ``{game_id, to, data}``: WebRTC negotiation (offer, answer, ICE candidates;
  ``data`` is opaque to the server: an object or a string of at most
  :attr:`SignallingLimits.max_signal_bytes` as JSON). Forwarded to member ``to`` as
  ``p2p_signal`` ``{game_id, from, data}``.
- ``p2p_relay`` ``{game_id, to?, data}``: a game message (a string of at most
  :attr:`SignallingLimits.max_relay_bytes`) for member ``to``, or for every other member when
  ``to`` is absent; forwarded as ``p2p_relay`` ``{game_id, from, data}``. Used when WebRTC is
  off or failed. Each connection may send :attr:`SignallingLimits.relay_rate` messages a second
  per other member of its group (bursts up to twice that), signals included; the rest are
  refused.
- ``p2p_connection`` ``{game_id, peer, state, via, reason?, rtt_ms?}``: the page reports a
  change of its link to ``peer`` (``state`` one of :data:`CONNECTION_STATES`, ``via`` ``webrtc``
  or ``relay``, ``reason`` why it fell back to the relay); recorded as an ``event`` record of
  type ``p2p_transport`` in the game scene's current episode (at most
  :attr:`SignallingLimits.report_rate` a second per connection).

When a member's connection to the server closes, the other members get ``p2p_peer``
``{game_id, peer, state: "lost"}``.

Every event is answered through the socket.io acknowledgement (when the page asks for one):
``{ok: true}`` or ``{ok: false, code, message}`` with ``code`` one of ``not_joined``,
``bad_request``, ``not_member``, ``unknown_peer``, ``peer_offline``, ``too_large``,
``rate_limited``, ``storage``.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

import attrs

from mug_core.data.records import Record

if TYPE_CHECKING:
    from mug_core.server.events import ParticipantEvent
    from mug_core.server.server import MugServer
    from mug_core.server.waiting import Group

log = logging.getLogger(__name__)

CONNECTION_STATES = ("open", "fallback", "lost", "back", "left")
"""What a ``p2p_connection`` report may say happened to a link."""
VIAS = ("webrtc", "relay")
RECORD_TYPE = "p2p_transport"
"""The ``type`` column of the event records this module writes."""
MAX_ID_CHARS = 128
MAX_REASON_CHARS = 300
MAX_REPORT_BYTES = 2_048


@attrs.frozen
class SignallingLimits:
    """Bounds on what pages may send through the server (per message, per connection)."""

    max_signal_bytes: int = 16_384
    """A WebRTC offer or answer with many candidates is a few KB."""
    max_relay_bytes: int = 4_096
    """A game input message repeating the last few inputs is well under 1 KB."""
    relay_rate: float = 120.0
    """Relay and signal messages a second per connection and per other member of its group
    (two messages a frame at 60 fps); bursts up to double."""
    report_rate: float = 10.0
    """``p2p_connection`` reports a second per connection (each is written to disk)."""


@attrs.frozen
class GroupInfo:
    """What the relay needs to know of a group: its game scene and its members."""

    game_id: str
    scene_key: str
    members: frozenset[str]


def _fail(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "code": code, "message": message}


OK: dict[str, Any] = {"ok": True}


@attrs.define
class _Bucket:
    tokens: float
    at: float


class Signalling:
    """Forwards ``p2p_signal`` and ``p2p_relay`` within groups and records ``p2p_connection``.

    Built at server start (``mug_server_start``); registers its socket handlers on
    ``server.sio`` and learns groups from the waiting rooms (and, after a server restart, from
    the participants' saved scene state).
    """

    def __init__(self, server: MugServer, limits: SignallingLimits | None = None) -> None:
        self.server = server
        self.limits = limits or SignallingLimits()
        self.groups: dict[str, GroupInfo] = {}
        self.groups_of: dict[str, set[str]] = {}  # participant id -> game ids
        self._buckets: dict[str, _Bucket] = {}
        self.relayed = 0
        """Messages forwarded by ``p2p_relay`` so far (for tests and benchmarks)."""
        server.sio.on("p2p_signal", self.on_signal)
        server.sio.on("p2p_relay", self.on_relay)
        server.sio.on("p2p_connection", self.on_connection)
        server.waiting.add_listener(self.on_group)
        server.add_event_listener(self.on_participant_event)

    @property
    def experiment_id(self) -> str:
        return self.server.config.experiment_id or ""

    # -- groups ---------------------------------------------------------------------------------

    def on_group(self, group: Group) -> None:
        """Remember a group the waiting room formed."""
        self._remember(GroupInfo(group.game_id, group.scene_key, frozenset(group.members)))

    def _remember(self, info: GroupInfo) -> None:
        self.groups[info.game_id] = info
        for pid in info.members:
            self.groups_of.setdefault(pid, set()).add(info.game_id)

    async def _group_from_state(self, pid: str, game_id: str) -> GroupInfo | None:
        """The group ``game_id`` as saved in ``pid``'s scene state (after a restart)."""
        state = await self.server.store.get(pid)
        if state is None:
            return None
        for scene_key, scene_state in state.scene_state.items():
            group = scene_state.get("group") if isinstance(scene_state, dict) else None
            if isinstance(group, dict) and group.get("game_id") == game_id:
                members = group.get("members")
                if isinstance(members, dict) and pid in members:
                    info = GroupInfo(game_id, scene_key, frozenset(members))
                    self._remember(info)
                    return info
        return None

    async def _sender(self, sid: str, data: Any, event: str) -> tuple[str, GroupInfo] | dict:
        """The sending participant and their group, or the error answer."""
        pid = self.server.sessions.sid_to_pid.get(sid)
        if pid is None or self.server.sessions.active.get(pid, ("",))[0] != sid:
            return _fail("not_joined", f"join the study before sending {event}")
        if not isinstance(data, dict):
            return _fail("bad_request", f"{event} needs an object with game_id and data")
        game_id = data.get("game_id")
        if not isinstance(game_id, str) or not 0 < len(game_id) <= MAX_ID_CHARS:
            return _fail("bad_request", f"{event} needs a game_id string")
        info = self.groups.get(game_id)
        if info is None or pid not in info.members:
            info = await self._group_from_state(pid, game_id)
        if info is None:
            return _fail("not_member", f"you are not a member of game {game_id!r}")
        return pid, info

    def _target_sid(self, info: GroupInfo, pid: str, to: Any) -> str | dict:
        if not isinstance(to, str) or to == pid or to not in info.members:
            return _fail("unknown_peer", f"{to!r} is not another member of this game")
        holder = self.server.sessions.active.get(to)
        if holder is None:
            return _fail("peer_offline", f"{to} is not connected right now")
        return holder[0]

    # -- socket handlers ------------------------------------------------------------------------

    async def on_signal(self, sid: str, data: Any = None) -> dict[str, Any]:
        """Forward a WebRTC negotiation message to one other member of the sender's group."""
        sender = await self._sender(sid, data, "p2p_signal")
        if isinstance(sender, dict):
            return sender
        pid, info = sender
        payload = data.get("data")
        if not isinstance(payload, dict | str):
            return _fail("bad_request", "p2p_signal data must be an object or a string")
        size = len(payload) if isinstance(payload, str) else _json_size(payload)
        if size is None:
            return _fail("bad_request", "p2p_signal data must be JSON")
        if size > self.limits.max_signal_bytes:
            return _too_large("p2p_signal", size, self.limits.max_signal_bytes)
        target = self._target_sid(info, pid, data.get("to"))
        if isinstance(target, dict):
            return target
        if not self._take_token(sid, self._relay_rate(info)):
            return _rate_limited("p2p_signal")
        message = {"game_id": info.game_id, "from": pid, "data": payload}
        await self.server.sio.emit("p2p_signal", message, to=target)
        return OK

    async def on_relay(self, sid: str, data: Any = None) -> dict[str, Any]:
        """Forward a game message to one member (``to``) or all other members of the group."""
        sender = await self._sender(sid, data, "p2p_relay")
        if isinstance(sender, dict):
            return sender
        pid, info = sender
        payload = data.get("data")
        if not isinstance(payload, str):
            return _fail("bad_request", "p2p_relay data must be a string")
        if len(payload) > self.limits.max_relay_bytes:
            return _too_large("p2p_relay", len(payload), self.limits.max_relay_bytes)
        if not self._take_token(sid, self._relay_rate(info)):
            return _rate_limited("p2p_relay")
        message = {"game_id": info.game_id, "from": pid, "data": payload}
        to = data.get("to")
        if to is not None:
            target = self._target_sid(info, pid, to)
            if isinstance(target, dict):
                return target
            targets = [target]
        else:
            active = self.server.sessions.active
            targets = [active[m][0] for m in info.members if m != pid and m in active]
        for target in targets:
            await self.server.sio.emit("p2p_relay", message, to=target)
        self.relayed += len(targets)
        return OK

    async def on_connection(self, sid: str, data: Any = None) -> dict[str, Any]:
        """Record a change of the sender's link to one peer."""
        sender = await self._sender(sid, data, "p2p_connection")
        if isinstance(sender, dict):
            return sender
        pid, info = sender
        size = _json_size(data)
        if size is None or size > MAX_REPORT_BYTES:
            return _fail(
                "too_large", f"p2p_connection reports must be JSON of at most {MAX_REPORT_BYTES} B"
            )
        peer, state, via = data.get("peer"), data.get("state"), data.get("via")
        reason, rtt = data.get("reason"), data.get("rtt_ms")
        if not isinstance(peer, str) or peer == pid or peer not in info.members:
            return _fail("unknown_peer", f"{peer!r} is not another member of this game")
        if state not in CONNECTION_STATES:
            return _fail("bad_request", f"p2p_connection state must be one of {CONNECTION_STATES}")
        if via not in VIAS:
            return _fail("bad_request", f"p2p_connection via must be one of {VIAS}")
        if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON_CHARS):
            return _fail("bad_request", f"reason must be text of at most {MAX_REASON_CHARS} chars")
        if rtt is not None and (
            isinstance(rtt, bool) or not isinstance(rtt, int | float) or not 0 <= rtt < 600_000
        ):
            return _fail("bad_request", "rtt_ms must be a number of milliseconds")
        if not self._take_token(f"{sid}/report", self.limits.report_rate):
            return _rate_limited("p2p_connection")
        values = {
            "t": time.time() * 1000,
            "type": RECORD_TYPE,
            "game_id": info.game_id,
            "peer": peer,
            "state": state,
            "via": via,
            "reason": reason,
            "rtt_ms": rtt,
        }
        record = Record(
            kind="event",
            experiment_id=self.experiment_id,
            participant_id=pid,
            scene_key=info.scene_key,
            episode=await self._episode(pid, info.scene_key),
            values=values,
        )
        try:
            await self.server.store.commit(None, [record])
        except Exception:
            log.exception("could not store a connection record of %s", pid)
            return _fail("storage", "the record could not be saved yet; please retry")
        log.info("p2p %s: %s -> %s %s via %s (%s)", info.game_id, pid, peer, state, via, reason)
        return OK

    async def _episode(self, pid: str, scene_key: str) -> int:
        """The episode ``pid`` plays in ``scene_key`` now (the number of episodes done)."""
        state = await self.server.store.get(pid)
        scene_state = {} if state is None else state.scene_state.get(scene_key, {})
        done = scene_state.get("episodes_done", 0) if isinstance(scene_state, dict) else 0
        return done if isinstance(done, int) and done >= 0 else 0

    def _relay_rate(self, info: GroupInfo) -> float:
        return self.limits.relay_rate * max(1, len(info.members) - 1)

    def _take_token(self, key: str, rate: float) -> bool:
        """Whether the bucket ``key`` (refilled at ``rate`` a second, holding up to twice
        that) has a token for one more message; takes it."""
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(2 * rate, now)
        bucket.tokens = min(2 * rate, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    # -- participants ---------------------------------------------------------------------------

    async def on_participant_event(self, event: ParticipantEvent) -> None:
        """Tell a disconnected participant's partners that their link is lost."""
        if event.name != "disconnected":
            return
        pid = event.participant_id
        sids = self.server.sessions.sid_to_pid
        self._buckets = {k: b for k, b in self._buckets.items() if k.split("/")[0] in sids}
        active = self.server.sessions.active
        for game_id in self.groups_of.get(pid, ()):
            info = self.groups[game_id]
            message = {"game_id": game_id, "peer": pid, "state": "lost"}
            for member in info.members:
                if member != pid and member in active:
                    await self.server.sio.emit("p2p_peer", message, to=active[member][0])


def _json_size(value: Any) -> int | None:
    try:
        return len(json.dumps(value, separators=(",", ":"), allow_nan=False))
    except (TypeError, ValueError):
        return None


def _rate_limited(event: str) -> dict[str, Any]:
    return _fail("rate_limited", f"too many {event} messages a second; this one was dropped")


def _too_large(event: str, size: int, limit: int) -> dict[str, Any]:
    return _fail("too_large", f"{event} data too large ({size} bytes; the limit is {limit})")


__all__ = [
    "CONNECTION_STATES",
    "RECORD_TYPE",
    "VIAS",
    "GroupInfo",
    "Signalling",
    "SignallingLimits",
]
