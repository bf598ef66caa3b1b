"""MUG: browser-based, multi-user experiments with Gymnasium and PettingZoo environments.

The public API, importable from here or from the module paths Multi-User Gymnasium users know
(``mug_core.scenes.static_scene``, ``mug_core.configurations.experiment_config``, ...).

Names load on first use, so ``import mug_core.rendering`` inside Pyodide needs nothing but the
standard library.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "ExperimentConfig": "mug_core.configurations",
    "PolicyTypes": "mug_core.configurations",
    "ConfigError": "mug_core.errors",
    "DuplicateRegistrationError": "mug_core.errors",
    "MugError": "mug_core.errors",
    "PluginLoadError": "mug_core.errors",
    "PROJECT": "mug_core.plugins",
    "PluginHost": "mug_core.plugins",
    "hookimpl": "mug_core.plugins",
    "Surface": "mug_core.rendering",
    **{
        name: "mug_core.scenes"
        for name in (
            "Branch",
            "CompletionCodeScene",
            "EndScene",
            "FreeText",
            "Likert",
            "MultipleChoice",
            "RandomizeOrder",
            "RepeatScene",
            "Scene",
            "Stager",
            "StartScene",
            "StaticScene",
            "SurveyScene",
        )
    },
}

__all__ = [
    "PROJECT",
    "Branch",
    "CompletionCodeScene",
    "ConfigError",
    "DuplicateRegistrationError",
    "EndScene",
    "ExperimentConfig",
    "FreeText",
    "Likert",
    "MugError",
    "MultipleChoice",
    "PluginHost",
    "PluginLoadError",
    "PolicyTypes",
    "RandomizeOrder",
    "RepeatScene",
    "Scene",
    "Stager",
    "StartScene",
    "StaticScene",
    "Surface",
    "SurveyScene",
    "hookimpl",
]

if TYPE_CHECKING:
    from mug_core.configurations import ExperimentConfig, PolicyTypes
    from mug_core.errors import ConfigError, DuplicateRegistrationError, MugError, PluginLoadError
    from mug_core.plugins import PROJECT, PluginHost, hookimpl
    from mug_core.rendering import Surface
    from mug_core.scenes import (
        Branch,
        CompletionCodeScene,
        EndScene,
        FreeText,
        Likert,
        MultipleChoice,
        RandomizeOrder,
        RepeatScene,
        Scene,
        Stager,
        StartScene,
        StaticScene,
        SurveyScene,
    )


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mug_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
