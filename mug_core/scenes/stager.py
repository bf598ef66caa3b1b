"""The Stager: the order of scenes each participant sees.

``Stager(scenes=[...])`` takes scenes and these arrangements, nested freely:

- ``RandomizeOrder(scenes, keep_n=None)``: a per-participant shuffle, optionally keeping the
  first ``keep_n`` (a between-subjects condition is ``RandomizeOrder([a, b], keep_n=1)``);
- ``RepeatScene(scenes, n)``: the scenes ``n`` times in a row;
- ``Branch(choose, options)``: ``choose(answers)`` picks one of ``options`` (or None to skip)
  from the participant's earlier answers, ``answers[scene_key][question_id]``.

Each participant's order comes from a seed stored with their progress, so a resumed participant
sees the same order.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeAlias

import attrs

from mug_core.scenes.scene import Scene

Answers: TypeAlias = Mapping[str, Mapping[str, Any]]


def _scene_list(scenes: Any, what: str) -> list[Any]:
    if isinstance(scenes, Scene | RandomizeOrder | RepeatScene | Branch):
        return [scenes]
    if not isinstance(scenes, Sequence) or isinstance(scenes, str):
        raise TypeError(f"{what}: scenes must be a list of scenes, got {scenes!r}")
    for item in scenes:
        if not isinstance(item, Scene | RandomizeOrder | RepeatScene | Branch):
            raise TypeError(
                f"{what}: {item!r} is not a scene; use StaticScene(), SurveyScene(), GymScene(), "
                "RandomizeOrder, RepeatScene or Branch"
            )
    return list(scenes)


@attrs.define(eq=False)
class RandomizeOrder:
    """Show ``scenes`` in a random order per participant, keeping the first ``keep_n``."""

    scenes: list[Any] = attrs.field(converter=lambda s: _scene_list(s, "RandomizeOrder"))
    keep_n: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.keep_n is not None and not 1 <= self.keep_n <= len(self.scenes):
            raise ValueError(
                f"RandomizeOrder: keep_n must be between 1 and {len(self.scenes)}, "
                f"got {self.keep_n}"
            )


@attrs.define(eq=False)
class RepeatScene:
    """Show ``scenes`` ``n`` times in a row. Repeats get keys ``<scene_id>-2``, ``-3``, ..."""

    scenes: list[Any] = attrs.field(converter=lambda s: _scene_list(s, "RepeatScene"))
    n: int = 2

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.n, int) or self.n < 1:
            raise ValueError(f"RepeatScene: n must be a whole number of 1 or more, got {self.n!r}")


@attrs.define(eq=False)
class Branch:
    """Pick the next scene from earlier answers: ``choose(answers)`` returns one of ``options``
    (the scene or its id), or None to skip."""

    choose: Callable[[Answers], Scene | str | None]
    options: list[Scene] = attrs.field(converter=lambda s: _scene_list(s, "Branch"))

    def __attrs_post_init__(self) -> None:
        if not callable(self.choose):
            raise TypeError("Branch: choose must be a function of the earlier answers")
        if not all(isinstance(o, Scene) for o in self.options):
            raise TypeError("Branch: options must be scenes")

    def pick(self, answers: Answers) -> Scene | None:
        """Call ``choose`` and map its answer to one of the options."""
        choice = self.choose(answers)
        if choice is None:
            return None
        for option in self.options:
            if choice is option or choice == option.scene_id:
                return option
        ids = ", ".join(repr(o.scene_id) for o in self.options)
        raise ValueError(f"Branch: choose() returned {choice!r}, which is not one of {ids}")

    def option(self, scene_id: str) -> Scene:
        """The option called ``scene_id``."""
        for option in self.options:
            if option.scene_id == scene_id:
                return option
        raise KeyError(scene_id)


PlanItem: TypeAlias = Scene | Branch


@attrs.define(eq=False)
class Stager:
    """The study's scenes in order. Build one per study; it holds no participant state."""

    scenes: list[Any] = attrs.field(converter=lambda s: _scene_list(s, "Stager"))

    def plan(self, seed: int) -> list[PlanItem]:
        """One participant's sequence (branches still unresolved), fixed by ``seed``."""
        rng = random.Random(seed)
        return list(_expand(self.scenes, rng))

    def all_scenes(self) -> list[Scene]:
        """Every scene object that may appear, once each, in first-appearance order."""
        seen: dict[int, Scene] = {}
        for scene in _walk(self.scenes):
            seen.setdefault(id(scene), scene)
        return list(seen.values())

    def check(self) -> list[str]:
        """Configuration problems: missing ids, two different scenes with the same id, ..."""
        problems: list[str] = []
        scenes = self.all_scenes()
        if not scenes:
            return ["the Stager has no scenes: Stager(scenes=[start, ..., end])"]
        by_id: dict[str, Scene] = {}
        for scene in scenes:
            problems.extend(scene.check())
            if scene.scene_id is None:
                continue
            other = by_id.setdefault(scene.scene_id, scene)
            if other is not scene:
                problems.append(
                    f"two different scenes use scene_id {scene.scene_id!r}; give each its own id "
                    "(to show one scene twice, use RepeatScene)"
                )
        last = self.scenes[-1]
        if not (isinstance(last, Scene) and last.is_terminal):
            problems.append(
                "the last scene should be an EndScene or CompletionCodeScene, so participants "
                "see that the study is over"
            )
        for scene in scenes:
            if scene.is_terminal and scene is not last:
                problems.append(
                    f"{type(scene).__name__} {scene.scene_id!r} ends the study but is not the "
                    "last scene; move it to the end"
                )
        return problems


def _walk(items: list[Any]) -> Iterator[Scene]:
    for item in items:
        if isinstance(item, Scene):
            yield item
        elif isinstance(item, Branch):
            yield from item.options
        else:
            yield from _walk(item.scenes)


def _expand(items: list[Any], rng: random.Random) -> Iterator[PlanItem]:
    for item in items:
        if isinstance(item, Scene | Branch):
            yield item
        elif isinstance(item, RandomizeOrder):
            order = list(item.scenes)
            rng.shuffle(order)
            if item.keep_n is not None:
                order = order[: item.keep_n]
            yield from _expand(order, rng)
        else:
            for _ in range(item.n):
                yield from _expand(item.scenes, rng)
