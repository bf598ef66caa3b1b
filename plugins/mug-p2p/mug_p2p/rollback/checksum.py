"""Stable checksums of game states (standard library only).

A checksum must be the same on every peer and in every process, so it is a blake2b digest of
canonical JSON bytes. Python's built-in ``hash()`` is salted per process for ``str`` and ``bytes``
and must never be used for this.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_json_bytes", "state_checksum"]

#: Digest size in bytes; the hex checksum is twice as long.
CHECKSUM_DIGEST_SIZE = 16


def _encode_extra(value: Any) -> Any:
    # bytes appear in some env states (e.g. packed boards); give them one fixed spelling.
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": bytes(value).hex()}
    raise TypeError(
        f"cannot checksum a {type(value).__name__}: a game state must be made of dicts with str "
        "keys, lists, tuples, str, int, float (finite), bool, None or bytes; convert it in "
        "get_state() or pass your own checksum to SaveState.save()"
    )


def canonical_json_bytes(value: Any) -> bytes:
    """Return the canonical JSON encoding of ``value`` as UTF-8 bytes.

    Keys are sorted, there is no whitespace, tuples encode as lists, floats use Python's shortest
    round-trip spelling (the same in CPython and Pyodide), and NaN or infinity is refused
    (``ValueError``). Dict keys must all be ``str`` (mixed key types cannot be sorted).
    """
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
        ensure_ascii=True,
        default=_encode_extra,
    ).encode("ascii")


def state_checksum(state: Any) -> str:
    """Return a stable hex checksum (blake2b, 128 bits) of a JSON-like game state.

    Equal states give equal checksums on every peer, in CPython and in Pyodide. Raises
    ``TypeError`` or ``ValueError`` when the state is not JSON-like (see
    :func:`canonical_json_bytes`).
    """
    return hashlib.blake2b(
        canonical_json_bytes(state), digest_size=CHECKSUM_DIGEST_SIZE
    ).hexdigest()
