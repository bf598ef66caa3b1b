"""Gymnasium's MountainCar, drawn with MUG's Surface API.

The physics are Gymnasium's own (``MountainCarEnv``); only ``render()`` is new. Actions:
0 accelerate left, 1 don't accelerate, 2 accelerate right.
"""

from __future__ import annotations

import math
from typing import Any

from gymnasium.envs.classic_control.mountain_car import MountainCarEnv

from mug_core.rendering import Surface

WIDTH, HEIGHT = 600, 400
HILL_POINTS = 60


class MountainCarMUG(MountainCarEnv):
    """MountainCar with a Surface ``render()``: hills, flag and car, redrawn as deltas."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.surface = Surface(width=WIDTH, height=HEIGHT)
        self.scale = WIDTH / (self.max_position - self.min_position)

    def _screen(self, position: float) -> tuple[float, float]:
        x = (position - self.min_position) * self.scale
        y = HEIGHT - (self._height(position) * self.scale + 40)
        return x, y

    def render(self) -> dict[str, Any]:
        s = self.surface
        # Scenery never changes: drawn once with ids and persistent=True, then only the car moves.
        hills = [
            self._screen(
                self.min_position + i * (self.max_position - self.min_position) / HILL_POINTS
            )
            for i in range(HILL_POINTS + 1)
        ]
        s.line(points=hills, color="#3b7d3b", width=3, id="hills", persistent=True, depth=1)
        flag_x, flag_y = self._screen(self.goal_position)
        s.line(
            points=[(flag_x, flag_y), (flag_x, flag_y - 40)],
            color="black",
            width=2,
            id="pole",
            persistent=True,
            depth=2,
        )
        s.polygon(
            points=[(flag_x, flag_y - 40), (flag_x + 25, flag_y - 33), (flag_x, flag_y - 26)],
            color="#f2c230",
            id="flag",
            persistent=True,
            depth=2,
        )
        position = float(self.state[0]) if self.state is not None else -0.5
        x, y = self._screen(position)
        angle = math.degrees(math.atan(math.cos(3 * position) * 3 * 0.45))
        s.rect(x=x - 20, y=y - 22, w=40, h=16, color="#c0392b", border_radius=4, id="car", depth=3)
        s.circle(x=x - 11, y=y - 5, radius=5, color="#222222", id="wheel_back", depth=4)
        s.circle(x=x + 11, y=y - 5, radius=5, color="#222222", id="wheel_front", depth=4)
        s.text(text=f"slope {angle:+.0f}°", x=10, y=10, size=14, color="#444444", id="slope")
        return s.commit()
