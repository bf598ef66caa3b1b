"""The S3 sink against a real S3 endpoint: a moto server on 127.0.0.1 in a subprocess."""

from __future__ import annotations

import csv
import io
import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mug_storage import plugin
from mug_storage.s3 import S3Sink, S3WriteError, object_name

from mug_core.data.records import SCHEMA_VERSION, Record
from mug_core.data.sinks import DataSink, SinkContext
from mug_core.registry import Registry

pytest.importorskip("boto3", reason="the s3 sink needs boto3: pip install 'mug-storage[s3]'")
if shutil.which("moto_server") is None:
    pytest.skip("moto_server is missing: pip install 'moto[server]'", allow_module_level=True)

EXP = "study1"
BUCKET = "mug-data"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """A moto S3 server for this module; its state is reset before each test."""
    port = _free_port()
    proc = subprocess.Popen(
        ["moto_server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials through the environment, boto3's first source."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def s3(moto_url: str) -> Any:
    """A boto3 client on a freshly reset moto holding the empty bucket ``mug-data``."""
    import boto3

    reset = urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=5).close()
    client = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    yield client
    client.close()


def make_sink(moto_url: str, **options: Any) -> S3Sink:
    options = {"bucket": BUCKET, "endpoint_url": moto_url, **options}
    return S3Sink(SinkContext(EXP, Path("unused"), options))


def keys(client: Any, prefix: str = "") -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


def body(client: Any, key: str) -> str:
    return client.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode("utf-8")


def rows(client: Any, key: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body(client, key), newline="")))


def step(pid: str, episode: int, t: int, created_at: float, key: str = "game") -> Record:
    values = {"step": t, "actions": {"a": t % 3}, "rewards": {"a": 0.5}}
    return Record("step", EXP, pid, values, key, episode, created_at)


def scene(pid: str, created_at: float, **values: Any) -> Record:
    return Record("scene", EXP, pid, values, "survey", None, created_at)


def participant(pid: str, **values: Any) -> Record:
    return Record("participant", EXP, pid, values, created_at=1.0)


def test_objects_land_under_bucket_and_prefix(moto_url: str, s3: Any) -> None:
    sink = make_sink(moto_url, prefix="/lab/2024/")
    assert isinstance(sink, DataSink)
    first_step = step("p1", 0, 0, 100.0)
    first_event = Record("event", EXP, "p1", {"t": 1.0, "type": "keydown"}, "game", 0, 100.5)
    batch = [
        participant("p1", created_at=1.0, scenes=[]),
        scene("p1", 99.0, q1="yes", tags=["a", "b"]),
        first_step,
        step("p1", 0, 1, 100.1),
        first_event,
        step("p2", 1, 0, 100.2),
        participant("p1", created_at=1.0, scenes=[{"scene_key": "game"}]),
    ]
    sink.write(batch)
    base = "lab/2024/study1"
    assert keys(s3) == sorted(
        [
            f"{base}/metadata/p1.json",
            f"{base}/survey/p1/{object_name(batch[1])}.csv",
            f"{base}/game/p1_ep0/{object_name(first_step)}.csv",
            f"{base}/game/p1_ep0_events/{object_name(first_event)}.csv",
            f"{base}/game/p2_ep1/{object_name(batch[5])}.csv",
        ]
    )
    document = json.loads(body(s3, f"{base}/metadata/p1.json"))
    assert document["scenes"] == [{"scene_key": "game"}]  # the batch's last document wins
    assert document["schema_version"] == SCHEMA_VERSION and document["experiment_id"] == EXP
    steps = rows(s3, f"{base}/game/p1_ep0/{object_name(first_step)}.csv")
    assert steps == [
        {
            "schema_version": str(SCHEMA_VERSION),
            "participant_id": "p1",
            "scene_key": "game",
            "episode": "0",
            "step": str(t),
            "actions": f'{{"a":{t}}}',
            "rewards": '{"a":0.5}',
        }
        for t in (0, 1)
    ]
    assert rows(s3, f"{base}/survey/p1/{object_name(batch[1])}.csv")[0]["tags"] == '["a","b"]'
    head = s3.head_object(Bucket=BUCKET, Key=f"{base}/game/p2_ep1/{object_name(batch[5])}.csv")
    assert head["ContentType"].startswith("text/csv")
    sink.close()
    sink.close()
    with pytest.raises(RuntimeError, match="after close"):
        sink.write(batch)


def test_object_names_sort_in_time_order(moto_url: str, s3: Any) -> None:
    sink = make_sink(moto_url)
    for t in range(12):
        sink.write([step("p1", 0, t, 1_700_000_000.0 + t)])
    sink.close()
    objects = keys(s3, "study1/game/p1_ep0/")
    assert [rows(s3, key)[0]["step"] for key in objects] == [str(t) for t in range(12)]


def test_a_redelivered_batch_replaces_its_objects(moto_url: str, s3: Any) -> None:
    sink = make_sink(moto_url)
    first = [step("p1", 0, t, 100.0 + t) for t in range(3)] + [scene("p1", 99.0, a=1)]
    sink.write(first)
    before = keys(s3)
    # Delivered again from the same record (a failure or crash before the outbox noted it),
    # now with more records behind it, as the outbox re-reads from the same cursor.
    more = [step("p1", 0, t, 100.0 + t) for t in range(3, 6)] + [step("p2", 0, 0, 200.0)]
    sink.write(first + more)
    after = keys(s3)
    assert set(before) < set(after) and len(after) == len(before) + 1  # p2's new object only
    steps = [r["step"] for key in keys(s3, "study1/game/p1_ep0/") for r in rows(s3, key)]
    assert steps == [str(t) for t in range(6)]
    sink.write(first + more)  # exactly the same batch again: nothing changes
    assert keys(s3) == after
    sink.close()


def test_the_bucket_option_is_required(moto_url: str) -> None:
    with pytest.raises(ValueError, match="'bucket' option is required"):
        S3Sink(SinkContext(EXP, Path("unused"), {"endpoint_url": moto_url}))
    with pytest.raises(TypeError, match=r"unknown option.*bucket_name"):
        S3Sink(SinkContext(EXP, Path("unused"), {"bucket_name": "x"}))
    with pytest.raises(ValueError, match="max_attempts must be a positive"):
        make_sink(moto_url, max_attempts=0)


def test_an_unreachable_endpoint_raises_after_bounded_retries() -> None:
    dead = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    sink = make_sink(dead, max_attempts=3, backoff_s=0.01, connect_timeout_s=1)
    started = time.monotonic()
    with pytest.raises(S3WriteError, match="after 3 attempt"):
        sink.write([step("p1", 0, 0, 1.0), scene("p1", 2.0, a=1)])
    assert time.monotonic() - started < 5
    sink.close()


def test_missing_credentials_fail_at_once(
    moto_url: str, s3: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    sink = make_sink(moto_url, max_attempts=5, backoff_s=1.0)
    with pytest.raises(S3WriteError, match=r"after 1 attempt.*NoCredentialsError"):
        sink.write([step("p1", 0, 0, 1.0)])
    sink.close()


def test_a_missing_bucket_fails_at_once(moto_url: str, s3: Any) -> None:
    sink = make_sink(moto_url, bucket="no-such-bucket", max_attempts=5, backoff_s=1.0)
    started = time.monotonic()
    with pytest.raises(S3WriteError, match="after 1 attempt"):  # a 404 is not worth retrying
        sink.write([step("p1", 0, 0, 1.0)])
    assert time.monotonic() - started < 1
    sink.close()


def test_records_are_checked_before_anything_is_sent(moto_url: str, s3: Any) -> None:
    sink = make_sink(moto_url)
    with pytest.raises(ValueError, match="participant_id"):
        sink.write([step("p1", 0, 0, 1.0), step("../evil", 0, 0, 1.0)])
    with pytest.raises(ValueError, match="experiment"):
        sink.write([Record("scene", "other", "p1", {}, "survey")])
    assert keys(s3) == []
    sink.close()


def test_plugin_registers_the_s3_sink_lazily() -> None:
    registry: Registry[Any] = Registry("data sink")
    plugin.mug_register_data_sinks(registry)
    assert "s3" in registry.names() and "csv" in registry.names()
    assert registry.get("s3") is S3Sink
