"""Two-player Slime Volleyball as a PettingZoo-style ``ParallelEnv`` (standard library only).

Runs unchanged in CPython 3.11+ and in Pyodide. The simulation uses only ``+ - * /``,
comparisons, ``abs``/``min``/``max`` and ``math.sqrt`` on floats, and draws randomness only
from a ``random.Random`` kept in the env, so a seeded run is bit-identical on every platform.
``get_state()`` / ``set_state()`` capture and restore everything, including the RNG.

Agents: ``"agent_left"`` and ``"agent_right"``; a step takes ``{agent: action}`` for every live
agent and returns PettingZoo parallel dicts ``(observations, rewards, terminations,
truncations, infos)``.

Actions (``Discrete(6)``, in *screen* directions for both players, so one key map serves both)::

    0 NOOP   1 LEFT   2 RIGHT   3 JUMP   4 LEFT+JUMP   5 RIGHT+JUMP

Suggested human key map: ``ArrowLeft -> 1, ArrowRight -> 2, ArrowUp -> 3,
(ArrowLeft, ArrowUp) -> 4, (ArrowRight, ArrowUp) -> 5``, default action 0.

Observations: 13 floats in court units (court is x in [-24, 24], ground at y = 0, net at x = 0),
mirrored for the right player (x and vx multiplied by ``side``) so every agent sees itself on the
negative-x half::

    0-3   own   x, y, vx, vy
    4-7   ball  x, y, vx, vy
    8-11  opponent x, y, vx, vy
    12    side: +1.0 for agent_left, -1.0 for agent_right (multiply an egocentric horizontal
          direction by it to get a screen direction; see ``action_from``)

Rewards: +1 to the scorer and -1 to the other player when the ball touches the ground, else 0.
Episode ends with ``terminations`` when a player reaches ``points_to_win``, and with
``truncations`` after ``max_steps`` steps. After either, ``agents`` is empty until ``reset()``.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from typing import Any

LEFT_AGENT = "agent_left"
RIGHT_AGENT = "agent_right"
AGENTS: tuple[str, str] = (LEFT_AGENT, RIGHT_AGENT)

ACTION_MEANINGS: tuple[str, ...] = ("NOOP", "LEFT", "RIGHT", "JUMP", "LEFT+JUMP", "RIGHT+JUMP")
# action -> (horizontal screen direction, jump)
_ACTION_TABLE = ((0, False), (-1, False), (1, False), (0, True), (-1, True), (1, True))

# Court geometry and physics, in court units and seconds.
COURT_HALF_WIDTH = 24.0
CEILING = 22.5
NET_HALF_WIDTH = 0.5
NET_HEIGHT = 3.5
SLIME_RADIUS = 1.5
BALL_RADIUS = 0.5
SLIME_SPEED = 17.5
JUMP_SPEED = 13.5
GRAVITY = 29.4
MAX_BALL_SPEED = 22.5
SERVE_HEIGHT = 12.0
SLIME_START_X = 12.0
OBS_SIZE = 13
STATE_VERSION = 1

Obs = dict[str, list[float]]
Infos = dict[str, dict[str, Any]]
StepResult = tuple[Obs, dict[str, float], dict[str, bool], dict[str, bool], Infos]


def action_from(direction: int, jump: bool) -> int:
    """Action id for a screen ``direction`` (-1 left, 0 none, +1 right) and ``jump`` flag."""
    return _ACTION_TABLE.index((direction, bool(jump)))


def mirror_action(action: int) -> int:
    """Swap left and right in ``action`` (egocentric <-> screen for the right player)."""
    direction, jump = _ACTION_TABLE[action]
    return action_from(-direction, jump)


def state_checksum(state: dict[str, Any]) -> str:
    """Stable hex digest (blake2b, 16 bytes) of a ``get_state()`` dict; never uses ``hash()``."""
    data = json.dumps(state, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class Discrete:
    """Stand-in for ``gymnasium.spaces.Discrete(n)`` used when gymnasium is not importable."""

    def __init__(self, n: int) -> None:
        self.n, self.start, self.shape, self.dtype = n, 0, (), "int64"
        self._rng = random.Random()

    def seed(self, seed: int | None = None) -> list[int | None]:
        """Reseed the RNG that ``sample()`` uses when no ``rng`` is passed."""
        self._rng = random.Random(seed)
        return [seed]

    def sample(self, mask: Any = None, rng: random.Random | None = None) -> int:
        """A random action; ``mask`` (n flags) restricts the choices (all zero: ``start``)."""
        choices = [i for i in range(self.n) if mask is None or mask[i]]
        if not choices:
            return self.start
        return choices[int((rng or self._rng).random() * len(choices))]

    def contains(self, x: Any) -> bool:
        """True if ``x`` is an int (not bool) in ``[0, n)``."""
        return isinstance(x, int) and not isinstance(x, bool) and 0 <= x < self.n

    def __repr__(self) -> str:
        return f"Discrete({self.n})"


class Box:
    """Stand-in for ``gymnasium.spaces.Box``: per-element ``low``/``high`` and ``shape``."""

    def __init__(self, low: list[float], high: list[float]) -> None:
        self.low, self.high = tuple(low), tuple(high)
        self.shape, self.dtype = (len(low),), "float64"
        self._bounds = list(zip(low, high, strict=True))
        self._rng = random.Random()

    def sample(self, mask: Any = None, rng: random.Random | None = None) -> list[float]:
        """A uniformly random point in the box (``mask`` is ignored)."""
        return [(rng or self._rng).uniform(lo, hi) for lo, hi in self._bounds]

    def contains(self, x: Any) -> bool:
        """True if ``x`` is a sequence of ``shape[0]`` numbers within the bounds."""
        values = list(x)
        if len(values) != len(self._bounds):
            return False
        return all(lo <= v <= hi for v, (lo, hi) in zip(values, self._bounds, strict=True))

    def __repr__(self) -> str:
        return f"Box(shape={self.shape})"


_OBS_LOW = [-24.0, 0.0, -30.0, -30.0] * 3 + [-1.0]
_OBS_HIGH = [24.0, 24.0, 30.0, 30.0] * 3 + [1.0]


def _make_spaces(use_gymnasium: bool | None) -> tuple[Any, Any]:
    """(observation_space, action_space); gymnasium's when importable unless told otherwise."""
    if use_gymnasium is not False:
        try:
            import numpy as np
            from gymnasium import spaces
        except ImportError:
            if use_gymnasium:
                raise
        else:
            low, high = np.array(_OBS_LOW), np.array(_OBS_HIGH)
            return spaces.Box(low, high, dtype=np.float64), spaces.Discrete(len(ACTION_MEANINGS))
    return Box(_OBS_LOW, _OBS_HIGH), Discrete(len(ACTION_MEANINGS))


class SlimeVolleyballEnv:
    """Two-player Slime Volleyball with the PettingZoo parallel API (duck-typed).

    Args:
        points_to_win: points that end the episode (``terminations`` become True).
        max_steps: steps after which the episode truncates; ``None`` for no limit.
        fps: simulation steps per second of game time (15..240); speeds are per second, so
            the game feels the same at any fps. 30 is the default, 60 is smoother.
        serve_delay: seconds the ball hangs before each serve.
        render_width: pixel width of rendered frames; height is half of it.
        render_mode: kept for PettingZoo/MUG compatibility (``"mug"``); ``render()`` always
            returns a ``mug_core.rendering.Surface`` packet.
        use_gymnasium_spaces: ``None`` uses gymnasium spaces when importable, ``False``
            forces the built-in ``Discrete``/``Box`` stand-ins, ``True`` requires gymnasium.
    """

    metadata: dict[str, Any] = {"name": "slime_volleyball_v0", "render_modes": ["mug"]}

    def __init__(
        self,
        points_to_win: int = 5,
        max_steps: int | None = 3000,
        fps: int = 30,
        serve_delay: float = 1.0,
        render_width: int = 600,
        render_mode: str | None = "mug",
        use_gymnasium_spaces: bool | None = None,
    ) -> None:
        if not isinstance(points_to_win, int) or points_to_win < 1:
            raise ValueError(f"points_to_win must be an int >= 1, got {points_to_win!r}")
        if max_steps is not None and (not isinstance(max_steps, int) or max_steps < 1):
            raise ValueError(f"max_steps must be None or an int >= 1, got {max_steps!r}")
        if not isinstance(fps, int) or not 15 <= fps <= 240:
            raise ValueError(f"fps must be an int in 15..240, got {fps!r}")
        if serve_delay < 0:
            raise ValueError(f"serve_delay must be >= 0 seconds, got {serve_delay!r}")
        self.points_to_win = points_to_win
        self.max_steps = max_steps
        self.fps = fps
        self.dt = 1.0 / fps
        self.serve_delay_steps = round(serve_delay * fps)
        self.render_width = int(render_width)
        self.render_height = self.render_width // 2
        self.render_mode = render_mode
        self.metadata = {**type(self).metadata, "render_fps": fps, "is_parallelizable": True}
        self.possible_agents: list[str] = list(AGENTS)
        self.agents: list[str] = []
        obs_space, act_space = _make_spaces(use_gymnasium_spaces)
        self.observation_spaces = {a: obs_space for a in AGENTS}
        self.action_spaces = {a: act_space for a in AGENTS}
        self._surface: Any = None
        self._rng = random.Random()  # OS entropy until reset(seed=...) is called
        self._new_match()

    # ------------------------------------------------------------------ PettingZoo API
    def observation_space(self, agent: str) -> Any:
        """The (cached) observation space of ``agent``."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> Any:
        """The (cached) ``Discrete(6)`` action space of ``agent``."""
        return self.action_spaces[agent]

    @property
    def unwrapped(self) -> SlimeVolleyballEnv:
        """The env itself (PettingZoo convention)."""
        return self

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Obs, Infos]:
        """Start a new match; ``seed`` reseeds the RNG, ``None`` continues the current stream
        (which comes from OS entropy if the env was never seeded).

        Returns ``(observations, infos)`` keyed by agent id. ``options`` is accepted and ignored.
        """
        if seed is not None:
            self._rng = random.Random(seed)
        self.agents = list(self.possible_agents)
        self._new_match()
        return {a: self.observe(a) for a in self.agents}, self._infos(None)

    def step(self, actions: dict[str, Any]) -> StepResult:
        """Advance one frame with ``{agent: action}`` for every live agent.

        Raises ``ValueError`` for a missing, unknown or invalid action (the message names the
        agent and the action) and ``RuntimeError`` if the episode is over (call ``reset()``).
        """
        if not self.agents:
            raise RuntimeError("no live agents: the episode is over or reset() was never called")
        moves = self._parse_actions(actions)
        dt = self.dt
        for agent in AGENTS:
            self._move_slime(agent, *moves[agent], dt)
        scorer = None
        if self._serve_timer > 0:
            self._serve_timer -= 1
        else:
            scorer = self._move_ball(dt)
        self._step += 1
        rewards = {a: 0.0 for a in AGENTS}
        terminated = False
        if scorer is not None:
            loser = RIGHT_AGENT if scorer == LEFT_AGENT else LEFT_AGENT
            rewards[scorer], rewards[loser] = 1.0, -1.0
            self._scores[scorer] += 1
            terminated = self._scores[scorer] >= self.points_to_win
            if not terminated:
                self._serve()
        truncated = not terminated and self.max_steps is not None and self._step >= self.max_steps
        observations = {a: self.observe(a) for a in AGENTS}
        infos = self._infos(scorer)
        if terminated or truncated:
            self.agents = []
        return (
            observations,
            rewards,
            {a: terminated for a in AGENTS},
            {a: truncated for a in AGENTS},
            infos,
        )

    def observe(self, agent: str) -> list[float]:
        """Current observation of ``agent`` (see module docstring for the layout)."""
        side = 1.0 if agent == LEFT_AGENT else -1.0
        other = RIGHT_AGENT if agent == LEFT_AGENT else LEFT_AGENT
        obs: list[float] = []
        for x, y, vx, vy in (self._slimes[agent], self._ball, self._slimes[other]):
            obs += [x * side, y, vx * side, vy]
        obs.append(side)
        return obs

    def close(self) -> None:
        """Drop the cached render surface."""
        self._surface = None

    # ------------------------------------------------------------------ state
    def get_state(self) -> dict[str, Any]:
        """JSON-serialisable snapshot of everything that affects future steps."""
        version, internal, gauss_next = self._rng.getstate()
        return {
            "version": STATE_VERSION,
            "config": self._config(),
            "step": self._step,
            "agents": list(self.agents),
            "scores": dict(self._scores),
            "slimes": {a: list(self._slimes[a]) for a in AGENTS},
            "ball": list(self._ball),
            "serve_timer": self._serve_timer,
            "rng": [version, list(internal), gauss_next],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a ``get_state()`` snapshot (also after a JSON round trip).

        Raises ``ValueError`` if the snapshot is from another state version or env config.
        """
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported state version {state.get('version')!r}")
        if state["config"] != self._config():
            raise ValueError(f"state config {state['config']!r} != env config {self._config()!r}")
        self._step = int(state["step"])
        self.agents = [str(a) for a in state["agents"]]
        self._scores = {a: int(state["scores"][a]) for a in AGENTS}
        self._slimes = {a: [float(v) for v in state["slimes"][a]] for a in AGENTS}
        self._ball = [float(v) for v in state["ball"]]
        self._serve_timer = int(state["serve_timer"])
        version, internal, gauss_next = state["rng"]
        self._rng.setstate((version, tuple(internal), gauss_next))

    def state_checksum(self) -> str:
        """``state_checksum(self.get_state())``: a cross-platform stable digest of the state."""
        return state_checksum(self.get_state())

    # ------------------------------------------------------------------ simulation
    def _config(self) -> dict[str, Any]:
        keys = ("points_to_win", "max_steps", "fps", "serve_delay_steps")
        return {key: getattr(self, key) for key in keys}

    def _new_match(self) -> None:
        self._step = 0
        self._scores = {a: 0 for a in AGENTS}
        self._slimes = {
            LEFT_AGENT: [-SLIME_START_X, 0.0, 0.0, 0.0],
            RIGHT_AGENT: [SLIME_START_X, 0.0, 0.0, 0.0],
        }
        self._serve()

    def _infos(self, scorer: str | None) -> Infos:
        left, right = self._scores[LEFT_AGENT], self._scores[RIGHT_AGENT]
        common = {"step": self._step, "point_scored_by": scorer}
        return {
            LEFT_AGENT: {"score": left, "opponent_score": right, **common},
            RIGHT_AGENT: {"score": right, "opponent_score": left, **common},
        }

    def _parse_actions(self, actions: dict[str, Any]) -> dict[str, tuple[int, bool]]:
        if not isinstance(actions, dict):
            raise ValueError(f"actions must be a dict keyed by agent id, got {actions!r}")
        unknown = [a for a in actions if a not in self.agents]
        if unknown:
            raise ValueError(f"actions given for unknown or finished agents {unknown!r}")
        moves = {}
        for agent in AGENTS:
            if agent not in actions:
                raise ValueError(f"missing action for agent {agent!r}")
            action = actions[agent]
            try:
                index = int(action.__index__())  # ints and numpy integers, not floats
            except (AttributeError, TypeError):
                index = -1
            if isinstance(action, bool) or not 0 <= index < len(_ACTION_TABLE):
                raise ValueError(
                    f"invalid action {action!r} for agent {agent!r}: "
                    f"expected an int in 0..{len(_ACTION_TABLE) - 1} {ACTION_MEANINGS}"
                )
            moves[agent] = _ACTION_TABLE[index]
        return moves

    def _serve(self) -> None:
        """Put the ball above the net with a random velocity towards a random side."""
        rng = self._rng
        side = -1.0 if rng.random() < 0.5 else 1.0
        vx = side * rng.uniform(6.0, 16.0)
        vy = rng.uniform(6.0, 14.0)
        self._ball = [0.0, SERVE_HEIGHT, vx, vy]
        self._serve_timer = self.serve_delay_steps

    def _move_slime(self, agent: str, direction: int, jump: bool, dt: float) -> None:
        s = self._slimes[agent]
        s[2] = direction * SLIME_SPEED
        if s[1] <= 0.0:
            s[3] = JUMP_SPEED if jump else 0.0
        else:
            s[3] -= GRAVITY * dt
        s[0] += s[2] * dt
        s[1] += s[3] * dt
        if s[1] <= 0.0:
            s[1] = 0.0
            s[3] = 0.0
        inner = NET_HALF_WIDTH + SLIME_RADIUS
        outer = COURT_HALF_WIDTH - SLIME_RADIUS
        lo, hi = (-outer, -inner) if agent == LEFT_AGENT else (inner, outer)
        if s[0] < lo:
            s[0], s[2] = lo, 0.0
        elif s[0] > hi:
            s[0], s[2] = hi, 0.0

    def _move_ball(self, dt: float) -> str | None:
        """Advance the ball; return the agent who scored, if the ball hit the ground."""
        b = self._ball
        prev_x = b[0]
        b[3] -= GRAVITY * dt
        b[0] += b[2] * dt
        b[1] += b[3] * dt
        for agent in AGENTS:
            x, y, vx, vy = self._slimes[agent]
            _bounce(b, x, y, vx, vy, SLIME_RADIUS + BALL_RADIUS)
        # Net: the post is a box |x| <= NET_HALF_WIDTH below NET_HEIGHT, capped by a circle.
        if b[1] > NET_HEIGHT:
            _bounce(b, 0.0, NET_HEIGHT, 0.0, 0.0, NET_HALF_WIDTH + BALL_RADIUS)
        reach = NET_HALF_WIDTH + BALL_RADIUS
        if b[1] <= NET_HEIGHT and abs(b[0]) < reach:
            from_right = prev_x > 0.0 or (prev_x == 0.0 and b[0] >= 0.0)
            b[0] = reach if from_right else -reach
            b[2] = abs(b[2]) if from_right else -abs(b[2])
        # Side walls and ceiling.
        wall = COURT_HALF_WIDTH - BALL_RADIUS
        if b[0] < -wall:
            b[0], b[2] = -wall, abs(b[2])
        elif b[0] > wall:
            b[0], b[2] = wall, -abs(b[2])
        if b[1] > CEILING - BALL_RADIUS:
            b[1], b[3] = CEILING - BALL_RADIUS, -abs(b[3])
        speed = math.sqrt(b[2] * b[2] + b[3] * b[3])
        if speed > MAX_BALL_SPEED:
            scale = MAX_BALL_SPEED / speed
            b[2] *= scale
            b[3] *= scale
        if b[1] <= BALL_RADIUS:
            b[1] = BALL_RADIUS
            return RIGHT_AGENT if b[0] <= 0.0 else LEFT_AGENT
        return None

    # ------------------------------------------------------------------ rendering
    def render(self) -> dict[str, Any]:
        """Draw the current frame and return ``surface.commit()``.

        One frame serves both players: each slime carries a "YOU" mark drawn with
        ``viewer=agent``, which only that agent's player sees. The scenery (sky, ground, net)
        is persistent, so it is sent once. Needs ``mug_core.rendering.Surface``, imported here
        so the physics never needs it.
        """
        surface = self._surface
        if surface is None:
            from mug_core.rendering import Surface

            surface = self._surface = Surface(self.render_width, self.render_height)
            _draw_scenery(self, surface)
        _draw_frame(self, surface)
        return surface.commit()


def _bounce(b: list[float], cx: float, cy: float, cvx: float, cvy: float, reach: float) -> None:
    """Collide ball ``b`` with a circle at (cx, cy) moving at (cvx, cvy), in place.

    Pushes the ball out to distance ``reach`` and reflects its velocity relative to the
    circle about the contact normal (elastic), only when the two are approaching.
    """
    dx = b[0] - cx
    dy = b[1] - cy
    d2 = dx * dx + dy * dy
    if d2 >= reach * reach:
        return
    d = math.sqrt(d2)
    if d == 0.0:
        nx, ny = 0.0, 1.0
    else:
        nx, ny = dx / d, dy / d
    b[0] = cx + nx * reach
    b[1] = cy + ny * reach
    ux = b[2] - cvx
    uy = b[3] - cvy
    un = ux * nx + uy * ny
    if un < 0.0:
        b[2] = ux - 2.0 * un * nx + cvx
        b[3] = uy - 2.0 * un * ny + cvy


# ---------------------------------------------------------------------- drawing (not physics)
SKY_COLOR = "#a8dcff"
GROUND_COLOR = "#e6c98a"
NET_COLOR = "#f7f7f7"
BALL_COLOR = "#ffcf33"
TEXT_COLOR = "#1d2b44"
SLIME_COLORS = {LEFT_AGENT: "#e8553a", RIGHT_AGENT: "#2f80ed"}
GROUND_DEPTH = 1.5  # court units of ground drawn below y = 0


def _scale(env: SlimeVolleyballEnv) -> tuple[float, float]:
    """(pixels per court unit, pixel row of the ground line y = 0) of ``env``'s frames."""
    k = env.render_width / (2.0 * COURT_HALF_WIDTH)
    return k, env.render_height - GROUND_DEPTH * k


def _draw_scenery(env: SlimeVolleyballEnv, surface: Any) -> None:
    """Draw what never moves (sky, ground, net) as persistent objects, once per Surface."""
    w, h = env.render_width, env.render_height
    k, ground = _scale(env)
    surface.rect(x=0, y=0, w=w, h=h, color=SKY_COLOR, id="sky", persistent=True, depth=-10)
    surface.rect(
        x=0, y=ground, w=w, h=h - ground, color=GROUND_COLOR, id="ground", persistent=True, depth=0
    )
    net_x = (COURT_HALF_WIDTH - NET_HALF_WIDTH) * k
    net_top = ground - NET_HEIGHT * k
    net_w = 2 * NET_HALF_WIDTH * k
    surface.rect(
        x=net_x, y=net_top, w=net_w, h=NET_HEIGHT * k, color=NET_COLOR, id="net",
        persistent=True, depth=1,
    )  # fmt: skip
    surface.circle(
        x=net_x + net_w / 2, y=net_top, radius=net_w / 2, color=NET_COLOR, id="net_cap",
        persistent=True, depth=1,
    )  # fmt: skip


def _draw_frame(env: SlimeVolleyballEnv, surface: Any) -> None:
    """Issue the draw calls of one frame on ``surface`` (pixel coordinates, y down); the
    scenery is already on it (see ``_draw_scenery``)."""
    w, h = env.render_width, env.render_height
    k, ground = _scale(env)
    tenth_px = 10.0 * k

    # Positions to a tenth of a pixel, so that tiny moves do not change the frame.
    def px(x: float) -> float:
        return round((x + COURT_HALF_WIDTH) * tenth_px) / 10.0

    def py(y: float) -> float:
        return round(ground * 10.0 - y * tenth_px) / 10.0

    bx, by = env._ball[0], env._ball[1]
    r = SLIME_RADIUS * k
    for agent in AGENTS:
        x, y = env._slimes[agent][0], env._slimes[agent][1]
        cx, cy = px(x), py(y)
        # The body is the upper half disc: a pie slice from 9 o'clock clockwise to 3 o'clock.
        surface.arc(
            x=cx, y=cy, radius=r, start_angle=math.pi, end_angle=2 * math.pi,
            color=SLIME_COLORS[agent], fill=True, id=f"slime_{agent}", depth=2,
        )  # fmt: skip
        facing = 1.0 if agent == LEFT_AGENT else -1.0
        ex, ey = x + 0.55 * SLIME_RADIUS * facing, y + 0.55 * SLIME_RADIUS
        dx, dy = bx - ex, by - ey
        dist = math.sqrt(dx * dx + dy * dy) or 1.0
        pupil = 0.13 * SLIME_RADIUS
        surface.circle(
            x=px(ex), y=py(ey), radius=0.26 * r, color="white", id=f"eye_{agent}", depth=3
        )
        surface.circle(
            x=px(ex + pupil * dx / dist), y=py(ey + pupil * dy / dist), radius=0.12 * r,
            color="black", id=f"pupil_{agent}", depth=4,
        )  # fmt: skip
        surface.text(
            text="YOU", x=cx, y=cy - 1.2 * r, size=max(10, round(0.45 * r)), color=TEXT_COLOR,
            align="center", baseline="bottom", id=f"you_{agent}", depth=5, viewer=agent,
        )  # fmt: skip
    surface.circle(
        x=px(bx), y=py(by), radius=BALL_RADIUS * k, color=BALL_COLOR, stroke_color="#b07d00",
        stroke_width=1, id="ball", depth=5,
    )  # fmt: skip
    size = max(12, round(h / 12))
    for agent, frac in ((LEFT_AGENT, 0.25), (RIGHT_AGENT, 0.75)):
        surface.text(
            text=str(env._scores[agent]), x=round(w * frac), y=round(h / 20), size=size,
            color=SLIME_COLORS[agent], align="center", id=f"score_{agent}", depth=6,
        )  # fmt: skip
    winner = [a for a in AGENTS if env._scores[a] >= env.points_to_win]
    if winner and not env.agents:
        label = "Left wins!" if winner[0] == LEFT_AGENT else "Right wins!"
        surface.text(
            text=label, x=w / 2, y=round(h * 0.3), size=size, color=TEXT_COLOR, align="center",
            id="winner", depth=6,
        )  # fmt: skip
