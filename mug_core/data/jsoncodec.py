"""Fast JSON for study data, with the standard library's meaning.

Every record is serialised into the outbox and every CSV cell of a list or dict is JSON, so this
runs thousands of times a second. :func:`dumps` uses orjson (several times faster than
:mod:`json`) and falls back to the standard library wherever orjson would write something else:

- ``NaN`` and infinities: orjson writes ``null``; :mod:`json` writes ``NaN``/``Infinity``, which
  keeps a missing value and a NaN apart. A value whose orjson text holds ``null`` is searched
  for such floats and, if it may hold one, written by :mod:`json` instead.
- integers beyond 64 bits, strings with lone surrogates (a browser can send them): orjson
  refuses them; :mod:`json` writes them.

Both paths accept the same values (see :func:`json_default`): NumPy arrays and scalars are
written as their ``tolist()``. Floats are the shortest text that reads back to the same float
(orjson may write ``1e-7`` where :mod:`json` writes ``1e-07``; both are the same number).
"""

from __future__ import annotations

import enum
import json
import math
import uuid
from collections.abc import Callable
from typing import Any

import orjson

__all__ = ["dumps", "dumps_sorted", "json_default", "loads"]

# Dates and dataclasses go to json_default, which refuses them as the standard library does.
_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)
_SORTED = _OPTIONS | orjson.OPT_SORT_KEYS


def json_default(obj: Any) -> Any:
    """NumPy arrays and scalars become lists and numbers, enums their value, UUIDs their text;
    anything else is refused with TypeError."""
    tolist = getattr(obj, "tolist", None)
    if callable(tolist):
        return tolist()
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, uuid.UUID):
        return str(obj)
    raise TypeError(f"a {type(obj).__name__} value cannot be stored: it is not JSON-serialisable")


_COMPACT = json.JSONEncoder(separators=(",", ":"), default=json_default).encode
_COMPACT_SORTED = json.JSONEncoder(
    separators=(",", ":"), sort_keys=True, ensure_ascii=False, default=json_default
).encode


def _dumper(option: int, standard: Callable[[Any], str]) -> Callable[[Any], str]:
    """A function writing a value with orjson's ``option``, or with ``standard`` (the standard
    library's encoder) where orjson would not write what it writes."""

    def dumps(value: Any) -> str:
        try:
            data = orjson.dumps(value, default=json_default, option=option)
        except TypeError:  # orjson.JSONEncodeError: big ints, lone surrogates, not serialisable
            return standard(value)
        if b"null" in data and _may_hold_nonfinite(value):
            return standard(value)
        return data.decode()

    return dumps


dumps = _dumper(_OPTIONS, _COMPACT)
"""``dumps(value)``: ``value`` as compact JSON text. Non-ASCII text is kept as UTF-8, except
where the standard library writes the value (then it is escaped). Raises TypeError for a value
JSON cannot hold."""

dumps_sorted = _dumper(_SORTED, _COMPACT_SORTED)
"""``dumps_sorted(value)``: as :data:`dumps`, with object keys sorted and non-ASCII text kept
(how a CSV cell shows a list or a dict)."""


def _may_hold_nonfinite(value: Any) -> bool:
    """Whether ``value`` may hold a NaN or an infinity (which orjson wrote as ``null``).
    Exact for plain dicts, lists, tuples and scalars; True for anything else (a NumPy array,
    a subclass), which then takes the standard library's path."""
    kind = type(value)
    if kind is dict:
        items: Any = value.values()
    elif kind is list or kind is tuple:
        items = value
        if items and type(items[0]) is float:
            # Most likely all floats (an observation): one pass in C. A sum is finite only
            # if every term is; an overflow of finite terms errs on the safe side.
            try:
                return not math.isfinite(math.fsum(items))
            except TypeError:
                pass  # not all numbers: look at each
            except (OverflowError, ValueError):
                return True
    elif kind is float:
        return value - value != 0.0  # NaN and infinities give NaN
    else:
        return not (value is None or kind is str or kind is int or kind is bool)
    for item in items:
        kind = type(item)
        if kind is float:
            if item - item != 0.0:
                return True
        elif not (
            item is None or kind is str or kind is int or kind is bool
        ) and _may_hold_nonfinite(item):
            return True
    return False


def loads(text: str | bytes) -> Any:
    """Parse JSON text, including the ``NaN`` and ``Infinity`` that :func:`dumps` may write."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
