"""Participant events that plugins observe through ``mug_participant_event``."""

from __future__ import annotations

import time
from typing import Any, Literal

import attrs

EventName = Literal["joined", "advanced", "disconnected", "finished"]


@attrs.frozen
class ParticipantEvent:
    """Something happened to a participant.

    ``joined`` (first visit or resume), ``advanced`` (left ``scene_key`` for the next scene),
    ``disconnected`` (their page's connection closed) or ``finished`` (reached the last scene).
    """

    name: EventName
    experiment_id: str
    participant_id: str
    scene_key: str | None = None
    details: dict[str, Any] = attrs.field(factory=dict)
    at: float = attrs.field(factory=time.time)
