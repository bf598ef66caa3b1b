"""Constants used in study configurations: who controls each agent in a game."""

from __future__ import annotations

import enum
import re
from typing import Any

import attrs


class PolicyTypes(enum.StrEnum):
    """Policy mapping values that need no model: a person at the keyboard, or random actions."""

    Human = "human"
    Random = "random"


_REFERENCE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][\w.]*$")


@attrs.frozen
class HeuristicPolicy:
    """A scripted policy that runs beside the env: ``"module:attr"`` names a function or class
    in the env's own Python files (``heuristic:SlimeHeuristic``). A class is instantiated with
    ``kwargs``; the policy is called as ``policy(observation)`` or
    ``policy.act(observation, agent_id)`` and returns an action.
    """

    reference: str
    kwargs: dict[str, Any] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.reference, str) or not _REFERENCE.match(self.reference):
            raise ValueError(
                f"HeuristicPolicy: reference must look like 'module:name', got {self.reference!r}"
            )


SELECTIONS = ("sample", "argmax")


@attrs.frozen
class ModelConfig:
    """An ONNX policy (needs the ``mug-onnx`` plugin: ``pip install 'mug-core[onnx]'``).

    ``onnx_path`` is the model file; ``obs_input`` names the input that takes the flattened
    observation and ``logit_output`` the output with one logit per discrete action. Recurrent
    models name their ``state_inputs``/``state_outputs`` pairwise (zeros of ``state_shape`` at
    each episode start); ``fixed_inputs`` feeds constant values to other inputs. ``selection``
    is ``"sample"`` (softmax with ``temperature``, seeded) or ``"argmax"``; with
    ``act_every=N`` the policy infers every N steps and in between repeats its action
    (``between="repeat"``) or plays the default action (``between="default"``).
    """

    onnx_path: str = attrs.field(converter=str)
    obs_input: str = "obs"
    logit_output: str = "logits"
    state_inputs: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    state_outputs: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    state_shape: tuple[int, ...] | None = attrs.field(
        default=None, converter=lambda v: None if v is None else tuple(v)
    )
    fixed_inputs: dict[str, Any] = attrs.field(factory=dict)
    selection: str = "sample"
    temperature: float = 1.0
    act_every: int = 1
    between: str = "repeat"

    backend = "onnx"
    """The policy backend plugin that runs this policy."""

    def __attrs_post_init__(self) -> None:
        if len(self.state_inputs) != len(self.state_outputs):
            raise ValueError(
                "ModelConfig: state_inputs and state_outputs must pair up, got "
                f"{len(self.state_inputs)} and {len(self.state_outputs)}"
            )
        if self.state_inputs and self.state_shape is None:
            raise ValueError("ModelConfig: give state_shape for the recurrent state inputs")
        if self.selection not in SELECTIONS:
            raise ValueError(f"ModelConfig: selection must be one of {SELECTIONS}")
        if not self.temperature > 0:
            raise ValueError("ModelConfig: temperature must be above 0")
        if not isinstance(self.act_every, int) or self.act_every < 1:
            raise ValueError("ModelConfig: act_every must be 1 or more")
        if self.between not in ("repeat", "default"):
            raise ValueError("ModelConfig: between must be 'repeat' or 'default'")


__all__ = ["HeuristicPolicy", "ModelConfig", "PolicyTypes"]
