"""Rollback netcode on a simulated network, in CPython and in Pyodide.

Two peers play at 60 fps on ``mug_p2p.testing``'s seeded network for ``--frames`` frames at
round trips of 0, 50, 100 and 200 ms (one-way latency is half), with 20 ms jitter and 2 % loss,
input delay 2 and a prediction window of 8:

- CPython: the engine's toy game (``run_simulation``). CPU per peer frame covers the whole
  simulation (engine, toy game and simulated network).
- Pyodide (under node, as in the participant's page): Slime Volleyball through the page's game
  glue (``p2p_runner.P2PGame`` around mug-pyodide's ``Runner``; the workload is
  ``plugins/mug-p2p/tests/slime_workload.py``). Frame time is one tick of a peer: messages in,
  rollback and re-simulation, the new frame, the frame drawn, messages out.

Each table prints rollbacks per second, mean and max rollback depth, stalled ticks and desyncs
found by checksum exchange.

    python bench/rollback.py --frames 10000

Last line: ``rtt100_max_depth=D rtt100_stalled_frames=S desyncs=N pyodide_frame_p95_ms=X``
(depth and stalls: the worse of the two runs at 100 ms; desyncs: all runs;
``pyodide_frame_p95_ms=NA`` without node and a local Pyodide).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from mug_p2p.node_pyodide import (
    LIB,
    PyodideUnavailable,
    engine_files,
    game_files,
    run_in_pyodide,
)
from mug_p2p.testing import NetworkConditions, SimulationConfig, run_simulation

RTTS_MS = (0, 50, 100, 200)
REPO = Path(__file__).resolve().parents[1]
WORKLOAD = REPO / "plugins" / "mug-p2p" / "tests" / "slime_workload.py"
SLIME_ENV = REPO / "examples" / "slime_volleyball" / "slime_env.py"


def pyodide_slime(frames: int) -> list[dict[str, Any]]:
    """The slime workload at every round trip, in one Pyodide under node."""
    files = {
        **engine_files(),
        **game_files(),
        f"{LIB}/slime_env.py": SLIME_ENV,
        f"{LIB}/slime_workload.py": WORKLOAD,
    }
    code = (
        "import json, slime_workload as w\n"
        f"json.dumps([w.p2p_game(rtt, {frames}, seed=rtt) for rtt in {list(RTTS_MS)}])"
    )
    return json.loads(run_in_pyodide(files, code, timeout=3600))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000)
    args = parser.parse_args()
    print("CPython, toy game (run_simulation)")
    print(
        f"{'rtt ms':>7}{'rollbacks/s':>13}{'mean depth':>12}{'max depth':>11}"
        f"{'stalled':>9}{'us/frame':>10}{'desyncs':>9}"
    )
    summary = {}
    for rtt in RTTS_MS:
        network = NetworkConditions(latency_ms=rtt / 2, jitter_ms=20.0, loss=0.02)
        config = SimulationConfig(
            frames=args.frames,
            seed=rtt,
            network=network,
            input_delay=2,
            max_prediction=8,
            checksum_interval=30,
        )
        started = time.perf_counter()
        result = run_simulation(config)
        elapsed = time.perf_counter() - started
        result.assert_consistent()
        stats = [peer.stats for peer in result.peers.values()]
        seconds = args.frames / config.fps
        rollbacks = sum(s.rollbacks for s in stats) / len(stats)
        resimulated = sum(s.resimulated_frames for s in stats)
        total_rollbacks = sum(s.rollbacks for s in stats)
        mean_depth = resimulated / total_rollbacks if total_rollbacks else 0.0
        max_depth = max(s.max_rollback_depth for s in stats)
        stalled = max(s.stalled_ticks for s in stats)
        desyncs = sum(s.desyncs for s in stats)
        per_frame_us = elapsed / (args.frames * len(stats)) * 1e6
        print(
            f"{rtt:>7}{rollbacks / seconds:>13.1f}{mean_depth:>12.2f}{max_depth:>11}"
            f"{stalled:>9}{per_frame_us:>10.1f}{desyncs:>9}"
        )
        summary[rtt] = (max_depth, stalled, desyncs)
    total_desyncs = sum(d for _, _, d in summary.values())
    depth100, stalled100 = summary[100][0], summary[100][1]

    print()
    print("Pyodide (node), slime volleyball through the page's game glue")
    print(
        f"{'rtt ms':>7}{'rollbacks/s':>13}{'mean depth':>12}{'max depth':>11}"
        f"{'stalled':>9}{'p50 ms':>9}{'p95 ms':>9}{'desyncs':>9}{'same':>6}"
    )
    p95_100: str = "NA"
    try:
        runs = pyodide_slime(args.frames)
    except PyodideUnavailable as exc:
        print(f"  skipped: {exc}")
        runs = []
    for rtt, run in zip(RTTS_MS, runs, strict=False):
        seconds = args.frames / 60
        rollbacks = run["rollbacks"]
        mean_depth = run["resimulated"] / rollbacks if rollbacks else 0.0
        same = run["records_equal"] and len(set(run["final_checksums"])) == 1
        print(
            f"{rtt:>7}{rollbacks / 2 / seconds:>13.1f}{mean_depth:>12.2f}{run['max_depth']:>11}"
            f"{run['stalled_ticks']:>9}{run['tick_ms_p50']:>9.3f}{run['tick_ms_p95']:>9.3f}"
            f"{run['desyncs']:>9}{'yes' if same else 'NO':>6}"
        )
        total_desyncs += run["desyncs"] + (0 if same else 1)
        if rtt == 100:
            depth100 = max(depth100, run["max_depth"])
            stalled100 = max(stalled100, run["stalled_ticks"])
            p95_100 = f"{run['tick_ms_p95']:.3f}"
    print(
        f"rtt100_max_depth={depth100} rtt100_stalled_frames={stalled100} "
        f"desyncs={total_desyncs} pyodide_frame_p95_ms={p95_100}"
    )


if __name__ == "__main__":
    main()
