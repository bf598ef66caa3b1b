"""Messages between the study server and a game process: neither end waits for the other to
read, frames split anywhere are put back together, and a vanished peer is an EOFError."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from multiprocessing.connection import Connection

import pytest
from mug_server_runtime.framing import Pipe, frame, unframe
from mug_server_runtime.remote import Channel


def test_frames_match_multiprocessing_connection() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.sendall(frame(("key", "g1", "p1", "ArrowLeft", True)))
        assert Connection(theirs.detach()).recv() == ("key", "g1", "p1", "ArrowLeft", True)


def test_unframe_keeps_a_partial_frame_for_later() -> None:
    data = frame(("a", 1)) + frame(("b", [2.5, None]))
    buffer = bytearray(data[:-3])
    assert list(unframe(buffer)) == [("a", 1)]
    assert bytes(buffer) == data[len(frame(("a", 1))) : -3]
    buffer += data[-3:]
    assert list(unframe(buffer)) == [("b", [2.5, None])]
    assert buffer == bytearray()


def test_unframe_reads_the_long_length_form() -> None:
    import pickle

    body = pickle.dumps({"big": "x" * 10})
    buffer = bytearray(struct.pack("!i", -1) + struct.pack("!Q", len(body)) + body)
    assert list(unframe(buffer)) == [{"big": "x" * 10}]


def test_pipe_send_does_not_wait_for_a_reader() -> None:
    """A study server that reads nothing for a while must not stall the game process: megabytes
    of frames queue up instantly, then all arrive intact and in order."""
    worker_end, server_end = socket.socketpair()
    pipe = Pipe(worker_end)
    payload = "x" * 20_000
    started = time.monotonic()
    for i in range(200):  # 4 MB: far more than a socket buffer holds
        pipe.send(("batch", i, payload))
    assert time.monotonic() - started < 1.0
    assert pipe.pending > 0  # the socket could not take it all: the rest waits in the pipe
    received: list[tuple[str, int, str]] = []
    buffer = bytearray()
    server_end.settimeout(5)
    while len(received) < 200:
        assert pipe.wait(0.001) == []  # writes what the socket has room for meanwhile
        try:
            buffer += server_end.recv(1 << 20)
        except TimeoutError:
            pytest.fail("the pipe stopped writing")
        received.extend(unframe(buffer))
    assert [m[1] for m in received] == list(range(200))
    assert all(m[2] == payload for m in received)
    assert pipe.pending == 0
    pipe.close()
    server_end.close()


def test_pipe_wait_returns_messages_and_times_out() -> None:
    worker_end, server_end = socket.socketpair()
    pipe = Pipe(worker_end)
    started = time.monotonic()
    assert pipe.wait(0.05) == []
    assert time.monotonic() - started >= 0.04
    data = frame(("start", "g1")) + frame(("stop", "g1"))
    server_end.sendall(data[:7])
    assert pipe.wait(0.05) == []  # half a frame is not a message
    server_end.sendall(data[7:])
    assert pipe.wait(1.0) == [("start", "g1"), ("stop", "g1")]
    server_end.close()
    with pytest.raises(EOFError):
        pipe.wait(1.0)
    pipe.close()


def test_pipe_flush_waits_until_written() -> None:
    worker_end, server_end = socket.socketpair()
    pipe = Pipe(worker_end)
    for i in range(100):
        pipe.send(("batch", i, "y" * 20_000))
    assert not pipe.flush(timeout=0.05)  # nobody reads: not everything can go
    got = bytearray()

    async def read_all() -> None:
        loop = asyncio.get_running_loop()
        server_end.setblocking(False)
        while len(got) < 100 * 20_000:
            got.extend(await loop.sock_recv(server_end, 1 << 20))

    async def both() -> None:
        reader = asyncio.ensure_future(read_all())
        assert await asyncio.to_thread(pipe.flush, 5.0)
        await asyncio.wait_for(reader, 5)

    asyncio.run(both())
    assert [m[1] for m in unframe(got)] == list(range(100))
    pipe.close()
    server_end.close()


def test_channel_gathers_messages_into_one_write_and_reads_the_pipe() -> None:
    """The study server's end: messages sent together reach the game process together (one
    wake-up), and the game process's batches come back to ``on_message`` in order."""
    server_end, worker_end = socket.socketpair()
    pipe = Pipe(worker_end)
    got: list[object] = []

    async def run() -> list[object]:
        loop = asyncio.get_running_loop()
        closed = asyncio.Event()
        channel = Channel(loop, server_end, got.append, closed.set)
        for i in range(50):
            channel.send(("key", "g1", f"p{i}", "ArrowUp", True, None, 0.0))
        first = await asyncio.to_thread(pipe.wait, 2.0)
        for i in range(3):
            pipe.send(("batch", [("frames", [(f"s{i}", "2[]", 1)])]))
        while len(got) < 3:
            await asyncio.sleep(0.01)
        pipe.close()
        await asyncio.wait_for(closed.wait(), 2)
        return first

    first = asyncio.run(run())
    assert [m[2] for m in first] == [f"p{i}" for i in range(50)]  # all in one wait
    assert got == [("batch", [("frames", [(f"s{i}", "2[]", 1)])]) for i in range(3)]
