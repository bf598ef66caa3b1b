"""The CSV data sink, MUG's default: one folder per study, plain files a spreadsheet can open.

Layout under the study's ``data_dir`` (``data/<experiment_id>``)::

    metadata/<participant_id>.json              participant records (whole document, replaced)
    <scene_key>/<participant_id>.csv            scene records
    <scene_key>/<participant_id>_ep<n>.csv      step records of episode n
    <scene_key>/<participant_id>_ep<n>_events.csv   event records of episode n

Every CSV row starts with ``schema_version, participant_id, scene_key`` (plus ``episode`` for
step and event files), then the record's ``values`` in their key order. Cell encoding, the
durability guarantee and every column are documented in ``docs/data.md``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from mug_core.data import jsoncodec
from mug_core.data.records import SCHEMA_VERSION, Record
from mug_core.data.sinks import SinkContext
from mug_storage import _files
from mug_storage._files import HandleCache, OpenFile

log = logging.getLogger(__name__)

PATH_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")
"""Participant ids and scene keys become path components; anything else is refused."""

METADATA_DIR = "metadata"
DEFAULT_MAX_OPEN_FILES = 256
OPTIONS = ("max_open_files",)

_ENCODING_ERRORS = "backslashreplace"
"""Unencodable text (lone surrogates a browser may send) is kept as backslash escapes."""

_REWRITE_CHUNK_ROWS = 2048
_MAX_CACHED_PATHS = 4096
_SCHEMA_TEXT = str(SCHEMA_VERSION)


# -- Encoding ---------------------------------------------------------------------------------


def json_cell(value: Any) -> str:
    """``value`` as compact JSON with sorted keys (how lists and dicts appear in a cell)."""
    return jsoncodec.dumps_sorted(value)


def _last_seq(path: Path, header: list[str]) -> int:
    """The highest ``seq`` in an existing file (a full read, once per file opening)."""
    if "seq" not in header:
        return -1
    column = header.index("seq")
    last = -1
    for row in _files.iter_rows(path):
        if len(row) > column and row[column].isdigit():
            last = max(last, int(row[column]))
    return last


def encode_cell(value: Any) -> str:
    """The text of one CSV cell.

    ``None`` -> empty; ``True``/``False`` -> ``true``/``false``; ints as digits; floats as
    Python's shortest round-trip repr (``0.1``, ``1e-07``, ``nan``, ``inf``); strings verbatim;
    anything else (lists, dicts, NumPy values) as compact JSON with sorted keys.
    """
    kind = type(value)
    if kind is float:
        return float.__repr__(value)
    if kind is str:
        return value
    if kind is int:
        return int.__repr__(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return repr(float(value))
    return json_cell(value)


def check_path_id(value: object, what: str) -> str:
    """Return ``value`` if it is safe as a file or folder name, else raise ValueError."""
    if not isinstance(value, str) or not PATH_ID_PATTERN.fullmatch(value):
        raise ValueError(f"{what} must be 1 to 128 letters, digits, '_' or '-', got {value!r}")
    return value


def _csv_line(cells: Sequence[str]) -> str:
    """One CSV row exactly as :func:`csv.writer` writes it (cells holding a comma, a quote or a
    line break quoted, quotes doubled, CRLF line ends), in under half its time."""
    out = []
    for cell in cells:
        if '"' in cell or "," in cell or "\n" in cell or "\r" in cell:
            cell = '"' + cell.replace('"', '""') + '"'
        out.append(cell)
    if len(out) == 1 and not out[0]:
        return '""\r\n'  # a lone empty cell would read back as no cell at all
    return ",".join(out) + "\r\n"


def _csv_bytes(rows: Iterable[Sequence[str]]) -> bytes:
    return "".join(map(_csv_line, rows)).encode("utf-8", _ENCODING_ERRORS)


def _union(header: list[str], rows: list[dict[str, str]]) -> list[str]:
    columns = list(header)
    seen = set(columns)
    for row in rows:
        for key in row:
            if key not in seen:
                seen.add(key)
                columns.append(key)
    return columns


def _cells(values: Any, kind: str) -> dict[str, str]:
    """The cells of a record's ``values``: :func:`encode_cell` of each, common types inline
    (this runs for every cell of a study)."""
    cells: dict[str, str] = {}
    dumps = jsoncodec.dumps_sorted
    for key, value in values.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"{kind} record column names must be non-empty strings, got {key!r}")
        value_type = type(value)
        if value_type is float:
            cells[key] = float.__repr__(value)
        elif value_type is str:
            cells[key] = value
        elif value_type is int:
            cells[key] = int.__repr__(value)
        elif value_type is dict or value_type is list:
            cells[key] = dumps(value)
        else:
            cells[key] = encode_cell(value)
    return cells


# -- The sink ---------------------------------------------------------------------------------


class CsvSink:
    """Writes a study's records as CSV files and JSON metadata documents under ``data_dir``.

    Options (``context.options``): ``max_open_files`` (default 256), how many CSV files stay
    open between batches. :meth:`write` is thread-safe and returns only when the batch is
    fsynced; when it raises, rows it had appended are cut off again (best effort), so a retry
    does not duplicate them. One sink (one server process) per data folder.
    """

    process_safe = True
    """Built from its context alone and sharing nothing with the server: by default it runs in
    a process of its own (``ExperimentConfig.data(sink_processes=...)``)."""

    def __init__(self, context: SinkContext) -> None:
        options = dict(context.options)
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise TypeError(
                f"csv data sink: unknown option(s) {', '.join(unknown)} "
                f"(known: {', '.join(OPTIONS)})"
            )
        max_open = options.get("max_open_files", DEFAULT_MAX_OPEN_FILES)
        if isinstance(max_open, bool) or not isinstance(max_open, int) or max_open < 1:
            raise ValueError(f"csv data sink: max_open_files must be an int >= 1, got {max_open!r}")
        self.experiment_id = context.experiment_id
        self._lock = threading.Lock()
        self._cache = HandleCache(max_open)
        self._pending_dirs: set[Path] = set()
        """Directories whose entries changed and are not yet fsynced (kept across failures)."""
        self._known_dirs: set[Path] = set()
        self._paths: dict[tuple[Any, ...], Path] = {}
        self._tails: dict[Path, tuple[int, int, list[str]]] = {}
        """(size, last seq, header) of each file as this sink last left it: reopening a file
        that the open-file cache closed need not read it again."""
        self._closed = False
        root = Path(context.data_dir)
        _files.ensure_dir(root.absolute(), self._pending_dirs)
        self.root = root.resolve()
        self._known_dirs.add(self.root)

    # -- public API ---------------------------------------------------------------------------

    def write(self, records: Sequence[Record]) -> None:
        """Store ``records`` durably; returns once every byte and directory entry is fsynced.

        Raises ValueError (unsafe id, wrong experiment, bad column name) or TypeError (a value
        that cannot be encoded) before touching any file; OSError if the disk fails, after
        undoing this batch's appends as far as possible. Raises RuntimeError after close().
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("csv data sink: write() after close()")
            documents, groups = self._encode(records)
            if not documents and not groups and not self._pending_dirs:
                return
            appended: list[tuple[Path, int]] = []
            try:
                for path in documents:
                    self._ensure_dir(path.parent)
                    self._pending_dirs.add(path.parent)
                _files.run_parallel(
                    [partial(_files.atomic_replace, p, [d]) for p, d in documents.items()]
                )
                for path, rows in groups.items():
                    self._append(path, rows, appended)
                self._cache.sync_all()
                for directory in sorted(self._pending_dirs):
                    _files.fsync_dir(directory)
                self._pending_dirs.clear()
            except BaseException:
                self._rollback(appended)
                raise

    def close(self) -> None:
        """Fsync and close every open file. Safe to call more than once."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._cache.close_all()
            for directory in sorted(self._pending_dirs):
                _files.fsync_dir(directory)
            self._pending_dirs.clear()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    # -- encoding (no I/O) --------------------------------------------------------------------

    def _encode(
        self, records: Sequence[Record]
    ) -> tuple[dict[Path, bytes], dict[Path, list[dict[str, str]]]]:
        documents: dict[Path, bytes] = {}
        shared: dict[int, dict[str, str]] = {}  # cells of values shared by several records
        groups: dict[Path, list[dict[str, str]]] = {}
        for record in records:
            if record.experiment_id != self.experiment_id:
                raise ValueError(
                    f"csv data sink for experiment {self.experiment_id!r} got a record of "
                    f"experiment {record.experiment_id!r}"
                )
            if record.kind == "participant":
                participant_id = check_path_id(record.participant_id, "participant_id")
                path = self.root / METADATA_DIR / f"{participant_id}.json"
                documents.pop(path, None)  # a later document replaces an earlier one
                documents[path] = self._metadata_bytes(record)
                continue
            # The file of each (kind, participant, scene, episode) is worked out once.
            key = (record.kind, record.participant_id, record.scene_key, record.episode)
            path = self._paths.get(key) if type(record.episode) is not bool else None
            if path is None:
                check_path_id(record.participant_id, "participant_id")
                path = self._csv_path(record)
                if len(self._paths) >= _MAX_CACHED_PATHS:
                    self._paths.clear()
                self._paths[key] = path
            groups.setdefault(path, []).append(self._row(record, shared))
        return documents, groups

    def _csv_path(self, record: Record) -> Path:
        scene_key = check_path_id(record.scene_key, "scene_key")
        stem = record.participant_id
        if record.kind != "scene":
            episode = record.episode
            if isinstance(episode, bool) or not isinstance(episode, int) or episode < 0:
                raise ValueError(f"episode must be an int >= 0, got {episode!r}")
            stem = f"{stem}_ep{episode}"
            if record.kind == "event":
                stem = f"{stem}_events"
        return self.root / scene_key / f"{stem}.csv"

    @staticmethod
    def _row(record: Record, shared: dict[int, dict[str, str]]) -> dict[str, str]:
        """The CSV row of ``record`` (column -> cell). ``shared`` caches the cells of ``values``
        mappings by identity, for records that share one (a multi-agent step recorded for each
        player); its records must stay alive while it is used."""
        row = {
            "schema_version": _SCHEMA_TEXT,
            "participant_id": record.participant_id,
            "scene_key": str(record.scene_key),
        }
        if record.kind != "scene":
            row["episode"] = str(record.episode)
        if record.seq is not None:
            row["seq"] = str(record.seq)
        values = record.values
        if clash := row.keys() & values.keys():
            # A value may repeat a leading column, but only if it agrees with it.
            for key in clash:
                if encode_cell(values[key]) != row[key]:
                    raise ValueError(
                        f"{record.kind} record value {key}={encode_cell(values[key])!r} "
                        f"contradicts the record's own {key} {row[key]!r}"
                    )
            row.update(_cells({k: v for k, v in values.items() if k not in clash}, record.kind))
            return row
        cells = shared.get(id(values))
        if cells is None:
            cells = shared[id(values)] = _cells(values, record.kind)
        row.update(cells)
        return row

    @staticmethod
    def _metadata_bytes(record: Record) -> bytes:
        document: dict[str, Any] = dict(record.values)
        if document.setdefault("participant_id", record.participant_id) != record.participant_id:
            raise ValueError(
                f"participant record for {record.participant_id!r} holds a metadata document "
                f"of participant {document['participant_id']!r}"
            )
        document.setdefault("experiment_id", record.experiment_id)
        document.setdefault("schema_version", SCHEMA_VERSION)
        text = json.dumps(document, indent=2, ensure_ascii=False, default=jsoncodec.json_default)
        return (text + "\n").encode("utf-8", _ENCODING_ERRORS)

    # -- file work (lock held) ----------------------------------------------------------------

    def _inside(self, path: Path) -> Path:
        if not path.resolve().is_relative_to(self.root):
            raise ValueError(f"refusing to write {path}: it resolves outside {self.root}")
        return path

    def _ensure_dir(self, directory: Path) -> None:
        if directory in self._known_dirs:
            return
        self._inside(directory)
        _files.ensure_dir(directory, self._pending_dirs)
        self._known_dirs.add(directory)

    def _open(self, path: Path) -> OpenFile:
        entry = self._cache.get(path)
        if entry is not None:
            return entry
        self._ensure_dir(path.parent)
        self._inside(path)
        if path.exists():
            _files.repair_torn_tail(path)
        fd = _files.open_append(path)
        try:
            size = os.fstat(fd).st_size
            tail = self._tails.get(path)
            if tail is not None and tail[0] == size:  # as this sink left it
                header, last_seq = list(tail[2]), tail[1]
            else:
                header = [] if size == 0 else _files.read_header(path) or []
                last_seq = _last_seq(path, header)
        except BaseException:
            os.close(fd)
            raise
        if not header:
            self._pending_dirs.add(path.parent)  # (probably) a new directory entry
        entry = OpenFile(path, fd, header, last_seq=last_seq)
        self._cache.put(entry)
        return entry

    def _append(
        self, path: Path, rows: list[dict[str, str]], appended: list[tuple[Path, int]]
    ) -> None:
        entry = self._open(path)
        # Rows numbered at or below what the file holds were written before a crash cut off
        # the delivery's bookkeeping: skip them, so every record lands exactly once.
        rows = [row for row in rows if "seq" not in row or int(row["seq"]) > entry.last_seq]
        if not rows:
            return
        entry.last_seq = max(entry.last_seq, *(int(row.get("seq", -1)) for row in rows))
        columns = _union(entry.header, rows)
        if entry.header and len(columns) > len(entry.header):
            entry = self._rewrite(entry, columns)
        width = len(columns)
        lines = [
            list(row.values())
            if len(row) == width and list(row) == columns
            else [row.get(c, "") for c in columns]
            for row in rows
        ]
        data = _csv_bytes(lines if entry.header else [columns, *lines])
        size = os.fstat(entry.fd).st_size
        appended.append((path, size))
        entry.dirty = True
        self._tails.pop(path, None)  # unknown until the write is whole
        _files.write_all(entry.fd, data)
        entry.header = columns
        if len(self._tails) >= _MAX_CACHED_PATHS:
            self._tails.clear()
        self._tails[path] = (size + len(data), entry.last_seq, columns)

    def _rewrite(self, entry: OpenFile, columns: list[str]) -> OpenFile:
        """Replace the file with one whose header is ``columns``; old rows get empty cells."""
        path, width = entry.path, len(entry.header)
        log.info("%s: adding columns %s", path, ", ".join(columns[width:]))

        def chunks() -> Iterator[bytes]:
            yield _csv_bytes([columns])
            batch: list[list[str]] = []
            for row in _files.iter_rows(path):
                if len(row) < width:
                    row = row + [""] * (width - len(row))
                batch.append(row + [""] * (len(columns) - width))
                if len(batch) >= _REWRITE_CHUNK_ROWS:
                    yield _csv_bytes(batch)
                    batch = []
            yield _csv_bytes(batch)

        _files.atomic_replace(path, chunks())
        self._pending_dirs.add(path.parent)
        self._cache.discard(path)
        self._tails.pop(path, None)
        fresh = OpenFile(path, _files.open_append(path), columns, last_seq=entry.last_seq)
        self._cache.put(fresh)
        return fresh

    def _rollback(self, appended: list[tuple[Path, int]]) -> None:
        for path, size in appended:
            self._cache.discard(path)  # reopen cleanly next time; never reuse a failed fd
            self._tails.pop(path, None)
            try:
                os.truncate(path, size)
            except OSError as exc:
                log.error("%s: could not undo a failed append (%s)", path, exc)


def open_sink(data_dir: str | os.PathLike[str], experiment_id: str, **options: Any) -> CsvSink:
    """A :class:`CsvSink` for scripts and tests: ``open_sink("data/my_study", "my_study")``."""
    return CsvSink(SinkContext(experiment_id, Path(data_dir), options))
