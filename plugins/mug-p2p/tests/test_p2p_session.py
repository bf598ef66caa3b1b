"""P2PSession semantics, with messages delivered by hand."""

from __future__ import annotations

import pytest
from mug_p2p import (
    AdvanceFrame,
    DisconnectFrameAgreed,
    DroppedByPeer,
    InputStatus,
    LoadState,
    P2PSession,
    PeerConnected,
    PeerDisconnected,
    PeerMessage,
    SaveState,
    SessionResumed,
    SessionStalled,
    Stalled,
    encode_message,
)
from mug_p2p.testing import ToyGame, lockstep_replay
from p2p_helpers import HandPeer, deliver, exchange, make_pair

CONFIRMED, PREDICTED, DISCONNECTED = (
    InputStatus.CONFIRMED,
    InputStatus.PREDICTED,
    InputStatus.DISCONNECTED,
)


def run_in_step(peers, frames, value):
    """Both peers tick every frame and exchange messages right away (no latency)."""
    for frame in range(frames):
        for name, peer in peers.items():
            peer.tick(value(name, frame))
        exchange(peers)
    for peer in peers.values():
        peer.settle()


def test_requests_of_a_first_frame():
    peers = make_pair(checksum_interval=0)
    requests = peers["a"].tick(3)
    assert [type(r) for r in requests] == [SaveState, AdvanceFrame]
    assert requests[0].frame == 0
    assert requests[1].inputs == ((3, CONFIRMED), (0, PREDICTED))
    assert not requests[1].confirmed
    assert peers["a"].session.current_frame == 1


@pytest.mark.parametrize("delay", [0, 1, 3])
def test_input_delay_applies_inputs_later_and_defaults_first(delay):
    peers = make_pair(input_delay=delay, default_input=9)
    run_in_step(peers, 12, lambda name, f: 100 * (name == "b") + f)
    logs = [peers[n].confirmed for n in "ab"]
    assert logs[0] == logs[1]
    values = [record.values for record in logs[0]]
    assert len(values) == 12
    assert values[:delay] == [(9, 9)] * delay
    assert values[delay:] == [(f, 100 + f) for f in range(12 - delay)]
    assert all(s is CONFIRMED for record in logs[0] for _, s in record.inputs)


def test_input_delay_may_differ_between_peers():
    players = ("a", "b")
    peers = {"a": HandPeer(players, "a", input_delay=1), "b": HandPeer(players, "b", input_delay=3)}
    run_in_step(peers, 10, lambda name, f: 10 + f if name == "a" else 50 + f)
    values = [r.values for r in peers["a"].confirmed]
    assert values == [r.values for r in peers["b"].confirmed]
    assert [v[0] for v in values] == [0] + [10 + f for f in range(9)]
    assert [v[1] for v in values] == [0, 0, 0] + [50 + f for f in range(7)]


def test_values_are_brought_to_their_json_form():
    peers = make_pair()
    run_in_step(peers, 3, lambda name, f: {"keys": ("up", f)} if name == "a" else [f, True])
    for peer in peers.values():
        assert peers["a"].confirmed[2].values == ({"keys": ["up", 2]}, [2, True])
        assert peer.confirmed == peers["a"].confirmed


def test_lockstep_never_predicts_nor_rolls_back():
    peers = make_pair(max_prediction=0)
    assert isinstance(peers["a"].tick(1), Stalled)
    exchange(peers)  # a's input was taken on the stalled tick and sent
    assert not isinstance(peers["b"].tick(2), Stalled)
    for _ in range(100):
        exchange(peers)
        for peer in peers.values():
            if peer.session.current_frame < 30:
                peer.tick(peer.session.current_frame % 5)
    for peer in peers.values():
        peer.settle()
        assert peer.session.current_frame == 30
        assert peer.loads() == []
        assert all(r.confirmed for r in peer.advances())
        assert peer.session.stats().rollbacks == 0
        assert [r.frame for r in peer.advances()] == list(range(30))
    assert peers["a"].confirmed == peers["b"].confirmed


def test_misprediction_rolls_back_and_resimulates():
    peers = make_pair()
    a, b = peers["a"], peers["b"]
    for f in range(4):
        a.tick(1)
        b.tick(4 if f >= 2 else 0)  # a predicts b's 0 and is wrong from frame 2 on
    deliver(b.send(), peers, "b")
    requests = a.tick(1)
    load = requests[0]
    assert isinstance(load, LoadState) and load.frame == 2
    advances = [r for r in requests if isinstance(r, AdvanceFrame)]
    assert [r.frame for r in advances] == [2, 3, 4]
    assert advances[0].inputs == ((1, CONFIRMED), (4, CONFIRMED))
    assert advances[2].inputs == ((1, CONFIRMED), (4, PREDICTED))  # repeat-last prediction
    assert a.session.stats().max_rollback_depth == 2


def test_default_prediction():
    peers = make_pair(prediction="default", default_input=0)
    a, b = peers["a"], peers["b"]
    b.tick(3)
    deliver(b.send(), peers, "b")
    a.tick(1)
    requests = a.tick(1)
    assert requests[-1].inputs[1] == (0, PREDICTED)


def test_stall_is_a_result_with_events_and_resolves():
    peers = make_pair(max_prediction=3)
    a, b = peers["a"], peers["b"]
    results = [a.tick(1) for _ in range(5)]
    assert not any(isinstance(r, Stalled) for r in results[:3])  # 3 predicted frames at most
    stalled = results[3]
    assert stalled == Stalled(frame=3, waiting_for=(1,), confirmed_frame=-1)
    assert results[4] == stalled
    assert a.session.current_frame == 3
    assert a.events.count(SessionStalled(3, (1,))) == 1
    b.tick(2)
    exchange(peers)
    assert not isinstance(a.tick(1), Stalled)
    assert SessionResumed(3, 2) in a.events
    assert a.session.stats().stalled_ticks == 2
    assert a.session.stats().max_rollback_depth <= 3


def test_rollback_past_a_full_window_is_not_dropped():
    """GGRS issue 70: a correction at the oldest predicted frame when the window is full."""
    peers = make_pair(max_prediction=4)
    a, b = peers["a"], peers["b"]
    for _ in range(4):
        a.tick(1)
    assert isinstance(a.tick(1), Stalled)
    b.tick(3)  # b's input of frame 0 differs from the prediction
    deliver(b.send(), peers, "b")
    requests = a.tick(1)
    assert isinstance(requests[0], LoadState) and requests[0].frame == 0
    assert a.session.stats().max_rollback_depth == 4
    for _ in range(50):
        exchange(peers)
        for peer, value in ((a, 1), (b, 3)):
            if peer.session.current_frame < 12:
                peer.tick(value)
    a.settle()
    b.settle()
    assert len(a.confirmed) == 12
    assert a.confirmed == b.confirmed
    assert a.game.get_state() == b.game.get_state()


def test_confirmed_frames_come_once_in_order():
    peers = make_pair(input_delay=1)
    run_in_step(peers, 20, lambda name, f: (f * 3 + (name == "b")) % 5)
    for peer in peers.values():
        assert [r.frame for r in peer.confirmed] == list(range(20))
        state, _ = lockstep_replay(ToyGame(2, seed=99), peer.confirmed)
        assert peer.game.get_state() == state
    assert peers["a"].session.drain_confirmed_frames() == []


def test_unfulfilled_save_and_missing_input_are_errors():
    session = P2PSession(("a", "b"), "a")
    with pytest.raises(ValueError, match="add_local_input"):
        session.advance_frame()
    session.add_local_input(0, 1)
    session.advance_frame()  # requests ignored on purpose
    session.add_local_input(0, 1)
    with pytest.raises(RuntimeError, match="not fulfilled"):
        session.advance_frame()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"players": (), "local_peer": "a"}, "players"),
        ({"players": ("a", "b"), "local_peer": "c"}, "owns no player"),
        ({"players": ("a", "b"), "local_peer": "a", "input_delay": -1}, "input_delay"),
        ({"players": ("a", "b"), "local_peer": "a", "max_prediction": 1.5}, "max_prediction"),
        ({"players": ("a", "b"), "local_peer": "a", "session_id": "x" * 200}, "session_id"),
        ({"players": ("a", "b"), "local_peer": "a", "prediction": "psychic"}, "psychic"),
        ({"players": ("a", "b"), "local_peer": "a", "default_input": float("nan")}, "JSON"),
    ],
)
def test_configuration_errors(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        P2PSession(**kwargs)


def test_local_input_errors():
    session = P2PSession(("a", "b"), "a")
    with pytest.raises(ValueError, match="not a local player"):
        session.add_local_input(1, 0)
    with pytest.raises(TypeError, match="JSON"):
        session.add_local_input(0, object())
    with pytest.raises(ValueError, match="local peer"):
        session.disconnect_peer("a")


def test_peer_connected_event():
    peers = make_pair()
    peers["b"].tick(0)
    exchange(peers)
    peers["a"].tick(0)
    assert PeerConnected("b") in peers["a"].events


def test_disconnect_two_players_continues_with_default():
    peers = make_pair(default_input=0)
    a, b = peers["a"], peers["b"]
    run_in_step(peers, 5, lambda name, f: 2)
    b.tick(2)  # b's frame-5 input never reaches a
    a.session.disconnect_player(1)
    for _ in range(10):
        a.tick(1)
    assert PeerDisconnected("b", (1,), True) in a.events
    assert DisconnectFrameAgreed(1, 5) in a.events
    values = [r.inputs[1] for r in a.confirmed]
    assert values[:5] == [(2, CONFIRMED)] * 5
    assert values[5:] == [(0, DISCONNECTED)] * 10
    assert a.session.drain_outgoing() == []
    assert a.session.stats().max_rollback_depth <= a.session.max_prediction
    state, _ = lockstep_replay(ToyGame(2, seed=99), a.confirmed)
    assert a.game.get_state() == state


def test_disconnect_when_rollback_target_is_the_current_frame():
    """GGRS PR 119: a disconnect that would roll back to the current frame must not fail."""
    peers = make_pair(default_input=0)
    a = peers["a"]
    run_in_step(peers, 3, lambda name, f: 4)
    # a has simulated frames 0-2 with b's real inputs; b leaves right at frame 3.
    a.session.disconnect_player(1)
    assert a.settle() == []
    requests = a.tick(1)
    assert [type(r) for r in requests] == [AdvanceFrame]  # frame 3 is confirmed: no save
    assert requests[-1].inputs[1] == (0, DISCONNECTED)


def test_disconnect_after_predictions_rolls_back_to_the_agreed_frame():
    peers = make_pair(default_input=0)
    a, b = peers["a"], peers["b"]
    run_in_step(peers, 2, lambda name, f: 3)
    for _ in range(4):
        a.tick(1)  # predicts b's 3 for frames 2-5
    a.session.disconnect_player(1)
    requests = a.tick(1)
    assert isinstance(requests[0], LoadState) and requests[0].frame == 2
    assert all(r.inputs[1] == (0, DISCONNECTED) for r in requests if isinstance(r, AdvanceFrame))
    del b


def test_three_players_agree_on_departure_frame_and_relay_inputs():
    players = ("a", "b", "c")
    peers = {p: HandPeer(players, p) for p in players}
    run_in_step(peers, 3, lambda name, f: ord(name) % 5)
    c_messages = dict(peers["c"].send())
    peers["c"].tick(2)
    peers["c"].tick(2)
    later = dict(peers["c"].send())
    peers["a"].session.handle_message("c", c_messages["a"])  # a: c's inputs up to frame 2
    peers["b"].session.handle_message("c", later["b"])  # b: c's inputs up to frame 4
    peers["a"].session.disconnect_peer("c")  # only a's caller notices; b learns from a
    del peers["c"]
    for _ in range(6):
        for peer in peers.values():
            peer.tick(1)
        exchange(peers)
    for peer in peers.values():
        peer.settle()
    agreed = [e for e in peers["a"].events if isinstance(e, DisconnectFrameAgreed)]
    assert agreed == [DisconnectFrameAgreed(2, 5)]
    assert [e for e in peers["b"].events if isinstance(e, DisconnectFrameAgreed)] == agreed
    assert PeerDisconnected("c", (2,), False) in peers["b"].events
    assert peers["a"].confirmed == peers["b"].confirmed
    column = [r.inputs[2] for r in peers["a"].confirmed]
    assert column[:5] == [(4, CONFIRMED)] * 3 + [(2, CONFIRMED)] * 2  # 3-4 relayed by b
    assert set(column[5:]) == {(0, DISCONNECTED)}


def test_dropped_by_peer_event():
    peers = make_pair()
    peers["a"].tick(0)
    peers["b"].session.disconnect_peer("a")
    peers["b"].tick(0)
    # b no longer sends to a, but a message sent just before can still carry the report:
    report = PeerMessage(session="", frame=1, advantage=0, acks=(0, 0), disconnects=((0, 1),))
    peers["a"].session.handle_message("b", encode_message(report))
    assert DroppedByPeer("b", 0, 1) in peers["a"].session.drain_events()


def test_frames_ahead_sign():
    peers = make_pair(max_prediction=8)
    a, b = peers["a"], peers["b"]
    for _ in range(6):
        a.tick(0)
    for _ in range(20):
        a.tick(0)
        b.tick(0)
        exchange(peers)
    assert a.session.frames_ahead() > 2
    assert b.session.frames_ahead() < -2
