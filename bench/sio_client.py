"""A lean Socket.IO client for benchmarks: many simulated participants at little CPU.

:class:`SocketIOClient` speaks Socket.IO v5 over Engine.IO v4 on one websocket (RFC 6455,
written here on a non-blocking socket), the same wire protocols as a browser's socket.io-client
with ``transports: ["websocket"]``. It answers the server's pings, sends events and calls (events
with an acknowledgement), and hands received events to handlers. A :class:`ClientPool` opens the
clients and reads all of them in one sweep every few tens of milliseconds.

``game_frame`` events are counted rather than decoded: a participant's page decodes its frames on
the participant's own machine, so a benchmark of the server should not spend its CPU on that.
:attr:`SocketIOClient.frame_bytes` is the total length of the events' ``data`` strings, the same
number as ``len(message["data"])`` after a full JSON decode; a ``game_frame`` packet whose text is
not the plain envelope ``42["game_frame",{"stream":N,"data":"..."}]`` is decoded in full.

Not supported: namespaces other than ``/``, binary events and HTTP long-polling.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import selectors
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

__all__ = ["ClientPool", "ProtocolError", "SocketIOClient"]

_ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_MAX_HANDSHAKE = 16384
_MAX_MESSAGE = 16 * 1024 * 1024
_READ_SIZE = 65536

_CONTINUATION, _TEXT, _BINARY, _CLOSE, _PING, _PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_CLOSE_NORMAL = 1000

_FRAME_HEAD = b'42["game_frame",{"stream":'
_FRAME_DATA = b',"data":"'
_FRAME_TAIL = b'"}]'

Handler = Callable[..., Any]


class ProtocolError(Exception):
    """The server broke the websocket, Engine.IO or Socket.IO protocol, or refused us."""


def _mask(payload: bytes, key: bytes) -> bytes:
    """XOR ``payload`` with the 4-byte masking ``key`` repeated (RFC 6455, section 5.3)."""
    size = len(payload)
    if not size:
        return payload
    repeated = (key * (size // 4 + 1))[:size]
    masked = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
    return masked.to_bytes(size, "big")


def _frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked client frame carrying ``payload``."""
    size = len(payload)
    if size < 126:
        header = bytes((0x80 | opcode, 0x80 | size))
    elif size < 65536:
        header = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + size.to_bytes(8, "big")
    key = os.urandom(4)
    return header + key + _mask(payload, key)


def _frame_data_length(payload: bytes) -> int:
    """``len(data)`` of a ``game_frame`` event in the plain envelope, or -1 for any other text.

    The envelope is exact when the stream is a plain number and the data string holds no quote
    or backslash (so no escapes) and only ASCII (so one byte per character), as base64 does.
    """
    if not (payload.startswith(_FRAME_HEAD) and payload.endswith(_FRAME_TAIL)):
        return -1
    start = payload.find(_FRAME_DATA, len(_FRAME_HEAD))
    if start < 0 or not payload[len(_FRAME_HEAD) : start].isdigit():
        return -1
    start += len(_FRAME_DATA)
    end = len(payload) - len(_FRAME_TAIL)
    if payload.find(b'"', start, end) >= 0 or payload.find(b"\\", start, end) >= 0:
        return -1
    if not payload.isascii():
        return -1
    return end - start


class ClientPool:
    """Connections read together: every ``interval`` seconds one sweep reads whatever each of
    them has received.

    Reading in sweeps rather than on every arrival keeps the CPU per received message low when
    a benchmark runs many clients (an event-loop wake-up per message costs several times the
    message's own handling). The server cannot tell: the kernel acknowledges the data as it
    arrives. Answers to calls, pings and frames are seen up to ``interval`` seconds late.

    Use it as an async context manager; leaving it closes the connections still open::

        async with ClientPool() as pool:
            client = await pool.connect("http://127.0.0.1:5000")
    """

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self._selector = selectors.DefaultSelector()
        self._sweeper: asyncio.Task[None] | None = None

    async def __aenter__(self) -> ClientPool:
        self._sweeper = asyncio.create_task(self._sweep())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for key in list(self._selector.get_map().values()):
            key.data.close()
        self._selector.close()

    async def connect(self, url: str, timeout: float = 30.0) -> SocketIOClient:
        """Open a websocket to ``url`` (``http://host:port``) and connect the ``/`` namespace.

        Raises :class:`ProtocolError` if the server refuses, :class:`TimeoutError` after
        ``timeout`` seconds.
        """
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"expected an http://host:port URL, got {url!r}")
        port = parts.port or 80
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client = SocketIOClient(sock, f"{parts.hostname}:{port}", self._selector)
        try:
            async with asyncio.timeout(timeout):
                await asyncio.get_running_loop().sock_connect(sock, (parts.hostname, port))
                client._start()
                await asyncio.shield(client._connected)
        except BaseException:
            client.close()
            raise
        return client

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            for key, _ in self._selector.select(0):
                key.data._read()


class SocketIOClient:
    """One Socket.IO connection to the default namespace over a websocket.

    Make one with :meth:`ClientPool.connect`; register handlers with :meth:`on` (before or
    after connecting); :meth:`emit` events, :meth:`call` for an acknowledged event, and
    :meth:`disconnect` at the end. Handlers run inside the pool's read sweep, so they must be
    quick and must not block.
    """

    def __init__(self, sock: socket.socket, host: str, selector: selectors.BaseSelector) -> None:
        self._host = host
        self.sid: str | None = None
        """The Socket.IO session id the server gave this connection."""
        self.frames = 0
        """How many ``game_frame`` events arrived."""
        self.frame_bytes = 0
        """Total length of the ``data`` strings of the ``game_frame`` events received."""
        self._sock = sock
        self._selector = selector
        self._loop = asyncio.get_running_loop()
        self._handlers: dict[str, Handler] = {}
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._next_ack = 1
        self._key = base64.b64encode(os.urandom(16))
        self._handshake = bytearray()
        self._opened = False
        self._buffer = bytearray()
        self._fragments: list[bytes] = []
        self._fragment_opcode = 0
        self._outgoing = bytearray()
        self._close_sent = False
        self._connected: asyncio.Future[None] = self._loop.create_future()
        self._closed: asyncio.Future[None] = self._loop.create_future()
        self._error: BaseException | None = None

    def on(self, event: str, handler: Handler) -> None:
        """Call ``handler(*args)`` whenever the server emits ``event``. A ``game_frame``
        handler makes every frame decoded in full (frames are still counted)."""
        self._handlers[event] = handler

    def emit(self, event: str, data: Any = None) -> None:
        """Send ``event`` with ``data`` (queued on the socket; no acknowledgement)."""
        self._send_event(None, event, data)

    async def call(self, event: str, data: Any = None, timeout: float = 60.0) -> Any:
        """Send ``event`` with ``data`` and return the server's answer: its single value, a
        tuple of several, or None. Raises :class:`TimeoutError` after ``timeout`` seconds."""
        ack_id = self._next_ack
        self._next_ack += 1
        answer: asyncio.Future[Any] = self._loop.create_future()
        self._acks[ack_id] = answer
        try:
            self._send_event(ack_id, event, data)
            async with asyncio.timeout(timeout):
                return await answer
        finally:
            self._acks.pop(ack_id, None)

    async def disconnect(self, timeout: float = 5.0) -> None:
        """Leave the namespace, close the Engine.IO session and the websocket, and wait up to
        ``timeout`` seconds for the server to close the connection."""
        if self._error is None and not self._close_sent:
            self._send_text("41")
            self._send_text("1")
            self._send_close(_CLOSE_NORMAL)
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._closed)
        except TimeoutError:
            self.close()

    def close(self) -> None:
        """Drop the connection at once (no closing handshake)."""
        self._fail(ConnectionError("the connection was closed"))
        if self._sock.fileno() >= 0:
            if self._sock in self._selector.get_map():
                self._selector.unregister(self._sock)
            self._loop.remove_writer(self._sock)
            self._sock.close()
        if not self._closed.done():
            self._closed.set_result(None)

    # socket

    def _start(self) -> None:
        """Ask for the websocket upgrade and let the pool read the answer."""
        self._selector.register(self._sock, selectors.EVENT_READ, self)
        self._write(
            b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
            b"Host: " + self._host.encode() + b"\r\n"
            b"Upgrade: websocket\r\n"
            b"Connection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + self._key + b"\r\n"
            b"Sec-WebSocket-Version: 13\r\n"
            b"\r\n"
        )

    def _read(self) -> None:
        """Handle what arrived since the last sweep; close on end of stream or any error."""
        try:
            data = self._sock.recv(_READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self._lost(error)
            return
        if not data:
            self.close()
            return
        try:
            if not self._opened:
                data = self._read_handshake(data)
            if data:
                self._read_frames(data)
        except Exception as error:
            self._lost(error)

    def _write(self, data: bytes) -> None:
        if self._sock.fileno() < 0:
            raise ConnectionError("the connection is closed")
        if self._outgoing:
            self._outgoing += data
            return
        try:
            sent = self._sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        if sent < len(data):
            self._outgoing += data[sent:]
            self._loop.add_writer(self._sock, self._flush)

    def _flush(self) -> None:
        try:
            sent = self._sock.send(self._outgoing)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            self._lost(error)
            return
        del self._outgoing[:sent]
        if not self._outgoing:
            self._loop.remove_writer(self._sock)

    # websocket

    def _read_handshake(self, data: bytes) -> bytes:
        """Take the server's HTTP answer to the upgrade; return the bytes that follow it."""
        self._handshake += data
        end = self._handshake.find(b"\r\n\r\n")
        if end < 0:
            if len(self._handshake) > _MAX_HANDSHAKE:
                raise ProtocolError("the server's handshake answer is too long")
            return b""
        head = bytes(self._handshake[:end]).decode("latin-1")
        rest = bytes(self._handshake[end + 4 :])
        self._handshake.clear()
        status, *lines = head.split("\r\n")
        if status.split(" ", 2)[1:2] != ["101"]:
            raise ProtocolError(f"websocket upgrade refused: {status}")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        expected = base64.b64encode(hashlib.sha1(self._key + _ACCEPT_GUID).digest()).decode()
        if headers.get("sec-websocket-accept") != expected:
            raise ProtocolError("the server's Sec-WebSocket-Accept does not match our key")
        if headers.get("sec-websocket-extensions"):
            raise ProtocolError("the server accepted an extension we did not offer")
        self._opened = True
        return rest

    def _read_frames(self, data: bytes) -> None:
        """Handle every complete frame in the buffered bytes; keep the rest for later."""
        if self._buffer:
            self._buffer += data
            data = bytes(self._buffer)
            self._buffer.clear()
        pos = 0
        available = len(data)
        while available - pos >= 2:
            first, second = data[pos], data[pos + 1]
            if second & 0x80:
                raise ProtocolError("the server masked a frame")
            size = second & 0x7F
            start = pos + 2
            if size == 126:
                start += 2
                if start > available:
                    break
                size = int.from_bytes(data[pos + 2 : start], "big")
            elif size == 127:
                start += 8
                if start > available:
                    break
                size = int.from_bytes(data[pos + 2 : start], "big")
                if size > _MAX_MESSAGE:
                    raise ProtocolError(f"a frame of {size} bytes is too large")
            end = start + size
            if end > available:
                break
            pos = end
            self._on_frame(first, data[start:end])
        if pos < available:
            self._buffer += data[pos:]

    def _on_frame(self, first: int, payload: bytes) -> None:
        if first & 0x70:
            raise ProtocolError("the server set reserved bits without an extension")
        opcode = first & 0x0F
        final = first & 0x80
        if opcode == _TEXT and final and not self._fragments:
            self._on_text(payload)
        elif opcode >= _CLOSE:
            if not final or len(payload) > 125:
                raise ProtocolError("control frames must be final and at most 125 bytes")
            self._on_control(opcode, payload)
        elif opcode in (_TEXT, _BINARY):
            if self._fragments:
                raise ProtocolError("a new message started inside a fragmented one")
            self._fragment_opcode = opcode
            self._fragments.append(payload)
            if final:
                self._end_message()
        elif opcode == _CONTINUATION:
            if not self._fragments:
                raise ProtocolError("a continuation frame without a message to continue")
            self._fragments.append(payload)
            if sum(map(len, self._fragments)) > _MAX_MESSAGE:
                raise ProtocolError("a fragmented message is too large")
            if final:
                self._end_message()
        else:
            raise ProtocolError(f"unknown websocket opcode {opcode:#x}")

    def _end_message(self) -> None:
        message = b"".join(self._fragments)
        self._fragments.clear()
        if self._fragment_opcode != _TEXT:
            raise ProtocolError("binary messages (Socket.IO binary events) are not supported")
        self._on_text(message)

    def _on_control(self, opcode: int, payload: bytes) -> None:
        if opcode == _PING:
            self._write(_frame(_PONG, payload))
        elif opcode == _CLOSE:
            if not self._close_sent:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else _CLOSE_NORMAL
                self._send_close(code)
            # The server closes the TCP connection after the closing handshake.
        elif opcode != _PONG:
            raise ProtocolError(f"unknown websocket control opcode {opcode:#x}")

    def _send_close(self, code: int) -> None:
        self._close_sent = True
        self._write(_frame(_CLOSE, code.to_bytes(2, "big")))

    def _send_text(self, text: str) -> None:
        if self._error is not None:
            raise self._error
        if self._close_sent:
            raise ConnectionError("the websocket is closing")
        self._write(_frame(_TEXT, text.encode()))

    # Engine.IO and Socket.IO

    def _on_text(self, payload: bytes) -> None:
        """One Engine.IO packet (each websocket message holds exactly one)."""
        size = _frame_data_length(payload)
        if size >= 0 and "game_frame" not in self._handlers:
            self.frames += 1
            self.frame_bytes += size
            return
        text = payload.decode()
        kind = text[:1]
        if kind == "4":
            self._on_socketio(text[1:])
        elif kind == "2":
            self._send_text("3" + text[1:])
        elif kind == "0":
            self._send_text("40")
        elif kind == "1":
            self._fail(ConnectionError("the server closed the Engine.IO session"))
            self.close()
        elif kind != "6":
            raise ProtocolError(f"unknown Engine.IO packet {text[:20]!r}")

    def _on_socketio(self, text: str) -> None:
        kind = text[:1]
        if kind == "2":
            ack_id, body = _split_id(text[1:])
            event, *args = json.loads(body)
            if event == "game_frame":
                self.frames += 1
                self.frame_bytes += len(args[0]["data"])
            handler = self._handlers.get(event)
            result = handler(*args) if handler is not None else None
            if ack_id is not None:
                self._send_text(f"43{ack_id}" + json.dumps([result], separators=(",", ":")))
        elif kind == "3":
            ack_id, body = _split_id(text[1:])
            answer = self._acks.get(ack_id) if ack_id is not None else None
            if answer is not None and not answer.done():
                args = json.loads(body)
                answer.set_result(None if not args else args[0] if len(args) == 1 else tuple(args))
        elif kind == "0":
            self.sid = json.loads(text[1:])["sid"]
            if not self._connected.done():
                self._connected.set_result(None)
        elif kind == "4":
            self._fail(ProtocolError(f"the server refused the connection: {text[1:]}"))
            self.close()
        elif kind == "1":
            self._fail(ConnectionError("the server disconnected this client"))
            self.close()
        else:
            raise ProtocolError(f"unsupported Socket.IO packet {text[:20]!r}")

    def _send_event(self, ack_id: int | None, event: str, data: Any) -> None:
        """Send a Socket.IO event packet, ``42[event,data]``, or ``42<id>[...]`` for a call."""
        args = [event] if data is None else [event, data]
        head = "42" if ack_id is None else f"42{ack_id}"
        self._send_text(head + json.dumps(args, separators=(",", ":")))

    # failure

    def _lost(self, error: BaseException) -> None:
        """The connection broke with ``error``: fail every wait and close it."""
        self._fail(error)
        self.close()

    def _fail(self, error: BaseException) -> None:
        """Make pending and later waits raise ``error`` (the first failure wins)."""
        if self._error is None:
            self._error = error
        for future in (self._connected, *self._acks.values()):
            if not future.done():
                future.set_exception(self._error)
        # Nobody may be waiting on the connection any more; mark its exception as seen.
        if self._connected.done() and not self._connected.cancelled():
            self._connected.exception()


def _split_id(text: str) -> tuple[int | None, str]:
    """Split a Socket.IO packet body into its leading acknowledgement id (if any) and JSON."""
    digits = 0
    while digits < len(text) and text[digits].isdigit():
        digits += 1
    return (int(text[:digits]) if digits else None), text[digits:]
