"""Read a study's data folder (the ``csv`` sink's layout, ``docs/data.md``) back into Python.

Standard library only. Files are classified by what their rows say (``participant_id``,
``scene_key``, ``episode``), not by parsing names, and JSON cells are decoded where the column
holds JSON (``actions``, ``rewards``, ``terminated``, ``truncated``, ``infos``,
``observations``). Rows the sink stored twice (a crash between a sink's write and the outbox
noting it re-delivers a batch) are identical in every column; they are dropped unless asked
not to, and counted.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs

JSON_STEP_COLUMNS = ("actions", "rewards", "terminated", "truncated", "infos", "observations")
"""Step columns holding JSON (see ``docs/game-protocol.md``)."""

_EPISODE_STEM = re.compile(r"(?P<pid>.+)_ep(?P<episode>\d+)(?P<events>_events)?")


def decode_json(cell: str) -> Any:
    """A JSON cell's value; an empty cell is None and text that is not JSON stays text."""
    if cell == "":
        return None
    try:
        return json.loads(cell)
    except ValueError:
        return cell


def to_int(cell: str) -> int | None:
    """An integer cell, or None when empty."""
    return None if cell == "" else int(cell)


def to_float(cell: str) -> float | None:
    """A float cell (``nan``, ``inf`` included), or None when empty."""
    return None if cell == "" else float(cell)


def condition_of(document: dict[str, Any]) -> str:
    """A participant's condition: the keys of the scenes they saw, in order, joined by ``>``.

    Randomized orders (``RandomizeOrder``) and between-subjects picks (``keep_n=1``) and
    branches all show up as different scene sequences.
    """
    scenes = document.get("scenes") or []
    return ">".join(str(s.get("scene_key")) for s in scenes if isinstance(s, dict))


def scene_index_of(document: dict[str, Any], scene_key: str) -> int | None:
    """Where ``scene_key`` sits in the participant's timeline (first visit), or None."""
    for entry in document.get("scenes") or []:
        if isinstance(entry, dict) and entry.get("scene_key") == scene_key:
            index = entry.get("index")
            return index if isinstance(index, int) else None
    return None


@attrs.define
class StudyData:
    """Everything in a study's data folder, decoded.

    ``participants`` maps ids to metadata documents. ``scenes`` rows keep their cells as text
    (empty cells as None) except ``scene_index`` (int) and ``started_at``/``ended_at``
    (float). ``steps`` rows have ``participant_id``, ``scene_key``, ``episode`` (int), ``step``
    (int), ``t`` (float) and the JSON columns decoded; ``events`` rows likewise with ``t``
    (float). Row order is file order within each file, files sorted by path.
    """

    root: Path
    experiment_id: str
    participants: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    scenes: list[dict[str, Any]] = attrs.field(factory=list)
    steps: list[dict[str, Any]] = attrs.field(factory=list)
    events: list[dict[str, Any]] = attrs.field(factory=list)
    duplicates: Counter[str] = attrs.field(factory=Counter)
    """How many repeated rows were dropped, per kind (``scene``, ``step``, ``event``)."""

    def condition(self, participant_id: str) -> str | None:
        """The participant's condition (:func:`condition_of`), or None without metadata."""
        document = self.participants.get(participant_id)
        return None if document is None else condition_of(document)

    def episodes(self) -> dict[tuple[str, str, int], list[dict[str, Any]]]:
        """Step rows per ``(participant_id, scene_key, episode)``, each sorted by step.

        When a reloaded page played an episode again (``attempt`` above 0), only the rows of
        its last attempt are returned: the one that ran to the end."""
        grouped: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
        for row in self.steps:
            key = (row["participant_id"], row["scene_key"], row["episode"])
            grouped.setdefault(key, []).append(row)
        for rows in grouped.values():
            last = max((r.get("attempt") or 0 for r in rows), default=0)
            if last:
                rows[:] = [r for r in rows if (r.get("attempt") or 0) == last]
            rows.sort(key=lambda r: r["step"])
        return dict(sorted(grouped.items()))


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        yield from csv.DictReader(f)


def _kind(path: Path, first: dict[str, str]) -> str | None:
    """``scene``, ``step`` or ``event`` from a file's name and its first row, else None."""
    pid, episode = first.get("participant_id", ""), first.get("episode")
    if path.stem == pid and episode is None:
        return "scene"
    match = _EPISODE_STEM.fullmatch(path.stem)
    if match is None or match["pid"] != pid or episode != match["episode"]:
        return None
    return "event" if match["events"] else "step"


def _decode_step(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, cell in row.items():
        if key in ("episode", "step", "attempt", "seq", "schema_version"):
            out[key] = to_int(cell)
        elif key == "t":
            out[key] = to_float(cell)
        elif key in JSON_STEP_COLUMNS:
            out[key] = decode_json(cell)
        else:
            out[key] = None if cell == "" else cell
    return out


def _decode_event(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {k: (None if v == "" else v) for k, v in row.items()}
    out["episode"] = to_int(row["episode"])
    out["schema_version"] = to_int(row.get("schema_version", ""))
    out["t"] = to_float(row.get("t", ""))
    for key in ("attempt", "seq"):
        if key in row:
            out[key] = to_int(row[key])
    return out


def _decode_scene(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {k: (None if v == "" else v) for k, v in row.items()}
    out["schema_version"] = to_int(row.get("schema_version", ""))
    out["scene_index"] = to_int(row.get("scene_index", ""))
    for key in ("started_at", "ended_at"):
        out[key] = to_float(row.get(key, ""))
    return out


_DECODERS = {"scene": _decode_scene, "step": _decode_step, "event": _decode_event}


def read_study(root: str | Path, *, drop_duplicates: bool = True) -> StudyData:
    """Read the study folder ``root`` (``data/<experiment_id>``).

    Hidden files (the progress store, temporary files) and files that do not follow the layout
    are skipped. With ``drop_duplicates`` (default), a row identical to an earlier row of the
    same file is dropped and counted in :attr:`StudyData.duplicates`; no two genuine rows are
    identical, since step rows carry their step number and scene rows their timestamps.
    Raises FileNotFoundError if ``root`` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no study data folder at {root}")
    data = StudyData(root=root, experiment_id=root.name)
    for path in sorted((root / "metadata").glob("*.json")):
        if path.name.startswith("."):
            continue
        document = json.loads(path.read_text(encoding="utf-8"))
        data.participants[str(document.get("participant_id", path.stem))] = document
        data.experiment_id = str(document.get("experiment_id") or data.experiment_id)
    for path in sorted(root.glob("*/*.csv")):
        if path.name.startswith(".") or path.parent.name.startswith("."):
            continue
        rows = list(_rows(path))
        kind = _kind(path, rows[0]) if rows else None
        if kind is None:
            continue
        seen: set[tuple[tuple[str, str], ...]] = set()
        target = {"scene": data.scenes, "step": data.steps, "event": data.events}[kind]
        for row in rows:
            identity = tuple(row.items())
            if identity in seen and drop_duplicates:
                data.duplicates[kind] += 1
                continue
            seen.add(identity)
            target.append(_DECODERS[kind](row))
    return data


__all__ = ["JSON_STEP_COLUMNS", "StudyData", "condition_of", "decode_json", "read_study"]
