"""A tiny durable sink for the core's own tests, so they run with no plugin installed."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from mug_core.data import Record, SinkContext
from mug_core.plugins import hookimpl
from mug_core.registry import Registry


class JsonlSink:
    """Appends every record as one JSON line to ``<data_dir>/records.jsonl`` (fsynced)."""

    def __init__(self, context: SinkContext) -> None:
        context.data_dir.mkdir(parents=True, exist_ok=True)
        self.path = context.data_dir / "records.jsonl"
        self.file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115

    def write(self, records: Sequence[Record]) -> None:
        for r in records:
            row = {
                "kind": r.kind,
                "participant_id": r.participant_id,
                "scene_key": r.scene_key,
                "values": dict(r.values),
            }
            self.file.write(json.dumps(row) + "\n")
        self.file.flush()
        os.fsync(self.file.fileno())

    def close(self) -> None:
        self.file.close()


class BatchLogSink(JsonlSink):
    """A JsonlSink that also notes the size of each batch in ``<data_dir>/batches.txt``."""

    def write(self, records: Sequence[Record]) -> None:
        super().write(records)
        with open(self.path.with_name("batches.txt"), "a", encoding="utf-8") as file:
            file.write(f"{len(records)}\n")


@hookimpl
def mug_register_data_sinks(register: Registry[Any]) -> None:
    register("jsonl", JsonlSink)


def read_records(path: Any) -> list[dict[str, Any]]:
    """Every record a JsonlSink wrote."""
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]
