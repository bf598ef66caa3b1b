"""The server side of recording a game: validate the page's events and turn them into records.

Chunks of steps carry a sequence number per episode; the highest acknowledged one is kept in the
participant's scene state (saved atomically with the records), so a chunk re-sent after a lost
acknowledgement is acknowledged again but recorded once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mug_core.data.records import Record
from mug_core.scenes.scene import EventResult, SceneContext

if TYPE_CHECKING:
    from mug_core.scenes.gym_scene import GymScene

log = logging.getLogger(__name__)

EVENT_TYPES = ("keydown", "keyup", "focus", "blur", "visible", "hidden")
P2P_EVENT_TYPES = ("p2p_metrics", "p2p_connection", "p2p_desync", "p2p_stall", "p2p_disconnect")
"""Peer-to-peer games' own events; their details are a JSON object in the ``data`` column."""
MAX_EVENT_DATA_BYTES = 16_384
STEP_FIELDS = ("step", "t", "actions", "rewards", "terminated", "truncated", "infos")
MAX_ERRORS_KEPT = 20


def _episode(payload: Mapping[str, Any], scene: GymScene) -> int | None:
    episode = payload.get("episode")
    if isinstance(episode, bool) or not isinstance(episode, int):
        return None
    return episode if 0 <= episode < scene.num_episodes else None


def _step_values(step: Any, observations: bool) -> dict[str, Any] | None:
    if not isinstance(step, Mapping) or not all(field in step for field in STEP_FIELDS):
        return None
    if not isinstance(step["step"], int) or not isinstance(step["t"], int | float):
        return None
    values: dict[str, Any] = {"step": step["step"], "attempt": 0}  # numbered by the caller
    values.update((field, step[field]) for field in STEP_FIELDS[1:])
    if observations:
        values["observations"] = step.get("observations")
    return values


def _event_values(event: Any) -> dict[str, Any] | None:
    if not isinstance(event, Mapping) or event.get("type") not in EVENT_TYPES + P2P_EVENT_TYPES:
        return None
    if not isinstance(event.get("t"), int | float):
        return None
    key = event.get("key")
    values = {
        "t": event["t"],
        "type": event["type"],
        "key": key if isinstance(key, str) and len(key) <= 32 else None,
        "agent": str(event["agent"])[:64] if event.get("agent") is not None else None,
    }
    if event["type"] in P2P_EVENT_TYPES:
        data = event.get("data")
        if not isinstance(data, Mapping) or len(json.dumps(data)) > MAX_EVENT_DATA_BYTES:
            return None
        values["data"] = dict(data)
    return values


def _number_attempts(
    state: dict[str, Any], episode: int, step_values: list[dict[str, Any] | None]
) -> int:
    """Give each step its ``attempt``: a step numbered at or below the last one recorded for
    the episode starts a new attempt (a page reloaded mid-episode plays the episode again from
    its start). Returns the attempt of the chunk's last step."""
    last_steps: dict[str, int] = state.setdefault("last_step", {})
    attempts: dict[str, int] = state.setdefault("attempts", {})
    key = str(episode)
    last, attempt = last_steps.get(key, -1), attempts.get(key, 0)
    for values in step_values:
        if values is None:
            continue
        if values["step"] <= last:
            attempt += 1
        last = values["step"]
        values["attempt"] = attempt
    if last >= 0:
        last_steps[key] = last
    attempts[key] = attempt
    return attempt


def _steps(scene: GymScene, payload: Mapping[str, Any], context: SceneContext) -> EventResult:
    episode, seq = _episode(payload, scene), payload.get("seq")
    steps, events = payload.get("steps", []), payload.get("events", [])
    if episode is None or isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        return EventResult.refuse("bad_request", "steps needs an episode in range and a seq >= 0")
    if not isinstance(steps, list) or not isinstance(events, list):
        return EventResult.refuse("bad_request", "steps and events must be lists")
    acked: dict[str, int] = context.scene_state.setdefault("acked", {})
    if seq <= acked.get(str(episode), -1):
        return EventResult(reply={"acked": seq, "duplicate": True})
    step_values = [_step_values(s, scene.record_observations) for s in steps]
    event_values = [_event_values(e) for e in events]
    if any(v is None for v in step_values) or any(v is None for v in event_values):
        return EventResult.refuse("bad_request", "a step or event in this chunk is malformed")
    base = {
        "experiment_id": context.experiment_id,
        "participant_id": context.participant_id,
        "scene_key": context.scene_key,
        "episode": episode,
    }
    attempt = _number_attempts(context.scene_state, episode, step_values)
    records = [Record(kind="step", values=v, **base) for v in step_values if v is not None]
    records += [
        Record(kind="event", values={**v, "attempt": attempt}, **base)
        for v in event_values
        if v is not None
    ]
    acked[str(episode)] = seq
    return EventResult(records=records, reply={"acked": seq})


def _episode_end(scene: GymScene, payload: Mapping[str, Any], context: SceneContext) -> EventResult:
    episode = _episode(payload, scene)
    if episode is None:
        return EventResult.refuse("bad_request", "episode_end needs an episode in range")
    state = context.scene_state
    done = max(state.get("episodes_done", 0), episode + 1)
    state["episodes_done"] = done
    returns = payload.get("returns")
    state.setdefault("returns", {})[str(episode)] = returns if isinstance(returns, dict) else None
    return EventResult(reply={"episodes_done": done})


def _error(scene: GymScene, payload: Mapping[str, Any], context: SceneContext) -> EventResult:
    message = str(payload.get("message", ""))[:2000] or "unknown error"
    trace = str(payload.get("traceback", ""))[:8000]
    log.error(
        "game scene %r failed in the page of participant %s: %s\n%s",
        context.scene_key,
        context.participant_id,
        message,
        trace,
    )
    errors = context.scene_state.setdefault("errors", [])
    if len(errors) < MAX_ERRORS_KEPT:
        errors.append(message)
    return EventResult()


_HANDLERS = {"steps": _steps, "episode_end": _episode_end, "error": _error}


def handle_game_event(
    scene: GymScene, name: str, payload: Mapping[str, Any], context: SceneContext
) -> EventResult:
    """Dispatch one ``scene_event`` of a game scene."""
    handler = _HANDLERS.get(name)
    if handler is None:
        return EventResult.refuse("unknown_event", f"game scenes have no {name!r} event")
    return handler(scene, payload, context)
