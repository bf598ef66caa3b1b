"""``mug export``: a data folder written by the real CSV sink, read back as Parquet and Minari."""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import pytest

from mug_core.data.records import Record
from mug_core.export import read_study
from mug_core.export.cli import EXPORT_COMMAND

csv_sink = pytest.importorskip("mug_storage.csv", reason="needs the mug-storage plugin")

EXP = "exp1"
AGENTS = ("left", "right")
EPISODES = {("p1", 0): 6, ("p1", 1): 4, ("p2", 0): 5}
"""Recorded episodes: (participant, episode) -> number of steps."""

needs_pyarrow = pytest.mark.skipif(
    importlib.util.find_spec("pyarrow") is None, reason="pip install 'mug-core[export]'"
)
needs_minari = pytest.mark.skipif(
    importlib.util.find_spec("minari") is None or importlib.util.find_spec("pyarrow") is None,
    reason="minari is not installed: pip install 'mug-core[export]'",
)


def step_values(pid: str, episode: int, i: int, last: int) -> dict[str, Any]:
    return {
        "step": i,
        "t": 1000.0 + i + 0.125,
        "actions": {"left": (i + episode) % 3, "right": i % 2},
        "rewards": {"left": 0.1 * i, "right": -1.0 if i == last else 0.0},
        "terminated": {"left": i == last, "right": i == last},
        "truncated": {"left": False, "right": False},
        "infos": {"score": i} if i % 2 else {},
        "observations": {"left": [float(i), 0.5, -1e-7], "right": [float(-i), math.pi, 2.0]},
    }


def timeline(order: list[str]) -> list[dict[str, Any]]:
    return [
        {"scene_key": key, "scene_id": key, "index": n, "started_at": 10.0 + n, "ended_at": None}
        for n, key in enumerate(order)
    ]


def recorded() -> list[Record]:
    """Everything the study recorded, in the order the server would hand it to the sink."""
    records = []
    orders = {"p1": ["consent", "game", "survey"], "p2": ["consent", "survey", "game"]}
    for pid, order in orders.items():
        query = {"PROLIFIC_PID": pid.upper()} if pid == "p1" else {}
        document = {"created_at": 1.0, "query_parameters": query, "scenes": timeline(order)}
        document.update(user_agent="bot", completed_at=99.0, completion_code="C0DE")
        records.append(Record("participant", EXP, pid, document))
        answers = {"fun": 4, "genres": ["A", "B"], "comments": "fine, thanks"}
        survey = {
            "scene_id": "survey",
            "scene_type": "survey",
            "scene_index": order.index("survey"),
        }
        records.append(Record("scene", EXP, pid, {**survey, **answers}, scene_key="survey"))
    for (pid, episode), n in EPISODES.items():
        for i in range(n):
            values = step_values(pid, episode, i, n - 1)
            records.append(Record("step", EXP, pid, values, scene_key="game", episode=episode))
        event = {"t": 999.5, "type": "keydown", "key": "ArrowLeft", "agent": "left"}
        records.append(Record("event", EXP, pid, event, scene_key="game", episode=episode))
    return records


@pytest.fixture
def study_dir(tmp_path: Path) -> Path:
    root = tmp_path / "data" / EXP
    sink = csv_sink.open_sink(root, EXP)
    records = recorded()
    sink.write(records[:7])
    sink.write(records[7:])
    sink.close()
    return root


def test_reading_decodes_every_record(study_dir: Path) -> None:
    data = read_study(study_dir)
    assert data.experiment_id == EXP and set(data.participants) == {"p1", "p2"}
    assert data.condition("p1") == "consent>game>survey"
    assert data.condition("p2") == "consent>survey>game"
    steps = {(r["participant_id"], r["episode"], r["step"]): r for r in data.steps}
    assert len(steps) == len(data.steps) == sum(EPISODES.values())
    for (pid, episode), n in EPISODES.items():
        for i in range(n):
            row = steps[(pid, episode, i)]
            expected = step_values(pid, episode, i, n - 1)
            assert {k: row[k] for k in expected} == expected
    assert [r["comments"] for r in data.scenes] == ["fine, thanks"] * 2
    assert len(data.events) == len(EPISODES) and not data.duplicates


def test_a_batch_stored_twice_is_dropped_and_counted(study_dir: Path) -> None:
    sink = csv_sink.open_sink(study_dir, EXP)
    again = recorded()[7:]  # the second batch, re-delivered after a crash
    sink.write(again)
    sink.close()
    repeated = sum(r.kind == "step" for r in again)
    data = read_study(study_dir)
    assert len(data.steps) == sum(EPISODES.values())
    assert data.duplicates == {"step": repeated, "event": len(EPISODES)}
    kept = read_study(study_dir, drop_duplicates=False)
    assert len(kept.steps) == sum(EPISODES.values()) + repeated


@needs_pyarrow
def test_parquet_steps_hold_exactly_the_recorded_steps(study_dir: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from mug_core.export.tidy import export_parquet

    counts = export_parquet(read_study(study_dir), tmp_path / "out")
    assert counts == {"steps": 15, "events": 3, "scenes": 2, "participants": 2}
    rows = pq.read_table(tmp_path / "out" / "steps.parquet").to_pylist()
    recorded_steps = [r for r in recorded() if r.kind == "step"]
    assert len(rows) == len(recorded_steps)
    by_key = {(r["participant_id"], r["episode"], r["step"]): r for r in rows}
    for record in recorded_steps:
        row = by_key[(record.participant_id, record.episode, record.values["step"])]
        values = record.values
        assert row["scene_key"] == "game" and row["t"] == values["t"]
        assert row["condition"] == read_study(study_dir).condition(record.participant_id)
        assert row["scene_index"] == (1 if record.participant_id == "p1" else 2)
        for agent in AGENTS:
            assert row[f"action_{agent}"] == values["actions"][agent]
            assert row[f"reward_{agent}"] == values["rewards"][agent]
            assert row[f"terminated_{agent}"] == values["terminated"][agent]
            assert row[f"truncated_{agent}"] == values["truncated"][agent]
            assert row[f"observation_{agent}"] == values["observations"][agent]
        assert row["terminated"] == any(values["terminated"].values())
        assert json.loads(row["infos"]) == values["infos"]
    schema = pq.read_schema(tmp_path / "out" / "steps.parquet")
    assert str(schema.field("action_left").type) == "int64"
    observation_type = schema.field("observation_left").type
    assert observation_type.num_fields == 1 and str(observation_type.value_type) == "double"


@needs_pyarrow
def test_parquet_scenes_events_and_participants(study_dir: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from mug_core.export.tidy import export_parquet

    export_parquet(read_study(study_dir), tmp_path / "out")
    scenes = pq.read_table(tmp_path / "out" / "scenes.parquet").to_pylist()
    assert [(r["participant_id"], r["fun"], r["genres"]) for r in scenes] == [
        ("p1", "4", '["A","B"]'),
        ("p2", "4", '["A","B"]'),
    ]
    people = pq.read_table(tmp_path / "out" / "participants.parquet").to_pylist()
    assert [p["query_PROLIFIC_PID"] for p in people] == ["P1", None]
    assert [p["condition"] for p in people] == ["consent>game>survey", "consent>survey>game"]
    assert people[0]["n_scenes"] == 3 and people[0]["completion_code"] == "C0DE"
    events = pq.read_table(tmp_path / "out" / "events.parquet").to_pylist()
    assert {(e["participant_id"], e["episode"], e["key"]) for e in events} == {
        ("p1", 0, "ArrowLeft"),
        ("p1", 1, "ArrowLeft"),
        ("p2", 0, "ArrowLeft"),
    }


@needs_minari
def test_minari_episodes_are_the_recorded_episodes(study_dir: Path, tmp_path: Path) -> None:
    from mug_core.export.offline_rl import _datasets_path, export_minari

    out = tmp_path / "minari"
    counts = export_minari(read_study(study_dir), out)
    assert counts == {f"{EXP}/game-left-v0": 3, f"{EXP}/game-right-v0": 3}
    import minari

    with _datasets_path(out):
        for agent in AGENTS:
            dataset = minari.load_dataset(f"{EXP}/game-{agent}-v0")
            assert dataset.total_episodes == len(EPISODES)
            assert dataset.total_steps == sum(EPISODES.values())
            options = list(dataset.storage.get_episode_metadata(range(len(EPISODES))))
            for episode, meta in zip(dataset.iterate_episodes(), options, strict=True):
                pid, number = meta["options"]["participant_id"], meta["options"]["episode"]
                n = EPISODES[(pid, number)]
                expected = [step_values(pid, number, i, n - 1) for i in range(n)]
                assert episode.actions.tolist() == [s["actions"][agent] for s in expected]
                assert episode.rewards.tolist() == [s["rewards"][agent] for s in expected]
                assert episode.terminations.tolist() == [s["terminated"][agent] for s in expected]
                assert episode.truncations.tolist() == [s["truncated"][agent] for s in expected]
                observations = episode.observations.tolist()
                assert observations[:-1] == [s["observations"][agent] for s in expected]
                assert observations[-1] == observations[-2]  # not recorded: repeated
    with pytest.raises(FileExistsError, match="already exists"):
        export_minari(read_study(study_dir), out)


@needs_minari
def test_minari_needs_observations(tmp_path: Path) -> None:
    from mug_core.export.offline_rl import ExportError, export_minari

    root = tmp_path / EXP
    sink = csv_sink.open_sink(root, EXP)
    values = step_values("p1", 0, 0, 0)
    del values["observations"]
    sink.write([Record("step", EXP, "p1", values, scene_key="game", episode=0)])
    sink.close()
    with pytest.raises(ExportError, match="no observation of agent 'left' at step 0"):
        export_minari(read_study(root), tmp_path / "minari")


@needs_pyarrow
def test_the_command_and_the_analysis_example(
    study_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    EXPORT_COMMAND.add_arguments(parser)
    args = parser.parse_args([str(study_dir), "--to", "parquet", "--out", str(tmp_path / "out")])
    assert EXPORT_COMMAND.run(args) == 0
    assert "wrote" in capsys.readouterr().out and (tmp_path / "out/steps.parquet").is_file()
    missing = parser.parse_args([str(tmp_path / "nope"), "--out", str(tmp_path / "x")])
    with pytest.raises(Exception, match="neither a study file"):
        EXPORT_COMMAND.run(missing)

    pytest.importorskip("pandas")
    example = Path(__file__).parents[2] / "examples" / "analysis" / "returns_per_participant.py"
    spec = importlib.util.spec_from_file_location("returns_per_participant", example)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    returns = module.returns_per_episode(module.load_steps(tmp_path / "out"))
    assert len(returns) == len(EPISODES) * len(AGENTS)
    expected = sum(0.1 * i for i in range(6))
    row = returns[(returns.participant_id == "p1") & (returns.episode == 0)]
    assert row[row.agent == "left"]["return"].iloc[0] == pytest.approx(expected)


def test_an_episode_played_again_after_a_reload_counts_once_by_its_last_attempt(
    tmp_path: Path,
) -> None:
    from mug_core.export.reading import StudyData

    def row(step: int, attempt: int) -> dict[str, Any]:
        return {
            "participant_id": "p",
            "scene_key": "g",
            "episode": 0,
            "step": step,
            "attempt": attempt,
        }

    rows = [row(0, 0), row(1, 0)] + [row(s, 1) for s in (2, 0, 1)]
    data = StudyData(root=tmp_path, experiment_id="x", steps=rows)
    ((key, kept),) = data.episodes().items()
    assert key == ("p", "g", 0)
    assert [(r["step"], r["attempt"]) for r in kept] == [(0, 1), (1, 1), (2, 1)]
    assert len(data.steps) == 5  # the tidy tables keep every attempt
