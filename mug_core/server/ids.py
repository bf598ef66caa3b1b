"""Participant ids: what a URL may carry, and fresh ones for new visitors."""

from __future__ import annotations

import re
import uuid

PARTICIPANT_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PARTICIPANT_ID_RULE = "1 to 64 letters, digits, '_' or '-', not ending in _ep<number>"
# Episode files are named <participant>_ep<n>.csv, so such ids would collide with them.
_RESERVED_SUFFIX = re.compile(r"_ep\d+(_events)?$")

KNOWN_QUERY_PARAMETERS = (
    "PROLIFIC_PID",
    "STUDY_ID",
    "SESSION_ID",
    "workerId",
    "assignmentId",
    "hitId",
)
"""Recruitment platform parameters (Prolific, MTurk) recorded with every participant."""

MAX_QUERY_PARAMETERS = 32
MAX_QUERY_VALUE_LENGTH = 512


def new_participant_id() -> str:
    """A fresh random id (32 hex digits)."""
    return uuid.uuid4().hex


def is_valid_participant_id(value: object) -> bool:
    """True when ``value`` is safe to use as a participant id (and so in file names)."""
    return (
        isinstance(value, str)
        and PARTICIPANT_ID_PATTERN.match(value) is not None
        and _RESERVED_SUFFIX.search(value) is None
    )


def clean_query(query: object) -> dict[str, str]:
    """Query parameters to record: strings only, bounded in number and length."""
    if not isinstance(query, dict):
        return {}
    out: dict[str, str] = {}
    for key, value in list(query.items())[:MAX_QUERY_PARAMETERS]:
        if isinstance(key, str) and isinstance(value, str) and len(key) <= 64:
            out[key] = value[:MAX_QUERY_VALUE_LENGTH]
    return out
