"""CoGrid's Overcooked with a Surface ``render()``: the kitchen drawn for MUG studies.

``OvercookedMUG`` is CoGrid's PettingZoo ``ParallelEnv`` (agents ``0`` and ``1``, seven
actions: up, down, left, right, pick up/drop, toggle, no-op) unchanged in its dynamics,
observations and rewards. It adds:

- ``render(agent_id=None)``: one Surface per viewer. Each chef's player sees the same kitchen
  with their own chef marked "You"; static scenery is sent once per episode.
- ``kitchen()``: a plain-Python snapshot of the state (tiles, items on counters, pots, chefs),
  which the drawing and the scripted chef (``overcooked_chef.py``) both read.
- ``soups_served``: soups delivered this episode.

Usage::

    env = OvercookedMUG()                     # Cramped Room, 8 steps a second, 60 s episodes
    observations, infos = env.reset(seed=0)
    observations, rewards, terminated, truncated, infos = env.step({0: 3, 1: 6})
    packet = env.render(0)                    # what agent 0's player sees
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from cogrid.cogrid_env import CoGridEnv
from cogrid.envs import cramped_room_config
from cogrid.envs.overcooked.agent import OvercookedAgent
from gymnasium import spaces

from mug_core.rendering import Surface

try:  # imported as part of a package (examples.overcooked.overcooked_mug_env)
    from .overcooked_drawing import KitchenPainter
    from .overcooked_kitchen import (
        DOWN,
        INTERACT,
        LEFT,
        NOOP,
        RIGHT,
        TOGGLE,
        UP,
        Kitchen,
        read_kitchen,
    )
except ImportError:  # the example folder itself is on sys.path (the runtime, tests)
    from overcooked_drawing import KitchenPainter  # type: ignore[no-redef]
    from overcooked_kitchen import (  # type: ignore[no-redef]
        DOWN,
        INTERACT,
        LEFT,
        NOOP,
        RIGHT,
        TOGGLE,
        UP,
        Kitchen,
        read_kitchen,
    )

__all__ = ["DOWN", "INTERACT", "LEFT", "NOOP", "RIGHT", "TOGGLE", "UP", "OvercookedMUG"]


class OvercookedMUG(CoGridEnv):
    """CoGrid Overcooked (Cramped Room by default) drawn with ``mug_core.rendering.Surface``.

    Args:
        config: a CoGrid Overcooked config; by default CoGrid's Cramped Room.
        layout: a registered CoGrid layout name to use instead of the config's
            (``"overcooked_coordination_ring_v0"``, ...).
        max_steps: episode length in steps (CoGrid truncates there).
        fps: steps per second of the study; only used to show the time left.
        tile: pixels per grid cell.
        **kwargs: passed to ``CoGridEnv``.
    """

    def __init__(
        self,
        config: dict[str, Any] | None = None,
        layout: str | None = None,
        max_steps: int = 480,
        fps: int = 8,
        tile: int = 96,
        **kwargs: Any,
    ) -> None:
        config = copy.deepcopy(config if config is not None else cramped_room_config)
        if layout is not None:
            config["grid"] = {"layout": layout}
        config["max_steps"] = max_steps
        kwargs.setdefault("agent_class", OvercookedAgent)
        super().__init__(config=config, **kwargs)
        self.fps = fps
        self.tile = tile
        self.soups_served = 0
        self._last_served: tuple[int, tuple[int, int]] | None = None
        self._cook_time = 1
        rows, cols = self.shape
        self.painter = KitchenPainter(rows, cols, tile=tile, fps=fps)
        self.surface_width = self.painter.width
        self.surface_height = self.painter.height
        self._surfaces: dict[Any, Surface] = {}
        self._fresh: set[Any] = set()
        # CoGrid declares no observation spaces; one reset tells the feature vector's size.
        observations, _ = super().reset(seed=0)
        self.observation_spaces = {
            agent: spaces.Box(-np.inf, np.inf, shape=obs.shape, dtype=np.float32)
            for agent, obs in observations.items()
        }

    def observation_space(self, agent: Any) -> spaces.Box:
        """The agent's observation: CoGrid's flat float32 feature vector (892 values in the
        Cramped Room)."""
        return self.observation_spaces[agent]

    # -- the game -----------------------------------------------------------------------------

    def reset(self, *, seed: int | None = 42, options: dict[str, Any] | None = None) -> Any:
        result = super().reset(seed=seed, options=options)
        self.soups_served = 0
        self._last_served = None
        timers = self.get_state()["extra_state"].get(f"{self.scope}.pot_timer")
        self._cook_time = max([1, *(timers["data"] if timers else [])])
        for surface in self._surfaces.values():
            surface.reset()
        self._fresh = set(self._surfaces)
        return result

    def step(self, actions: dict[Any, Any]) -> Any:
        before = self.kitchen()
        result = super().step({agent: int(action) for agent, action in actions.items()})
        after = self.kitchen()
        for agent, chef in before.chefs.items():
            served = (
                chef.holding is not None
                and chef.holding.endswith("soup")
                and after.chefs[agent].holding is None
                and before.tile(chef.faced_cell) == "delivery_zone"
            )
            if served:
                self.soups_served += 1
                self._last_served = (self.t, chef.faced_cell)
        return result

    def kitchen(self) -> Kitchen:
        """A snapshot of the current state (after ``reset``)."""
        return read_kitchen(
            self.get_state(),
            self.scope,
            self.possible_agents,
            cook_time=self._cook_time,
            max_steps=self.max_steps,
            soups_served=self.soups_served,
            served_at=self._last_served,
        )

    # -- drawing ------------------------------------------------------------------------------

    def render(self, agent_id: Any = None) -> dict[str, Any]:  # type: ignore[override]
        """The Surface packet of ``agent_id``'s view (their chef marked "You"), or of a
        spectator's view without ``agent_id``."""
        surface = self._surfaces.get(agent_id)
        if surface is None:
            surface = self._surfaces[agent_id] = Surface(self.surface_width, self.surface_height)
            self._fresh.add(agent_id)
        kitchen = self.kitchen()
        if agent_id in self._fresh:
            self._fresh.discard(agent_id)
            self.painter.scenery(surface, kitchen)
        self.painter.frame(surface, kitchen, agent_id)
        return surface.commit()
