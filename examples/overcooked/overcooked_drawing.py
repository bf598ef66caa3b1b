"""How an Overcooked kitchen looks: a :class:`KitchenPainter` draws a ``Kitchen`` on a Surface.

Floor, counters, crates, the plate stack, pots and the serving window are persistent objects,
drawn once per episode (:meth:`KitchenPainter.scenery`); each frame (:meth:`KitchenPainter.frame`)
draws what changes: items on counters, pot contents with a cooking ring, the chefs with their
facing direction and what they hold, and the HUD (soups served, time left, the viewer's chef).
Unchanged objects cost nothing in the packet.
"""

from __future__ import annotations

import math
from typing import Any

from mug_core.rendering import Surface

try:  # imported as part of a package (examples.overcooked.overcooked_drawing)
    from .overcooked_kitchen import DIRECTION_STEPS, Kitchen
except ImportError:  # the example folder itself is on sys.path (the runtime, tests)
    from overcooked_kitchen import DIRECTION_STEPS, Kitchen  # type: ignore[no-redef]

HUD_HEIGHT = 56
CHEF_COLORS = ("#2f6fdb", "#2e9e5b", "#d9822b", "#9b59b6")
CHEF_NAMES = ("blue", "green", "orange", "purple")


class KitchenPainter:
    """Draws kitchens of ``rows`` x ``cols`` cells, ``tile`` pixels each, under a HUD strip;
    ``fps`` turns steps into the time shown."""

    def __init__(self, rows: int, cols: int, tile: int = 96, fps: int = 8) -> None:
        self.tile = tile
        self.fps = fps
        self.width = cols * tile
        self.height = HUD_HEIGHT + rows * tile

    def frame(self, s: Surface, kitchen: Kitchen, viewer: Any = None) -> None:
        """Draw everything that may change, as ``viewer`` (an agent id, or None) sees it."""
        self._draw_items(s, kitchen)
        self._draw_chefs(s, kitchen, viewer)
        self._draw_hud(s, kitchen, viewer)
        if kitchen.served_at is not None and kitchen.t - kitchen.served_at[0] < self.fps:
            r, c = kitchen.served_at[1]  # for a second after a delivery
            x, y = self._centre(r, c)
            self._badge(s, "Served!", x, y + 0.3 * self.tile, "servedflash", "#2e9e5b")

    def _centre(self, r: float, c: float) -> tuple[float, float]:
        t = self.tile
        return c * t + t / 2, HUD_HEIGHT + r * t + t / 2

    def scenery(self, s: Surface, kitchen: Kitchen) -> None:
        """Floor, counters and stations: persistent, drawn once per episode."""
        t = self.tile
        s.rect(0, 0, self.width, HUD_HEIGHT, color="#2d3142", id="hud", persistent=True)
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
            f"Soups served: {kitchen.soups_served}",
            14,
            mid,
            size=20,
            color="white",
            id="served",
            **style,
        )
        s.text(
            f"Time {seconds // 60}:{seconds % 60:02d}",
            self.width - 14,
            mid,
            size=20,
            color="#ffd166" if seconds <= 10 else "white",
            align="right",
            id="clock",
            **style,
        )
        if viewer in kitchen.chefs:
            name = CHEF_NAMES[viewer % len(CHEF_NAMES)]
            centre = self.width / 2
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
