"""The wire format: deterministic bytes, strict decoding, rejected messages change nothing."""

from __future__ import annotations

import json

import pytest
from mug_p2p import MalformedMessage, PeerMessage, decode_message, encode_message
from mug_p2p.rollback.messages import InputBlock
from p2p_helpers import HandPeer, deliver

MESSAGE = PeerMessage(
    session="s1",
    frame=12,
    advantage=-2,
    acks=(10, 7),
    inputs=(InputBlock(0, 8, (1, 2, [3, "x"])),),
    checksums=((5, "ab12"), (10, "00ff")),
    checksum_ack=5,
    disconnects=((1, 9),),
)


def raw(**changes):
    payload = json.loads(encode_message(MESSAGE))
    payload.update(changes)
    return json.dumps(payload).encode()


def test_round_trip_and_deterministic_bytes():
    data = encode_message(MESSAGE)
    assert decode_message(data) == MESSAGE
    assert encode_message(decode_message(data)) == data
    assert decode_message(data.decode()) == MESSAGE  # a text DataChannel frame works too
    assert data.startswith(b'{"a":[10,7],"c":[[5,"ab12"],[10,"00ff"]],"d":[[1,9]],"f":12,')


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not a JSON message"),
        (b"\xff\xfe", "not a JSON message"),
        (b"[1,2]", "JSON object"),
        (b'{"v":1,"v":1}', "repeats a key"),
        (raw(f=float("nan")), "NaN"),
        (raw(extra=1), "unexpected"),
        (raw(v=2), "protocol version"),
        (raw(f=True), "must be an integer, not bool"),
        (raw(f=-1), "outside"),
        (raw(f=2**40), "outside"),
        (raw(s=5), "session id"),
        (raw(a=[]), "one entry per player"),
        (raw(a=[1] * 17), "at most 16"),
        (raw(i=[[0, 0]]), "input block"),
        (raw(i=[[0, 0, [1]], [0, 5, [2]]]), "two input blocks"),
        (raw(i=[[99, 0, [1]]]), "input handle"),
        (raw(i=[[0, 0, list(range(129))]]), "at most 128"),
        (raw(c=[[10, "ab"], [5, "cd"]]), "increasing"),
        (raw(c=[[5, "XYZ"]]), "hex"),
        (raw(c=[[5]]), "2 entries"),
        (raw(d=[[1, -3]]), "outside"),
        (b" " * 70_000, "exceeds"),
        (12345, "bytes or str"),
    ],
)
def test_malformed_messages_are_rejected_with_a_reason(data, reason):
    with pytest.raises(MalformedMessage, match=reason):
        decode_message(data)


def test_nan_constant_is_rejected():
    with pytest.raises(MalformedMessage):
        decode_message(encode_message(MESSAGE).replace(b'"f":12', b'"f":NaN'))


def snapshot(peer: HandPeer) -> tuple:
    session = peer.session
    return (session.drain_outgoing(), session.confirmed_frame, session.stats().messages_received)


@pytest.mark.parametrize(
    "make",
    [
        lambda good: b"garbage",
        lambda good: good.replace(b'"s":""', b'"s":"other"'),  # another session
        lambda good: good.replace(b'"a":[', b'"a":[0,'),  # wrong player count
        lambda good: good.replace(b'"i":[[1,', b'"i":[[0,'),  # inputs of the receiver's player
        lambda good: good.replace(b'"d":[]', b'"d":[[1,0]]'),  # a peer reporting itself gone
    ],
)
def test_rejected_message_leaves_session_unchanged(make):
    players = ("a", "b")
    a, b = HandPeer(players, "a"), HandPeer(players, "b")
    b.tick(2)
    b.tick(3)
    good = b.send()[0][1]
    before = a.session.drain_outgoing()
    with pytest.raises(MalformedMessage):
        a.session.handle_message("b", make(good))
    assert a.session.drain_outgoing() == before
    assert a.session.stats().messages_rejected == 1
    assert a.session.drain_events() == []
    a.session.handle_message("b", good)  # the good one is still welcome
    assert a.session.confirmed_frame == -1  # a has no input of its own yet
    a.tick(0)
    a.tick(0)
    assert [r.values for r in a.confirmed] == [(0, 2), (0, 3)]


def test_conflicting_input_is_rejected():
    players = ("a", "b")
    a, b = HandPeer(players, "a"), HandPeer(players, "b")
    b.tick(2)
    deliver(b.send(), {"a": a}, "b")
    forged = encode_message(
        PeerMessage(
            session="", frame=1, advantage=0, acks=(-1, 0), inputs=(InputBlock(1, 0, (4,)),)
        )
    )
    with pytest.raises(MalformedMessage, match="contradicts"):
        a.session.handle_message("b", forged)


def test_unknown_peer_is_rejected():
    a, b = HandPeer(("a", "b"), "a"), HandPeer(("a", "b"), "b")
    b.tick(1)
    with pytest.raises(MalformedMessage, match="unknown peer"):
        a.session.handle_message("mallory", b.send()[0][1])


def test_inputs_of_someone_else_are_rejected():
    players = ("a", "b", "c")
    a, b = HandPeer(players, "a"), HandPeer(players, "b")
    forged = encode_message(
        PeerMessage(
            session="", frame=0, advantage=0, acks=(-1, -1, -1), inputs=(InputBlock(2, 0, (1,)),)
        )
    )
    with pytest.raises(MalformedMessage, match="does not own"):
        a.session.handle_message("b", forged)
    del b


def test_each_message_repeats_what_was_not_acknowledged():
    players = ("a", "b")
    a, b = HandPeer(players, "a"), HandPeer(players, "b")
    for value in (1, 2, 3):
        a.tick(value)
        a.send()  # these are all "lost"
    last = a.outbox[-1][1]
    assert decode_message(last).inputs == (InputBlock(0, 0, (1, 2, 3)),)
    b.session.handle_message("a", last)
    b.tick(0)
    a.session.handle_message("b", b.send()[0][1])  # carries b's ack of frames 0-2
    a.tick(4)
    assert decode_message(a.send()[0][1]).inputs == (InputBlock(0, 3, (4,)),)


def test_large_inputs_are_split_over_messages_that_peers_accept():
    players = ("a", "b")
    a = HandPeer(players, "a", input_delay=32, max_prediction=64)
    b = HandPeer(players, "b")
    big = "x" * 2000
    for _ in range(40):
        for handle in a.session.local_handles:
            a.session.add_local_input(handle, big)
        for request in a.session.advance_frame():
            if hasattr(request, "save"):
                request.save({"n": 0})
    ((_, data),) = a.send()
    assert len(data) <= 64 * 1024
    b.session.handle_message("a", data)
    block = decode_message(data).inputs[0]
    assert block.start == 0 and 1 <= len(block.values) < 72


def test_oversized_input_is_refused_when_given():
    session = HandPeer(("a", "b"), "a").session
    with pytest.raises(TypeError, match="at most 2048"):
        session.add_local_input(0, "x" * 3000)
