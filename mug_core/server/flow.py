"""One participant's way through the stager, as plain data that survives restarts.

:class:`ParticipantState` is what the progress store keeps; :class:`Flow` turns it into "which
scene now" and moves it on. Neither touches the network or the disk.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

import attrs

from mug_core.scenes.scene import Scene
from mug_core.scenes.stager import Branch, PlanItem, Stager
from mug_core.scenes.static_scene import CompletionCodeScene


@attrs.define
class ParticipantState:
    """Everything needed to put a participant back where they were."""

    participant_id: str
    seed: int = attrs.field(factory=lambda: secrets.randbits(32))
    position: int = 0
    choices: dict[str, str | None] = attrs.field(factory=dict)
    answers: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    timeline: list[dict[str, Any]] = attrs.field(factory=list)
    query: dict[str, str] = attrs.field(factory=dict)
    user_agent: str | None = None
    created_at: float = attrs.field(factory=time.time)
    scene_started_at: float | None = None
    completion_code: str | None = None
    finished_at: float | None = None
    scene_state: dict[str, dict[str, Any]] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form for the progress store (shallow: it shares the nested
        dicts and lists, which are only read while it is serialised)."""
        return attrs.asdict(self, recurse=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParticipantState:
        """Rebuild from :meth:`to_dict` output; unknown keys are ignored."""
        names = {f.name for f in attrs.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@attrs.frozen
class Current:
    """The scene a participant is on: the scene, its data key and its place in the sequence."""

    scene: Scene
    scene_key: str
    index: int


class Flow:
    """Scene order logic for one study, shared by all participants."""

    def __init__(self, stager: Stager) -> None:
        self.stager = stager
        self._plans: dict[int, list[PlanItem]] = {}

    def plan(self, state: ParticipantState) -> list[PlanItem]:
        """The participant's sequence (cached per seed: plans are pure functions of it)."""
        plan = self._plans.get(state.seed)
        if plan is None:
            plan = self.stager.plan(state.seed)
            if len(self._plans) > 4096:
                self._plans.clear()
            self._plans[state.seed] = plan
        return plan

    def _resolved(self, state: ParticipantState, upto: int) -> list[tuple[int, Scene]]:
        out: list[tuple[int, Scene]] = []
        for i, item in enumerate(self.plan(state)[:upto]):
            if isinstance(item, Branch):
                chosen = state.choices.get(str(i))
                if chosen is None:
                    continue
                item = item.option(chosen)
            out.append((i, item))
        return out

    def settle(self, state: ParticipantState) -> None:
        """Resolve branches at the participant's position until a scene (or the end) is next."""
        plan = self.plan(state)
        while state.position < len(plan):
            item = plan[state.position]
            if not isinstance(item, Branch):
                return
            key = str(state.position)
            if key not in state.choices:
                picked = item.pick(state.answers)
                state.choices[key] = None if picked is None else picked.scene_id
            if state.choices[key] is not None:
                return
            state.position += 1

    def current(self, state: ParticipantState) -> Current | None:
        """The scene the participant is on, or None past the end."""
        self.settle(state)
        plan = self.plan(state)
        if state.position >= len(plan):
            return None
        item = plan[state.position]
        if isinstance(item, Branch):
            scene = item.option(state.choices[str(state.position)] or "")
        else:
            scene = item
        earlier = self._resolved(state, state.position)
        repeat = 1 + sum(1 for _, s in earlier if s.scene_id == scene.scene_id)
        key = scene.scene_id if repeat == 1 else f"{scene.scene_id}-{repeat}"
        return Current(scene=scene, scene_key=key or "", index=len(earlier))

    def enter(self, state: ParticipantState, now: float) -> Current | None:
        """Mark the current scene as started (once) and hand out a completion code if due."""
        current = self.current(state)
        if current is None:
            return None
        if state.scene_started_at is None:
            state.scene_started_at = now
        if isinstance(current.scene, CompletionCodeScene) and state.completion_code is None:
            state.completion_code = current.scene.new_code()
        if current.scene.is_terminal and state.finished_at is None:
            state.finished_at = now
        return current

    def advance(
        self, state: ParticipantState, current: Current, values: dict[str, Any], now: float
    ) -> dict[str, Any]:
        """Record the answers of ``current`` and move on. Returns its timeline entry."""
        entry = {
            "scene_key": current.scene_key,
            "scene_id": current.scene.scene_id,
            "scene_type": current.scene.scene_type,
            "index": current.index,
            "started_at": state.scene_started_at,
            "ended_at": now,
        }
        state.timeline.append(entry)
        if values:
            state.answers[current.scene_key] = values
        state.position += 1
        state.scene_started_at = None
        return entry

    def jump_to(self, state: ParticipantState, scene_id: str) -> bool:
        """Move the participant forward to the next scene called ``scene_id`` (False if none)."""
        plan = self.plan(state)
        for index in range(state.position + 1, len(plan)):
            item = plan[index]
            if isinstance(item, Scene) and item.scene_id == scene_id:
                state.position = index
                state.scene_started_at = None
                return True
        return False

    def count(self, state: ParticipantState) -> int:
        """How many scenes the participant sees in all (branches not yet taken count as one)."""
        return sum(
            1
            for i, item in enumerate(self.plan(state))
            if not (isinstance(item, Branch) and state.choices.get(str(i), "") is None)
        )
