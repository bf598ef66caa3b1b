"""The messages between the study server and its game processes: framed pickles on a socket.

Frames match :class:`multiprocessing.connection.Connection`: a 4-byte big-endian length, then a
pickle (a length of -1 is followed by an 8-byte length, for messages of 2 GiB and more). Both
ends write without blocking: the study server on its event loop
(:class:`mug_server_runtime.remote.Channel`), a game process from its scheduler
(:class:`Pipe`), so a slow reader delays bytes, never the writer's games.
"""

from __future__ import annotations

import pickle
import select
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

#: Bytes a game process keeps waiting for a study server that reads slowly before it waits
#: with them (memory stays bounded if the study server stops reading altogether).
MAX_PENDING = 64 * 1024 * 1024

#: ``select`` takes descriptors below this (``FD_SETSIZE``); a game process's pipe is one of
#: its first (see :func:`mug_server_runtime.worker.main`).
_SELECT_LIMIT = 1024


def frame(message: Any) -> bytes:
    """``message`` as one frame: its length, then its pickle."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return struct.pack("!i", len(data)) + data


def unframe(buffer: bytearray) -> Iterator[Any]:
    """Yield each complete message at the start of ``buffer``, removing what was read (a
    partial frame stays for the next call). Stop iterating early to leave later frames."""
    start = 0
    try:
        while len(buffer) - start >= 4:
            (size,) = struct.unpack_from("!i", buffer, start)
            header = 4
            if size == -1:
                if len(buffer) - start < 12:
                    break
                (size,) = struct.unpack_from("!Q", buffer, start + 4)
                header = 12
            end = start + header + size
            if len(buffer) < end:
                break
            message = pickle.loads(memoryview(buffer)[start + header : end])
            start = end
            yield message
    finally:
        del buffer[:start]


class Pipe:
    """A game process's end of its socket pair to the study server.

    :meth:`send` queues a message and writes what the socket takes now; :meth:`wait` waits
    for messages, writing the rest whenever the socket has room. Raises :class:`EOFError`
    when the study server has gone.
    """

    def __init__(self, sock: socket.socket) -> None:
        if sock.fileno() >= _SELECT_LIMIT:
            raise ValueError(f"the pipe's descriptor must be below {_SELECT_LIMIT}")
        self.sock = sock
        sock.setblocking(False)
        self._in = bytearray()
        self._out = bytearray()
        self._fd = sock.fileno()

    @property
    def pending(self) -> int:
        """Bytes queued for the study server and not written yet."""
        return len(self._out)

    def send(self, message: Any) -> None:
        """Queue ``message`` and write what the socket takes without waiting."""
        self._out += frame(message)
        self._write()
        while len(self._out) > MAX_PENDING:
            self._wait_writable(None)

    def wait(self, timeout: float) -> list[Any]:
        """Messages from the study server, waiting up to ``timeout`` seconds for the first;
        queued bytes are written meanwhile as the socket takes them. The wait is timed to the
        microsecond (``select``), not rounded up to the next millisecond as ``poll`` and
        ``epoll`` round it: a game due in 0.2 ms must not step 1 ms late."""
        deadline = time.monotonic() + timeout
        fds = [self._fd]
        while True:
            messages = list(unframe(self._in))
            if messages:
                return messages
            remaining = max(deadline - time.monotonic(), 0.0)
            readable, writable, _ = select.select(fds, fds if self._out else (), (), remaining)
            if not readable and not writable:
                return []
            if writable:
                self._write()
            if readable:
                self._read()

    def flush(self, timeout: float | None = None) -> bool:
        """Write everything queued, waiting up to ``timeout`` seconds (``None``: no limit);
        returns whether it was all written."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._out:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            self._wait_writable(deadline)
        return True

    def close(self) -> None:
        self.sock.close()

    def _wait_writable(self, deadline: float | None) -> None:
        remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        _, writable, _ = select.select([], [self._fd], [], remaining)
        if writable:
            self._write()

    def _write(self) -> None:
        if not self._out:
            return
        try:
            sent = self.sock.send(self._out)
        except BlockingIOError:
            return
        except OSError as exc:
            raise EOFError("the study server has gone") from exc
        del self._out[:sent]

    def _read(self) -> None:
        while True:
            try:
                chunk = self.sock.recv(1 << 20)
            except BlockingIOError:
                return
            except OSError as exc:
                raise EOFError("the study server has gone") from exc
            if not chunk:
                raise EOFError("the study server has gone")
            self._in += chunk
