"""Study data: the record schema, the sink contract and the fan-out to sinks."""

from mug_core.data.records import RECORD_KINDS, SCHEMA_VERSION, Record, RecordKind
from mug_core.data.sinks import DataSink, SinkContext

__all__ = ["RECORD_KINDS", "SCHEMA_VERSION", "DataSink", "Record", "RecordKind", "SinkContext"]
