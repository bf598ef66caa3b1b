"""The data sink contract and the context sinks are built with."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import attrs

from mug_core.data.records import Record


@attrs.frozen
class SinkContext:
    """What a sink is told when the server builds it.

    ``data_dir`` is the study's local data root (``data/<experiment_id>`` by default); ``options``
    are the keyword arguments the study gave for this sink.
    """

    experiment_id: str
    data_dir: Path
    options: Mapping[str, Any] = attrs.field(factory=dict)


@runtime_checkable
class DataSink(Protocol):
    """Where records end up. Registered through ``mug_register_data_sinks``.

    The server calls :meth:`write` from a worker thread, never on the event loop, with batches
    of records in arrival order. ``write`` returns only when every record is durable (on disk,
    fsynced, or acknowledged by the remote store); raising means none of the batch may be
    counted as stored, and the server retries or reports it.

    A class attribute ``process_safe = True`` (optional) says the sink may run in a child
    process of its own: it is built from its context alone and shares no state with the server.
    Studies then run it in one by default (``ExperimentConfig.data(sink_processes=...)``).
    """

    def __init__(self, context: SinkContext) -> None: ...

    def write(self, records: Sequence[Record]) -> None:
        """Store ``records`` durably; blocking."""
        ...

    def close(self) -> None:
        """Flush and release resources; called once at shutdown."""
        ...
