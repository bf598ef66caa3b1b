"""Study configuration: :class:`ExperimentConfig` and policy constants."""

from mug_core.configurations.configuration_constants import PolicyTypes
from mug_core.configurations.experiment_config import ExperimentConfig

__all__ = ["ExperimentConfig", "PolicyTypes"]
