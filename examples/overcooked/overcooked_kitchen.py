"""A plain-Python picture of an Overcooked kitchen at one step, read from CoGrid's state.

``read_kitchen`` turns ``CoGridEnv.get_state()`` into a :class:`Kitchen`: the station on each
cell, the items lying on counters, the pots (ingredients, cooking timer) and the chefs (cell,
facing direction, what they hold). The drawing (``overcooked_drawing.py``) and the scripted chef
(``overcooked_chef.py``) both read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cogrid.core.objects import idx_to_object

# CoGrid's actions (cardinal action set) and directions.
UP, DOWN, LEFT, RIGHT, INTERACT, TOGGLE, NOOP = range(7)
ACTION_NAMES = ("up", "down", "left", "right", "interact", "toggle", "no-op")
DIRECTION_STEPS = {0: (0, 1), 1: (1, 0), 2: (0, -1), 3: (-1, 0)}
"""CoGrid direction (0 right, 1 down, 2 left, 3 up) to a (row, col) step."""
MOVE_DIRECTION = {RIGHT: 0, DOWN: 1, LEFT: 2, UP: 3}

STATIONS = ("counter", "onion_stack", "tomato_stack", "plate_stack", "pot", "delivery_zone")
WALKABLE = (None, "free_space", "floor")

Cell = tuple[int, int]


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
    soups_served: int = 0
    served_at: tuple[int, Cell] | None = None
    """The step and serving cell of the last delivery."""

    def tile(self, cell: Cell) -> str | None:
        """The station at ``cell``; ``None`` for floor and outside the grid."""
        r, c = cell
        if 0 <= r < self.height and 0 <= c < self.width:
            return self.tiles[r][c]
        return None

    def cells(self, station: str) -> list[tuple[int, int]]:
        """Every cell holding ``station``, row by row."""
        return [
            (r, c)
            for r in range(self.height)
            for c in range(self.width)
            if self.tiles[r][c] == station
        ]

    def pot_at(self, cell: tuple[int, int]) -> Pot | None:
        """The pot on ``cell``, if any."""
        return next((p for p in self.pots if (p.row, p.col) == cell), None)


def _object_name(type_id: int, scope: str) -> str | None:
    if type_id <= 0:
        return None
    return idx_to_object(type_id, scope=scope)


def read_kitchen(
    state: dict[str, Any],
    scope: str,
    agents: list[Any],
    *,
    cook_time: int,
    max_steps: int,
    soups_served: int = 0,
    served_at: tuple[int, Cell] | None = None,
) -> Kitchen:
    """The :class:`Kitchen` of ``state`` (``CoGridEnv.get_state()``). ``agents`` are the env's
    agent ids; ``cook_time`` is the pots' full timer."""
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
                cook_time=cook_time,
            )
        )
    chefs = {}
    for i, agent in enumerate(sorted(agents)):
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
        t=int(state["t"]),
        max_steps=max_steps,
        soups_served=soups_served,
        served_at=served_at,
    )
