"""MUG: browser-based, multi-user experiments with Gymnasium and PettingZoo environments.

The public API, importable from here or from the module paths Multi-User Gymnasium users know
(``mug_core.scenes.static_scene``, ``mug_core.configurations.experiment_config``, ...).
"""

from mug_core.configurations import ExperimentConfig, PolicyTypes
from mug_core.errors import ConfigError, DuplicateRegistrationError, MugError, PluginLoadError
from mug_core.plugins import PROJECT, PluginHost, hookimpl
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

__version__ = "0.1.0"

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
    "SurveyScene",
    "hookimpl",
]
