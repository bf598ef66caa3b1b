"""The observation flattening rule: Box, Dict, Tuple, Discrete, and float32 rounding."""

from __future__ import annotations

import numpy as np
import pytest
from mug_onnx.preprocess import flat_size, flatten_observation

gymnasium = pytest.importorskip("gymnasium")
spaces = gymnasium.spaces


def test_box_is_row_major_float32() -> None:
    obs = np.arange(6, dtype=np.float64).reshape(2, 3)
    flat = flatten_observation(obs)
    assert flat.dtype == np.float32
    assert flat.tolist() == [0, 1, 2, 3, 4, 5]
    assert flatten_observation(np.asfortranarray(obs)).tolist() == [0, 1, 2, 3, 4, 5]
    assert flatten_observation([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]).tolist() == [0, 1, 2, 3, 4, 5]


def test_values_round_through_float64_to_float32() -> None:
    values = [0.1, 1 / 3, 1e-50, 3.4e39, -2.5, 16777217]
    flat = flatten_observation(values)
    with np.errstate(over="ignore"):
        expected = np.array(values, dtype=np.float64).astype(np.float32)
    assert flat[3] == np.inf
    assert flat.tobytes() == expected.tobytes()
    big = np.array([2**62 + 2**40 + 1], dtype=np.int64)
    assert flatten_observation(big)[0] == np.float32(float(2**62 + 2**40 + 1))


def test_dict_keys_are_sorted_as_strings() -> None:
    obs = {"pos": [1.0, 2.0], "ball": np.array([[3.0], [4.0]]), "alive": True}
    assert flatten_observation(obs).tolist() == [1.0, 3.0, 4.0, 1.0, 2.0]
    nested = {"b": {"y": 2, "x": 1}, "a": 0}
    assert flatten_observation(nested).tolist() == [0, 1, 2]
    assert flatten_observation({10: 1.0, 2: 2.0}).tolist() == [1.0, 2.0]  # "10" < "2"


def test_tuple_items_in_order_and_ragged_lists() -> None:
    obs = (np.array([1.0, 2.0]), 3, {"k": [4.0, 5.0]})
    assert flatten_observation(obs).tolist() == [1, 2, 3, 4, 5]
    assert flatten_observation([1.0, [2.0, 3.0]]).tolist() == [1, 2, 3]


def test_discrete_is_its_integer_value() -> None:
    assert flatten_observation(np.int64(4)).tolist() == [4.0]
    assert flatten_observation(3).tolist() == [3.0]
    assert flatten_observation(False).tolist() == [0.0]


def test_the_rule_equals_gymnasium_flatten_for_box_dict_tuple() -> None:
    space = spaces.Dict(
        {
            "z": spaces.Box(-1.0, 1.0, shape=(2, 2)),
            "a": spaces.Tuple((spaces.Box(0.0, 5.0, shape=(3,)), spaces.MultiBinary(2))),
        }
    )
    space.seed(3)
    for _ in range(5):
        sample = space.sample()
        expected = spaces.flatten(space, sample).astype(np.float32)
        assert flatten_observation(sample).tobytes() == expected.tobytes()
    assert flat_size(space) == 4 + 3 + 2


def test_flat_size_of_common_spaces() -> None:
    assert flat_size(spaces.Box(0, 1, shape=(4, 3))) == 12
    assert flat_size(spaces.Discrete(7)) == 1
    assert flat_size(spaces.MultiDiscrete([3, 4])) == 2
    assert flat_size(spaces.Tuple((spaces.Discrete(2), spaces.Box(0, 1, (2,))))) == 3
    assert flat_size(object()) is None


def test_strings_and_none_are_refused() -> None:
    with pytest.raises(TypeError, match="cannot flatten"):
        flatten_observation(["a", "b"])
    with pytest.raises(TypeError, match="cannot flatten"):
        flatten_observation({"x": None})


def test_empty_observation() -> None:
    assert flatten_observation([]).shape == (0,)
