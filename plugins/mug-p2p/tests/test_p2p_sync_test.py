"""SyncTestSession passes deterministic games and catches nondeterministic ones."""

from __future__ import annotations

import random

import pytest
from mug_p2p import AdvanceFrame, ChecksumMismatch, LoadState, SyncTestSession, fulfil_requests
from mug_p2p.testing import HiddenStateToyGame, ToyGame


class ForgetfulToyGame(ToyGame):
    """set_state forgets to restore the AI's RNG."""

    def set_state(self, state):
        rng = self.ai_rng
        super().set_state(state)
        self.ai_rng = rng


def play(game, frames=120, players=2, **options):
    session = SyncTestSession(players, **options)
    rng = random.Random(5)
    for _ in range(frames):
        for handle in range(players):
            session.add_local_input(handle, rng.randrange(5))
        fulfil_requests(game, session.advance_frame())
    session.finish()
    return session


@pytest.mark.parametrize("distance", [1, 2, 7])
@pytest.mark.parametrize("players", [1, 3])
def test_deterministic_game_passes(distance, players):
    session = play(ToyGame(players, seed=1), players=players, check_distance=distance)
    assert session.mismatches == []
    assert session.checks >= (120 - distance) * distance
    assert session.drain_events() == []


def test_requests_roll_back_and_resimulate_each_frame():
    session = SyncTestSession(2, check_distance=2)
    game = ToyGame(2)
    for frame in range(4):
        session.add_local_input(0, frame)
        session.add_local_input(1, 1)
        requests = session.advance_frame()
        loads = [r for r in requests if isinstance(r, LoadState)]
        advances = [r.frame for r in requests if isinstance(r, AdvanceFrame)]
        if frame >= 2:
            assert [r.frame for r in loads] == [frame - 2]
            assert advances == [frame - 2, frame - 1, frame]
        else:
            assert loads == [] and advances == [frame]
        fulfil_requests(game, requests)
    assert game.get_state()["frame"] == 4


def test_hidden_state_is_caught():
    session = play(HiddenStateToyGame(2))
    assert session.mismatches
    first = session.mismatches[0]
    assert isinstance(first, ChecksumMismatch)
    assert first.first_checksum != first.resimulated_checksum


def test_incomplete_set_state_is_caught():
    assert play(ForgetfulToyGame(2)).mismatches


def test_input_delay_uses_default_first():
    session = SyncTestSession(1, input_delay=2, default_input=4)
    seen = []
    for frame in range(4):
        session.add_local_input(0, frame)
        requests = session.advance_frame()
        seen.append(requests[-1].values)
        fulfil_requests(ToyGame(1), requests)
    assert seen == [(4,), (4,), (0,), (1,)]


def test_errors():
    with pytest.raises(ValueError, match="check_distance"):
        SyncTestSession(2, check_distance=0)
    with pytest.raises(ValueError, match="num_players"):
        SyncTestSession(0)
    session = SyncTestSession(2)
    session.add_local_input(0, 1)
    with pytest.raises(ValueError, match=r"player\(s\) \[1\]"):
        session.advance_frame()
    session.add_local_input(1, 1)
    session.advance_frame()
    with pytest.raises(RuntimeError, match="not fulfilled"):
        session.finish()


def test_state_that_cannot_be_checksummed_is_a_clear_error():
    session = SyncTestSession(1)
    session.add_local_input(0, 1)
    save = session.advance_frame()[0]
    with pytest.raises(TypeError, match="cannot checksum a set"):
        save.save({"cells": {1, 2}})
    save.save({"cells": [1, 2]}, checksum="abc")  # or bring your own checksum
