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
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from cogrid.cogrid_env import CoGridEnv
from cogrid.core.objects import idx_to_object
from cogrid.envs import cramped_room_config
from cogrid.envs.overcooked.agent import OvercookedAgent
from gymnasium import spaces

from mug_core.rendering import Surface

# CoGrid's actions (cardinal action set) and directions.
UP, DOWN, LEFT, RIGHT, INTERACT, TOGGLE, NOOP = range(7)
ACTION_NAMES = ("up", "down", "left", "right", "interact", "toggle", "no-op")
DIRECTION_STEPS = {0: (0, 1), 1: (1, 0), 2: (0, -1), 3: (-1, 0)}
"""CoGrid direction (0 right, 1 down, 2 left, 3 up) to a (row, col) step."""
MOVE_DIRECTION = {RIGHT: 0, DOWN: 1, LEFT: 2, UP: 3}

STATIONS = ("counter", "onion_stack", "tomato_stack", "plate_stack", "pot", "delivery_zone")
WALKABLE = (None, "free_space", "floor")

HUD_HEIGHT = 56
CHEF_COLORS = ("#2f6fdb", "#2e9e5b", "#d9822b", "#9b59b6")
CHEF_NAMES = ("blue", "green", "orange", "purple")


@dataclass(frozen=True)
class Chef:
    """One agent: grid cell, facing direction (CoGrid's 0..3) and what it holds."""

    agent: int
    row: int
    col: int
    facing: int
    holding: str | None

    @property
    def faced_cell(self) -> tuple[int, int]:
        drow, dcol = DIRECTION_STEPS[self.facing]
        return self.row + drow, self.col + dcol


@dataclass(frozen=True)
class Pot:
    """A pot: its cell, ingredients, and the cooking timer (counts down once it is full)."""

    row: int
    col: int
    ingredients: tuple[str, ...]
    capacity: int
    timer: int
    cook_time: int

    @property
    def full(self) -> bool:
        return len(self.ingredients) >= self.capacity

    @property
    def ready(self) -> bool:
        return self.full and self.timer <= 0

    @property
    def cooking(self) -> bool:
        return self.full and self.timer > 0

    @property
    def progress(self) -> float:
        """0 until the pot is full, then up to 1 when the soup is ready."""
        if not self.full or self.cook_time <= 0:
            return 0.0
        return min(1.0, max(0.0, 1.0 - self.timer / self.cook_time))


@dataclass(frozen=True)
class Kitchen:
    """What the kitchen looks like at one step (plain Python values)."""

    height: int
    width: int
    tiles: tuple[tuple[str | None, ...], ...]
    """Station at each cell (``"counter"``, ``"pot"``, ...), ``None`` for floor."""
    items: dict[tuple[int, int], str]
    """Items lying on counters, by cell."""
    pots: tuple[Pot, ...]
    chefs: dict[int, Chef]
    t: int
    max_steps: int

    def cells(self, station: str) -> list[tuple[int, int]]:
        return [
            (r, c)
            for r in range(self.height)
            for c in range(self.width)
            if self.tiles[r][c] == station
        ]

    def pot_at(self, cell: tuple[int, int]) -> Pot | None:
        return next((p for p in self.pots if (p.row, p.col) == cell), None)


def _object_name(type_id: int, scope: str) -> str | None:
    if type_id <= 0:
        return None
    return idx_to_object(type_id, scope=scope)


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
        self.surface_width = cols * tile
        self.surface_height = HUD_HEIGHT + rows * tile
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
                and self._tile(before, chef.faced_cell) == "delivery_zone"
            )
            if served:
                self.soups_served += 1
                self._last_served = (self.t, chef.faced_cell)
        return result

    def kitchen(self) -> Kitchen:
        """A snapshot of the current state (after ``reset``)."""
        state = self.get_state()
        scope = self.scope
        types = state["object_type_map"]
        contents = state["object_state_map"]
        tiles: list[tuple[str | None, ...]] = []
        items: dict[tuple[int, int], str] = {}
        for r, row in enumerate(types):
            names = []
            for c, type_id in enumerate(row):
                name = _object_name(type_id, scope)
                if name in STATIONS:
                    names.append(name)
                    if name == "counter" and contents[r][c] > 0:
                        item = _object_name(contents[r][c], scope)
                        if item is not None:
                            items[(r, c)] = item
                else:
                    names.append(None)
            tiles.append(tuple(names))
        extra = state["extra_state"]
        pots = []
        positions = extra.get(f"{scope}.pot_positions", {"data": []})["data"]
        for i, (r, c) in enumerate(positions):
            held = extra[f"{scope}.pot_contents"]["data"][i]
            pots.append(
                Pot(
                    row=r,
                    col=c,
                    ingredients=tuple(_object_name(t, scope) or "?" for t in held if t > 0),
                    capacity=len(held),
                    timer=int(extra[f"{scope}.pot_timer"]["data"][i]),
                    cook_time=self._cook_time,
                )
            )
        chefs = {}
        for i, agent in enumerate(sorted(self.possible_agents)):
            r, c = state["agent_pos"][i]
            held_id = state["agent_inv"][i][0]
            chefs[agent] = Chef(
                agent=agent,
                row=r,
                col=c,
                facing=state["agent_dir"][i],
                holding=_object_name(held_id, scope),
            )
        return Kitchen(
            height=len(tiles),
            width=len(tiles[0]) if tiles else 0,
            tiles=tuple(tiles),
            items=items,
            pots=tuple(pots),
            chefs=chefs,
            t=self.t,
            max_steps=self.max_steps,
        )

    @staticmethod
    def _tile(kitchen: Kitchen, cell: tuple[int, int]) -> str | None:
        r, c = cell
        if 0 <= r < kitchen.height and 0 <= c < kitchen.width:
            return kitchen.tiles[r][c]
        return None

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
            self._draw_scenery(surface, kitchen)
        self._draw_items(surface, kitchen)
        self._draw_chefs(surface, kitchen, agent_id)
        self._draw_hud(surface, kitchen, agent_id)
        if self._last_served is not None and self.t - self._last_served[0] < self.fps:
            (r, c) = self._last_served[1]  # for a second after a delivery
            x, y = self._centre(r, c)
            self._badge(surface, "Served!", x, y + 0.3 * self.tile, "servedflash", "#2e9e5b")
        return surface.commit()

    def _centre(self, r: float, c: float) -> tuple[float, float]:
        t = self.tile
        return c * t + t / 2, HUD_HEIGHT + r * t + t / 2

    def _draw_scenery(self, s: Surface, kitchen: Kitchen) -> None:
        """Floor, counters and stations: persistent, drawn once per episode."""
        t = self.tile
        s.rect(0, 0, self.surface_width, HUD_HEIGHT, color="#2d3142", id="hud", persistent=True)
        for r in range(kitchen.height):
            for c in range(kitchen.width):
                x, y = c * t, HUD_HEIGHT + r * t
                station = kitchen.tiles[r][c]
                key = f"{r}-{c}"
                if station is None:
                    shade = "#f1e6cf" if (r + c) % 2 == 0 else "#ebdfc5"
                    s.rect(x, y, t, t, color=shade, id=f"floor{key}", persistent=True)
                    continue
                if station == "delivery_zone":
                    s.rect(x, y, t, t, color="#4f6d8a", id=f"tile{key}", persistent=True)
                    s.rect(
                        x + 6,
                        y + 6,
                        t - 12,
                        t - 12,
                        color="#7fa7c4",
                        border_radius=8,
                        stroke_color="#e9f1f7",
                        stroke_width=2,
                        id=f"serve{key}",
                        persistent=True,
                    )
                    s.text(
                        "SERVE",
                        x + t / 2,
                        y + t / 2,
                        size=max(10, t // 6),
                        color="white",
                        font="sans-serif",
                        align="center",
                        baseline="middle",
                        id=f"servetext{key}",
                        persistent=True,
                    )
                    continue
                s.rect(
                    x + 1,
                    y + 1,
                    t - 2,
                    t - 2,
                    color="#c99b66",
                    border_radius=6,
                    stroke_color="#8f6437",
                    stroke_width=2,
                    id=f"tile{key}",
                    persistent=True,
                )
                cx, cy = x + t / 2, y + t / 2
                if station in ("onion_stack", "tomato_stack"):
                    s.rect(
                        x + 0.14 * t,
                        y + 0.14 * t,
                        0.72 * t,
                        0.72 * t,
                        color="#7a4e25",
                        border_radius=6,
                        id=f"crate{key}",
                        persistent=True,
                    )
                    item = "onion" if station == "onion_stack" else "tomato"
                    for i, (dx, dy) in enumerate(((-0.15, 0.1), (0.15, 0.1), (0.0, -0.12))):
                        self._draw_item(
                            s, item, cx + dx * t, cy + dy * t, f"stock{key}-{i}", 1, True
                        )
                elif station == "plate_stack":
                    for i in range(3):
                        self._draw_item(
                            s, "plate", cx, cy + (0.08 - 0.08 * i) * t, f"plates{key}-{i}", 1, True
                        )
                elif station == "pot":
                    for side in (-1, 1):
                        s.rect(
                            cx + side * 0.36 * t - 0.07 * t,
                            cy - 0.05 * t,
                            0.14 * t,
                            0.1 * t,
                            color="#2b2b2b",
                            border_radius=3,
                            id=f"handle{key}{side}",
                            persistent=True,
                        )
                    s.circle(
                        cx,
                        cy,
                        0.33 * t,
                        color="#3a3a3a",
                        stroke_color="#1f1f1f",
                        stroke_width=3,
                        id=f"pot{key}",
                        persistent=True,
                    )

    def _draw_item(
        self,
        s: Surface,
        name: str,
        x: float,
        y: float,
        ident: str,
        depth: int,
        persistent: bool = False,
        scale: float = 1.0,
        tween: float | None = None,
    ) -> None:
        """An onion, tomato, plate or soup centred on (x, y)."""
        t = self.tile * scale
        common: dict[str, Any] = {"depth": depth, "persistent": persistent, "tween_duration": tween}
        if name in ("onion", "tomato"):
            fill, rim = ("#e9a93b", "#b57415") if name == "onion" else ("#e0412f", "#a3261a")
            s.circle(
                x, y, 0.12 * t, color=fill, stroke_color=rim, stroke_width=2, id=ident, **common
            )
            s.line(
                [(x, y - 0.11 * t), (x + 0.04 * t, y - 0.19 * t)],
                color="#4c9a2a",
                width=3,
                id=f"{ident}:leaf",
                **common,
            )
            return
        # plates and soups
        s.circle(
            x,
            y,
            0.19 * t,
            color="#fbfbfb",
            stroke_color="#a9a9a9",
            stroke_width=2,
            id=ident,
            **common,
        )
        if name.endswith("soup"):
            soup = "#e39b2d" if name.startswith("onion") else "#d3452f"
            s.circle(
                x,
                y,
                0.13 * t,
                color=soup,
                stroke_color="#b9701a",
                stroke_width=1,
                id=f"{ident}:soup",
                **common,
            )
        else:
            s.circle(
                x,
                y,
                0.12 * t,
                color=None,
                stroke_color="#dedede",
                stroke_width=2,
                id=f"{ident}:rim",
                **common,
            )

    def _draw_items(self, s: Surface, kitchen: Kitchen) -> None:
        """Items on counters and what is in the pots (redrawn each frame, cheap when unchanged)."""
        for (r, c), item in sorted(kitchen.items.items()):
            x, y = self._centre(r, c)
            self._draw_item(s, item, x, y, f"item{r}-{c}", 2)
        t = self.tile
        for pot in kitchen.pots:
            x, y = self._centre(pot.row, pot.col)
            key = f"{pot.row}-{pot.col}"
            if pot.full:
                colour = "#f0b44c" if pot.ready else "#c9792c"
                s.circle(x, y, 0.26 * t, color=colour, id=f"soup{key}", depth=2)
            for i, ingredient in enumerate(pot.ingredients):
                angle = -math.pi / 2 + i * 2 * math.pi / max(pot.capacity, 1)
                self._draw_item(
                    s,
                    ingredient,
                    x + 0.13 * t * math.cos(angle),
                    y + 0.13 * t * math.sin(angle),
                    f"in{key}-{i}",
                    3,
                    scale=0.8,
                )
            label = f"{len(pot.ingredients)}/{pot.capacity}"
            if pot.cooking:
                s.arc(
                    x,
                    y,
                    0.42 * t,
                    -math.pi / 2,
                    -math.pi / 2 + 2 * math.pi * max(pot.progress, 0.02),
                    color="#ff8c1a",
                    width=6,
                    id=f"ring{key}",
                    depth=3,
                )
                label = "cooking"
            elif pot.ready:
                s.circle(
                    x,
                    y,
                    0.42 * t,
                    color=None,
                    stroke_color="#3cb44b",
                    stroke_width=6,
                    id=f"ring{key}",
                    depth=3,
                )
                label = "ready!"
            self._badge(
                s, label, x, y + 0.36 * t, f"potlabel{key}", "#3cb44b" if pot.ready else "#333333"
            )

    def _badge(self, s: Surface, text: str, x: float, y: float, ident: str, colour: str) -> None:
        size = max(10, self.tile // 7)
        width = size * 0.62 * len(text) + 10
        s.rect(
            x - width / 2,
            y - size * 0.7,
            width,
            size * 1.4,
            color="rgba(255,255,255,0.85)",
            border_radius=size * 0.7,
            id=f"{ident}:bg",
            depth=4,
        )
        s.text(
            text,
            x,
            y,
            size=size,
            color=colour,
            font="sans-serif",
            align="center",
            baseline="middle",
            id=ident,
            depth=4,
        )

    def _draw_chefs(self, s: Surface, kitchen: Kitchen, viewer: Any) -> None:
        t = self.tile
        tween = min(120.0, 900.0 / max(self.fps, 1))
        for agent, chef in sorted(kitchen.chefs.items()):
            x, y = self._centre(chef.row, chef.col)
            colour = CHEF_COLORS[agent % len(CHEF_COLORS)]
            ident = f"chef{agent}"
            glide: dict[str, Any] = {"tween_duration": tween, "depth": 5}
            if agent == viewer:
                s.ellipse(
                    x,
                    y + 0.3 * t,
                    0.34 * t,
                    0.12 * t,
                    color="rgba(255,214,10,0.55)",
                    id=f"{ident}:you",
                    **glide,
                )
            else:
                s.ellipse(
                    x,
                    y + 0.3 * t,
                    0.26 * t,
                    0.08 * t,
                    color="rgba(0,0,0,0.15)",
                    id=f"{ident}:you",
                    **glide,
                )
            s.circle(
                x,
                y + 0.04 * t,
                0.27 * t,
                color=colour,
                stroke_color="#1d2433",
                stroke_width=2,
                id=ident,
                **glide,
            )
            # the chef's hat
            s.ellipse(
                x,
                y - 0.2 * t,
                0.17 * t,
                0.1 * t,
                color="white",
                stroke_color="#c7c7c7",
                stroke_width=1,
                id=f"{ident}:hat",
                **glide,
            )
            # eyes and a pointer towards where the chef faces
            dr, dc = DIRECTION_STEPS[chef.facing]
            fx, fy = dc, dr
            px, py = -fy, fx
            for side, name in ((-1, "l"), (1, "r")):
                s.circle(
                    x + fx * 0.1 * t + px * side * 0.08 * t,
                    y + 0.04 * t + fy * 0.1 * t + py * side * 0.08 * t,
                    0.035 * t,
                    color="#1d2433",
                    id=f"{ident}:eye{name}",
                    **glide,
                )
            tip = (x + fx * 0.4 * t, y + 0.04 * t + fy * 0.4 * t)
            base = (x + fx * 0.28 * t, y + 0.04 * t + fy * 0.28 * t)
            s.polygon(
                [
                    tip,
                    (base[0] + px * 0.09 * t, base[1] + py * 0.09 * t),
                    (base[0] - px * 0.09 * t, base[1] - py * 0.09 * t),
                ],
                color="#1d2433",
                id=f"{ident}:facing",
                **glide,
            )
            if chef.holding is not None:
                self._draw_item(
                    s,
                    chef.holding,
                    x + fx * 0.34 * t,
                    y + 0.04 * t + fy * 0.34 * t,
                    f"{ident}:holds",
                    6,
                    scale=0.9,
                    tween=tween,
                )
            if agent == viewer:
                self._badge(s, "You", x, y - 0.4 * t, f"{ident}:tag", "#1d2433")

    def _draw_hud(self, s: Surface, kitchen: Kitchen, viewer: Any) -> None:
        left = max(0, kitchen.max_steps - kitchen.t)
        seconds = math.ceil(left / max(self.fps, 1))
        style: dict[str, Any] = {"font": "sans-serif", "baseline": "middle", "depth": 8}
        mid = HUD_HEIGHT / 2
        s.text(
            f"Soups served: {self.soups_served}",
            14,
            mid,
            size=20,
            color="white",
            id="served",
            **style,
        )
        s.text(
            f"Time {seconds // 60}:{seconds % 60:02d}",
            self.surface_width - 14,
            mid,
            size=20,
            color="#ffd166" if seconds <= 10 else "white",
            align="right",
            id="clock",
            **style,
        )
        if viewer in kitchen.chefs:
            name = CHEF_NAMES[viewer % len(CHEF_NAMES)]
            centre = self.surface_width / 2
            s.circle(
                centre - 52,
                mid,
                10,
                color=CHEF_COLORS[viewer % len(CHEF_COLORS)],
                stroke_color="white",
                stroke_width=2,
                id="you:dot",
                depth=8,
            )
            s.text(f"You: {name}", centre - 36, mid, size=16, color="white", id="you", **style)
