"""How many step records per second reach the data sinks, and how fast is a durable ack?

Drives the real data path through its public classes: ``SQLiteStudyStore`` (the outbox),
``Delivery`` and the mug-storage sinks. N simulated game pages each commit a chunk of step
records together with their progress, wait for the acknowledgement, and commit the next one,
for ``--seconds``; then the sinks finish draining. With the ``csv`` sink alone, and with ``csv``
plus ``s3`` (a moto server on 127.0.0.1, started here); each with the sinks in processes of
their own (the default of a study) and on threads of this process (``, thread`` rows, a study's
``sink_processes=False``).

What the numbers mean, with the outbox design:

- **ack**: ``store.commit`` returned, i.e. the chunk and the progress are in the SQLite outbox,
  fsynced (``synchronous=FULL``). This is what the server waits for before it answers a page.
  ``p95 ack ms`` is measured per commit.
- **records/s into a sink**: records the sink holds durably (``write`` returned: fsynced CSV
  files, or S3 PUTs acknowledged) divided by the time from the first commit until that sink's
  cursor reached the last record, so a sink that lags is charged for catching up. With several
  sinks, the slowest one counts.
- **p95 to sinks ms**: from a commit until every sink held its records (an upper bound: the
  cursor is sampled every millisecond or so).
- **CPU/record**: CPU time of this process (pages, store, drainers) and of the sink processes
  per record; moto's own CPU is not included. With the sinks on threads, the data path is
  Python under one GIL, so 1e6 / CPU-per-record is about the ceiling of records/s.

    python bench/data_throughput.py --participants 32 --chunk 10 --seconds 10

Last line: ``csv_records_per_s=X csv_s3_records_per_s=Y p95_ack_ms=Z``, from the default rows
(Z from the CSV one); ``nan`` for S3 when boto3 or moto's server is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from mug_core.data.delivery import Delivery
from mug_core.data.records import Record
from mug_core.data.sinks import SinkContext
from mug_core.server.flow import ParticipantState
from mug_core.server.store import SQLiteStudyStore
from mug_core.testing import free_port

EXPERIMENT = "bench"
BUCKET = "mug-bench"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def step_values(i: int) -> dict[str, Any]:
    """A two-player step like slime volleyball's: 12 floats of observation per agent."""
    obs = [round(0.01 * (i % 97) + k, 4) for k in range(12)]
    return {
        "step": i,
        "t": 1_700_000_000_000.0 + 33.3 * i,
        "actions": {"agent_left": i % 6, "agent_right": (i + 1) % 6},
        "rewards": {"agent_left": 0.0, "agent_right": 0.0},
        "terminated": {"agent_left": False, "agent_right": False},
        "truncated": {"agent_left": False, "agent_right": False},
        "infos": {},
        "observations": {"agent_left": obs, "agent_right": obs[::-1]},
    }


_TEMPLATES = [step_values(i) for i in range(97)]


def step_record_values(i: int) -> dict[str, Any]:
    """Step ``i``'s values, copied from a template: the pages' own cost stays small, as a real
    server's does (it parses what the browser sent rather than computing it)."""
    values = dict(_TEMPLATES[i % 97])
    values["step"] = i
    values["t"] = 1_700_000_000_000.0 + 33.3 * i
    return values


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CursorWatch:
    """Samples the slowest sink's cursor so each commit's time to the sinks can be bounded."""

    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            cursor = min(d.cursor for d in self.delivery.drainers)
            if not self.samples or cursor != self.samples[-1][1]:
                self.samples.append((time.perf_counter(), cursor))
            time.sleep(0.001)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def reached(self, seq: int) -> float | None:
        """The first sampled time at which every sink held record ``seq``."""
        lo, hi = 0, len(self.samples)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.samples[mid][1] >= seq:
                hi = mid
            else:
                lo = mid + 1
        return self.samples[lo][0] if lo < len(self.samples) else None


async def _page(
    store: SQLiteStudyStore, pid: str, args: argparse.Namespace, until: float, log: list[Any]
) -> None:
    state = ParticipantState(participant_id=pid, position=1)
    step = 0
    while time.perf_counter() < until:
        records = [
            Record(
                "step", EXPERIMENT, pid, step_record_values(step + k), scene_key="game", episode=0
            )
            for k in range(args.chunk)
        ]
        state.scene_state["game"] = {"acked": {"0": step // args.chunk}}
        sent = time.perf_counter()
        await store.commit(state, records)
        acked = time.perf_counter()
        log.append((sent, acked, store.last_seq))  # last_seq >= this chunk's last record
        step += args.chunk


def run(
    contexts: dict[str, SinkContext],
    folder: Path,
    args: argparse.Namespace,
    *,
    processes: bool = False,
) -> dict[str, float]:
    """Drive the store and delivery with the sinks ``contexts`` names (each in a process of its
    own with ``processes``); the numbers of one row of the table."""
    from mug_storage.csv import CsvSink
    from mug_storage.s3 import S3Sink

    classes: dict[str, Any] = {"csv": CsvSink, "s3": S3Sink}
    sinks = {name: classes[name](context) for name, context in contexts.items()}
    store = SQLiteStudyStore(folder / ".mug-state.sqlite3")
    delivery = Delivery(store, sinks, contexts if processes else None)
    if not delivery.wait_started():
        raise RuntimeError("the sink processes did not start")
    watch = CursorWatch(delivery)
    log: list[tuple[float, float, int]] = []

    async def main() -> float:
        start = time.perf_counter()
        until = start + args.seconds
        pages = [_page(store, f"p{n:03d}", args, until, log) for n in range(args.participants)]
        await asyncio.gather(*pages)
        return start

    cpu_start = time.process_time() + _children_cpu()
    start = asyncio.run(main())
    committed_at = time.perf_counter()
    if not delivery.wait_drained(timeout=600):
        raise RuntimeError(f"the sinks did not catch up: {delivery.lag()}")
    drained_at = time.perf_counter()
    watch.stop()
    total = store.last_seq
    delivery.close()
    cpu = time.process_time() + _children_cpu() - cpu_start  # sink processes have ended
    asyncio.run(store.close())
    acks = [(acked - sent) * 1000 for sent, acked, _ in log]
    to_sinks = [((watch.reached(seq) or drained_at) - sent) * 1000 for sent, _, seq in log]
    return {
        "records": total,
        "ack_per_s": total / (committed_at - start),
        "sink_per_s": total / (drained_at - start),
        "catch_up_s": drained_at - committed_at,
        "p50_ack": _percentile(acks, 0.50),
        "p95_ack": _percentile(acks, 0.95),
        "p99_ack": _percentile(acks, 0.99),
        "p95_to_sinks": _percentile(to_sinks, 0.95),
        "cpu_us": cpu / total * 1e6,
    }


class MotoServer:
    """``moto_server`` on 127.0.0.1 in a subprocess, with the bench bucket created."""

    def __init__(self) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        port = self.url.rsplit(":", 1)[1]
        self.proc = subprocess.Popen(
            ["moto_server", "-H", "127.0.0.1", "-p", port],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        import boto3

        client = boto3.client("s3", endpoint_url=self.url, region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.close()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _s3_available() -> str | None:
    try:
        import boto3  # noqa: F401
    except ImportError:
        return "boto3 is not installed (pip install 'mug-storage[s3]')"
    if shutil.which("moto_server") is None:
        return "moto_server is not installed (pip install 'moto[server]')"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=32, help="pages committing at once")
    parser.add_argument("--chunk", type=int, default=10, help="step records per commit")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long pages commit")
    args = parser.parse_args(argv)

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="mug-bench-") as tmp:
        for processes in (True, False):
            folder = Path(tmp) / f"csv{processes:d}" / EXPERIMENT
            label = "csv" if processes else "csv, thread"
            contexts = {"csv": SinkContext(EXPERIMENT, folder)}
            results[label] = run(contexts, folder, args, processes=processes)

        missing = _s3_available()
        if missing is None:
            os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
            os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
            os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
            moto = MotoServer()
            try:
                for processes in (True, False):
                    folder = Path(tmp) / f"csv_s3{processes:d}" / EXPERIMENT
                    options = {"bucket": BUCKET, "endpoint_url": moto.url}
                    contexts = {
                        "csv": SinkContext(EXPERIMENT, folder),
                        "s3": SinkContext(EXPERIMENT, folder, options),
                    }
                    label = "csv+s3" if processes else "csv+s3, thr."
                    results[label] = run(contexts, folder, args, processes=processes)
            finally:
                moto.stop()
        else:
            print(f"skipping csv+s3: {missing}")

    print(
        f"{args.participants} pages, {args.chunk} step records per commit, "
        f"{args.seconds:g} s of commits; {os.cpu_count()} CPUs"
    )
    header = ["sinks", "records", "acked/s", "in sinks/s", "catch-up s", "p50 ack"]
    header += ["p95 ack", "p99 ack", "p95 to sinks", "CPU/record"]
    print("".join(f"{h:>13}" for h in header))
    for name, r in results.items():
        cells = [name, f"{r['records']:.0f}", f"{r['ack_per_s']:.0f}", f"{r['sink_per_s']:.0f}"]
        cells += [f"{r['catch_up_s']:.2f}", f"{r['p50_ack']:.1f} ms", f"{r['p95_ack']:.1f} ms"]
        cells += [f"{r['p99_ack']:.1f} ms", f"{r['p95_to_sinks']:.1f} ms", f"{r['cpu_us']:.0f} us"]
        print("".join(f"{c:>13}" for c in cells))
    csv_rate = results["csv"]["sink_per_s"]
    s3_rate = results.get("csv+s3", {}).get("sink_per_s", float("nan"))
    print(
        f"csv_records_per_s={csv_rate:.0f} csv_s3_records_per_s={s3_rate:.0f} "
        f"p95_ack_ms={results['csv']['p95_ack']:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
