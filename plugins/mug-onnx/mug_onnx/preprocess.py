"""The one observation flattening every ONNX policy uses, on the server and (as a JS twin in
``static/onnx_policy.js``) in the browser.

An observation becomes a 1-D float32 vector by this recursive rule, which needs the value only,
never the space:

* a **number** (int, float, numpy scalar) is one value; a **bool** is 1.0 or 0.0. So a
  ``Discrete`` observation is fed as its integer value (not one-hot): a model that wants one-hot
  does it in its own graph.
* an **array** (numpy array, nested lists/tuples of numbers, a JS typed array) is flattened in
  row-major (C) order, the same as ``np.ravel``: a ``Box``, ``MultiBinary`` or
  ``MultiDiscrete`` observation.
* a **mapping** (``Dict`` space) contributes its values in the order of its keys sorted as
  strings (by Unicode code point, the order of Python's ``sorted`` on ``str`` keys), each
  flattened, concatenated.
* a **sequence** (list or tuple: ``Tuple`` space, or a ragged list) contributes its items in
  order, each flattened, concatenated. For rectangular nested lists this is row-major order.

Every value is first converted to a float64 (a JS number) and then rounded to float32 (round to
nearest, ties to even), so both sides give bit-identical vectors. Strings and ``None`` are
refused. For ``Box``, ``Dict`` and ``Tuple`` spaces the result equals
``gymnasium.spaces.flatten`` cast to float32 (gymnasium sorts a ``Dict``'s keys too);
``Discrete`` differs (one value here, one-hot there).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

_NUMERIC_KINDS = "biuf"


def flatten_observation(observation: Any) -> np.ndarray:
    """``observation`` as a 1-D float32 array, by the rule in this module's docstring.

    Raises ``TypeError`` for values that have no numeric meaning (strings, ``None``, objects).
    """
    if isinstance(observation, np.ndarray) and observation.dtype.kind in _NUMERIC_KINDS:
        return _to_float32(observation)
    if isinstance(observation, list | tuple):
        try:  # fast path: a rectangular array of numbers
            array = np.asarray(observation)
        except (ValueError, TypeError):
            array = None
        if array is not None and array.dtype.kind in _NUMERIC_KINDS and array.size:
            return _to_float32(array)
    parts: list[np.ndarray] = []
    _collect(observation, parts)
    if not parts:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(parts)


def _to_float32(array: np.ndarray) -> np.ndarray:
    """Row-major, each value through float64 to float32 (like JS: number, then Float32Array)."""
    if array.dtype == np.float32:
        return np.ascontiguousarray(array).reshape(-1).copy()
    with np.errstate(over="ignore"):  # beyond float32's range is +-inf, as in JS
        return np.asarray(array, dtype=np.float64).reshape(-1).astype(np.float32)


def _collect(value: Any, parts: list[np.ndarray]) -> None:
    if isinstance(value, bool | np.bool_):
        parts.append(np.array([1.0 if value else 0.0], dtype=np.float32))
    elif isinstance(value, int | float | np.integer | np.floating):
        parts.append(_to_float32(np.array([float(value)], dtype=np.float64)))
    elif isinstance(value, np.ndarray):
        if value.dtype.kind not in _NUMERIC_KINDS:
            if value.dtype != object:
                raise TypeError(
                    f"cannot flatten an array of dtype {value.dtype} into an observation"
                )
            for item in value.reshape(-1):
                _collect(item, parts)
        else:
            parts.append(_to_float32(value))
    elif isinstance(value, Mapping):
        for key in sorted(value, key=str):
            _collect(value[key], parts)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, parts)
    else:
        raise TypeError(
            f"cannot flatten {type(value).__name__} {value!r:.60} into an observation: use "
            "numbers, arrays, lists, tuples or dicts of them"
        )


def flat_size(space: Any) -> int | None:
    """How many float32 values an observation from ``space`` flattens to, or None if unknown.

    Works by duck typing on gymnasium spaces and look-alikes: ``Dict``/``Tuple`` (a ``spaces``
    attribute) add up their parts; anything with a ``shape`` counts its elements (a
    ``Discrete`` has shape ``()`` and counts 1).
    """
    parts = getattr(space, "spaces", None)
    if isinstance(parts, Mapping):
        sizes = [flat_size(s) for s in parts.values()]
    elif isinstance(parts, list | tuple):
        sizes = [flat_size(s) for s in parts]
    else:
        shape = getattr(space, "shape", None)
        if shape is None:
            return None
        try:
            return math.prod(int(d) for d in shape)
        except (TypeError, ValueError):
            return None
    if any(s is None for s in sizes):
        return None
    return sum(s for s in sizes if s is not None)


__all__ = ["flat_size", "flatten_observation"]
