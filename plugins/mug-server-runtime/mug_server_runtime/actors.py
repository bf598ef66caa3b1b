"""Who acts for each agent in a server game: people's keys, or AI policies."""

from __future__ import annotations

import inspect
import random
from collections.abc import Mapping
from typing import Any

from mug_core.configurations.configuration_constants import HeuristicPolicy, PolicyTypes
from mug_core.scenes.gym_scene import GymScene
from mug_server_runtime.envload import resolve_reference


def normalise_key(key: str) -> str:
    """A letter key whatever Shift or Caps Lock did (``"X"`` is ``"x"``), as the pages match
    keys; named keys (``"ArrowLeft"``) unchanged."""
    return key.lower() if len(key) == 1 else key


class KeyState:
    """The keys one player holds, turned into an action by the scene's action mapping.

    ``single_keystroke`` mode acts once per press: a press is consumed by the next step.
    """

    def __init__(self, scene: GymScene) -> None:
        # Longest combinations first, so ("ArrowLeft", "ArrowUp") beats "ArrowLeft".
        mapping = [
            ([normalise_key(k) for k in keys], action) for keys, action in scene.action_mapping
        ]
        self.mapping = sorted(mapping, key=lambda item: -len(item[0]))
        self.default = scene.default_action
        self.single = scene.input_mode == "single_keystroke"
        self.repeat_last = scene.action_population_method == "previous_submitted_action"
        self.held: set[str] = set()
        self.pressed: list[str] = []
        self.last_action: Any = scene.default_action

    def key(self, key: str, down: bool) -> None:
        key = normalise_key(key)
        if down:
            if key not in self.held:
                self.pressed.append(key)
            self.held.add(key)
        else:
            self.held.discard(key)

    def release_all(self) -> None:
        self.held.clear()
        self.pressed.clear()

    def action(self) -> Any:
        """The action for this step (consumes single keystrokes)."""
        if self.single:
            keys = set(self.pressed)
            self.pressed.clear()
        else:
            keys = self.held
        for combo, action in self.mapping:
            if keys.issuperset(combo):
                self.last_action = action
                return action
        return self.last_action if self.repeat_last else self.default


class Actor:
    """An AI policy bound to one agent."""

    def __init__(self, policy: Any, agent: Any, action_space: Any, seed: int, namespace: dict):
        self.agent = agent
        self.kind = "random"
        self._rng = random.Random(seed)
        self._space = action_space
        self._policy: Any = None
        if isinstance(policy, HeuristicPolicy):
            self.kind = "heuristic"
            target = resolve_reference(policy.reference, namespace)
            self._policy = target(**policy.kwargs) if inspect.isclass(target) else target
        elif getattr(policy, "backend", None) == "onnx":
            from mug_onnx.policy import OnnxPolicy  # only with the mug-onnx plugin installed

            self.kind = "onnx"
            self._policy = OnnxPolicy(policy, int(action_space.n), seed)
        elif policy != PolicyTypes.Random:
            raise ValueError(f"agent {agent!r}: unsupported policy {policy!r}")

    def reset(self) -> None:
        reset = getattr(self._policy, "reset", None)
        if callable(reset):
            reset()

    def act(self, observation: Any) -> Any:
        if self.kind == "random":
            n = getattr(self._space, "n", None)
            if n is None:
                raise ValueError(f"agent {self.agent!r}: random policy needs a Discrete space")
            return self._rng.randrange(int(n))
        act = getattr(self._policy, "act", None)
        if callable(act):
            try:
                return act(observation, self.agent)
            except TypeError:
                return act(observation)
        return self._policy(observation)


def action_space(env: Any, agent: Any) -> Any:
    """The action space of ``agent`` (ParallelEnv) or the env's (single-agent Gymnasium)."""
    space = getattr(env, "action_space", None)
    return space(agent) if callable(space) else space


def build_actors(
    scene: GymScene, env: Any, seed: int, namespace: Mapping[str, Any]
) -> dict[Any, Actor]:
    """One actor per AI agent of the policy mapping."""
    actors = {}
    for index, (agent, policy) in enumerate(scene.policy_mapping.items()):
        if policy == PolicyTypes.Human:
            continue
        actors[agent] = Actor(
            policy, agent, action_space(env, agent), seed + index, dict(namespace)
        )
    return actors
