"""How many server-runtime games can one study server run at once?

For each K, starts a study server (``mug run``, a separate process) whose game scene is
two-player slime volleyball stepping on the server at 30 fps, then 2K simulated participants
join, get grouped in pairs by the waiting room, and press keys (a key change every 0.4 s); a
game plays episode after episode, so every game runs for the whole measurement. The
participants are lean Socket.IO clients (``sio_client.py``) on real websockets to the real
server; they count the bytes of the frames they get without decoding the frames, because a
participant's decoding runs on their own machine, so the clients take little of the CPU that
this machine shares with the server. After the games have run for ``--seconds``, the server
reports its tick lateness (how late each step ran against the fixed 30 fps schedule, counted
from one second after the last game started) and each game's steps per second (median over
games). CPU is measured while every game plays, in cores: ``CPU all`` of the study server with
its game and sink processes, ``CPU main`` of its main process alone, ``CPU bots`` of the
simulated clients (this process, on the same machine); ``B/s/client`` is the frame bytes each
client got per second and ``frames/s`` the frames (median over clients; the games step at 30).
Four probe clients decode their frames and read them every millisecond: ``lag p50 ms`` and
``lag p95 ms`` say how long after its step on the server a frame reached them (the server's
stamp ``t`` against this machine's clock).
``RT`` counts the game processes at real-time priority when the server stopped, ``+loop``
when its event loop was too (see ``mug_server_runtime.priority``; ``--normal-priority`` turns
it off). ``stop s`` is how long
the server took to exit after SIGTERM, ``load`` the machine's 1-minute load average before the
run (other work on the machine skews timing).

    python bench/server_games.py --games 10,25,50,100 [--sink-threads] [--normal-priority]

Last line: ``max_games_at_p95_lateness_5ms=K bytes_per_s_per_client=B``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import json
import os
import random
import subprocess
import tempfile
import threading
import time
import zlib
from pathlib import Path
from typing import Any

from sio_client import ClientPool

from mug_core.testing import free_port, start_study_process

ROOT = Path(__file__).resolve().parent.parent
STUDY = """
from mug_core import EndScene, ExperimentConfig, PolicyTypes, Stager
from mug_core.scenes.gym_scene import GymScene
from mug_core.server import app
import server_stats_plugin

game = (
    GymScene().scene("match")
    .policies(policy_mapping={{"agent_left": PolicyTypes.Human, "agent_right": PolicyTypes.Human}})
    .rendering(fps=30, game_width=600, game_height=300)
    .runtime(environment_initialization_code_filepath={env_file!r}, runtime="server")
    .gameplay(action_mapping={{"ArrowLeft": 1, "ArrowRight": 2, "ArrowUp": 3}},
              default_action=0, countdown_s=0, num_episodes=1_000_000, max_steps=100000)
    .waitroom(timeout=120)
)
app.run(
    ExperimentConfig()
    .experiment(stager=Stager([game, EndScene().scene("end")]), experiment_id="bench_games")
    .data(data_dir={data_dir!r}, sink_processes={sink_processes!r})
    .plugins(extra={{"bench_stats": server_stats_plugin}})
)
"""
KEYS = ["ArrowLeft", "ArrowRight", "ArrowUp"]
PROBES = 4  # clients that decode their frames to time them
COLUMNS = [  # title, width, result key, format
    ("K", 5, "k", ""),
    ("games", 7, "games", ".0f"),
    ("fps", 7, "fps", ".1f"),
    ("late p50 ms", 13, "late_p50", ".2f"),
    ("late p95 ms", 13, "late_p95", ".2f"),
    ("CPU all", 9, "cpu", ".0%"),
    ("CPU main", 9, "main_cpu", ".0%"),
    ("CPU bots", 9, "clients_cpu", ".0%"),
    ("B/s/client", 12, "bytes_per_client", ".0f"),
    ("frames/s", 10, "frames_per_client", ".1f"),
    ("lag p50 ms", 12, "lag_p50", ".1f"),
    ("lag p95 ms", 12, "lag_p95", ".1f"),
    ("RT", 10, "realtime", ""),
    ("stop s", 8, "stop_s", ".1f"),
    ("load", 7, "load", ".2f"),
]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


@dataclasses.dataclass
class Tally:
    """What the simulated participants got: per client, frame bytes and frames; when each
    joined its game (monotonic); and, for the probes, each frame's lag."""

    received: list[int]
    frames: list[int]
    joined: list[float] = dataclasses.field(default_factory=list)
    lags: list[tuple[float, float]] = dataclasses.field(default_factory=list)


class FrameLag:
    """A probe's ``game_frame`` handler: decodes each frame and notes ``(arrival, lag ms)``,
    the lag from the frame's step on the server (its ``t``) to its arrival here."""

    def __init__(self, lags: list[tuple[float, float]]) -> None:
        self.lags = lags
        self.stream = -1
        self.inflater = zlib.decompressobj(-15)

    def __call__(self, message: dict[str, Any]) -> None:
        now = time.time() * 1000
        if message["stream"] != self.stream:
            self.stream = message["stream"]
            self.inflater = zlib.decompressobj(-15)
        text = self.inflater.decompress(base64.b64decode(message["data"]))
        for line in text.splitlines():
            self.lags.append((time.monotonic(), now - json.loads(line)["t"]))


async def _client(
    pool: ClientPool, url: str, index: int, seconds: float, tally: Tally, probe: bool
) -> None:
    rng = random.Random(index)
    grouped = asyncio.Event()
    client = await pool.connect(url, timeout=30)
    client.on("group", lambda m: grouped.set())
    if probe:
        client.on("game_frame", FrameLag(tally.lags))
    await client.call("join", {"participant_id": f"p{index}", "tab_id": "t"}, timeout=60)
    await client.call("scene_event", {"scene_key": "match", "name": "wait", "payload": {}})
    await asyncio.wait_for(grouped.wait(), 60)
    await client.call("game_join", {"scene_key": "match"}, timeout=60)
    tally.joined.append(time.monotonic())
    held: str | None = None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(0.4)
        if held is not None:
            client.emit("game_input", {"key": held, "down": False, "t": 0})
        held = rng.choice(KEYS)
        client.emit("game_input", {"key": held, "down": True, "t": 0})
    await client.disconnect()
    tally.received[index] = client.frame_bytes
    tally.frames[index] = client.frames


def _tree_cpu(pid: int) -> tuple[float, float]:
    """CPU seconds used so far by process ``pid``, and by it and its child processes (game
    processes, sink processes), from ``/proc``."""
    main = everything = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                fields = file.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        cpu = int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
        if int(entry) == pid:
            main = cpu
            everything += cpu
        elif int(fields[1]) == pid:
            everything += cpu
    ticks = os.sysconf("SC_CLK_TCK")
    return main / ticks, everything / ticks


async def _steady_cpu(
    pid: int, players: int, seconds: float, joined: list[float]
) -> dict[str, float]:
    """CPU shares (cores) while every game plays: from a second after the last player joined
    until half a second before the first one stops."""
    while len(joined) < players:
        await asyncio.sleep(0.05)
    window = max(seconds - (joined[-1] - joined[0]) - 1.5, 1.0)
    await asyncio.sleep(1.0)
    main0, all0 = _tree_cpu(pid)
    bots0, wall0 = time.process_time(), time.monotonic()
    await asyncio.sleep(window)
    main1, all1 = _tree_cpu(pid)
    wall = time.monotonic() - wall0
    return {
        "cpu": (all1 - all0) / wall,
        "main_cpu": (main1 - main0) / wall,
        "clients_cpu": (time.process_time() - bots0) / wall,
    }


def _run_k(k: int, seconds: float, sink_processes: bool | None, realtime: bool) -> dict[str, Any]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        study = Path(tmp) / "study.py"
        study.write_text(
            STUDY.format(
                env_file=str(ROOT / "examples" / "slime_volleyball" / "env_file.py"),
                data_dir=str(Path(tmp) / "data"),
                sink_processes=sink_processes,
            )
        )
        stats_file = Path(tmp) / "stats.json"
        env = {
            **os.environ,
            "MUG_BENCH_STATS": str(stats_file),
            "PYTHONPATH": str(ROOT / "bench"),
        }
        if not realtime:
            env["MUG_GAME_REALTIME"] = "0"
        load = os.getloadavg()[0]
        server = start_study_process(study, port, env)
        # Read the server's log as it comes: a full pipe would block the server mid-write.
        log_tail: list[bytes] = []
        drain = threading.Thread(target=_drain, args=(server, log_tail), daemon=True)
        drain.start()
        url = f"http://127.0.0.1:{port}"
        try:
            tally = Tally([0] * (2 * k), [0] * (2 * k))

            async def everyone() -> dict[str, float]:
                # The probes' pool reads every millisecond: their frames' arrival is timed.
                async with ClientPool() as pool, ClientPool(interval=0.001) as probes:
                    cpu = asyncio.ensure_future(
                        _steady_cpu(server.pid, 2 * k, seconds, tally.joined)
                    )
                    await asyncio.gather(
                        *(
                            _client(
                                probes if i < PROBES else pool, url, i, seconds, tally, i < PROBES
                            )
                            for i in range(2 * k)
                        )
                    )
                    return await cpu

            cpu = asyncio.run(everyone())
        finally:
            stopping = time.monotonic()
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                raise RuntimeError(
                    "the server did not stop within 60 s of SIGTERM; its log ends with:\n"
                    + b"".join(log_tail).decode(errors="replace")[-3000:]
                ) from None
            stop_s = time.monotonic() - stopping
        stats = json.loads(stats_file.read_text())
    late = stats["lateness_ms"]
    steady_lags = [lag for at, lag in tally.lags if at > tally.joined[-1] + 1]
    return {
        "games": stats["games"],
        "fps": _percentile(stats["fps"], 0.5),
        "late_p50": _percentile(late, 0.5),
        "late_p95": _percentile(late, 0.95),
        **cpu,
        "bytes_per_client": sum(tally.received) / len(tally.received) / seconds,
        "frames_per_client": _percentile([n / seconds for n in tally.frames], 0.5),
        "lag_p50": _percentile(steady_lags, 0.5),
        "lag_p95": _percentile(steady_lags, 0.95),
        "stop_s": stop_s,
        "realtime": f"{stats['realtime_processes']}/{stats['processes']}"
        + ("+loop" if stats["realtime_loop"] else ""),
        "load": load,
    }


def _drain(server: subprocess.Popen[bytes], tail: list[bytes]) -> None:
    for line in server.stderr or []:
        tail.append(line)
        del tail[:-200]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", default="10,25,50,100", help="comma-separated K values")
    parser.add_argument("--seconds", type=float, default=10.0, help="play time per K")
    parser.add_argument(
        "--sink-threads",
        action="store_true",
        help="write the CSV files from a thread of the server (the study's sink_processes=False)",
    )
    parser.add_argument(
        "--normal-priority",
        action="store_true",
        help="keep game processes at normal priority (MUG_GAME_REALTIME=0)",
    )
    args = parser.parse_args()
    ks = [int(v) for v in args.games.split(",")]
    sink_processes = False if args.sink_threads else None  # None: the study default
    rows = [(k, _run_k(k, args.seconds, sink_processes, not args.normal_priority)) for k in ks]
    print("".join(f"{title:>{width}}" for title, width, _, _ in COLUMNS))
    for k, r in rows:
        r = {**r, "k": k}
        print("".join(f"{r[key]:>{width}{spec}}" for _, width, key, spec in COLUMNS))
    good = [k for k, r in rows if r["late_p95"] <= 5.0 and r["games"] == k]
    bytes_per_client = max(r["bytes_per_client"] for _, r in rows)
    print(
        f"max_games_at_p95_lateness_5ms={max(good, default=0)} "
        f"bytes_per_s_per_client={bytes_per_client:.0f}"
    )


if __name__ == "__main__":
    main()
