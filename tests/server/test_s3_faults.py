"""Faults with real parts: the mug-storage CSV and S3 sinks against a moto S3 endpoint.

- The S3 endpoint stops (its port closes) for ``MUG_FAULT_OUTAGE_S`` seconds, 30 by default as
  the issue states, while participants play: they keep getting acknowledgements (CSV keeps up,
  S3 lags in the outbox); when the endpoint is back, every record reaches S3 exactly once,
  row for row equal to the CSV files. 30 s spans seven failed deliveries, so the delivery
  backoff grows to 16 s waits; ``MUG_FAULT_OUTAGE_S=5`` runs the same test in ~15 s.
- ``mug run`` is killed with SIGKILL while participants play and started again: every
  acknowledged step is in the CSV files and in S3. The CSV sink may repeat the rows of the batch
  it was writing when the process died (documented in docs/data.md); the test reports such
  repeats as a warning. S3 objects have stable names, so S3 holds every row exactly once.

The endpoint is moto's server app in this process (werkzeug on 127.0.0.1): stopping it closes
the port (connections are refused), and its objects survive the restart, like a real S3.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import socketio

from mug_core.cli.study import load_study
from mug_core.testing import StudyServer
from mug_core.testing.server import free_port

pytest.importorskip("mug_storage", reason="needs the mug-storage plugin")
pytest.importorskip("boto3", reason="needs boto3: pip install 'mug-storage[s3]'")
pytest.importorskip("moto.server", reason="needs moto's server: pip install 'moto[server]'")

OUTAGE_S = float(os.environ.get("MUG_FAULT_OUTAGE_S", "30"))
BUCKET = "mug-faults"
EXPERIMENT = "faults"
CHUNK = 10  # steps per chunk

STUDY = '''\
"""A consent page, one game episode (a stand-in runtime), a survey and a completion code."""
import types

from mug_core import (
    CompletionCodeScene, ExperimentConfig, FreeText, Likert, PolicyTypes, Stager, StartScene,
    SurveyScene, hookimpl,
)
from mug_core.scenes.gym_scene import GymScene
from mug_core.server import app


def mug_register_runtimes(register):
    register("browser", object())  # the page would step the env; the test sends its steps


runtime = types.ModuleType("fake_runtime")
runtime.mug_register_runtimes = hookimpl(mug_register_runtimes)
game = (
    GymScene()
    .scene("game")
    .policies(policy_mapping={{"left": PolicyTypes.Human, "right": PolicyTypes.Random}})
    .runtime(environment_initialization_code="env = None\\n")
    .gameplay(action_mapping={{"ArrowLeft": 1}}, num_episodes=1)
)
survey = SurveyScene().scene("survey").questions(
    Likert("fun", "It was fun.", scale=5), FreeText("comments", "Comments?", required=False)
)
scenes = [StartScene().scene("consent").consent("I agree."), game, survey,
          CompletionCodeScene().scene("end")]
config = (
    ExperimentConfig()
    .experiment(stager=Stager(scenes), experiment_id={experiment!r})
    .data(data_dir={data_dir!r}, sinks=["csv", "s3"], sink_options={{"s3": {s3!r}}})
    .plugins(allow=["storage"], extra={{"fake_runtime": runtime}})  # only mug-storage installed
)
app.run(config)
'''


# -- the S3 endpoint ---------------------------------------------------------------------------


class MotoEndpoint:
    """moto's S3 on 127.0.0.1:``port``, served from a thread; stop() closes the port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        from moto.server import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server("127.0.0.1", self.port, app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._thread = None

    def reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=5).close()


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoEndpoint]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    endpoint = MotoEndpoint(free_port())
    endpoint.start()
    endpoint.reset()
    client = s3_client(endpoint)
    client.create_bucket(Bucket=BUCKET)
    client.close()
    yield endpoint
    endpoint.stop()


def s3_client(endpoint: MotoEndpoint) -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=endpoint.url, region_name="us-east-1")


def write_study(tmp_path: Path, endpoint: MotoEndpoint) -> Path:
    options = {
        "bucket": BUCKET,
        "endpoint_url": endpoint.url,
        "max_attempts": 2,
        "backoff_s": 0.05,
        "connect_timeout_s": 1,
        "read_timeout_s": 5,
    }
    text = STUDY.format(experiment=EXPERIMENT, data_dir=str(tmp_path / "data"), s3=options)
    path = tmp_path / "study.py"
    path.write_text(text, encoding="utf-8")
    return path


# -- participants --------------------------------------------------------------------------------


def chunk(seq: int) -> dict[str, Any]:
    """The ``steps`` payload of chunk ``seq``: steps ``seq*CHUNK`` to ``seq*CHUNK + CHUNK-1``."""
    steps = [
        {
            "step": i,
            "t": 1000.0 + i,
            "actions": {"left": i % 3, "right": 0},
            "rewards": {"left": 0.5, "right": -0.5},
            "terminated": {"left": False, "right": False},
            "truncated": {"left": False, "right": False},
            "infos": {},
            "observations": {"left": [i, 0.25], "right": [-i, 0.75]},
        }
        for i in range(seq * CHUNK, (seq + 1) * CHUNK)
    ]
    events = [{"t": 999.0 + seq, "type": "keydown", "key": "ArrowLeft", "agent": "left"}]
    return {"episode": 0, "seq": seq, "steps": steps, "events": events}


class Player:
    """One scripted page playing the game: chunk after chunk, remembering what was acked."""

    def __init__(self, pid: str) -> None:
        self.pid = pid
        self.acked = -1  # highest acknowledged chunk
        self.latencies: list[tuple[float, float]] = []  # (sent at, seconds to the ack)
        self.sio: socketio.AsyncClient | None = None

    async def connect(self, port: int) -> dict[str, Any]:
        self.sio = socketio.AsyncClient(reconnection=False)
        await self.sio.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
        joined = await self.call("join", {"participant_id": self.pid, "tab_id": "t"})
        assert joined["ok"], joined
        if joined["scene"]["scene_key"] == "consent":
            assert (await self.advance("consent", {"consent": True}))["ok"]
        return joined

    async def call(self, event: str, data: Any, timeout: float = 10) -> Any:
        assert self.sio is not None
        return await self.sio.call(event, data, timeout=timeout)

    async def advance(self, scene_key: str, response: dict[str, Any]) -> dict[str, Any]:
        return await self.call("advance", {"scene_key": scene_key, "response": response})

    async def play(self, stop: asyncio.Event, pace_s: float, timeout: float = 10) -> None:
        """Send chunks until ``stop`` is set (or the connection fails)."""
        while not stop.is_set():
            seq = self.acked + 1
            sent = time.monotonic()
            data = {"scene_key": "game", "name": "steps", "payload": chunk(seq)}
            reply = await self.call("scene_event", data, timeout)
            assert reply["ok"] and reply["acked"] == seq, reply
            self.latencies.append((sent, time.monotonic() - sent))
            self.acked = seq
            await asyncio.sleep(pace_s)

    async def finish(self) -> None:
        """End the episode, answer the survey, reach the completion code, disconnect."""
        steps = (self.acked + 1) * CHUNK
        payload = {"episode": 0, "steps": steps, "returns": {"left": steps * 0.5}}
        end = {"scene_key": "game", "name": "episode_end", "payload": payload}
        assert (await self.call("scene_event", end))["ok"]
        assert (await self.advance("game", {}))["ok"]
        done = await self.advance("survey", {"answers": {"fun": 4, "comments": f"hi {self.pid}"}})
        assert done["ok"] and done["scene"]["scene_key"] == "end", done
        await self.close()

    async def close(self) -> None:
        if self.sio is not None:
            await self.sio.disconnect()
            self.sio = None


# -- reading the data back -----------------------------------------------------------------------


def _normal(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Rows without empty cells (a CSV file fills columns added later with empty cells)."""
    return [{k: v for k, v in row.items() if v != ""} for row in rows]


def csv_data(study_dir: Path) -> tuple[dict[str, list[dict[str, str]]], dict[str, Any]]:
    """Rows per folder (``<scene>/<file stem>``) and metadata documents per participant."""
    tables: dict[str, list[dict[str, str]]] = {}
    for path in sorted(study_dir.glob("*/*.csv")):
        with open(path, encoding="utf-8", newline="") as f:
            tables[f"{path.parent.name}/{path.stem}"] = _normal(list(csv.DictReader(f)))
    metadata = {
        p.stem: json.loads(p.read_text(encoding="utf-8"))
        for p in (study_dir / "metadata").glob("*.json")
    }
    return tables, metadata


def s3_data(endpoint: MotoEndpoint) -> tuple[dict[str, list[dict[str, str]]], dict[str, Any]]:
    """The same from the bucket: each folder's objects concatenated in name order."""
    client = s3_client(endpoint)
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        keys = sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))
        tables: dict[str, list[dict[str, str]]] = {}
        metadata: dict[str, Any] = {}
        for key in keys:
            text = client.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode("utf-8")
            experiment, rest = key.split("/", 1)
            assert experiment == EXPERIMENT, key
            folder, name = rest.rsplit("/", 1)
            if folder == "metadata":
                metadata[name.removesuffix(".json")] = json.loads(text)
            else:
                rows = list(csv.DictReader(io.StringIO(text, newline="")))
                tables.setdefault(folder, []).extend(_normal(rows))
        return tables, metadata
    finally:
        client.close()


def step_numbers(rows: list[dict[str, str]]) -> Counter[int]:
    return Counter(int(row["step"]) for row in rows)


# -- the tests -------------------------------------------------------------------------------------


async def _walk_through_an_outage(
    server: StudyServer, endpoint: MotoEndpoint, players: list[Player]
) -> dict[str, Any]:
    for player in players:
        await player.connect(server.port)
    stop = asyncio.Event()
    playing = [asyncio.create_task(p.play(stop, pace_s=0.1)) for p in players]
    await asyncio.sleep(1.0)
    await asyncio.to_thread(endpoint.stop)
    down_at = time.monotonic()
    await asyncio.sleep(OUTAGE_S)
    assert server.server is not None
    lag = server.server.delivery.lag()
    up_at = time.monotonic()
    await asyncio.to_thread(endpoint.start)
    await asyncio.sleep(1.0)
    stop.set()
    await asyncio.gather(*playing)
    await asyncio.gather(*(p.finish() for p in players))
    during = [s for p in players for t, s in p.latencies if down_at <= t < up_at]
    return {"lag": lag, "during": sorted(during)}


def test_records_reach_s3_exactly_once_after_an_outage(tmp_path: Path, moto: MotoEndpoint) -> None:
    config = load_study(write_study(tmp_path, moto))
    players = [Player(f"p{i}") for i in range(4)]
    with StudyServer(config) as server:
        seen = asyncio.run(_walk_through_an_outage(server, moto, players))
        server.flush(timeout=OUTAGE_S + 60)  # the delivery backoff may wait up to 30 s
    during = seen["during"]
    assert len(during) >= 4 * OUTAGE_S / 0.5, "participants were acknowledged during the outage"
    assert during[int(0.95 * (len(during) - 1))] < 1.0, f"slow acknowledgements: {during[-5:]}"
    assert seen["lag"]["s3"] > 0 and seen["lag"]["csv"] < seen["lag"]["s3"], seen["lag"]

    local, local_meta = csv_data(config.study_dir)
    remote, remote_meta = s3_data(moto)
    assert remote == local  # row for row, in order
    assert remote_meta == local_meta and set(local_meta) == {p.pid for p in players}
    for player in players:
        expected = Counter(range((player.acked + 1) * CHUNK))
        assert step_numbers(local[f"game/{player.pid}_ep0"]) == expected
        assert len(local[f"game/{player.pid}_ep0_events"]) == player.acked + 1
        assert [r["comments"] for r in local[f"survey/{player.pid}"]] == [f"hi {player.pid}"]
        assert local_meta[player.pid]["completed_at"] is not None


def _start_mug(study: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mug_core.cli", "run", str(study), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"mug run exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise TimeoutError("mug run did not answer")


async def _play_until_killed(
    proc: subprocess.Popen[bytes], port: int, players: list[Player]
) -> None:
    for player in players:
        await player.connect(port)
    stop = asyncio.Event()
    playing = [asyncio.create_task(p.play(stop, pace_s=0.0, timeout=3)) for p in players]
    await asyncio.sleep(1.5)
    proc.send_signal(signal.SIGKILL)  # no shutdown, no flush: mid-transaction, mid-write
    await asyncio.gather(*playing, return_exceptions=True)  # their connections broke
    for player in players:
        await player.close()


async def _resume_and_finish(port: int, players: list[Player]) -> None:
    for player in players:
        joined = await player.connect(port)
        assert joined["scene"]["scene_key"] == "game", joined["scene"]
    stop = asyncio.Event()
    playing = [asyncio.create_task(p.play(stop, pace_s=0.05)) for p in players]
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.gather(*playing)
    await asyncio.gather(*(p.finish() for p in players))


def test_acknowledged_records_survive_a_killed_server(tmp_path: Path, moto: MotoEndpoint) -> None:
    study, port, log = write_study(tmp_path, moto), free_port(), tmp_path / "mug.log"
    players = [Player(f"k{i}") for i in range(4)]
    proc = _start_mug(study, port, log)
    try:
        asyncio.run(_play_until_killed(proc, port, players))
        assert proc.wait(10) == -signal.SIGKILL
        acked_before = {p.pid: p.acked for p in players}
        assert all(acked >= 0 for acked in acked_before.values()), acked_before
        proc = _start_mug(study, port, log)
        asyncio.run(_resume_and_finish(port, players))
    finally:
        proc.send_signal(signal.SIGTERM)  # graceful: the sinks drain before it exits
        proc.wait(60)
    assert proc.returncode == 0, log.read_text(errors="replace")[-3000:]

    local, local_meta = csv_data(tmp_path / "data" / EXPERIMENT)
    remote, remote_meta = s3_data(moto)
    repeats: dict[str, str] = {}
    for player in players:
        assert player.acked > acked_before[player.pid]
        expected = Counter(range((player.acked + 1) * CHUNK))
        folder = f"game/{player.pid}_ep0"
        in_csv = step_numbers(local[folder])
        assert set(in_csv) == set(expected), f"{folder}: steps lost or invented"
        twice = sorted(step for step, n in in_csv.items() if n > 1)
        if twice:
            last = (acked_before[player.pid] + 1) * CHUNK - 1
            repeats[folder] = f"steps {twice[0]}-{twice[-1]} ({len(twice)}; last acked: {last})"
        assert step_numbers(remote[folder]) == expected, f"{folder}: S3 lost or repeated steps"
        assert local_meta[player.pid]["completed_at"] is not None
    assert remote_meta == local_meta
    assert not repeats, f"the csv sink stored rows twice after SIGKILL: {repeats}"
