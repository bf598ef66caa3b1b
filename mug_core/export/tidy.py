"""Tidy tables of a study, written as Parquet (needs pyarrow: ``pip install 'mug-core[export]'``).

Four tables, one file each in the output folder:

- ``steps.parquet``: one row per recorded step. ``participant_id``, ``condition``,
  ``scene_key``, ``scene_index``, ``episode``, ``step``, ``t``, then per agent id ``<a>``:
  ``action_<a>``, ``reward_<a>``, ``terminated_<a>``, ``truncated_<a>``, ``observation_<a>``;
  then ``terminated`` / ``truncated`` (true when any agent's is), ``infos`` (JSON text) and any
  other column the game logged.
- ``events.parquet``: one row per event (``t``, ``type``, ``key``, ``agent``), same leading
  columns.
- ``scenes.parquet``: one row per scene a participant left: timing and, for surveys, one
  column per question id (answers as the text in the CSV; multi-select answers are JSON).
- ``participants.parquet``: one row per participant: metadata, ``condition``, the timeline
  (``scenes``, JSON) and the query parameters (``query_parameters`` JSON plus a
  ``query_<name>`` column each).

``condition`` is the participant's scene order (scene keys joined by ``>``), which tells
randomized orders, between-subjects picks and branches apart. Column types follow the values:
whole numbers int64, numbers float64, flat numeric lists list<double> (observations of vector
envs), anything else JSON text. Rows are sorted by participant, scene, episode and step.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mug_core.export.reading import StudyData, scene_index_of

PER_AGENT = (
    ("action", "actions"),
    ("reward", "rewards"),
    ("terminated", "terminated"),
    ("truncated", "truncated"),
    ("observation", "observations"),
)
"""(column prefix, step field) pairs split into one column per agent."""

_STEP_KNOWN = {"schema_version", "participant_id", "scene_key", "episode", "step", "t", "infos"}
_STEP_KNOWN.update(field for _, field in PER_AGENT)


def _require_pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as exc:
        raise ImportError(
            "exporting Parquet needs pyarrow: pip install 'mug-core[export]'"
        ) from exc
    return pyarrow


def column_name(prefix: str, agent: str) -> str:
    """``action_left`` for agent ``left``; just ``action`` for a value that was not a dict."""
    return f"{prefix}_{agent}" if agent else prefix


def per_agent(value: Any) -> dict[str, Any]:
    """A step field as ``{agent: value}``; a value that is not a dict belongs to agent ``""``."""
    if value is None:
        return {}
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {"": value}


def agents_of(steps: Iterable[dict[str, Any]]) -> list[str]:
    """Every agent id in the steps, in order of first appearance."""
    seen: dict[str, None] = {}
    for row in steps:
        for _, field in PER_AGENT:
            for agent in per_agent(row.get(field)):
                seen.setdefault(agent, None)
    return list(seen)


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=True)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def arrow_column(values: Sequence[Any]) -> Any:
    """A pyarrow array typed after ``values`` (None is null; see the module docstring)."""
    pa = _require_pyarrow()
    present = [v for v in values if v is not None]
    candidates: list[Any] = []
    if not present:
        candidates.append(pa.string())
    elif all(isinstance(v, bool) for v in present):
        candidates.append(pa.bool_())
    elif all(_is_number(v) for v in present):
        if all(isinstance(v, int) for v in present):
            candidates.append(pa.int64())
        candidates.append(pa.float64())
    elif all(isinstance(v, str) for v in present):
        candidates.append(pa.string())
    elif all(isinstance(v, list) and all(_is_number(x) for x in v) for v in present):
        candidates.append(pa.list_(pa.float64()))
    for arrow_type in candidates:
        try:
            return pa.array(values, type=arrow_type)
        except (pa.ArrowInvalid, OverflowError):
            continue
    return pa.array([_json_text(v) for v in values], type=pa.string())


def steps_columns(data: StudyData) -> dict[str, list[Any]]:
    """The ``steps`` table as plain columns (name -> values)."""
    rows = sorted(
        data.steps, key=lambda r: (r["participant_id"], r["scene_key"], r["episode"], r["step"])
    )
    agents = agents_of(rows)
    extra: dict[str, None] = {}
    for row in rows:
        for key in row:
            if key not in _STEP_KNOWN:
                extra.setdefault(key, None)
    leading = ("participant_id", "condition", "scene_key", "scene_index", "episode", "step", "t")
    columns: dict[str, list[Any]] = {name: [] for name in leading}
    for prefix, _ in PER_AGENT:
        for agent in agents:
            columns[column_name(prefix, agent)] = []
    for name in ("terminated", "truncated", "infos", *extra):
        columns.setdefault(name, [])
    for row in rows:
        pid, scene_key = row["participant_id"], row["scene_key"]
        document = data.participants.get(pid, {})
        columns["participant_id"].append(pid)
        columns["condition"].append(data.condition(pid))
        columns["scene_key"].append(scene_key)
        columns["scene_index"].append(scene_index_of(document, scene_key))
        for name in ("episode", "step", "t"):
            columns[name].append(row[name])
        for prefix, field in PER_AGENT:
            values = per_agent(row.get(field))
            for agent in agents:
                columns[column_name(prefix, agent)].append(values.get(agent))
        for field in ("terminated", "truncated"):
            flags = per_agent(row.get(field))
            if agents != [""]:
                columns[field].append(any(bool(v) for v in flags.values()) if flags else None)
        columns["infos"].append(_json_text(row.get("infos")))
        for name in extra:
            columns[name].append(row.get(name))
    return columns


def _row_columns(
    data: StudyData, rows: list[dict[str, Any]], leading: list[str]
) -> dict[str, list[Any]]:
    """``rows`` as columns: ``leading`` first, then every other key in first-seen order;
    ``condition`` is filled in from the participant."""
    names = list(leading)
    for row in rows:
        names.extend(k for k in row if k not in names and k != "schema_version")
    columns: dict[str, list[Any]] = {name: [] for name in names}
    for row in rows:
        for name in names:
            value = data.condition(row["participant_id"]) if name == "condition" else row.get(name)
            columns[name].append(value)
    return columns


def events_columns(data: StudyData) -> dict[str, list[Any]]:
    """The ``events`` table as plain columns."""
    rows = sorted(data.events, key=lambda r: (r["participant_id"], r["scene_key"], r["episode"]))
    leading = ["participant_id", "condition", "scene_key", "episode", "t", "type", "key", "agent"]
    return _row_columns(data, rows, leading)


def scenes_columns(data: StudyData) -> dict[str, list[Any]]:
    """The ``scenes`` table as plain columns."""
    rows = sorted(data.scenes, key=lambda r: (r["participant_id"], r.get("scene_index") or 0))
    leading = ["participant_id", "condition", "scene_key", "scene_id", "scene_type"]
    leading += ["scene_index", "started_at", "ended_at"]
    return _row_columns(data, rows, leading)


def participants_columns(data: StudyData) -> dict[str, list[Any]]:
    """The ``participants`` table as plain columns."""
    documents = [data.participants[pid] for pid in sorted(data.participants)]
    queries: dict[str, None] = {}
    for document in documents:
        for key in document.get("query_parameters") or {}:
            queries.setdefault(str(key), None)
    names = ["participant_id", "experiment_id", "condition", "created_at", "completed_at"]
    names += ["completion_code", "user_agent", "n_scenes", "scenes", "query_parameters"]
    columns: dict[str, list[Any]] = {name: [] for name in names}
    columns.update({f"query_{key}": [] for key in queries})
    for pid, document in zip(sorted(data.participants), documents, strict=True):
        query = document.get("query_parameters") or {}
        columns["participant_id"].append(pid)
        columns["experiment_id"].append(document.get("experiment_id"))
        columns["condition"].append(data.condition(pid))
        for name in ("created_at", "completed_at", "completion_code", "user_agent"):
            columns[name].append(document.get(name))
        columns["n_scenes"].append(len(document.get("scenes") or []))
        columns["scenes"].append(_json_text(document.get("scenes") or []))
        columns["query_parameters"].append(_json_text(query))
        for key in queries:
            value = query.get(key)
            columns[f"query_{key}"].append(None if value is None else str(value))
    return columns


TABLES = {
    "steps": steps_columns,
    "events": events_columns,
    "scenes": scenes_columns,
    "participants": participants_columns,
}


def to_arrow(columns: dict[str, list[Any]]) -> Any:
    """A ``pyarrow.Table`` of plain ``columns``."""
    pa = _require_pyarrow()
    return pa.table({name: arrow_column(values) for name, values in columns.items()})


def export_parquet(data: StudyData, out: str | Path) -> dict[str, int]:
    """Write the four tables as ``<out>/<table>.parquet``; returns rows written per table."""
    pa = _require_pyarrow()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for name, build in TABLES.items():
        table = to_arrow(build(data))
        pa.parquet.write_table(table, out / f"{name}.parquet")
        counts[name] = table.num_rows
    return counts


__all__ = ["TABLES", "agents_of", "arrow_column", "export_parquet", "steps_columns", "to_arrow"]
