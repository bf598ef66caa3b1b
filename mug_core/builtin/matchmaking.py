"""Matchmakers: which waiting participants play a game together.

A waiting room (``mug_core.server.waiting``) keeps, for each participant waiting for a game
scene, what it knows about them (a :class:`Candidate`) and asks the scene's matchmaker which
groups to form now with :meth:`Matchmaker.match`. It asks whenever someone arrives, reports a
round trip or leaves, and once a second. A matchmaker is a policy, not a store: the room owns
the waiting list, removes the members of every group it forms, and applies the timeout.

Built in (registered through ``mug_register_matchmakers``):

- ``fifo``: first come, first grouped.
- ``latency``: only groups participants whose estimated peer round trip is under a limit.
- ``regroup``: groups participants with their partners from an earlier game scene again.

A study picks one with ``GymScene.waitroom(matchmaker="latency", max_rtt_ms=120)``; the extra
keyword arguments are the matchmaker's options (see ``docs/plugins.md``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal, Protocol

import attrs

from mug_core.plugins import hookimpl
from mug_core.registry import Registry

DepartureReason = Literal["left", "timed_out", "grouped"]


@attrs.frozen
class Candidate:
    """What the room knows about one waiting participant.

    ``rtt_ms`` is the round trip between their page and the server, as the page measured it
    while waiting (the median of a few pings over the socket), or None until it reports one.
    ``earlier_groups`` maps the scene key of each earlier game scene this participant was
    grouped in (``"game1"``; ``"game1-2"`` for the second showing of a repeated scene) to that
    group's members (participant id to agent id, in slot order), oldest scene first.
    """

    participant_id: str
    arrived_at: float
    rtt_ms: float | None = None
    earlier_groups: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)

    def partners(self, scene_key: str) -> tuple[str, ...]:
        """The other members of this participant's group in ``scene_key`` (empty if none)."""
        members = self.earlier_groups.get(scene_key, {})
        return tuple(pid for pid in members if pid != self.participant_id)


@attrs.frozen
class Departure:
    """Why and when a participant stopped waiting in this room: their page closed
    (``left``; they may still come back), the room's timeout sent them on (``timed_out``),
    or they were put in a group (``grouped``)."""

    reason: DepartureReason
    at: float


@attrs.frozen
class RoomView:
    """The room around the candidates: the game scene, its group size, the time, and everyone
    who waited here before and is no longer waiting (latest departure per participant)."""

    scene_id: str
    group_size: int
    now: float
    departed: Mapping[str, Departure] = attrs.field(factory=dict)


@attrs.frozen
class Matches:
    """A matchmaker's decision: ``groups`` to form now (each ``group_size`` participant ids;
    the first takes the scene's first human agent, and so on), and participants to ``give_up``
    on, who get the room's timeout outcome at once instead of waiting for it."""

    groups: Sequence[Sequence[str]] = ()
    give_up: Sequence[str] = ()


class Matchmaker(Protocol):
    """What a matchmaker registered through ``mug_register_matchmakers`` provides.

    The registry holds a factory (usually the class) called once per waiting room as
    ``factory(group_size, **options)``, where ``options`` are the extra keyword arguments of
    ``GymScene.waitroom()``; it raises ``TypeError`` or ``ValueError`` for options it does not
    accept, which the study's configuration check reports before the server starts.
    """

    def match(
        self, waiting: Sequence[Candidate], room: RoomView
    ) -> Matches | Iterable[Sequence[str]]:
        """Groups to form from ``waiting`` (oldest arrival first), as :class:`Matches` or a
        plain list of groups. Must not block: it runs on the server's event loop."""
        ...


def _check_group_size(name: str, group_size: int) -> None:
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
        raise ValueError(f"{name}: group_size must be 1 or more")


class FifoMatchmaker:
    """Groups waiting participants in arrival order, ``group_size`` at a time."""

    def __init__(self, group_size: int) -> None:
        _check_group_size("FifoMatchmaker", group_size)
        self.group_size = group_size

    def match(self, waiting: Sequence[Candidate], room: RoomView) -> Matches:
        return Matches(groups=_in_arrival_order(waiting, self.group_size))


def _in_arrival_order(waiting: Sequence[Candidate], size: int) -> list[list[str]]:
    ids = [c.participant_id for c in waiting]
    return [ids[i : i + size] for i in range(0, len(ids) - size + 1, size)]


class LatencyMatchmaker:
    """Groups only participants who can play together over the network they have.

    Two participants fit when their estimated peer round trip, the sum of both measured round
    trips to the server, is under ``max_rtt_ms``; a group needs every pair of its members to
    fit. The sum is an estimate: it is the round trip of inputs relayed through the server, and
    usually more than a direct WebRTC path between the two, so it errs on the side of refusing.
    The longest-waiting participant is served first, with the earliest arrivals that fit;
    participants whose page has not reported a round trip yet wait until it does. Nobody is
    paired over the limit: a participant who fits nobody waits until the room's timeout.
    """

    def __init__(self, group_size: int, max_rtt_ms: float = 150.0) -> None:
        _check_group_size("LatencyMatchmaker", group_size)
        if isinstance(max_rtt_ms, bool) or not isinstance(max_rtt_ms, int | float):
            raise ValueError("latency matchmaker: max_rtt_ms must be a number of milliseconds")
        if not max_rtt_ms > 0:
            raise ValueError("latency matchmaker: max_rtt_ms must be more than 0")
        self.group_size = group_size
        self.max_rtt_ms = float(max_rtt_ms)

    def fits(self, a: Candidate, b: Candidate) -> bool:
        """Whether ``a`` and ``b`` may play together (both round trips known, sum under limit)."""
        if a.rtt_ms is None or b.rtt_ms is None:
            return False
        return a.rtt_ms + b.rtt_ms < self.max_rtt_ms

    def match(self, waiting: Sequence[Candidate], room: RoomView) -> Matches:
        free = [c for c in waiting if c.rtt_ms is not None]
        groups: list[list[str]] = []
        while len(free) >= self.group_size:
            group = self._group_for(free[0], free[1:])
            if group is None:
                free.pop(0)
                continue
            chosen = [c.participant_id for c in group]
            groups.append(chosen)
            free = [c for c in free if c.participant_id not in chosen]
        return Matches(groups=groups)

    def _group_for(self, first: Candidate, others: Sequence[Candidate]) -> list[Candidate] | None:
        """The earliest arrivals (in lexicographic arrival order) that fit ``first`` and each
        other, or None."""
        fitting = [other for other in others if self.fits(first, other)]
        for rest in itertools.combinations(fitting, self.group_size - 1):
            if all(self.fits(x, y) for x, y in itertools.combinations(rest, 2)):
                return [first, *rest]
        return None


REGROUP_FALLBACKS = ("fifo", "timeout")


class RegroupMatchmaker:
    """Groups participants with their partners from the earlier scene ``regroup_from`` again.

    A participant waits until every partner from that scene is waiting too; the group keeps
    the slot order of the earlier group. When a partner cannot come (they timed out of this
    room, or were grouped with someone else, or their page closed here and did not come back
    within ``rejoin_grace_s`` seconds), ``fallback`` applies: ``"fifo"`` (the default) groups
    the participants left without their partners in arrival order; ``"timeout"`` gives them the
    room's timeout outcome at once. Participants who were not grouped in ``regroup_from`` (or
    in a group of another size) are treated like those. A partner who never reaches this room
    is not known to be gone, so the participant waits for them until the room's timeout.
    """

    def __init__(
        self,
        group_size: int,
        regroup_from: str,
        fallback: str = "fifo",
        rejoin_grace_s: float = 10.0,
    ) -> None:
        _check_group_size("RegroupMatchmaker", group_size)
        if not isinstance(regroup_from, str) or not regroup_from:
            raise ValueError("regroup matchmaker: regroup_from must name an earlier game scene")
        if fallback not in REGROUP_FALLBACKS:
            raise ValueError(f"regroup matchmaker: fallback must be one of {REGROUP_FALLBACKS}")
        if isinstance(rejoin_grace_s, bool) or not isinstance(rejoin_grace_s, int | float):
            raise ValueError("regroup matchmaker: rejoin_grace_s must be a number of seconds")
        if rejoin_grace_s < 0:
            raise ValueError("regroup matchmaker: rejoin_grace_s must be zero or more")
        self.group_size = group_size
        self.regroup_from = regroup_from
        self.fallback = fallback
        self.rejoin_grace_s = float(rejoin_grace_s)

    def _gone(self, pid: str, room: RoomView) -> bool:
        departure = room.departed.get(pid)
        if departure is None:
            return False
        if departure.reason == "left":
            return room.now - departure.at >= self.rejoin_grace_s
        return True

    def match(self, waiting: Sequence[Candidate], room: RoomView) -> Matches:
        here = {c.participant_id: c for c in waiting}
        placed: set[str] = set()
        groups: list[list[str]] = []
        orphans: list[Candidate] = []
        for candidate in waiting:
            pid = candidate.participant_id
            if pid in placed:
                continue
            team = list(candidate.earlier_groups.get(self.regroup_from, {}))
            if pid not in team or len(team) != self.group_size:
                orphans.append(candidate)
            elif all(p in here and p not in placed for p in team):
                groups.append(team)
                placed.update(team)
            elif any(self._gone(p, room) for p in candidate.partners(self.regroup_from)):
                orphans.append(candidate)
        orphans = [c for c in orphans if c.participant_id not in placed]
        if self.fallback == "timeout":
            return Matches(groups=groups, give_up=[c.participant_id for c in orphans])
        return Matches(groups=groups + _in_arrival_order(orphans, self.group_size))


@hookimpl
def mug_register_matchmakers(register: Registry[Any]) -> None:
    register("fifo", FifoMatchmaker)
    register("latency", LatencyMatchmaker)
    register("regroup", RegroupMatchmaker)


@hookimpl
def mug_validate_config(config: Any, registries: Any) -> list[str]:
    """``regroup`` must name a multi-player game scene that comes before it in the study."""
    stager = getattr(config, "stager", None)
    if stager is None:
        return []
    problems = []
    earlier: list[str] = []
    for scene in stager.all_scenes():
        source = (getattr(scene, "matchmaker_options", None) or {}).get("regroup_from")
        regroups = getattr(scene, "matchmaker", None) == "regroup" and isinstance(source, str)
        if regroups and not any(source == s or source.startswith(f"{s}-") for s in earlier):
            before = ", ".join(repr(sid) for sid in earlier) or "none"
            problems.append(
                f"GymScene {scene.scene_id!r}: regroup_from={source!r} must name a game "
                f"scene with several human players that comes earlier (earlier: {before})"
            )
        if getattr(scene, "group_size", 0) > 1 and scene.scene_id:
            earlier.append(scene.scene_id)
    return problems


__all__ = [
    "Candidate",
    "Departure",
    "FifoMatchmaker",
    "LatencyMatchmaker",
    "Matches",
    "Matchmaker",
    "RegroupMatchmaker",
    "RoomView",
]
