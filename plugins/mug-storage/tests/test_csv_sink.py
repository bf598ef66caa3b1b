"""The CSV data sink: layout, encoding, header evolution, durability and safety."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from mug_storage import _files, plugin
from mug_storage.csv import CsvSink, _csv_bytes, encode_cell

from mug_core.data.records import SCHEMA_VERSION, Record
from mug_core.data.sinks import DataSink, SinkContext
from mug_core.registry import Registry

EXP = "study1"


def scene(pid: str, key: str = "survey", **values: Any) -> Record:
    return Record("scene", EXP, pid, values, scene_key=key)


def step(pid: str, episode: int, key: str = "game", **values: Any) -> Record:
    return Record("step", EXP, pid, values, scene_key=key, episode=episode)


def event(pid: str, episode: int, key: str = "game", **values: Any) -> Record:
    return Record("event", EXP, pid, values, scene_key=key, episode=episode)


def participant(pid: str, **values: Any) -> Record:
    return Record("participant", EXP, pid, values)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def header(path: Path) -> list[str]:
    with open(path, encoding="utf-8", newline="") as f:
        return next(csv.reader(f))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data" / EXP


@pytest.fixture
def sink(data_dir: Path):
    s = CsvSink(SinkContext(EXP, data_dir))
    yield s
    s.close()


def files_under(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


# -- layout and headers -----------------------------------------------------------------------


def test_creates_data_dir_and_implements_the_protocol(data_dir: Path, sink: CsvSink) -> None:
    assert data_dir.is_dir()
    assert isinstance(sink, DataSink)


def test_layout_and_headers(data_dir: Path, sink: CsvSink) -> None:
    sink.write(
        [
            participant("p1", created_at=1.5),
            scene("p1", "survey", scene_id="survey", q1="yes"),
            step("p1", 0, "game", t=0, action=1),
            step("p1", 1, "game", t=0, action=2),
            event("p1", 1, "game", name="collision"),
        ]
    )
    assert files_under(data_dir) == {
        "metadata/p1.json",
        "survey/p1.csv",
        "game/p1_ep0.csv",
        "game/p1_ep1.csv",
        "game/p1_ep1_events.csv",
    }
    base = ["schema_version", "participant_id", "scene_key"]
    assert header(data_dir / "survey/p1.csv") == [*base, "scene_id", "q1"]
    assert header(data_dir / "game/p1_ep0.csv") == [*base, "episode", "t", "action"]
    assert header(data_dir / "game/p1_ep1_events.csv") == [*base, "episode", "name"]
    assert read_csv(data_dir / "game/p1_ep1.csv") == [
        {
            "schema_version": str(SCHEMA_VERSION),
            "participant_id": "p1",
            "scene_key": "game",
            "episode": "1",
            "t": "0",
            "action": "2",
        }
    ]


def test_rows_append_across_batches_and_sink_restarts(data_dir: Path, sink: CsvSink) -> None:
    sink.write([step("p1", 0, t=0)])
    sink.write([step("p1", 0, t=1), step("p1", 0, t=2)])
    sink.close()
    again = CsvSink(SinkContext(EXP, data_dir))
    again.write([step("p1", 0, t=3)])
    again.close()
    path = data_dir / "game/p1_ep0.csv"
    assert [r["t"] for r in read_csv(path)] == ["0", "1", "2", "3"]
    assert path.read_text(encoding="utf-8").count("schema_version") == 1


def test_values_that_repeat_leading_columns(data_dir: Path, sink: CsvSink) -> None:
    sink.write([scene("p1", participant_id="p1", scene_key="survey", a=1)])
    assert header(data_dir / "survey/p1.csv") == [
        "schema_version",
        "participant_id",
        "scene_key",
        "a",
    ]
    with pytest.raises(ValueError, match="contradicts"):
        sink.write([scene("p1", participant_id="p2")])


# -- encoding ---------------------------------------------------------------------------------

AWKWARD = 'comma, "quote", new\nline, cr\r, tab\t, ünïcödé ✓, nul\0'


def test_encoding_round_trip(data_dir: Path, sink: CsvSink) -> None:
    values = {
        "none": None,
        "yes": True,
        "no": False,
        "zero": 0,
        "big": 2**70,
        "neg": -5,
        "tenth": 0.1,
        "tiny": 1e-7,
        "nan": math.nan,
        "inf": -math.inf,
        "text": AWKWARD,
        "empty": "",
        "cr": "a\rb",  # only quoted when rows end in "\r\n"
        "choices": ["b", "a", AWKWARD],
        "nested": {"z": 1, "a": [1.5, None, True]},
    }
    sink.write([scene("p1", **values)])
    (row,) = read_csv(data_dir / "survey/p1.csv")
    assert row["none"] == "" and row["empty"] == ""
    assert (row["yes"], row["no"]) == ("true", "false")
    assert int(row["zero"]) == 0 and int(row["big"]) == 2**70 and int(row["neg"]) == -5
    assert float(row["tenth"]) == 0.1 and float(row["tiny"]) == 1e-7
    assert math.isnan(float(row["nan"])) and float(row["inf"]) == -math.inf
    assert row["text"] == AWKWARD and row["cr"] == "a\rb"
    assert json.loads(row["choices"]) == ["b", "a", AWKWARD]
    assert json.loads(row["nested"]) == values["nested"]
    assert row["nested"] == '{"a":[1.5,null,true],"z":1}'  # compact, sorted keys


def test_lists_keep_nan_apart_from_missing(data_dir: Path, sink: CsvSink) -> None:
    sink.write([scene("p1", obs=[0.5, math.nan, None, -math.inf], info={"r": math.inf})])
    (row,) = read_csv(data_dir / "survey/p1.csv")
    assert row["obs"] == "[0.5,NaN,null,-Infinity]" and row["info"] == '{"r":Infinity}'


def test_records_sharing_values_each_get_their_row(data_dir: Path, sink: CsvSink) -> None:
    shared = {"step": 4, "actions": {"right": 2, "left": 1}, "obs": [0.25, math.nan]}
    both = [Record("step", EXP, pid, shared, scene_key="game", episode=0) for pid in ("a", "b")]
    sink.write([*both, step("c", 0, **shared)])
    rows = {pid: read_csv(data_dir / f"game/{pid}_ep0.csv")[0] for pid in ("a", "b", "c")}
    assert [rows[pid]["participant_id"] for pid in ("a", "b", "c")] == ["a", "b", "c"]
    for row in rows.values():
        assert row["actions"] == '{"left":1,"right":2}' and row["obs"] == "[0.25,NaN]"
        assert row["step"] == "4"


def test_encode_cell_rules() -> None:
    class ArrayLike:  # what a NumPy array or scalar looks like to the sink
        def tolist(self) -> list[int]:
            return [1, 2]

    assert encode_cell(ArrayLike()) == "[1,2]"
    assert encode_cell({"b": 1, "a": "é"}) == '{"a":"é","b":1}'
    assert encode_cell((1, 2)) == "[1,2]"
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        encode_cell(object())


def test_unencodable_value_fails_before_any_file_is_touched(data_dir: Path, sink: CsvSink) -> None:
    with pytest.raises(TypeError):
        sink.write([scene("p1", a=1), scene("p2", a=object())])
    assert files_under(data_dir) == set()


def test_lone_surrogates_are_escaped_not_fatal(data_dir: Path, sink: CsvSink) -> None:
    sink.write([scene("p1", text="bad \ud800 text"), participant("p1", note="\ud800")])
    assert read_csv(data_dir / "survey/p1.csv")[0]["text"] == "bad \\ud800 text"
    doc = json.loads((data_dir / "metadata/p1.json").read_text(encoding="utf-8"))
    assert doc["note"] == "\ud800"  # written as a JSON escape, read back losslessly


# -- header evolution -------------------------------------------------------------------------


def test_new_keys_rewrite_the_file_with_the_union_header(data_dir: Path, sink: CsvSink) -> None:
    sink.write([step("p1", 0, t=0, a=1), step("p1", 0, t=1, a=2)])
    sink.write([step("p1", 0, t=2, b="x"), step("p1", 0, t=3, a=4, c=[1])])
    path = data_dir / "game/p1_ep0.csv"
    assert header(path)[4:] == ["t", "a", "b", "c"]
    rows = read_csv(path)
    assert [(r["t"], r["a"], r["b"], r["c"]) for r in rows] == [
        ("0", "1", "", ""),
        ("1", "2", "", ""),
        ("2", "", "x", ""),
        ("3", "4", "", "[1]"),
    ]
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    # The rewritten file keeps taking appends, also from a fresh sink.
    sink.write([step("p1", 0, t=4, d=True)])
    sink.close()
    again = CsvSink(SinkContext(EXP, data_dir))
    again.write([step("p1", 0, t=5, e=None, a=6)])
    again.close()
    rows = read_csv(path)
    assert header(path)[4:] == ["t", "a", "b", "c", "d", "e"]
    assert [(r["t"], r["a"], r["d"]) for r in rows[-2:]] == [("4", "", "true"), ("5", "6", "")]


def test_keys_that_differ_within_a_batch_share_one_header(data_dir: Path, sink: CsvSink) -> None:
    sink.write([scene("p1", a=1), scene("p1", b=2)])
    path = data_dir / "survey/p1.csv"
    assert header(path)[3:] == ["a", "b"]
    assert [(r["a"], r["b"]) for r in read_csv(path)] == [("1", ""), ("", "2")]


# -- participant metadata ---------------------------------------------------------------------


def test_metadata_document_is_replaced_atomically(
    data_dir: Path, sink: CsvSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink.write([participant("p1", created_at=1.0, scenes=[])])
    path = data_dir / "metadata/p1.json"
    first = json.loads(path.read_text(encoding="utf-8"))
    assert first == {
        "created_at": 1.0,
        "scenes": [],
        "participant_id": "p1",
        "experiment_id": EXP,
        "schema_version": SCHEMA_VERSION,
    }
    # Two documents in one batch: the later one wins.
    sink.write([participant("p1", step=2), participant("p1", step=3, completed_at=9.5)])
    assert json.loads(path.read_text(encoding="utf-8"))["step"] == 3
    inode = path.stat().st_ino

    def broken_replace(src: Any, dst: Any) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        sink.write([participant("p1", step=4)])
    monkeypatch.undo()
    assert json.loads(path.read_text(encoding="utf-8"))["step"] == 3
    assert path.stat().st_ino == inode
    assert os.listdir(path.parent) == ["p1.json"]  # no temp file left behind


def test_metadata_keeps_the_producers_schema_version_and_checks_the_id(sink: CsvSink) -> None:
    sink.write([participant("p1", schema_version=99)])
    doc = json.loads((sink.root / "metadata/p1.json").read_text(encoding="utf-8"))
    assert doc["schema_version"] == 99
    with pytest.raises(ValueError, match="metadata document of participant"):
        sink.write([participant("p1", participant_id="p2")])


# -- safety -----------------------------------------------------------------------------------

HOSTILE = ["../x", "a/b", "a\\b", "", "x" * 129, "..", ".", "a.b", "a\n", "ä", "a b", "/abs"]


@pytest.mark.parametrize("bad", HOSTILE)
def test_hostile_ids_are_refused(tmp_path: Path, data_dir: Path, sink: CsvSink, bad: str) -> None:
    with pytest.raises(ValueError, match="participant_id must be"):
        sink.write([scene("ok", a=1), scene(bad, a=1)])
    with pytest.raises(ValueError, match="participant_id must be"):
        sink.write([participant(bad)])
    if bad:  # an empty scene key is already refused by Record itself
        with pytest.raises(ValueError, match="scene_key must be"):
            sink.write([scene("ok", "survey", a=1), scene("ok", bad, a=1)])
        with pytest.raises(ValueError, match="scene_key must be"):
            sink.write([event("ok", 0, bad, a=1)])
    # Validation happens before any file is written, so the good records are not stored either.
    assert files_under(tmp_path) == set()


def test_longest_allowed_id(data_dir: Path, sink: CsvSink) -> None:
    pid = "A-z_9" * 25 + "abc"
    assert len(pid) == 128
    sink.write([scene(pid, pid, a=1)])
    assert (data_dir / pid / f"{pid}.csv").is_file()


def test_symlink_out_of_data_dir_is_refused(tmp_path: Path, data_dir: Path, sink: CsvSink) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (data_dir / "survey").symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError, match="outside"):
        sink.write([scene("p1", "survey", a=1)])
    assert list(outside.iterdir()) == []


def test_bad_episode_and_experiment_are_refused(sink: CsvSink) -> None:
    with pytest.raises(ValueError, match="episode"):
        sink.write([step("p1", -1, a=1)])
    with pytest.raises(ValueError, match="experiment"):
        sink.write([Record("scene", "other", "p1", {"a": 1}, scene_key="survey")])


def test_unknown_options_are_refused(data_dir: Path) -> None:
    with pytest.raises(TypeError, match="max_open_file"):
        CsvSink(SinkContext(EXP, data_dir, {"max_open_file": 3}))
    with pytest.raises(ValueError, match="max_open_files"):
        CsvSink(SinkContext(EXP, data_dir, {"max_open_files": 0}))


# -- batches, durability, failures ------------------------------------------------------------


def test_many_records_across_many_files_in_one_batch(data_dir: Path) -> None:
    sink = CsvSink(SinkContext(EXP, data_dir, {"max_open_files": 4}))
    records: list[Record] = []
    for t in range(5):
        for p in range(30):
            records.append(step(f"p{p}", p % 3, t=t))
            records.append(scene(f"p{p}", f"s{t}", t=t))
    sink.write(records)
    assert len(sink._cache) <= 4
    sink.write([step(f"p{p}", p % 3, t=5) for p in range(30)])
    sink.close()
    for p in range(30):
        assert [r["t"] for r in read_csv(data_dir / f"game/p{p}_ep{p % 3}.csv")] == [
            str(t) for t in range(6)
        ]
        for t in range(5):
            assert [r["t"] for r in read_csv(data_dir / f"s{t}/p{p}.csv")] == [str(t)]


def test_one_fsync_per_touched_file_per_batch(
    data_dir: Path, sink: CsvSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink.write([step("p1", 0, t=0), step("p2", 0, t=0)])  # create files and folders first
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    sink.write([step("p1", 0, t=i) for i in range(100)] + [step("p2", 0, t=i) for i in range(3)])
    assert len(synced) == 2 and len(set(synced)) == 2
    synced.clear()
    sink.write([step("p3", 0, t=0)])  # a new file: the file, then its folder
    assert len(synced) == 2


def test_a_failed_batch_is_undone_so_a_retry_does_not_duplicate(
    data_dir: Path, sink: CsvSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink.write([step("p1", 0, t=0), step("p2", 0, t=0)])
    real_write_all = _files.write_all
    calls = 0

    def flaky_write_all(fd: int, data: bytes) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("no space left")
        real_write_all(fd, data)

    monkeypatch.setattr(_files, "write_all", flaky_write_all)
    batch = [step("p1", 0, t=1), step("p2", 0, t=1)]
    with pytest.raises(OSError, match="no space"):
        sink.write(batch)
    sink.write(batch)  # the server's retry
    for pid in ("p1", "p2"):
        assert [r["t"] for r in read_csv(data_dir / f"game/{pid}_ep0.csv")] == ["0", "1"]


def test_a_torn_last_row_from_a_crash_is_cut(data_dir: Path, sink: CsvSink) -> None:
    sink.write([step("p1", 0, t=0)])
    sink.close()
    path = data_dir / "game/p1_ep0.csv"
    with open(path, "ab") as f:
        f.write(b'1,p1,game,0,"half a ro')
    again = CsvSink(SinkContext(EXP, data_dir))
    again.write([step("p1", 0, t=1)])
    again.close()
    assert [r["t"] for r in read_csv(path)] == ["0", "1"]


def test_concurrent_writers_do_not_interleave(data_dir: Path, sink: CsvSink) -> None:
    def work(n: int) -> None:
        for i in range(20):
            sink.write([step("p1", 0, writer=n, i=i, text=AWKWARD)])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = read_csv(data_dir / "game/p1_ep0.csv")
    assert len(rows) == 80 and all(r["text"] == AWKWARD for r in rows)


def test_close_is_idempotent_and_final(sink: CsvSink) -> None:
    sink.write([scene("p1", a=1)])
    sink.close()
    sink.close()
    assert sink.closed
    with pytest.raises(RuntimeError, match="after close"):
        sink.write([scene("p1", a=2)])


# -- plugin registration ----------------------------------------------------------------------


def test_plugin_registers_csv_sink() -> None:
    registry: Registry[Any] = Registry("data sink")
    plugin.mug_register_data_sinks(registry)
    assert registry.names() == ["csv", "s3"]
    assert registry.get("csv") is CsvSink


def test_a_batch_delivered_again_lands_once(data_dir: Path) -> None:
    """Outbox numbers (``seq``) let the sink skip rows it already holds, e.g. after a crash
    between its write and the delivery noting it, even in a new sink instance."""

    def step(seq: int) -> Record:
        values = {"step": seq, "t": 0.0, "actions": {"a": 1}}
        return Record("step", EXP, "p1", values, scene_key="game", episode=0, seq=seq)

    first = CsvSink(SinkContext(EXP, data_dir))
    first.write([step(1), step(2)])
    first.close()
    again = CsvSink(SinkContext(EXP, data_dir))
    again.write([step(1), step(2), step(3)])
    again.write([step(3)])
    again.close()
    with (data_dir / "game" / "p1_ep0.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["step"] for row in rows] == ["1", "2", "3"]
    assert [row["seq"] for row in rows] == ["1", "2", "3"]


def test_a_file_the_cache_closed_is_not_read_again_but_still_skips_repeats(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More files than ``max_open_files`` (a study with many participants): reopening a file
    this sink left as it was reads nothing back, and a batch delivered again still lands once.
    A file changed behind the sink's back is read again."""
    reads: list[Path] = []
    iter_rows = _files.iter_rows
    monkeypatch.setattr(_files, "iter_rows", lambda path: reads.append(path) or iter_rows(path))

    def step(pid: str, seq: int) -> Record:
        return Record("step", EXP, pid, {"step": seq}, scene_key="game", episode=0, seq=seq)

    sink = CsvSink(SinkContext(EXP, data_dir, {"max_open_files": 2}))
    pids = [f"p{n}" for n in range(5)]
    for round_ in range(4):
        for n, pid in enumerate(pids):
            sink.write([step(pid, 10 * round_ + n)])
    assert reads == []
    sink.write([step("p0", 30), step("p0", 40)])  # 30 was delivered before
    with (data_dir / "game" / "p1_ep0.csv").open("a", newline="") as file:
        file.write("1,p1,game,0,99,99\r\n")
    sink.write([step("p1", 99), step("p1", 100)])
    sink.close()
    assert reads == [data_dir / "game" / "p1_ep0.csv"]
    p0 = [row["seq"] for row in read_csv(data_dir / "game" / "p0_ep0.csv")]
    p1 = [row["seq"] for row in read_csv(data_dir / "game" / "p1_ep0.csv")]
    assert p0 == ["0", "10", "20", "30", "40"]
    assert p1 == ["1", "11", "21", "31", "99", "100"]


def test_rows_are_written_exactly_as_the_csv_module_writes_them() -> None:
    cells = ["", " ", "a", "\0", "\t", "\r", "\n", "\r\n", '"', '""x', ",", "é", "a,b", "=1"]
    rows = [list(pair) for pair in itertools.product(cells, repeat=2)] + [[c] for c in cells]
    expected = io.StringIO()
    csv.writer(expected).writerows(rows)
    assert _csv_bytes(rows) == expected.getvalue().encode()
    assert list(csv.reader(io.StringIO(_csv_bytes(rows).decode(), newline=""))) == rows
