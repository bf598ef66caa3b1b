"""How many participants can be in a study at once?

Starts a real study server (``mug run``, hypercorn, CSV sink) as a separate process, then N
python-socketio clients arrive over ``--ramp`` seconds, stay connected, and each walks a
three-scene study (instructions, a survey with answers, a completion code), reading each page
for ``--think`` seconds (uniform between the two values) like a fast participant. Every
acknowledgement is timed from the client. ``--ramp 0 --think 0,0`` is the worst case: every
participant arrives and clicks at the same instant.

    python bench/participants.py --participants 1000

Prints a table per call kind and, last, ``participants=N completed=C p95_ack_ms=X rss_mb=Y``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import socketio

from mug_core.testing import free_port, start_study_process

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


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _participant(
    url: str, index: int, timings: dict[str, list[float]], arrive: float, think: tuple[float, float]
) -> bool:
    rng = random.Random(index)
    await asyncio.sleep(arrive)
    client = socketio.AsyncClient(reconnection=False)
    try:
        await client.connect(url, transports=["websocket"], wait_timeout=30)

        async def call(kind: str, event: str, data: dict) -> dict:
            start = time.perf_counter()
            answer = await client.call(event, data, timeout=60)
            timings[kind].append((time.perf_counter() - start) * 1000)
            return answer

        joined = await call("join", "join", {"participant_id": f"bench{index}", "tab_id": "t"})
        await asyncio.sleep(rng.uniform(*think))
        step = await call("advance", "advance", {"scene_key": joined["scene"]["scene_key"]})
        answers = {"fun": 1 + index % 7, "hand": "L" if index % 2 else "R"}
        await asyncio.sleep(rng.uniform(*think))
        done = await call(
            "advance", "advance", {"scene_key": "survey", "response": {"answers": answers}}
        )
        return bool(step["ok"] and done["ok"] and done["scene"]["scene_type"] == "completion_code")
    except Exception as exc:  # a failed participant is counted, not fatal
        print(f"participant {index} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return False
    finally:
        await client.disconnect()


async def _run(
    url: str, n: int, ramp: float = 0.0, think: tuple[float, float] = (0.0, 0.0)
) -> tuple[int, dict, float]:
    timings: dict[str, list[float]] = {"join": [], "advance": []}

    async def one(i: int) -> bool:
        return await _participant(url, i, timings, ramp * i / n, think)

    start = time.perf_counter()
    results = await asyncio.gather(*(one(i) for i in range(n)))
    return sum(results), timings, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=1000)
    parser.add_argument("--ramp", type=float, default=10.0, help="seconds over which all arrive")
    parser.add_argument(
        "--think", default="1,3", help="seconds spent on each page: min,max (default 1,3)"
    )
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    args = parser.parse_args()
    args.port = args.port or free_port()
    low, high = (float(v) for v in args.think.split(","))
    think = (low, high)

    with tempfile.TemporaryDirectory() as tmp:
        study = Path(tmp) / "study.py"
        study.write_text(STUDY.format(data_dir=str(Path(tmp) / "data")))
        server = start_study_process(study, args.port)
        url = f"http://127.0.0.1:{args.port}"
        try:
            completed, timings, elapsed = asyncio.run(
                _run(url, args.participants, args.ramp, think)
            )
            rss = _rss_mb(server.pid)
            server_cpu = _cpu_s(server.pid)
            client_cpu = resource.getrusage(resource.RUSAGE_SELF)
        finally:
            server.terminate()
            server.wait(timeout=60)
        csv_files = len(list((Path(tmp) / "data" / "bench" / "survey").glob("*.csv")))

    all_acks = timings["join"] + timings["advance"]
    print(f"{'call':<10}{'count':>8}{'median ms':>12}{'p95 ms':>10}{'max ms':>10}")
    for kind, values in [*timings.items(), ("all", all_acks)]:
        print(
            f"{kind:<10}{len(values):>8}{statistics.median(values):>12.1f}"
            f"{_percentile(values, 0.95):>10.1f}{max(values):>10.1f}"
        )
    print(
        f"wall time {elapsed:.1f} s; CPU: server {server_cpu:.1f} s, clients "
        f"{client_cpu.ru_utime + client_cpu.ru_stime:.1f} s; survey CSV files: {csv_files}"
    )
    print(f"arrivals over {args.ramp:g} s, {low:g} to {high:g} s on each page")
    print(
        f"participants={args.participants} completed={completed} "
        f"p95_ack_ms={_percentile(all_acks, 0.95):.1f} rss_mb={rss:.0f}"
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
