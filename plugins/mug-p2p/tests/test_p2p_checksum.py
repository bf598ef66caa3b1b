"""Checksums are stable across processes and platforms (golden values pin the bytes)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mug_p2p import ConfirmedFrame, InputStatus, canonical_json_bytes, state_checksum
from mug_p2p.testing import ToyGame, lockstep_replay

SAMPLE = {
    "b": [1.5, 0.1, 1e-7, -0.0, 3, 2**70],
    "a": "é\u2603",
    "c": None,
    "d": True,
    "e": (1, 2),
    "f": b"\x00\xff",
}


def test_canonical_bytes_are_sorted_compact_and_ascii():
    assert canonical_json_bytes(SAMPLE) == (
        b'{"a":"\\u00e9\\u2603","b":[1.5,0.1,1e-07,-0.0,3,1180591620717411303424],'
        b'"c":null,"d":true,"e":[1,2],"f":{"$bytes":"00ff"}}'
    )


def test_golden_checksum():
    # The same value must come out in Pyodide; if this changes, stored checksums change too.
    assert state_checksum(SAMPLE) == "c01bc35b26a68c5d5740046ac9c375f5"


def test_key_order_and_tuples_do_not_matter():
    assert state_checksum({"x": (1, 2), "y": 3}) == state_checksum({"y": 3, "x": [1, 2]})
    assert state_checksum({"x": 1}) != state_checksum({"x": 1.0})
    assert state_checksum({"x": 1}) != state_checksum({"x": True})


@pytest.mark.parametrize(
    "bad",
    [float("nan"), {"x": float("inf")}, {1: "a", "b": 2}, {"s": {1, 2}}, object()],
)
def test_refuses_what_is_not_json_like(bad):
    with pytest.raises((TypeError, ValueError)):
        state_checksum(bad)


def test_same_checksum_in_processes_with_different_hash_seeds():
    code = (
        "from mug_p2p import state_checksum;"
        "print(state_checksum({'k': ['a', 'b', b'xy'], 'n': 1.25}))"
    )
    root = str(Path(__file__).resolve().parents[1])
    outputs = set()
    for seed in ("1", "2", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": root}
        run = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outputs.add(run.stdout.strip())
    assert len(outputs) == 1


def test_golden_replay_checksums():
    """A fixed input log gives fixed per-frame checksums: run this in Pyodide to compare."""
    log = [
        ConfirmedFrame(
            f, tuple(((f * 7 + h * 3 + f // 11) % 5, InputStatus.CONFIRMED) for h in range(3))
        )
        for f in range(300)
    ]
    state, checksums = lockstep_replay(ToyGame(3, seed=2024), log)
    assert state["pos"] == [15, 109, 187]
    assert checksums[-1] == "8a9692bad07ed150ec80117eec156c76"
    digest = hashlib.blake2b("".join(checksums).encode(), digest_size=16).hexdigest()
    assert digest == "e7686d3cacb9effcb26776c1b778f9b7"
