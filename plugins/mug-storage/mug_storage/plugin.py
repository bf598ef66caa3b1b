"""The ``mug`` entry point of mug-storage: registers its data sinks with the plugin host."""

from __future__ import annotations

from typing import Any

from mug_core.plugins import hookimpl
from mug_core.registry import Registry


@hookimpl
def mug_register_data_sinks(register: Registry[Any]) -> None:
    """Register ``csv`` and ``s3``, lazily: a sink's module (and boto3, for ``s3``) is imported
    only when a study selects it."""
    register("csv", "mug_storage.csv:CsvSink")
    register("s3", "mug_storage.s3:S3Sink")
