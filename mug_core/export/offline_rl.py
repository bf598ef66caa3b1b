"""Minari datasets for offline RL, one per game scene and agent role.

Needs ``minari`` with pyarrow (``pip install 'mug-core[export]'``) and step records with
observations (``GymScene.gameplay(record_observations=True)``, the default).

Each dataset, ``<out>/<experiment_id>/<scene_key>-<agent>-v0``, holds one Minari episode per
recorded episode in which that agent acted (the steps where the agent has an action, in step
order): ``actions``, ``rewards``, ``terminations`` and ``truncations`` from the step records.
Minari stores one observation more than there are steps. A step record holds the observation
the agent acted on, and the protocol records no observation after the last step, so the
final observation repeats the last recorded one (each episode's ``options`` says so with
``final_observation: "repeated"``). Episode ``options`` also carry ``participant_id``,
``scene_key``, ``episode`` and ``condition`` to link back to the tidy tables.

Spaces are inferred from the data unless given: whole-number actions become
``Discrete(max - min + 1, start=min)``; numbers and (nested) numeric lists of one shape a
float64 ``Box`` without bounds; dicts a ``Dict`` of those.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from mug_core.export.reading import StudyData
from mug_core.export.tidy import per_agent

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


class ExportError(ValueError):
    """The data cannot be exported as asked (missing observations, mixed action shapes)."""


def _require_minari() -> Any:
    try:
        import minari
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "exporting Minari datasets needs minari and pyarrow: pip install 'mug-core[export]'"
        ) from exc
    return minari


def dataset_id(experiment_id: str, scene_key: str, agent: str) -> str:
    """``<experiment_id>/<scene_key>-<agent>-v0`` with characters Minari refuses replaced."""
    parts = [_UNSAFE.sub("_", p) or "_" for p in (experiment_id, scene_key, agent or "agent")]
    return f"{parts[0]}/{parts[1]}-{parts[2]}-v0"


def infer_space(values: list[Any], what: str) -> Any:
    """A Gymnasium space holding every one of ``values`` (see the module docstring)."""
    import gymnasium as gym
    import numpy as np

    if not values:
        raise ExportError(f"no {what} to infer a space from")
    if all(isinstance(v, dict) for v in values):
        keys = list(values[0])
        if any(list(v) != keys for v in values):
            raise ExportError(f"{what}: dicts with different keys")
        return gym.spaces.Dict(
            {k: infer_space([v[k] for v in values], f"{what}.{k}") for k in keys}
        )
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        low, high = min(values), max(values)
        return gym.spaces.Discrete(high - low + 1, start=low)
    try:
        arrays = [np.asarray(v, dtype=np.float64) for v in values]
    except (TypeError, ValueError) as exc:
        raise ExportError(f"{what}: values are neither numbers nor numeric arrays") from exc
    shape = arrays[0].shape
    if any(a.shape != shape for a in arrays):
        raise ExportError(f"{what}: arrays of different shapes")
    return gym.spaces.Box(-np.inf, np.inf, shape=shape, dtype=np.float64)


def _as_space_value(value: Any, space: Any) -> Any:
    import gymnasium as gym
    import numpy as np

    if isinstance(space, gym.spaces.Dict):
        return {k: _as_space_value(value[k], s) for k, s in space.spaces.items()}
    if isinstance(space, gym.spaces.Discrete):
        return int(value)
    return np.asarray(value, dtype=space.dtype)


@contextlib.contextmanager
def _datasets_path(path: Path) -> Iterator[None]:
    """Point Minari at ``path`` (it reads ``MINARI_DATASETS_PATH``) for the duration."""
    old = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = old


def _agent_episodes(
    data: StudyData, scene_key: str, agent: str
) -> list[tuple[tuple[str, str, int], list[dict[str, Any]]]]:
    episodes = []
    for key, rows in data.episodes().items():
        if key[1] != scene_key:
            continue
        acted = [r for r in rows if agent in per_agent(r.get("actions"))]
        if not acted:
            continue
        missing = [r["step"] for r in acted if agent not in per_agent(r.get("observations"))]
        if missing:
            raise ExportError(
                f"participant {key[0]!r}, scene {scene_key!r}, episode {key[2]}: no observation "
                f"of agent {agent!r} at step {missing[0]} (record_observations was off?)"
            )
        episodes.append((key, acted))
    return episodes


def _buffer(
    key: tuple[str, str, int],
    rows: list[dict[str, Any]],
    agent: str,
    spaces: tuple[Any, Any],
    condition: str | None,
) -> Any:
    from minari.data_collector import EpisodeBuffer

    observation_space, action_space = spaces
    observations = [
        _as_space_value(per_agent(r["observations"])[agent], observation_space) for r in rows
    ]
    observations.append(observations[-1])
    return EpisodeBuffer(
        observations=observations,
        actions=[_as_space_value(per_agent(r["actions"])[agent], action_space) for r in rows],
        rewards=[float(per_agent(r.get("rewards")).get(agent) or 0.0) for r in rows],
        terminations=[bool(per_agent(r.get("terminated")).get(agent)) for r in rows],
        truncations=[bool(per_agent(r.get("truncated")).get(agent)) for r in rows],
        options={
            "participant_id": key[0],
            "scene_key": key[1],
            "episode": key[2],
            "condition": condition,
            "final_observation": "repeated",
        },
    )


def export_minari(
    data: StudyData,
    out: str | Path,
    *,
    spaces: Mapping[str, tuple[Any, Any]] | None = None,
    author: str | None = None,
) -> dict[str, int]:
    """Write one Minari dataset per (game scene, agent) under ``out``; episodes per dataset id.

    ``spaces`` maps agent ids to ``(observation_space, action_space)`` to use instead of
    inferring them. Raises :class:`ExportError` when observations are missing, and
    FileExistsError when a dataset of the same id exists under ``out`` (Minari never
    overwrites).
    """
    minari = _require_minari()
    out = Path(out).absolute()
    scene_keys = sorted({row["scene_key"] for row in data.steps})
    plan = []
    for scene_key in scene_keys:
        scene_rows = [r for r in data.steps if r["scene_key"] == scene_key]
        for agent in sorted({a for r in scene_rows for a in per_agent(r.get("actions"))}):
            episodes = _agent_episodes(data, scene_key, agent)
            if (spaces or {}).get(agent) is not None:
                agent_spaces = spaces[agent]  # type: ignore[index]
            else:
                steps = [r for _, rows in episodes for r in rows]
                agent_spaces = (
                    infer_space([per_agent(r["observations"])[agent] for r in steps], "obs"),
                    infer_space([per_agent(r["actions"])[agent] for r in steps], "actions"),
                )
            identifier = dataset_id(data.experiment_id, scene_key, agent)
            if (out / identifier).exists():
                raise FileExistsError(f"a Minari dataset {identifier} already exists in {out}")
            plan.append((identifier, scene_key, agent, episodes, agent_spaces))
    counts: dict[str, int] = {}
    with _datasets_path(out), warnings.catch_warnings():
        # Minari warns that no Gymnasium env (spec) is attached (MUG's envs run in the page) and
        # about metadata left out; neither is a problem with the data.
        warnings.filterwarnings(
            "ignore", message=r".*(eval_env|env_spec|code_permalink|author).*", category=UserWarning
        )
        for identifier, scene_key, agent, episodes, agent_spaces in plan:
            buffers = [
                _buffer(key, rows, agent, agent_spaces, data.condition(key[0]))
                for key, rows in episodes
            ]
            minari.create_dataset_from_buffers(
                identifier,
                buffers,
                observation_space=agent_spaces[0],
                action_space=agent_spaces[1],
                algorithm_name="human participants (MUG)",
                author=author,
                description=(
                    f"MUG study {data.experiment_id!r}, scene {scene_key!r}, agent {agent!r}: "
                    f"{len(buffers)} episodes. The last observation of each episode repeats "
                    "the one before (no observation is recorded after the last step)."
                ),
                data_format="arrow",
            )
            counts[identifier] = len(buffers)
    return counts


__all__ = ["ExportError", "dataset_id", "export_minari", "infer_space"]
