"""The wire format between peers: one compact, deterministic JSON message type.

Every message a peer sends to another carries everything the other may still be missing, so the
transport may lose, duplicate and reorder messages freely:

- ``inputs``: for each player the sender serves, all inputs from the receiver's last
  acknowledgement on (so a lost message is healed by the next one);
- ``acks``: for every player, the newest frame up to which the sender holds all inputs;
- ``checksums``: confirmed-frame checksums the receiver has not acknowledged yet, oldest first,
  and ``checksum_ack``, the newest checksum frame the sender received from the receiver;
- ``disconnects``: for each disconnected player, the frame from which the sender believes its
  inputs stop (the remaining peers agree on the largest reported frame);
- ``frame`` and ``advantage``: for time synchronisation.

The encoding is ``json.dumps(sort_keys=True, separators=(",", ":"))`` in UTF-8, so equal messages
are equal bytes. :func:`decode_message` checks every field and raises :class:`MalformedMessage`
with the reason; a rejected message changes nothing in the session.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_BLOCK_INPUTS",
    "MAX_CHECKSUMS",
    "MAX_MESSAGE_BYTES",
    "MAX_PLAYERS",
    "PROTOCOL_VERSION",
    "InputBlock",
    "MalformedMessage",
    "PeerMessage",
    "decode_message",
    "encode_message",
]

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024
MAX_PLAYERS = 16
#: Most inputs of one player in one message (older unacknowledged ones are sent first).
MAX_BLOCK_INPUTS = 128
#: Most checksum reports in one message.
MAX_CHECKSUMS = 32
MAX_FRAME = 2**31 - 1
MAX_SESSION_ID = 128

_CHECKSUM_RE = re.compile(r"[0-9a-f]{1,128}")
_KEYS = frozenset({"v", "s", "f", "g", "a", "i", "c", "k", "d"})


class MalformedMessage(ValueError):
    """A received message was refused; the reason says which field and why."""


@dataclass(frozen=True, slots=True)
class InputBlock:
    """Inputs of player ``handle`` for frames ``start``, ``start + 1``, ..."""

    handle: int
    start: int
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class PeerMessage:
    """The one message type peers exchange (see the module docstring for the fields)."""

    session: str
    frame: int
    advantage: int
    acks: tuple[int, ...]
    inputs: tuple[InputBlock, ...] = ()
    checksums: tuple[tuple[int, str], ...] = ()
    checksum_ack: int = -1
    disconnects: tuple[tuple[int, int], ...] = ()


def encode_message(message: PeerMessage) -> bytes:
    """Encode ``message`` as canonical JSON bytes."""
    payload = {
        "v": PROTOCOL_VERSION,
        "s": message.session,
        "f": message.frame,
        "g": message.advantage,
        "a": list(message.acks),
        "i": [[b.handle, b.start, list(b.values)] for b in message.inputs],
        "c": [[frame, checksum] for frame, checksum in message.checksums],
        "k": message.checksum_ack,
        "d": [[handle, frame] for handle, frame in message.disconnects],
    }
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), allow_nan=False, ensure_ascii=False
    ).encode("utf-8")


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise MalformedMessage("a JSON object repeats a key")
    return result


def _no_constants(name: str) -> Any:
    raise MalformedMessage(f"{name} is not valid JSON data")


def _int(value: Any, what: str, low: int, high: int = MAX_FRAME) -> int:
    if type(value) is not int:
        raise MalformedMessage(f"{what} must be an integer, not {type(value).__name__}")
    if not low <= value <= high:
        raise MalformedMessage(f"{what} = {value} is outside {low}..{high}")
    return value


def _list(value: Any, what: str, most: int) -> list[Any]:
    if type(value) is not list:
        raise MalformedMessage(f"{what} must be a list, not {type(value).__name__}")
    if len(value) > most:
        raise MalformedMessage(f"{what} has {len(value)} entries; at most {most} are allowed")
    return value


def _pair(value: Any, what: str) -> list[Any]:
    items = _list(value, what, 2)
    if len(items) != 2:
        raise MalformedMessage(f"{what} must have 2 entries, not {len(items)}")
    return items


def decode_message(data: bytes | bytearray | memoryview | str) -> PeerMessage:
    """Decode and check one message; raise :class:`MalformedMessage` if anything is wrong."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    elif not isinstance(data, bytes | bytearray | memoryview):
        raise MalformedMessage(f"a message must be bytes or str, not {type(data).__name__}")
    if len(data) > MAX_MESSAGE_BYTES:
        raise MalformedMessage(f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        raw = json.loads(
            bytes(data).decode("utf-8"),
            object_pairs_hook=_no_duplicate_keys,
            parse_constant=_no_constants,
        )
    except MalformedMessage:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedMessage(f"not a JSON message: {exc}") from None
    if type(raw) is not dict:
        raise MalformedMessage("a message must be a JSON object")
    if set(raw) != _KEYS:
        missing = sorted(_KEYS - set(raw))
        extra = sorted(set(raw) - _KEYS)
        raise MalformedMessage(f"wrong fields: missing {missing}, unexpected {extra}")
    if raw["v"] != PROTOCOL_VERSION or type(raw["v"]) is not int:
        raise MalformedMessage(f"protocol version {raw['v']!r} is not {PROTOCOL_VERSION}")
    session = raw["s"]
    if type(session) is not str or len(session) > MAX_SESSION_ID:
        raise MalformedMessage("session id must be a str of at most 128 characters")

    acks = tuple(_int(a, "ack", -1) for a in _list(raw["a"], "acks (a)", MAX_PLAYERS))
    if not acks:
        raise MalformedMessage("acks (a) must have one entry per player")

    inputs = []
    seen_handles = set()
    for entry in _list(raw["i"], "inputs (i)", MAX_PLAYERS):
        entry = _list(entry, "input block", 3)
        if len(entry) != 3:
            raise MalformedMessage("an input block must be [handle, start, values]")
        handle = _int(entry[0], "input handle", 0, MAX_PLAYERS - 1)
        if handle in seen_handles:
            raise MalformedMessage(f"player {handle} has two input blocks")
        seen_handles.add(handle)
        start = _int(entry[1], "input start frame", 0)
        values = _list(entry[2], "input values", MAX_BLOCK_INPUTS)
        if start + len(values) - 1 > MAX_FRAME:
            raise MalformedMessage("input frames overflow")
        inputs.append(InputBlock(handle, start, tuple(values)))

    checksums = []
    previous = -1
    for entry in _list(raw["c"], "checksums (c)", MAX_CHECKSUMS):
        frame, checksum = _pair(entry, "checksum report")
        frame = _int(frame, "checksum frame", 0)
        if frame <= previous:
            raise MalformedMessage("checksum reports must be in increasing frame order")
        previous = frame
        if type(checksum) is not str or not _CHECKSUM_RE.fullmatch(checksum):
            raise MalformedMessage("a checksum must be 1 to 128 lower-case hex digits")
        checksums.append((frame, checksum))

    disconnects = []
    for entry in _list(raw["d"], "disconnects (d)", MAX_PLAYERS):
        handle, frame = _pair(entry, "disconnect report")
        handle = _int(handle, "disconnect handle", 0, MAX_PLAYERS - 1)
        disconnects.append((handle, _int(frame, "disconnect frame", 0)))

    return PeerMessage(
        session=session,
        frame=_int(raw["f"], "frame (f)", 0),
        advantage=_int(raw["g"], "advantage (g)", -MAX_FRAME),
        acks=acks,
        inputs=tuple(inputs),
        checksums=tuple(checksums),
        checksum_ack=_int(raw["k"], "checksum ack (k)", -1),
        disconnects=tuple(disconnects),
    )
