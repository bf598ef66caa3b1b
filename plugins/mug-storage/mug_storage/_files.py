"""Low-level durable file operations used by the CSV sink.

Everything here works on raw file descriptors (no Python-level buffering), so "written" means
handed to the kernel and "synced" means :func:`os.fsync` returned. Directory fsyncs make new
or renamed directory entries durable; on platforms that cannot fsync a directory (Windows)
they are skipped.
"""

from __future__ import annotations

import csv
import logging
import os
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs

log = logging.getLogger(__name__)

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)
_APPEND_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | _O_CLOEXEC | _O_BINARY
_CAN_SYNC_DIRS = os.name != "nt"


def fsync_dir(path: Path) -> None:
    """Make the entries of directory ``path`` (created, renamed files) durable."""
    if not _CAN_SYNC_DIRS:
        return
    fd = os.open(path, os.O_RDONLY | _O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(path: Path, dirty_dirs: set[Path]) -> bool:
    """Create directory ``path`` (and missing parents) if needed.

    Every directory whose entries changed (the parent of each created directory) is added to
    ``dirty_dirs`` for the caller to :func:`fsync_dir`. Returns True if anything was created.
    """
    if path.is_dir():
        return False
    ensure_dir(path.parent, dirty_dirs)
    try:
        os.mkdir(path)
    except FileExistsError:
        if not path.is_dir():
            raise
        return False
    dirty_dirs.add(path.parent)
    return True


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd``, looping over short writes."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


_FSYNC_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="mug-csv-fsync")


def run_parallel(tasks: list[Callable[[], object]]) -> None:
    """Run I/O-bound ``tasks`` on a small pool; raise the first error after all finished.

    fsync releases the GIL and the file system merges concurrent flushes, so a batch touching
    many files becomes durable several times faster than with one fsync after another.
    """
    if len(tasks) <= 1:
        for task in tasks:
            task()
        return
    futures = [_FSYNC_POOL.submit(task) for task in tasks]
    errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error


def atomic_replace(path: Path, chunks: Iterable[bytes]) -> None:
    """Replace ``path`` with the concatenated ``chunks``; readers see the old or the new file.

    Writes a hidden temporary file next to ``path`` (``.<name>.<random>.tmp``), fsyncs it and
    renames it over ``path``. The caller must fsync ``path.parent`` afterwards for the rename
    itself to be durable. On error the temporary file is removed and ``path`` is untouched.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_CLOEXEC | _O_BINARY, 0o666)
    try:
        try:
            for chunk in chunks:
                write_all(fd, chunk)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def repair_torn_tail(path: Path) -> None:
    """Cut a partial last line left by a crash in the middle of an append.

    Such bytes were never fsynced and acknowledged, so the records they belong to are retried;
    cutting them keeps the next append from being glued onto half a row.
    """
    with open(path, "r+b") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return
        end = size
        keep = 0
        while end > 0:
            start = max(0, end - 65536)
            f.seek(start)
            chunk = f.read(end - start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            end = start
        log.warning("%s: removing %d bytes of a partially written row", path, size - keep)
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())


def read_header(path: Path) -> list[str] | None:
    """The first CSV row of ``path`` (its column names), or None if the file is empty."""
    with open(path, encoding="utf-8", newline="") as f:
        return next(csv.reader(f), None)


def iter_rows(path: Path) -> Iterator[list[str]]:
    """Every data row of CSV file ``path`` (the header row skipped)."""
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader, None)
        yield from reader


@attrs.define(eq=False)
class OpenFile:
    """One cached append-only CSV file: its descriptor and its current header."""

    path: Path
    fd: int
    header: list[str]
    dirty: bool = False
    """Appended to since the last fsync."""
    last_seq: int = -1
    """The highest outbox ``seq`` in the file (-1: none), to skip rows delivered again."""

    def sync(self) -> None:
        """fsync the file if anything was appended since the last sync."""
        if self.dirty:
            os.fsync(self.fd)
            self.dirty = False


def open_append(path: Path) -> int:
    """Open (creating if missing) ``path`` for appending; returns the raw descriptor."""
    return os.open(path, _APPEND_FLAGS, 0o666)


class HandleCache:
    """A bounded LRU of :class:`OpenFile`; evicting a file fsyncs it before closing it."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"the open-file cache needs room for at least 1 file, got {capacity}")
        self.capacity = capacity
        self._files: OrderedDict[Path, OpenFile] = OrderedDict()

    def get(self, path: Path) -> OpenFile | None:
        """The cached file for ``path`` (now most recently used), or None."""
        entry = self._files.get(path)
        if entry is not None:
            self._files.move_to_end(path)
        return entry

    def put(self, entry: OpenFile) -> None:
        """Cache ``entry``, syncing and closing the least recently used files beyond capacity."""
        self._files[entry.path] = entry
        self._files.move_to_end(entry.path)
        while len(self._files) > self.capacity:
            _, old = self._files.popitem(last=False)
            try:
                old.sync()
            finally:
                os.close(old.fd)

    def discard(self, path: Path) -> None:
        """Close and forget ``path`` without syncing (its content is being replaced)."""
        entry = self._files.pop(path, None)
        if entry is not None:
            os.close(entry.fd)

    def sync_all(self) -> None:
        """fsync every cached file with unsynced appends (several at once: fsyncs overlap)."""
        run_parallel([entry.sync for entry in self._files.values() if entry.dirty])

    def close_all(self) -> None:
        """Sync and close every cached file; the first error is raised after all are closed."""
        error: BaseException | None = None
        while self._files:
            _, entry = self._files.popitem(last=False)
            try:
                entry.sync()
            except OSError as exc:
                error = error or exc
            finally:
                os.close(entry.fd)
        if error is not None:
            raise error

    def __len__(self) -> int:
        return len(self._files)
