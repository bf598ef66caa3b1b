"""The S3 data sink: a study's records as objects in any S3-compatible store.

S3 cannot append, so every batch the server delivers becomes whole objects. Keys, under
``<prefix>/<experiment_id>/`` (no leading part when ``prefix`` is empty)::

    metadata/<participant_id>.json                        participant records (replaced)
    <scene_key>/<participant_id>/<name>.csv               scene rows
    <scene_key>/<participant_id>_ep<n>/<name>.csv         step rows of episode n
    <scene_key>/<participant_id>_ep<n>_events/<name>.csv  event rows of episode n

Each CSV object holds the rows of one batch for one of those folders, with its own header and
the same columns and cell encoding as the ``csv`` sink (``docs/data.md``), so the rows of a
folder are the concatenation of its objects in name order. ``<name>`` is
``<t>-<digest>``: ``t`` is the first row's ``created_at`` in whole microseconds (17 digits,
so names sort in time order) and ``digest`` 16 hex digits of the SHA-256 of that record.

Why that name: the server re-delivers a batch after a failure (or a crash before it noted the
delivery) starting from the same record, with the same or more records behind it. Each folder's
object of the re-delivered batch therefore starts with the same record, gets the same name, and
replaces the earlier object with a superset of its rows: nothing is stored twice and nothing is
lost.

Options (``sink_options["s3"]``): ``bucket`` (required), ``prefix`` (default ``""``),
``endpoint_url`` (MinIO, Ceph, moto, ...), ``region_name``, ``profile_name``,
``addressing_style`` (``auto``, ``path`` or ``virtual``), ``max_attempts`` (default 4),
``backoff_s`` (default 0.2, doubled per attempt), ``max_backoff_s`` (default 5),
``connect_timeout_s`` (default 5), ``read_timeout_s`` (default 30), ``max_concurrency``
(default 16 PUTs at once). Credentials come from boto3's usual chain (environment variables,
shared credentials file or profile, container or instance roles). Needs ``boto3``
(``pip install 'mug-storage[s3]'``); it is imported when the sink is created.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mug_core.data.records import Record
from mug_core.data.sinks import SinkContext
from mug_storage.csv import METADATA_DIR, CsvSink, _csv_bytes, _union, check_path_id

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "prefix": "",
    "endpoint_url": None,
    "region_name": None,
    "profile_name": None,
    "addressing_style": "auto",
    "max_attempts": 4,
    "backoff_s": 0.2,
    "max_backoff_s": 5.0,
    "connect_timeout_s": 5.0,
    "read_timeout_s": 30.0,
    "max_concurrency": 16,
}
OPTIONS = ("bucket", *DEFAULTS)

CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"

_NOT_RETRIED_STATUS = range(400, 500)
_RETRIED_STATUS = (408, 429)


class S3WriteError(OSError):
    """Some objects of a batch were not stored after every attempt; the batch stays queued."""


def _positive(options: Mapping[str, Any], name: str, kind: type) -> Any:
    value = options[name]
    if isinstance(value, bool) or not isinstance(value, kind | int) or value <= 0:
        raise ValueError(f"s3 data sink: {name} must be a positive number, got {value!r}")
    return kind(value)


def folder_of(record: Record) -> str:
    """The folder (below ``<prefix>/<experiment_id>/``) of a scene, step or event record."""
    scene_key = check_path_id(record.scene_key, "scene_key")
    participant_id = check_path_id(record.participant_id, "participant_id")
    if record.kind == "scene":
        return f"{scene_key}/{participant_id}"
    episode = record.episode
    if isinstance(episode, bool) or not isinstance(episode, int) or episode < 0:
        raise ValueError(f"episode must be an int >= 0, got {episode!r}")
    suffix = "_events" if record.kind == "event" else ""
    return f"{scene_key}/{participant_id}_ep{episode}{suffix}"


def object_name(first: Record) -> str:
    """The stable name (without ``.csv``) of an object whose first row is ``first``."""
    micros = max(0, round(first.created_at * 1_000_000))
    digest = hashlib.sha256(first.to_json().encode("utf-8", "surrogatepass")).hexdigest()
    return f"{micros:017d}-{digest[:16]}"


def _retryable(exc: BaseException) -> bool:
    """Whether another attempt within this write could succeed (not a 4xx, not a setup error)."""
    from botocore.exceptions import NoCredentialsError, ParamValidationError

    if isinstance(exc, NoCredentialsError | ParamValidationError):
        return False
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(status, int) and status in _NOT_RETRIED_STATUS:
            return status in _RETRIED_STATUS
    return True


class S3Sink:
    """Stores a study's records as S3 objects; see the module docstring for keys and options.

    :meth:`write` returns once S3 acknowledged every PUT of the batch. It retries failed PUTs
    (up to ``max_attempts`` in all, with doubling backoff) and then raises
    :class:`S3WriteError`; the server keeps the batch in its outbox and delivers it again
    later, which overwrites the same objects. A bad record (unsafe id, another experiment)
    raises ValueError before anything is sent. Creating the sink does not contact S3, so a
    study starts while the store is unreachable.
    """

    process_safe = True
    """Built from its context alone and sharing nothing with the server: by default it runs in
    a process of its own (``ExperimentConfig.data(sink_processes=...)``)."""

    def __init__(self, context: SinkContext) -> None:
        options = dict(context.options)
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise TypeError(
                f"s3 data sink: unknown option(s) {', '.join(unknown)} "
                f"(known: {', '.join(OPTIONS)})"
            )
        bucket = options.pop("bucket", None)
        if not isinstance(bucket, str) or not bucket:
            raise ValueError(
                "s3 data sink: the 'bucket' option is required, e.g. "
                ".data(sinks=['csv', 's3'], sink_options={'s3': {'bucket': 'my-study-data'}})"
            )
        settings = {**DEFAULTS, **options}
        prefix = settings["prefix"]
        if not isinstance(prefix, str):
            raise ValueError(f"s3 data sink: prefix must be a string, got {prefix!r}")
        if settings["addressing_style"] not in ("auto", "path", "virtual"):
            raise ValueError("s3 data sink: addressing_style must be 'auto', 'path' or 'virtual'")
        self.bucket = bucket
        self.experiment_id = context.experiment_id
        self.base = "/".join(p for p in (prefix.strip("/"), context.experiment_id) if p)
        self.max_attempts = _positive(settings, "max_attempts", int)
        self.backoff_s = _positive(settings, "backoff_s", float)
        self.max_backoff_s = _positive(settings, "max_backoff_s", float)
        concurrency = _positive(settings, "max_concurrency", int)
        self._client = _make_client(settings, concurrency)
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="mug-s3-put")
        self._lock = threading.Lock()
        self._closed = False

    # -- public API ---------------------------------------------------------------------------

    def write(self, records: Sequence[Record]) -> None:
        """PUT ``records`` as objects; returns once S3 acknowledged every one of them.

        Raises ValueError or TypeError for a record that cannot be stored (before any PUT),
        :class:`S3WriteError` when objects are still missing after ``max_attempts``, and
        RuntimeError after :meth:`close`.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("s3 data sink: write() after close()")
            objects = self.encode(records)
            pending = dict(objects)
            attempt = 0
            while pending:
                attempt += 1
                failures = self._put_all(pending)
                if not failures:
                    return
                key, first = next(iter(failures.items()))
                final = attempt >= self.max_attempts or not all(
                    _retryable(exc) for exc in failures.values()
                )
                if final:
                    raise S3WriteError(
                        f"s3 data sink: {len(failures)} of {len(objects)} objects not stored in "
                        f"bucket {self.bucket!r} after {attempt} attempt(s); first: {key}: "
                        f"{type(first).__name__}: {first}"
                    ) from first
                delay = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
                log.warning(
                    "s3 data sink: %d objects failed (%s: %s); retrying in %.2f s",
                    len(failures),
                    type(first).__name__,
                    first,
                    delay,
                )
                time.sleep(delay * random.uniform(0.75, 1.0))
                pending = {k: objects[k] for k in failures}

    def close(self) -> None:
        """Release the connection pool and worker threads. Safe to call more than once."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._pool.shutdown(wait=True)
            self._client.close()

    # -- encoding (no I/O) --------------------------------------------------------------------

    def key(self, relative: str) -> str:
        """The full object key of ``relative`` (a path below the study's folder)."""
        return f"{self.base}/{relative}"

    def encode(self, records: Sequence[Record]) -> dict[str, tuple[bytes, str]]:
        """The objects of one batch: key -> (body, content type), in record order."""
        documents: dict[str, bytes] = {}
        groups: dict[str, list[Record]] = {}
        for record in records:
            if record.experiment_id != self.experiment_id:
                raise ValueError(
                    f"s3 data sink for experiment {self.experiment_id!r} got a record of "
                    f"experiment {record.experiment_id!r}"
                )
            if record.kind == "participant":
                pid = check_path_id(record.participant_id, "participant_id")
                key = self.key(f"{METADATA_DIR}/{pid}.json")
                documents.pop(key, None)  # a later document replaces an earlier one
                documents[key] = CsvSink._metadata_bytes(record)
            else:
                groups.setdefault(folder_of(record), []).append(record)
        objects = {key: (body, JSON_CONTENT_TYPE) for key, body in documents.items()}
        shared: dict[int, dict[str, str]] = {}  # cells of values shared by several records
        for folder, group in groups.items():
            rows = [CsvSink._row(record, shared) for record in group]
            columns = _union([], rows)
            body = _csv_bytes([columns, *([row.get(c, "") for c in columns] for row in rows)])
            objects[self.key(f"{folder}/{object_name(group[0])}.csv")] = (body, CSV_CONTENT_TYPE)
        return objects

    # -- I/O ----------------------------------------------------------------------------------

    def _put(self, key: str, body: bytes, content_type: str) -> None:
        self._client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def _put_all(self, objects: Mapping[str, tuple[bytes, str]]) -> dict[str, BaseException]:
        """PUT every object (several at once); the ones that failed, with their errors."""
        if len(objects) == 1:
            ((key, (body, content_type)),) = objects.items()
            try:
                self._put(key, body, content_type)
            except Exception as exc:
                return {key: exc}
            return {}
        futures = {
            key: self._pool.submit(self._put, key, body, content_type)
            for key, (body, content_type) in objects.items()
        }
        failures: dict[str, BaseException] = {}
        for key, future in futures.items():
            error = future.exception()
            if error is not None:
                failures[key] = error
        return failures


def _make_client(settings: Mapping[str, Any], concurrency: int) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            "the s3 data sink needs boto3: pip install 'mug-storage[s3]' (or 'mug-core[s3]')"
        ) from exc
    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},  # the sink retries itself
        connect_timeout=_positive(settings, "connect_timeout_s", float),
        read_timeout=_positive(settings, "read_timeout_s", float),
        max_pool_connections=concurrency,
        s3={"addressing_style": settings["addressing_style"]},
    )
    session = boto3.session.Session(profile_name=settings["profile_name"])
    return session.client(
        "s3",
        endpoint_url=settings["endpoint_url"],
        region_name=settings["region_name"],
        config=config,
    )
