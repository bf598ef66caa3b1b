"""Deterministic workload whose output must be identical in CPython and in Pyodide.

Run as a script (``python crosscheck.py``) or inside Pyodide (see ``test_p2p_pyodide.py``); it
prints one JSON object: golden checksums, and the outcome of seeded simulations and sync tests.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys

from mug_p2p import ConfirmedFrame, InputStatus, SyncTestSession, fulfil_requests, state_checksum
from mug_p2p.testing import (
    HiddenStateToyGame,
    NetworkConditions,
    SimulationConfig,
    ToyGame,
    lockstep_replay,
    run_simulation,
)


def digest(value: object) -> str:
    return hashlib.blake2b(repr(value).encode(), digest_size=16).hexdigest()


def main() -> dict[str, object]:
    out: dict[str, object] = {"python": sys.version_info[:2]}
    out["sample"] = state_checksum({"a": [1.5, 0.1, 1e-7, -0.0, 2**70], "b": "é", "c": b"\x00"})
    log = [
        ConfirmedFrame(
            f, tuple(((f * 7 + h * 3 + f // 11) % 5, InputStatus.CONFIRMED) for h in range(3))
        )
        for f in range(300)
    ]
    out["replay"] = digest(lockstep_replay(ToyGame(3, seed=2024), log)[1])
    network = NetworkConditions(latency_ms=90, jitter_ms=40, loss=0.15, duplicate=0.1, reorder=0.2)
    for name, config in {
        "two": SimulationConfig(frames=150, seed=1, network=network, checksum_interval=5),
        "three": SimulationConfig(players=(0, 1, 2), frames=150, seed=2, network=network),
        "leave": SimulationConfig(
            players=(0, 1, 2), frames=150, seed=3, network=network, disconnects=((2, 700.0),)
        ),
    }.items():
        result = run_simulation(config)
        result.assert_consistent()
        out[name] = {
            str(p): [r.final_checksum, digest(r.confirmed), repr(r.stats)]
            for p, r in result.peers.items()
        }
    for name, game in {"sync_ok": ToyGame(2), "sync_bad": HiddenStateToyGame(2)}.items():
        session = SyncTestSession(2, check_distance=3)
        rng = random.Random(9)
        for _ in range(100):
            for handle in range(2):
                session.add_local_input(handle, rng.randrange(5))
            fulfil_requests(game, session.advance_frame())
        out[name] = [session.checks, len(session.finish())]
    return out


if __name__ == "__main__":
    print(json.dumps(main(), sort_keys=True))
