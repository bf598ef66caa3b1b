"""Fan records out to every configured sink, off the event loop, with group commit.

Each sink gets one writer thread. Records queued while a sink is busy are written together in
its next ``write`` call, so a burst of participants costs one fsync per file per batch rather
than one per record. :meth:`DataRouter.write` returns when every sink holds the records.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from mug_core.data.batching import BatchedWriter
from mug_core.data.records import Record
from mug_core.data.sinks import DataSink


class DataRouter:
    """Writes records to all sinks; ``await write(records)`` means durable everywhere."""

    def __init__(self, sinks: dict[str, DataSink]) -> None:
        self.sinks = sinks
        self.writers = [BatchedWriter(f"sink-{name}", sink.write) for name, sink in sinks.items()]

    async def write(self, records: Sequence[Record]) -> None:
        """Store ``records`` in every sink; raises the first sink error, if any."""
        if not records:
            return
        loop = asyncio.get_running_loop()
        futures = [w.submit(records, loop) for w in self.writers]
        results = await asyncio.gather(*futures, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

    def close(self) -> None:
        """Finish queued writes and close every sink."""
        for writer in self.writers:
            writer.close()
        for sink in self.sinks.values():
            sink.close()
