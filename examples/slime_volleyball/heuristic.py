"""A hand-written Slime Volleyball policy: chase the ball's landing point and jump to hit it.

Works for either side because it reads the mirrored observation of ``slime_env`` (index 12 is
the ``side`` sign) and converts its egocentric decision back to a screen action. Pure Python
and deterministic: the same observation always gives the same action.

Usage::

    policy = SlimeHeuristic()
    action = policy(observations["agent_right"])  # or policy.act(obs, "agent_right")
"""

from __future__ import annotations

import math
from collections.abc import Sequence

try:  # imported as part of a package (examples.slime_volleyball.heuristic)
    from .slime_env import (
        BALL_RADIUS,
        COURT_HALF_WIDTH,
        GRAVITY,
        NET_HALF_WIDTH,
        RIGHT_AGENT,
        SLIME_RADIUS,
        action_from,
    )
except ImportError:  # the example folder itself is on sys.path (Pyodide, tests)
    from slime_env import (  # type: ignore[no-redef]
        BALL_RADIUS,
        COURT_HALF_WIDTH,
        GRAVITY,
        NET_HALF_WIDTH,
        RIGHT_AGENT,
        SLIME_RADIUS,
        action_from,
    )


class SlimeHeuristic:
    """Ball-tracking policy for one slime.

    Call it with an observation from ``SlimeVolleyballEnv`` to get a ``Discrete(6)`` action:
    ``policy(observation)`` or ``policy.act(observation, agent_id)`` (``agent_id`` is only
    needed for 12-element observations without the side flag).

    Args:
        hit_offset: how far behind the ball's landing point (away from the net) the slime
            stands, so the ball bounces off its front towards the opponent.
        home_x: egocentric x to wait at while the ball is on the other side (negative).
        jump_range: horizontal distance to the ball within which the slime may jump.
        jump_height: the slime jumps only while the ball is below this height.
        dead_zone: positional tolerance before moving, which avoids jitter.
    """

    def __init__(
        self,
        hit_offset: float = 0.6,
        home_x: float = -10.0,
        jump_range: float = 2.5,
        jump_height: float = 6.0,
        dead_zone: float = 0.3,
    ) -> None:
        self.hit_offset = hit_offset
        self.home_x = home_x
        self.jump_range = jump_range
        self.jump_height = jump_height
        self.dead_zone = dead_zone

    def __call__(self, observation: Sequence[float], agent_id: str | None = None) -> int:
        """Same as ``act``."""
        return self.act(observation, agent_id)

    def act(self, observation: Sequence[float], agent_id: str | None = None) -> int:
        """The action (0..5, screen directions) for ``observation``."""
        x = observation[0]
        bx, by, bvx, bvy = observation[4], observation[5], observation[6], observation[7]
        if len(observation) > 12:
            side = 1.0 if observation[12] >= 0.0 else -1.0
        else:
            side = -1.0 if agent_id == RIGHT_AGENT else 1.0
        land_x = self.landing_x(bx, by, bvx, bvy)
        # Ball coming to (or on) our side: get behind it; otherwise wait at home.
        target = land_x - self.hit_offset if land_x < 0.0 or bx < 0.0 else self.home_x
        target = min(max(target, SLIME_RADIUS - COURT_HALF_WIDTH), -NET_HALF_WIDTH - SLIME_RADIUS)
        if x < target - self.dead_zone:
            direction = 1
        elif x > target + self.dead_zone:
            direction = -1
        else:
            direction = 0
        jump = bx < 0.0 and by < self.jump_height and abs(bx - x) < self.jump_range
        return action_from(int(direction * side), jump)

    @staticmethod
    def landing_x(bx: float, by: float, bvx: float, bvy: float) -> float:
        """Egocentric x where the ball falls to slime-top height, bouncing off the side walls."""
        height = by - (SLIME_RADIUS + BALL_RADIUS)
        disc = bvy * bvy + 2.0 * GRAVITY * height
        t = (bvy + math.sqrt(disc)) / GRAVITY if disc > 0.0 else 0.0
        x = bx + bvx * max(t, 0.0)
        wall = COURT_HALF_WIDTH - BALL_RADIUS
        for _ in range(4):
            if x < -wall:
                x = -2.0 * wall - x
            elif x > wall:
                x = 2.0 * wall - x
        return x
