"""The data path's JSON: orjson's speed with the standard library's meaning."""

from __future__ import annotations

import datetime
import enum
import json
import math
import pickle
import uuid

import pytest

from mug_core.data import jsoncodec
from mug_core.data.records import Record, records_from_json, records_to_json


class Colour(enum.Enum):
    RED = "red"


class ArrayLike:
    def tolist(self) -> list[float]:
        return [1.0, float("nan")]


@pytest.mark.parametrize(
    "value",
    [
        {"step": 3, "obs": [0.1, -2.5, 1e-07, 1e300], "done": False, "info": {}},
        {"reward": float("nan"), "best": float("inf"), "worst": -math.inf},
        {"nested": [[1.0, None], {"x": float("nan")}], "none": None},
        {"big": 2**80, "neg": -(2**70)},
        {"text": "héllo ☃", "lone": "\ud800"},
    ],
)
def test_dumps_reads_back_as_the_standard_library_would(value: object) -> None:
    text = jsoncodec.dumps(value)
    back = json.loads(text)
    assert json.dumps(back, sort_keys=True) == json.dumps(value, sort_keys=True)


def test_nan_is_never_written_as_null() -> None:
    assert jsoncodec.dumps({"a": [1.5, float("nan")], "b": None}) == '{"a":[1.5,NaN],"b":null}'
    assert jsoncodec.dumps({"a": ArrayLike()}) == '{"a":[1.0,NaN]}'
    assert jsoncodec.dumps([float("inf")]) == "[Infinity]"
    assert jsoncodec.dumps([1.0, "a", float("nan"), None]) == '[1.0,"a",NaN,null]'
    assert jsoncodec.dumps({"o": [math.inf, -math.inf], "n": None}) == (
        '{"o":[Infinity,-Infinity],"n":null}'
    )
    assert jsoncodec.dumps({"a": [1.5, 2.0], "b": None}) == '{"a":[1.5,2.0],"b":null}'


def test_sorted_cells_keep_text_and_convert_keys() -> None:
    assert jsoncodec.dumps_sorted({"b": 1, "a": "é", 3: True}) == ('{"3":true,"a":"é","b":1}')


def test_the_same_values_are_accepted_and_refused_on_both_paths() -> None:
    uid = uuid.UUID(int=7)
    assert jsoncodec.dumps({"c": Colour.RED, "u": uid}) == f'{{"c":"red","u":"{uid}"}}'
    assert jsoncodec.dumps({"c": Colour.RED, "n": float("nan")}) == '{"c":"red","n":NaN}'
    for bad in (datetime.datetime(2026, 1, 1), object(), {1, 2}):
        with pytest.raises(TypeError, match="cannot be stored"):
            jsoncodec.dumps({"v": bad})


def test_loads_reads_what_dumps_writes() -> None:
    value = {"x": [float("inf"), 0.25], "y": "é"}
    back = jsoncodec.loads(jsoncodec.dumps(value))
    assert back["x"] == [math.inf, 0.25] and back["y"] == "é"
    assert math.isnan(jsoncodec.loads("[NaN]")[0])


def test_records_sharing_values_serialise_as_each_would_alone() -> None:
    values = {"step": 1, "obs": [0.5, float("nan")], "actions": {"a": 1, "b": 2}}
    left = Record("step", "exp", "p1", values, scene_key="game", episode=0)
    right = Record("step", "exp", "p2", values, scene_key="game", episode=0)
    bodies = records_to_json([left, right])
    assert bodies == [left.to_json(), right.to_json()]
    again = Record.from_json(bodies[1], seq=9)
    assert again.participant_id == "p2" and again.seq == 9
    assert again.to_json() == bodies[1]  # stable: the S3 sink names objects by this text


def test_an_id_with_a_lone_surrogate_still_serialises() -> None:
    record = Record("step", "exp", "p\ud800", {"step": 0}, scene_key="game", episode=0)
    assert Record.from_json(record.to_json()).participant_id == "p\ud800"


def test_records_travel_between_processes_whole_and_still_sharing_values() -> None:
    values = {"step": 2, "obs": [0.5]}
    records = [Record("step", "exp", pid, values, "game", 1, 12.5, seq=4) for pid in ("a", "b")]
    back = pickle.loads(pickle.dumps(records, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == records
    assert back[0].values is back[1].values  # serialised once on the other side too


def test_records_read_back_from_the_outbox_share_identical_values() -> None:
    values = {"step": 1, "obs": [0.5, float("nan")], "text": "é"}
    records = [Record("step", "exp", pid, values, "game", 0, 3.5) for pid in ("a", "b")]
    records.append(Record("participant", "exp", "a", {"finished": None}))
    bodies = records_to_json(records)
    older = json.dumps(  # a body with the values in the middle, as earlier versions wrote
        {"kind": "event", "experiment_id": "exp", "participant_id": "c", "values": {"k": "x"},
         "scene_key": "game", "episode": 2, "created_at": 1.0}
    )  # fmt: skip
    back = records_from_json([(1, bodies[0]), (2, bodies[1]), (3, bodies[2]), (4, older)])
    assert [r.to_json() for r in back[:3]] == bodies
    assert [r.seq for r in back] == [1, 2, 3, 4]
    assert back[0].values is back[1].values  # sinks encode a shared step once
    assert back[3].participant_id == "c" and back[3].values == {"k": "x"}
