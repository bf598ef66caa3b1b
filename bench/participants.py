"""How many participants can walk a study at once?

Starts a real study server (``mug run``, hypercorn, CSV sink) as a separate process, then N
python-socketio clients join at once and each walks a three-scene study: instructions, a survey
with answers, and a completion code. Every acknowledgement is timed from the client.

    python bench/participants.py --participants 1000

Prints a table per call kind and, last, ``participants=N completed=C p95_ack_ms=X rss_mb=Y``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import socketio

from mug_core.testing import free_port

STUDY = """
from mug_core import CompletionCodeScene, ExperimentConfig, Likert, MultipleChoice, Stager
from mug_core import StaticScene, SurveyScene
from mug_core.server import app

scenes = [
    StaticScene().scene("instructions").display(scene_header="Instructions"),
    SurveyScene().scene("survey").questions(
        Likert("fun", "Fun?", scale=7), MultipleChoice("hand", "Hand?", options=["L", "R"])
    ),
    CompletionCodeScene().scene("end"),
]
app.run(ExperimentConfig().experiment(stager=Stager(scenes), experiment_id="bench")
        .data(data_dir={data_dir!r}))
"""


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _participant(url: str, index: int, timings: dict[str, list[float]]) -> bool:
    client = socketio.AsyncClient(reconnection=False)
    try:
        await client.connect(url, transports=["websocket"], wait_timeout=30)

        async def call(kind: str, event: str, data: dict) -> dict:
            start = time.perf_counter()
            answer = await client.call(event, data, timeout=60)
            timings[kind].append((time.perf_counter() - start) * 1000)
            return answer

        joined = await call("join", "join", {"participant_id": f"bench{index}", "tab_id": "t"})
        step = await call("advance", "advance", {"scene_key": joined["scene"]["scene_key"]})
        answers = {"fun": 1 + index % 7, "hand": "L" if index % 2 else "R"}
        done = await call(
            "advance", "advance", {"scene_key": "survey", "response": {"answers": answers}}
        )
        return bool(step["ok"] and done["ok"] and done["scene"]["scene_type"] == "completion_code")
    except Exception as exc:  # a failed participant is counted, not fatal
        print(f"participant {index} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return False
    finally:
        await client.disconnect()


async def _run(url: str, n: int, connect_concurrency: int) -> tuple[int, dict, float]:
    timings: dict[str, list[float]] = {"join": [], "advance": []}
    gate = asyncio.Semaphore(connect_concurrency)

    async def one(i: int) -> bool:
        async with gate:
            return await _participant(url, i, timings)

    start = time.perf_counter()
    results = await asyncio.gather(*(one(i) for i in range(n)))
    return sum(results), timings, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=1000, help="clients active at once")
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    args = parser.parse_args()
    args.port = args.port or free_port()

    with tempfile.TemporaryDirectory() as tmp:
        study = Path(tmp) / "study.py"
        study.write_text(STUDY.format(data_dir=str(Path(tmp) / "data")))
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mug_core.cli",
                "run",
                str(study),
                "--port",
                str(args.port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        url = f"http://127.0.0.1:{args.port}"
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(url + "/healthz", timeout=1)
                    break
                except OSError:
                    if server.poll() is not None:
                        sys.exit(f"the study server failed:\n{server.stderr.read().decode()}")
                    time.sleep(0.05)
            completed, timings, elapsed = asyncio.run(
                _run(url, args.participants, args.concurrency)
            )
            rss = _rss_mb(server.pid)
            csv_files = len(list((Path(tmp) / "data" / "bench" / "survey").glob("*.csv")))
        finally:
            server.terminate()
            server.wait(timeout=30)

    all_acks = timings["join"] + timings["advance"]
    print(f"{'call':<10}{'count':>8}{'median ms':>12}{'p95 ms':>10}{'max ms':>10}")
    for kind, values in [*timings.items(), ("all", all_acks)]:
        print(
            f"{kind:<10}{len(values):>8}{statistics.median(values):>12.1f}"
            f"{_percentile(values, 0.95):>10.1f}{max(values):>10.1f}"
        )
    print(f"wall time {elapsed:.1f} s, survey CSV files written: {csv_files}")
    print(
        f"participants={args.participants} completed={completed} "
        f"p95_ack_ms={_percentile(all_acks, 0.95):.1f} rss_mb={rss:.0f}"
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
