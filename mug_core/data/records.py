"""The record schema: what a study writes, and how sinks receive it.

Every record carries ``schema_version`` so files written by different MUG versions can be told
apart. See ``docs/data.md`` for every record kind and column.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import attrs
import orjson

from mug_core.data import jsoncodec

SCHEMA_VERSION = 1
"""Written into every file; bumped when a column changes meaning or disappears."""

RecordKind = Literal["participant", "scene", "step", "event"]
RECORD_KINDS: tuple[str, ...] = ("participant", "scene", "step", "event")


@attrs.frozen
class Record:
    """One unit of study data on its way to the data sinks.

    - ``participant``: the participant's metadata document (query parameters, user agent,
      scene timeline, completion); each one replaces the previous document.
    - ``scene``: one row when a scene ends: timing and, for surveys, every answer.
    - ``step`` / ``event``: rows of a game episode (``episode`` set).

    ``values`` maps column names to JSON-serialisable values; its key order is the column order.
    """

    kind: RecordKind
    experiment_id: str
    participant_id: str
    values: Mapping[str, Any]
    scene_key: str | None = None
    episode: int | None = None
    created_at: float = attrs.field(factory=time.time)
    seq: int | None = None
    """The record's number in the study's outbox (set on delivery); sinks use it to recognise
    a batch delivered again after a crash."""

    def __attrs_post_init__(self) -> None:
        if self.kind not in RECORD_KINDS:
            raise ValueError(f"record kind must be one of {RECORD_KINDS}, got {self.kind!r}")
        if self.kind != "participant" and not self.scene_key:
            raise ValueError(f"a {self.kind!r} record needs a scene_key")
        if self.kind in ("step", "event") and self.episode is None:
            raise ValueError(f"a {self.kind!r} record needs an episode number")

    def to_json(self, values_json: str | None = None) -> str:
        """Compact JSON; raises TypeError if a value is not JSON-serialisable.

        ``values_json`` is ``jsoncodec.dumps(values)`` when the caller has it already (records
        that share one ``values`` mapping, see :func:`records_to_json`)."""
        if values_json is None:
            values = self.values
            values_json = jsoncodec.dumps(values if type(values) is dict else dict(values))
        envelope = {
            "kind": self.kind,
            "experiment_id": self.experiment_id,
            "participant_id": self.participant_id,
            "scene_key": self.scene_key,
            "episode": self.episode,
            "created_at": self.created_at,
        }
        try:
            envelope["values"] = orjson.Fragment(values_json)
            return orjson.dumps(envelope).decode()
        except TypeError:  # a lone surrogate in an id: let the standard library escape it
            del envelope["values"]
            return f'{jsoncodec.dumps(envelope)[:-1]},"values":{values_json}}}'

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as constructor arguments: game processes send thousands of records a second,
        # and this is several times cheaper than attrs' generic slot state.
        return (Record, self._arguments(self.seq))

    def with_seq(self, seq: int) -> Record:
        """This record numbered ``seq`` (cheaper than ``attrs.evolve``)."""
        return Record(*self._arguments(seq))

    def _arguments(self, seq: int | None) -> tuple[Any, ...]:
        return (
            self.kind,
            self.experiment_id,
            self.participant_id,
            self.values,
            self.scene_key,
            self.episode,
            self.created_at,
            seq,
        )

    @classmethod
    def from_json(cls, text: str, seq: int | None = None) -> Record:
        """The record :meth:`to_json` wrote, numbered ``seq``."""
        return cls(**jsoncodec.loads(text), seq=seq)


def records_to_json(records: Sequence[Record]) -> list[str]:
    """Each record's :meth:`Record.to_json`; records that share one ``values`` mapping (a
    multi-agent step recorded for each player) serialise it once."""
    shared: dict[int, str] = {}
    bodies = []
    for record in records:
        values = record.values
        text = shared.get(id(values))
        if text is None:
            text = jsoncodec.dumps(values if type(values) is dict else dict(values))
            shared[id(values)] = text  # every record stays alive here: ids are not reused
        bodies.append(record.to_json(text))
    return bodies


_ENVELOPE = frozenset(
    ("kind", "experiment_id", "participant_id", "scene_key", "episode", "created_at")
)


def records_from_json(rows: Sequence[tuple[int, str]]) -> list[Record]:
    """The records of ``(seq, text)`` outbox rows; rows whose values are the same text (a
    multi-agent step recorded for each player) share one parsed ``values`` mapping, so sinks
    encode it once."""
    shared: dict[str, Any] = {}
    records = []
    for seq, text in rows:
        # to_json writes the values last: the envelope is the text before them.
        head, found, values_text = text.partition(',"values":')
        envelope = jsoncodec.loads(head + "}") if found else None
        if envelope is None or envelope.keys() != _ENVELOPE:
            records.append(Record.from_json(text, seq))  # another layout: parse it whole
            continue
        values_text = values_text[:-1]
        values = shared.get(values_text)
        if values is None:
            values = shared[values_text] = jsoncodec.loads(values_text)
        records.append(Record(values=values, seq=seq, **envelope))
    return records
