"""A scripted Overcooked chef: fetch onions for the pot, plate the soup, serve it.

``ScriptedChef`` plans from the kitchen's state (``OvercookedMUG.kitchen()``, see
``overcooked_kitchen.py``), not from the learned-feature observation, so it needs the env it
plays in::

    chef = ScriptedChef(env)            # in the env file, next to ``env``
    action = chef.act(observation, 1)   # the action for agent 1 (the observation is unused)

In a study it is the heuristic policy ``HeuristicPolicy("env:chef")``: ``env:`` names a global
of the env file, so every game gets the chef of its own env. One chef object can play any
number of agents.

Each step it picks a goal from what the chef holds and what the pots need, walks the shortest
free path to a cell next to the goal (the other chefs block cells), turns to face it and
interacts. When it is stuck behind another chef for a few steps it takes a random step aside.
"""

from __future__ import annotations

import random
from collections import deque
from typing import Any

try:  # imported as part of a package (examples.overcooked.overcooked_chef)
    from .overcooked_kitchen import (
        DIRECTION_STEPS,
        DOWN,
        INTERACT,
        LEFT,
        MOVE_DIRECTION,
        NOOP,
        RIGHT,
        UP,
        WALKABLE,
        Kitchen,
    )
except ImportError:  # the example folder itself is on sys.path (the runtime, tests)
    from overcooked_kitchen import (  # type: ignore[no-redef]
        DIRECTION_STEPS,
        DOWN,
        INTERACT,
        LEFT,
        MOVE_DIRECTION,
        NOOP,
        RIGHT,
        UP,
        WALKABLE,
        Kitchen,
    )

Cell = tuple[int, int]
MOVES = (UP, DOWN, LEFT, RIGHT)
STEP_OF_MOVE = {move: DIRECTION_STEPS[direction] for move, direction in MOVE_DIRECTION.items()}


class ScriptedChef:
    """A deterministic (seeded) scripted partner for ``OvercookedMUG``.

    Args:
        env: the ``OvercookedMUG`` it plays in (anything with a ``kitchen()`` method).
        seed: seeds the random side-steps that untangle two chefs in a corridor.
        patience: steps blocked before side-stepping.
    """

    def __init__(self, env: Any, seed: int = 0, patience: int = 3) -> None:
        self.env = env
        self.patience = patience
        self._seed = seed
        self._rng = random.Random(seed)
        self._blocked: dict[Any, int] = {}

    def reset(self) -> None:
        """Forget per-episode memory (called by the runtime at each episode start)."""
        self._rng = random.Random(self._seed)
        self._blocked.clear()

    def __call__(self, observation: Any, agent_id: Any = 1) -> int:
        return self.act(observation, agent_id)

    def act(self, observation: Any, agent_id: Any = 1) -> int:
        """The action (0..6) for ``agent_id`` in the env's current state."""
        kitchen: Kitchen = self.env.kitchen()
        me = kitchen.chefs[agent_id]
        targets = self.targets(kitchen, agent_id)
        if not targets:
            return NOOP
        here = (me.row, me.col)
        if me.faced_cell in targets:
            self._blocked[agent_id] = 0
            return self._interact(kitchen, agent_id, me.faced_cell)
        for target in targets:  # next to a target but facing elsewhere: turn to it
            move = _move_towards(here, target)
            if move is not None:
                self._blocked[agent_id] = 0
                return move
        occupied = {(c.row, c.col) for a, c in kitchen.chefs.items() if a != agent_id}
        move = _first_move(kitchen, here, targets, occupied)
        if move is not None:
            self._blocked[agent_id] = 0
            return move
        self._blocked[agent_id] = self._blocked.get(agent_id, 0) + 1
        if self._blocked[agent_id] >= self.patience:  # another chef is in the way: step aside
            self._blocked[agent_id] = 0
            return self._rng.choice(MOVES)
        return NOOP

    def targets(self, kitchen: Kitchen, agent_id: Any) -> list[Cell]:
        """The cells the chef wants to interact with next, best first."""
        me = kitchen.chefs[agent_id]
        holding = me.holding
        pots = kitchen.pots
        if holding is not None and holding.endswith("soup"):
            return kitchen.cells("delivery_zone")
        if holding == "plate":
            ready = [(p.row, p.col) for p in pots if p.ready]
            cooking = [(p.row, p.col) for p in pots if p.cooking]
            filling = [(p.row, p.col) for p in pots if p.ingredients and not p.full]
            return ready or cooking or filling or [(p.row, p.col) for p in pots]
        if holding in ("onion", "tomato"):
            open_pots = [(p.row, p.col) for p in pots if not p.full]
            return open_pots or self._free_counters(kitchen)
        if holding is not None:
            return self._free_counters(kitchen)
        others_plating = any(
            c.holding == "plate" or (c.holding or "").endswith("soup")
            for a, c in kitchen.chefs.items()
            if a != agent_id
        )
        needs_plate = any(p.ready or p.cooking for p in pots) and not others_plating
        if needs_plate:
            return self._sources(kitchen, "plate", "plate_stack")
        if any(not p.full for p in pots):
            return self._sources(kitchen, "onion", "onion_stack")
        return []

    @staticmethod
    def _sources(kitchen: Kitchen, item: str, stack: str) -> list[Cell]:
        loose = sorted(cell for cell, name in kitchen.items.items() if name == item)
        return loose + kitchen.cells(stack)

    @staticmethod
    def _free_counters(kitchen: Kitchen) -> list[Cell]:
        return [cell for cell in kitchen.cells("counter") if cell not in kitchen.items]

    def _interact(self, kitchen: Kitchen, agent_id: Any, cell: Cell) -> int:
        pot = kitchen.pot_at(cell)
        holding = kitchen.chefs[agent_id].holding
        if pot is not None and holding == "plate" and not pot.ready:
            return NOOP  # wait by the pot, plate in hand, until the soup is done
        return INTERACT


def _move_towards(here: Cell, target: Cell) -> int | None:
    """The move that faces ``target`` from ``here`` if they are neighbours."""
    delta = (target[0] - here[0], target[1] - here[1])
    for move, step in STEP_OF_MOVE.items():
        if step == delta:
            return move
    return None


def _first_move(
    kitchen: Kitchen, start: Cell, targets: list[Cell], occupied: set[Cell]
) -> int | None:
    """First move of a shortest path from ``start`` to a free cell next to a target."""
    goals = set()
    for r, c in targets:
        for dr, dc in STEP_OF_MOVE.values():
            goals.add((r + dr, c + dc))
    seen = {start}
    queue: deque[tuple[Cell, int | None]] = deque([(start, None)])
    while queue:
        (r, c), first = queue.popleft()
        if (r, c) in goals and first is not None:
            return first
        for move in MOVES:
            dr, dc = STEP_OF_MOVE[move]
            cell = (r + dr, c + dc)
            if cell in seen or cell in occupied:
                continue
            if not (0 <= cell[0] < kitchen.height and 0 <= cell[1] < kitchen.width):
                continue
            if kitchen.tiles[cell[0]][cell[1]] not in WALKABLE:
                continue
            seen.add(cell)
            queue.append((cell, move if first is None else first))
    return None
