"""Peer-to-peer Slime Volleyball gives bit-identical results in Pyodide and in CPython.

The sync test of the slime env (re-simulation under the engine) and a two-peer game through the
page's game glue over a simulated network run in both (``slime_workload.py``); their checksums,
statistics and recorded steps must match. Skipped without node and a local Pyodide.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from mug_p2p.node_pyodide import LIB, PyodideUnavailable, engine_files, game_files, run_in_pyodide

pytest.importorskip("mug_pyodide", reason="the game glue builds on mug-pyodide's runner")

HERE = Path(__file__).resolve().parent
SLIME = HERE.parents[2] / "examples" / "slime_volleyball"
STATIC = HERE.parent / "mug_p2p" / "static"
CODE = "import json, slime_workload as w\njson.dumps([w.sync_test(300), w.p2p_game(100, 300)])"
TIMINGS = ("python", "tick_ms_p50", "tick_ms_p95", "tick_ms_mean")


def in_cpython() -> list[dict[str, Any]]:
    for path in (SLIME, STATIC, HERE):  # appended: generic example module names stay others'
        if str(path) not in sys.path:
            sys.path.append(str(path))
    import slime_workload

    return json.loads(
        json.dumps([slime_workload.sync_test(300), slime_workload.p2p_game(100, 300)])
    )


def test_slime_p2p_is_identical_in_pyodide_and_cpython() -> None:
    files = {
        **engine_files(),
        **game_files(),
        f"{LIB}/slime_env.py": SLIME / "slime_env.py",
        f"{LIB}/slime_workload.py": HERE / "slime_workload.py",
    }
    try:
        theirs = json.loads(run_in_pyodide(files, CODE, timeout=300))
    except PyodideUnavailable as exc:
        pytest.skip(str(exc))
    ours = in_cpython()
    assert theirs[1]["python"][0] == 3 and theirs[1]["python"] != ours[1]["python"]
    for result in (ours[1], theirs[1]):
        for key in TIMINGS:
            result.pop(key)
    assert theirs == ours
    sync, game = ours
    assert sync["mismatches"] == 0 and sync["checks"] > 0
    assert game["records_equal"] and game["desyncs"] == 0 and game["checksums_compared"] > 0
    assert game["final_checksums"][0] == game["final_checksums"][1]
    assert game["rollbacks"] > 0
