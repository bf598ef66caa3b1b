"""ONNX policies for MUG: ``ModelConfig`` run with onnxruntime (server) and onnxruntime-web.

Import :class:`mug_onnx.policy.OnnxPolicy` and :func:`mug_onnx.preprocess.flatten_observation`
from their modules; this package imports nothing heavy.
"""

__all__: list[str] = []
