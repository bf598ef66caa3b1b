"""Rollback netcode on a simulated network, in CPython.

Two peers play the engine's toy game at 60 fps on ``mug_p2p.testing``'s seeded network for
``--frames`` frames at round trips of 0, 50, 100 and 200 ms (one-way latency is half), with
20 ms jitter and 2 % loss, input delay 2 and a prediction window of 8. Prints rollbacks per
second, mean and max rollback depth, stalled ticks, CPU per peer frame (the whole simulation:
engine, toy game and simulated network) and desyncs found by checksum exchange.

    python bench/rollback.py --frames 10000

Last line: ``rtt100_max_depth=D rtt100_stalled_frames=S desyncs=N``. The Pyodide column of the
full benchmark (browser-side frame cost) is not measured by this script.
"""

from __future__ import annotations

import argparse
import time

from mug_p2p.testing import NetworkConditions, SimulationConfig, run_simulation

RTTS_MS = (0, 50, 100, 200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=10_000)
    args = parser.parse_args()
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
    print(
        f"rtt100_max_depth={summary[100][0]} rtt100_stalled_frames={summary[100][1]} "
        f"desyncs={total_desyncs}"
    )


if __name__ == "__main__":
    main()
