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
client got per second. ``stop s`` is how long the server took to exit after SIGTERM,
``load`` the machine's 1-minute load average before the run (other work on the machine skews
timing).

    python bench/server_games.py --games 10,25,50,100 [--sink-threads]

Last line: ``max_games_at_p95_lateness_5ms=K bytes_per_s_per_client=B``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import tempfile
import threading
import time
from pathlib import Path

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


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _client(
    pool: ClientPool,
    url: str,
    index: int,
    seconds: float,
    received: list[int],
    joined: list[float],
) -> None:
    rng = random.Random(index)
    grouped = asyncio.Event()
    client = await pool.connect(url, timeout=30)
    client.on("group", lambda m: grouped.set())
    await client.call("join", {"participant_id": f"p{index}", "tab_id": "t"}, timeout=60)
    await client.call("scene_event", {"scene_key": "match", "name": "wait", "payload": {}})
    await asyncio.wait_for(grouped.wait(), 60)
    await client.call("game_join", {"scene_key": "match"}, timeout=60)
    joined.append(time.monotonic())
    held: str | None = None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(0.4)
        if held is not None:
            client.emit("game_input", {"key": held, "down": False, "t": 0})
        held = rng.choice(KEYS)
        client.emit("game_input", {"key": held, "down": True, "t": 0})
    await client.disconnect()
    received[index] = client.frame_bytes


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


def _run_k(k: int, seconds: float, sink_processes: bool | None) -> dict[str, float]:
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
        load = os.getloadavg()[0]
        server = start_study_process(study, port, env)
        # Read the server's log as it comes: a full pipe would block the server mid-write.
        log_tail: list[bytes] = []
        drain = threading.Thread(target=_drain, args=(server, log_tail), daemon=True)
        drain.start()
        url = f"http://127.0.0.1:{port}"
        try:
            received = [0] * (2 * k)
            joined: list[float] = []

            async def everyone() -> dict[str, float]:
                async with ClientPool() as pool:
                    cpu = asyncio.ensure_future(_steady_cpu(server.pid, 2 * k, seconds, joined))
                    await asyncio.gather(
                        *(_client(pool, url, i, seconds, received, joined) for i in range(2 * k))
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
    return {
        "games": stats["games"],
        "fps": _percentile(stats["fps"], 0.5),
        "late_p50": _percentile(late, 0.5),
        "late_p95": _percentile(late, 0.95),
        **cpu,
        "bytes_per_client": sum(received) / len(received) / seconds,
        "stop_s": stop_s,
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
    args = parser.parse_args()
    ks = [int(v) for v in args.games.split(",")]
    sink_processes = False if args.sink_threads else None  # None: the study default
    rows = [(k, _run_k(k, args.seconds, sink_processes)) for k in ks]
    print(
        f"{'K':>5}{'games':>7}{'fps':>7}{'late p50 ms':>13}{'late p95 ms':>13}"
        f"{'CPU all':>9}{'CPU main':>9}{'CPU bots':>9}{'B/s/client':>12}{'stop s':>8}{'load':>7}"
    )
    for k, r in rows:
        print(
            f"{k:>5}{r['games']:>7.0f}{r['fps']:>7.1f}{r['late_p50']:>13.2f}{r['late_p95']:>13.2f}"
            f"{r['cpu']:>9.0%}{r['main_cpu']:>9.0%}{r['clients_cpu']:>9.0%}{r['bytes_per_client']:>12.0f}{r['stop_s']:>8.1f}{r['load']:>7.2f}"
        )
    good = [k for k, r in rows if r["late_p95"] <= 5.0 and r["games"] == k]
    bytes_per_client = max(r["bytes_per_client"] for _, r in rows)
    print(
        f"max_games_at_p95_lateness_5ms={max(good, default=0)} "
        f"bytes_per_s_per_client={bytes_per_client:.0f}"
    )


if __name__ == "__main__":
    main()
