"""Peers on a simulated network: whatever the delivery schedule, every peer ends identical."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mug_p2p import (
    DesyncDetected,
    DisconnectFrameAgreed,
    InputStatus,
    PeerDisconnected,
    SessionStalled,
    WaitRecommended,
)
from mug_p2p.testing import (
    DivergingToyGame,
    HiddenStateToyGame,
    NetworkConditions,
    SimulationConfig,
    SimulationTimeout,
    ToyGame,
    run_simulation,
)

networks = st.builds(
    NetworkConditions,
    latency_ms=st.floats(0, 200),
    jitter_ms=st.floats(0, 60),
    loss=st.floats(0, 0.2),
    duplicate=st.floats(0, 0.2),
    reorder=st.floats(0, 0.3),
    reorder_ms=st.floats(0, 150),
)
player_layouts = st.sampled_from([(0, 1), (0, 1, 2), (0, 0, 1)])
#: Multiply the number of generated schedules for a deeper search (e.g. 50 overnight).
SCALE = float(os.environ.get("MUG_P2P_EXAMPLES_SCALE", "1"))


def sim_settings(examples: int) -> settings:
    return settings(
        deadline=None,
        max_examples=max(1, int(examples * SCALE)),
        database=None,  # keep runs reproducible and write nothing outside the test run
        suppress_health_check=[HealthCheck.too_slow],
    )


def check_common(result, max_prediction):
    result.assert_consistent()
    assert result.max_rollback_depth <= max_prediction
    assert result.events_of(DesyncDetected) == []
    for peer in result.peers.values():
        assert all(s is not InputStatus.PREDICTED for r in peer.confirmed for _, s in r.inputs)


@sim_settings(100)
@given(
    network=networks,
    players=player_layouts,
    seed=st.integers(0, 2**32 - 1),
    delay=st.integers(0, 3),
    max_prediction=st.integers(0, 8),
    checksum_interval=st.integers(1, 10),
    offsets=st.tuples(st.floats(0, 300), st.floats(0, 300)),
)
def test_any_delivery_schedule_gives_identical_peers(
    network, players, seed, delay, max_prediction, checksum_interval, offsets
):
    peers = len(set(players))
    result = run_simulation(
        SimulationConfig(
            players=players,
            frames=90,
            seed=seed,
            network=network,
            input_delay=delay,
            max_prediction=max_prediction,
            checksum_interval=checksum_interval,
            start_offsets_ms=(*offsets, 0.0)[:peers],
        )
    )
    check_common(result, max_prediction)
    assert all(p.stats.checksums_compared > 0 for p in result.peers.values())


@sim_settings(60)
@given(
    network=networks,
    seed=st.integers(0, 2**32 - 1),
    three=st.booleans(),
    vanish_at=st.floats(100, 1500),
    only_one_notices=st.booleans(),
    max_prediction=st.integers(1, 8),
)
def test_any_disconnect_leaves_remaining_peers_identical(
    network, seed, three, vanish_at, only_one_notices, max_prediction
):
    players = (0, 1, 2) if three else (0, 1)
    leaver = players[-1]
    result = run_simulation(
        SimulationConfig(
            players=players,
            frames=120,
            seed=seed,
            network=network,
            max_prediction=max_prediction,
            checksum_interval=4,
            disconnects=((leaver, vanish_at),),
            noticing_peers=(0,) if only_one_notices else None,
        )
    )
    assert sorted(result.peers) == list(players[:-1])
    check_common(result, max_prediction)
    agreed = {e for _, e in result.events_of(DisconnectFrameAgreed)}
    assert len(agreed) == 1  # every remaining peer agreed on the same frame
    (departure,) = agreed
    column = [r.inputs[leaver] for r in result.peers[0].confirmed]
    assert all(s is InputStatus.CONFIRMED for _, s in column[: departure.frame])
    assert column[departure.frame :] == [(0, InputStatus.DISCONNECTED)] * (120 - departure.frame)


def test_disconnect_learned_from_a_peer():
    result = run_simulation(
        SimulationConfig(
            players=(0, 1, 2),
            frames=150,
            seed=3,
            network=NetworkConditions(latency_ms=50, jitter_ms=20, loss=0.1),
            disconnects=((2, 600.0),),
            noticing_peers=(0,),
        )
    )
    check_common(result, 8)
    learned = [e for _, e in result.events_of(PeerDisconnected)]
    assert {(e.peer, e.by_caller) for e in learned} == {(2, True), (2, False)}


def test_two_peers_leaving_one_after_the_other():
    result = run_simulation(
        SimulationConfig(
            players=(0, 1, 2, 3),
            frames=200,
            seed=8,
            network=NetworkConditions(latency_ms=60, jitter_ms=30, loss=0.1, duplicate=0.05),
            checksum_interval=5,
            disconnects=((3, 800.0), (2, 1600.0)),
        )
    )
    check_common(result, 8)
    assert len({e for _, e in result.events_of(DisconnectFrameAgreed)}) == 2


def test_nondeterministic_peer_is_detected_at_the_first_checksum_after_divergence():
    def factory(peer, n):
        if peer == 1:
            return DivergingToyGame(n, seed=12345, diverge_at=30)
        return ToyGame(n, seed=12345)

    network = NetworkConditions(latency_ms=70, jitter_ms=30, loss=0.1, reorder=0.1)
    result = run_simulation(
        SimulationConfig(
            frames=150, seed=2, network=network, checksum_interval=10, game_factory=factory
        )
    )
    desyncs = result.events_of(DesyncDetected)
    assert {peer for peer, _ in desyncs} == {0, 1}
    for peer in (0, 1):
        frames = [e.frame for p, e in desyncs if p == peer]
        assert frames[0] == 40  # the state of frame 31 differs; 40 is the next compared one
        assert frames == sorted(frames) and len(frames) == len(set(frames))
    event = next(e for p, e in desyncs if p == 0)
    assert event.peer == 1 and event.local_checksum != event.remote_checksum
    assert result.peers[0].confirmed == result.peers[1].confirmed  # inputs still agree


def test_state_hidden_from_get_state_is_detected_as_desync():
    """Each peer rolls back at different moments, so hidden state diverges between them."""
    result = run_simulation(
        SimulationConfig(
            frames=150,
            seed=6,
            network=NetworkConditions(latency_ms=80, jitter_ms=40, loss=0.1),
            checksum_interval=5,
            game_factory=lambda peer, n: HiddenStateToyGame(n, seed=1),
        )
    )
    assert result.events_of(DesyncDetected)
    assert result.peers[0].confirmed == result.peers[1].confirmed


def test_stalls_resolve_once_inputs_arrive():
    network = NetworkConditions(latency_ms=200, jitter_ms=50, loss=0.15)
    result = run_simulation(
        SimulationConfig(frames=120, seed=4, network=network, max_prediction=2, input_delay=1)
    )
    check_common(result, 2)
    assert all(p.stats.stalled_ticks > 0 for p in result.peers.values())
    assert result.events_of(SessionStalled)


def test_time_sync_keeps_a_slow_peer_from_stalling_the_fast_one():
    def stalls(time_sync):
        result = run_simulation(
            SimulationConfig(
                frames=1200,
                seed=1,
                time_sync=time_sync,
                tick_scale=(1.0, 1.03),
                network=NetworkConditions(latency_ms=40, jitter_ms=10),
            )
        )
        result.assert_consistent()
        return result, sum(p.stats.stalled_ticks for p in result.peers.values())

    synced, synced_stalls = stalls(True)
    _, unsynced_stalls = stalls(False)
    assert synced.events_of(WaitRecommended)
    assert synced_stalls < unsynced_stalls


def test_the_simulation_is_reproducible():
    config = SimulationConfig(
        players=(0, 1, 2),
        frames=100,
        seed=77,
        network=NetworkConditions(
            latency_ms=90, jitter_ms=40, loss=0.1, duplicate=0.1, reorder=0.2
        ),
    )
    first, second = run_simulation(config), run_simulation(config)
    assert first.virtual_time_ms == second.virtual_time_ms
    for peer in first.peers:
        assert first.peers[peer].stats == second.peers[peer].stats
        assert first.peers[peer].confirmed == second.peers[peer].confirmed


def test_a_peer_that_never_answers_times_out_instead_of_hanging():
    network = NetworkConditions(loss=1.0)
    with pytest.raises(SimulationTimeout, match="no finish"):
        run_simulation(SimulationConfig(frames=30, network=network, no_progress_ms=2_000))
