"""The ``mug`` entry point of mug-onnx: the ``onnx`` policy backend, its browser bundle and the
start-up checks of every ``ModelConfig`` in a study.

Nothing heavy is imported here: onnxruntime and numpy load only when a study has a
``ModelConfig`` to check (``mug_onnx.checks``) or a policy to run (``mug_onnx.policy``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mug_core.builtin.policies import PolicyBackend
from mug_core.configurations.configuration_constants import ModelConfig
from mug_core.plugins import hookimpl
from mug_core.registry import Registry
from mug_core.server.assets import ClientAssets

if TYPE_CHECKING:
    from mug_core.configurations.experiment_config import ExperimentConfig
    from mug_core.registry import Registries

ORT_WEB_VERSION = "1.30.0"
"""The pinned onnxruntime-web release (``mug assets install`` fetches it from npm)."""

STATIC_DIR = Path(__file__).resolve().parent / "static"

ORT_WEB_FILES = (
    "ort.wasm.min.mjs",
    "ort.wasm.min.js",
    "ort-wasm-simd-threaded.mjs",
    "ort-wasm-simd-threaded.wasm",
)
"""The files of onnxruntime-web's ``dist`` folder the page may need, served at
``/vendor/onnxruntime-web/<file>``: the WASM-only build as an ES module (which
``onnx_policy.js`` imports) and as a classic script (``window.ort``), and the WASM runtime,
which runs single-threaded unless the page is cross-origin isolated."""


def claims_model_config(value: Any) -> bool:
    """True for a :class:`ModelConfig` (the policy-mapping values the ``onnx`` backend runs)."""
    return isinstance(value, ModelConfig)


@hookimpl
def mug_register_policy_backends(register: Registry[Any]) -> None:
    """Register ``onnx``, which claims ``ModelConfig`` values."""
    register(
        "onnx",
        PolicyBackend(
            "an ONNX model (ModelConfig): onnxruntime-web in the page, onnxruntime on the server",
            claims_model_config,
        ),
    )


@hookimpl
def mug_register_client_assets(register: Registry[Any]) -> None:
    """Register the ``onnx`` bundle: ``/static/onnx/onnx_policy.js`` and onnxruntime-web."""
    register(
        "onnx",
        ClientAssets(
            static_dir=STATIC_DIR,
            modules=("onnx_policy.js",),
            vendor={
                f"onnxruntime-web/{name}": f"onnxruntime-web/dist/{name}" for name in ORT_WEB_FILES
            },
            npm={"onnxruntime-web": ORT_WEB_VERSION},
        ),
    )


@hookimpl
def mug_validate_config(config: ExperimentConfig, registries: Registries) -> list[str] | None:
    """Check every ``ModelConfig`` of every game scene (see :func:`mug_onnx.checks.check_scene`):
    the file exists and loads, the named inputs and outputs exist, and the shapes fit the env's
    observation and action spaces."""
    if config.stager is None:
        return None
    scenes = [
        scene
        for scene in config.stager.all_scenes()
        if any(claims_model_config(p) for p in getattr(scene, "policy_mapping", {}).values())
    ]
    if not scenes:
        return None
    from mug_onnx.checks import check_scene

    problems: list[str] = []
    for scene in scenes:
        problems.extend(check_scene(scene))
    return problems
