"""Tiny ONNX models built with ``onnx.helper`` (float32 throughout), and GymScene helpers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
SLIME_DIR = REPO / "examples" / "slime_volleyball"

Builder = Callable[..., Path]


def _save(graph: Any, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def linear_model(
    path: Path,
    weights: np.ndarray,
    bias: np.ndarray | None = None,
    obs_name: str = "obs",
    logits_name: str = "logits",
    batch: bool = True,
    obs_type: int = TensorProto.FLOAT,
) -> Path:
    """``logits = obs @ weights + bias``; ``obs`` is ``[batch, n]`` (or ``[n]``)."""
    weights = np.asarray(weights, dtype=np.float32)
    n, a = weights.shape
    bias = np.zeros(a, dtype=np.float32) if bias is None else np.asarray(bias, dtype=np.float32)
    obs_shape: list[Any] = ["batch", n] if batch else [n]
    out_shape: list[Any] = ["batch", a] if batch else [a]
    nodes = []
    source = obs_name
    if obs_type != TensorProto.FLOAT:
        nodes.append(helper.make_node("Cast", [obs_name], ["obs_f"], to=TensorProto.FLOAT))
        source = "obs_f"
    nodes += [
        helper.make_node("MatMul", [source, "W"], ["mm"]),
        helper.make_node("Add", ["mm", "B"], [logits_name]),
    ]
    graph = helper.make_graph(
        nodes,
        "linear",
        [helper.make_tensor_value_info(obs_name, obs_type, obs_shape)],
        [helper.make_tensor_value_info(logits_name, TensorProto.FLOAT, out_shape)],
        initializer=[numpy_helper.from_array(weights, "W"), numpy_helper.from_array(bias, "B")],
    )
    return _save(graph, path)


def recurrent_model(path: Path, n: int, actions: int, hidden: int = 4) -> Path:
    """``h_out = h + obs @ U``, ``logits = h_out @ V``: the state sums the observations."""
    rng = np.random.default_rng(0)
    u = rng.standard_normal((n, hidden)).astype(np.float32)
    v = rng.standard_normal((hidden, actions)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["obs", "U"], ["inc"]),
            helper.make_node("Add", ["h", "inc"], ["h_out"]),
            helper.make_node("MatMul", ["h_out", "V"], ["logits"]),
        ],
        "recurrent",
        [
            helper.make_tensor_value_info("obs", TensorProto.FLOAT, [1, n]),
            helper.make_tensor_value_info("h", TensorProto.FLOAT, [1, hidden]),
        ],
        [
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, actions]),
            helper.make_tensor_value_info("h_out", TensorProto.FLOAT, [1, hidden]),
        ],
        initializer=[numpy_helper.from_array(u, "U"), numpy_helper.from_array(v, "V")],
    )
    return _save(graph, path)


def fixed_input_model(path: Path, n: int, actions: int) -> Path:
    """``logits = obs @ W + bias + Cast(mode)``: a float ``bias`` [1, actions] and an int64
    ``mode`` [1] input besides ``obs``."""
    w = np.ones((n, actions), dtype=np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["obs", "W"], ["mm"]),
            helper.make_node("Add", ["mm", "bias"], ["biased"]),
            helper.make_node("Cast", ["mode"], ["mode_f"], to=TensorProto.FLOAT),
            helper.make_node("Add", ["biased", "mode_f"], ["logits"]),
        ],
        "fixed",
        [
            helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["batch", n]),
            helper.make_tensor_value_info("bias", TensorProto.FLOAT, [1, actions]),
            helper.make_tensor_value_info("mode", TensorProto.INT64, [1]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", actions])],
        initializer=[numpy_helper.from_array(w, "W")],
    )
    return _save(graph, path)


@pytest.fixture
def models(tmp_path: Path) -> Any:
    """The builders above, writing into ``tmp_path``: ``models.linear("a.onnx", W)``."""

    class Models:
        def linear(self, name: str, weights: Any, **kwargs: Any) -> Path:
            return linear_model(tmp_path / name, weights, **kwargs)

        def recurrent(self, name: str, n: int, actions: int, hidden: int = 4) -> Path:
            return recurrent_model(tmp_path / name, n, actions, hidden)

        def fixed(self, name: str, n: int, actions: int) -> Path:
            return fixed_input_model(tmp_path / name, n, actions)

    return Models()
