"""Matchmakers: the built-in policies on their own, and in a real server's waiting rooms."""

from __future__ import annotations

import asyncio
import types
from pathlib import Path
from typing import Any

import pytest

from mug_core import ConfigError, EndScene, ExperimentConfig, PluginHost, PolicyTypes, Stager
from mug_core.builtin.matchmaking import (
    Candidate,
    Departure,
    FifoMatchmaker,
    LatencyMatchmaker,
    Matches,
    RegroupMatchmaker,
    RoomView,
)
from mug_core.plugins import hookimpl
from mug_core.scenes.gym_scene import GymScene
from mug_core.testing import StudyServer
from tests.server.test_game_recording import _runtime_plugin
from tests.server.test_waiting_room import Player
from tests.server.test_waiting_room import _config as _duel_config
from tests.support import jsonl_sink

# -- the matchmakers on their own ------------------------------------------------------------


def _room(now: float = 100.0, **departed: Departure) -> RoomView:
    return RoomView(scene_id="game", group_size=2, now=now, departed=departed)


def _waiting(*candidates: Candidate) -> list[Candidate]:
    return sorted(candidates, key=lambda c: c.arrived_at)


def test_fifo_groups_in_arrival_order_and_keeps_the_rest_waiting() -> None:
    fifo = FifoMatchmaker(3)
    waiting = [Candidate(pid, float(i)) for i, pid in enumerate("abcde")]
    assert fifo.match(waiting[:2], _room()).groups == []
    assert fifo.match(waiting, _room()).groups == [["a", "b", "c"]]
    with pytest.raises(ValueError, match="group_size"):
        FifoMatchmaker(0)


def test_latency_pairs_only_peers_whose_round_trips_add_up_under_the_limit() -> None:
    latency = LatencyMatchmaker(2, max_rtt_ms=100)
    slow = Candidate("slow", 1.0, rtt_ms=80.0)
    fast = Candidate("fast", 2.0, rtt_ms=30.0)
    quick = Candidate("quick", 3.0, rtt_ms=10.0)
    unmeasured = Candidate("unmeasured", 0.0)
    assert latency.match(_waiting(slow, fast), _room()).groups == []  # 110 ms: refused
    assert latency.match(_waiting(slow, quick), _room()).groups == [["slow", "quick"]]  # 90
    # The longest-waiting participant is served first, with the earliest arrival that fits.
    assert latency.match(_waiting(slow, fast, quick), _room()).groups == [["slow", "quick"]]
    # Nobody is paired before their page reported a round trip.
    assert latency.match(_waiting(unmeasured, fast), _room()).groups == []
    # Exactly at the limit is not under it.
    edge = [Candidate("x", 1.0, rtt_ms=50.0), Candidate("y", 2.0, rtt_ms=50.0)]
    assert latency.match(edge, _room()).groups == []


def test_latency_groups_of_three_need_every_pair_to_fit() -> None:
    latency = LatencyMatchmaker(3, max_rtt_ms=100)
    a, b = Candidate("a", 1.0, rtt_ms=20.0), Candidate("b", 2.0, rtt_ms=70.0)
    c, d = Candidate("c", 3.0, rtt_ms=40.0), Candidate("d", 4.0, rtt_ms=30.0)
    # a+b fits (90) but b+c (110) and b+d (100) do not, so b is left out.
    assert latency.match([a, b, c, d], _room()).groups == [["a", "c", "d"]]
    for bad in (0, -5, "fast", True):
        with pytest.raises(ValueError, match="max_rtt_ms"):
            LatencyMatchmaker(2, max_rtt_ms=bad)  # type: ignore[arg-type]


def _partnered(pid: str, at: float, earlier: dict[str, str], **extra: Any) -> Candidate:
    return Candidate(pid, at, earlier_groups={"game1": earlier, **extra})


AB = {"b": "left", "a": "right"}
CD = {"c": "left", "d": "right"}


def test_regroup_pairs_earlier_partners_in_their_earlier_slots() -> None:
    regroup = RegroupMatchmaker(2, regroup_from="game1")
    a, c = _partnered("a", 1.0, AB), _partnered("c", 2.0, CD)
    d, b = _partnered("d", 3.0, CD), _partnered("b", 4.0, AB)
    assert regroup.match([a, c], _room()).groups == []  # each waits for their partner
    assert regroup.match([a, c, d], _room()).groups == [["c", "d"]]
    assert regroup.match([a, c, d, b], _room()).groups == [["b", "a"], ["c", "d"]]


def test_regroup_falls_back_when_the_partner_is_gone() -> None:
    fifo_fallback = RegroupMatchmaker(2, regroup_from="game1", rejoin_grace_s=10)
    a, c = _partnered("a", 1.0, AB), _partnered("c", 2.0, CD)
    # b's page closed here a moment ago: b may be reloading, so a keeps waiting.
    just_left = _room(now=100.0, b=Departure("left", 95.0), d=Departure("timed_out", 50.0))
    assert fifo_fallback.match([a, c], just_left).groups == []
    # After the grace period both have lost their partner and are paired with each other.
    long_gone = _room(now=100.0, b=Departure("left", 80.0), d=Departure("timed_out", 50.0))
    assert fifo_fallback.match([a, c], long_gone).groups == [["a", "c"]]
    # Someone who was never grouped in game1 counts as having no partner.
    newcomer = Candidate("n", 3.0)
    assert fifo_fallback.match([a, newcomer], long_gone).groups == [["a", "n"]]

    timeout_fallback = RegroupMatchmaker(2, regroup_from="game1", fallback="timeout")
    grouped_elsewhere = _room(b=Departure("grouped", 99.0))
    assert timeout_fallback.match([a, c], grouped_elsewhere) == Matches(groups=[], give_up=["a"])
    with pytest.raises(ValueError, match="fallback"):
        RegroupMatchmaker(2, regroup_from="game1", fallback="wait")
    with pytest.raises(TypeError):
        RegroupMatchmaker(2)  # type: ignore[call-arg]


# -- configuration ---------------------------------------------------------------------------


def _host() -> PluginHost:
    return PluginHost.load(
        entry_points=[], extra_plugins=[("jsonl", jsonl_sink), ("rt", _runtime_plugin())]
    )


def test_matchmaker_options_are_checked_before_the_study_starts(tmp_path: Path) -> None:
    cases = {
        "max_rtt_ms must be more than 0": {"matchmaker": "latency", "max_rtt_ms": -1},
        "refuses the options of .waitroom() (given: max_rtt)": {
            "matchmaker": "latency",
            "max_rtt": 100,
        },
        "no matchmaker called 'nearest'": {"matchmaker": "nearest"},
        "regroup_from='practice' must name a game scene": {
            "matchmaker": "regroup",
            "regroup_from": "practice",
        },
    }
    for expected, waitroom in cases.items():
        config = _duel_config(tmp_path, **waitroom)
        with pytest.raises(ConfigError) as info:
            config.validate(_host())
        assert expected in str(info.value)
    _duel_config(tmp_path, matchmaker="latency", max_rtt_ms=120).validate(_host())
    with pytest.raises(ValueError, match="timeout_scene_id"):
        GymScene().waitroom(timeout_scene_id="sorry", timeout_completion_code=True)


# -- in a real server ------------------------------------------------------------------------


async def _all_enter_and_wait(players: list[Player], scene_key: str = "duel") -> None:
    for player in players:
        await player.enter()
        assert (await player.wait(scene_key))["ok"]


def test_the_latency_matchmaker_refuses_slow_pairs_and_pairs_fast_ones(tmp_path: Path) -> None:
    async def run(server: StudyServer) -> None:
        slow, fast, quick = (Player(server, pid) for pid in ("slow", "fast", "quick"))
        await _all_enter_and_wait([slow, fast])
        assert await slow.sio.call("waitroom_ping", {}) == {"ok": True}
        assert (await slow.report_rtt(180.0))["ok"]
        assert (await fast.report_rtt(25.0))["ok"]
        bad = await fast.report_rtt(float("nan"))
        assert bad["code"] == "bad_request"
        await asyncio.sleep(1.5)  # at least one tick of the room: still no group
        assert "group" not in slow.pushed and "group" not in fast.pushed
        await _all_enter_and_wait([quick])
        await asyncio.sleep(0.3)
        assert "group" not in quick.pushed  # no round trip reported yet
        assert (await quick.report_rtt(40.0))["ok"]
        group = await quick.until("group")
        assert group["members"] == {"fast": "left", "quick": "right"}
        assert (await fast.until("group"))["game_id"] == group["game_id"]
        update = await slow.until("waiting")
        assert "group" not in slow.pushed and update["waiting"] >= 1
        for player in (slow, fast, quick):
            await player.sio.disconnect()

    with StudyServer(_duel_config(tmp_path, matchmaker="latency", max_rtt_ms=100)) as server:
        asyncio.run(run(server))


def _two_games(tmp_path: Path, **second: Any) -> ExperimentConfig:
    def game(scene_id: str) -> GymScene:
        return (
            GymScene()
            .scene(scene_id)
            .policies(policy_mapping={"left": PolicyTypes.Human, "right": PolicyTypes.Human})
            .runtime(environment_initialization_code="env = None\n")
            .gameplay(action_mapping={"ArrowLeft": 1}, num_episodes=1)
        )

    first = game("game1").waitroom(timeout=30)
    again = game("game2").waitroom(timeout=30, matchmaker="regroup", regroup_from="game1", **second)
    config = (
        ExperimentConfig()
        .experiment(stager=Stager([first, again, EndScene().scene("end")]), experiment_id="rg")
        .data(data_dir=tmp_path, sinks=["jsonl"])
    )
    config.plugins(allow=[], extra={"jsonl": jsonl_sink, "fake_runtime": _runtime_plugin()})
    return config


async def _play_first_game(players: list[Player]) -> dict[str, dict[str, Any]]:
    """Everyone waits for game1 in order (fifo pairs them so), plays it, and moves to game2."""
    await _all_enter_and_wait(players, "game1")
    groups = {p.pid: await p.until("group") for p in players}
    for player in players:
        assert (await player.play_one_episode("game1"))["scene_id"] == "game2"
        player.pushed.clear()
    return groups


def test_regroup_pairs_the_partners_of_the_earlier_game_again(tmp_path: Path) -> None:
    async def run(server: StudyServer) -> None:
        a, b, c, d = (Player(server, pid) for pid in ("ra", "rb", "rc", "rd"))
        first = await _play_first_game([a, b, c, d])
        assert first["ra"]["members"] == {"ra": "left", "rb": "right"}
        assert first["rc"]["members"] == {"rc": "left", "rd": "right"}
        # In game2 they arrive as ra, rc, rd, rb: fifo would pair ra with rc.
        await a.wait("game2")
        await c.wait("game2")
        await asyncio.sleep(1.2)
        assert "group" not in a.pushed and "group" not in c.pushed
        await d.wait("game2")
        assert (await c.until("group"))["members"] == {"rc": "left", "rd": "right"}
        assert "group" not in a.pushed
        await b.wait("game2")
        again = await a.until("group")
        assert again["members"] == {"ra": "left", "rb": "right"}  # the same slots as before
        assert again["game_id"] != first["ra"]["game_id"]
        for player in (a, b, c, d):
            await player.sio.disconnect()

    with StudyServer(_two_games(tmp_path)) as server:
        asyncio.run(run(server))


def test_regroup_gives_up_when_the_partner_left_and_did_not_come_back(tmp_path: Path) -> None:
    async def run(server: StudyServer) -> None:
        a, b = Player(server, "la"), Player(server, "lb")
        await _play_first_game([a, b])
        await b.wait("game2")
        await b.sio.disconnect()  # lb closes the tab in game2's waiting room
        room = server.server.waiting.rooms["game2"]
        while "lb" in room.waiting:  # the server hears of it a moment later
            await asyncio.sleep(0.02)
        await a.wait("game2")
        outcome = await a.until("waitroom_timeout", timeout=6)  # not the 30 s timeout
        assert outcome["message"] == "Your partner has left."
        assert "group" not in a.pushed
        await a.sio.disconnect()

    config = _two_games(
        tmp_path, fallback="timeout", rejoin_grace_s=0.5, timeout_message="Your partner has left."
    )
    with StudyServer(config) as server:
        asyncio.run(run(server))


class _Alphabetical:
    """A third-party matchmaker: proposes a group that is not waiting, then pairs by name."""

    def __init__(self, group_size: int, start: str = "") -> None:
        self.group_size, self.start = group_size, start

    def match(self, waiting: list[Candidate], room: RoomView) -> list[list[str]]:
        names = sorted(c.participant_id for c in waiting if c.participant_id >= self.start)
        pairs = [names[i : i + 2] for i in range(0, len(names) - 1, 2)]
        return [["ghost", "nobody"], *pairs]


def _matchmaker_plugin() -> types.ModuleType:
    module = types.ModuleType("alphabetical_matchmaker")

    def register(register: Any) -> None:
        register("alphabetical", _Alphabetical)

    module.mug_register_matchmakers = hookimpl(register)  # type: ignore[attr-defined]
    return module


def test_a_plugin_matchmaker_groups_through_the_registry(tmp_path: Path) -> None:
    async def run(server: StudyServer) -> None:
        zed, amy, bob = (Player(server, pid) for pid in ("zed", "amy", "bob"))
        await _all_enter_and_wait([zed, amy])
        await asyncio.sleep(0.3)
        assert "group" not in zed.pushed  # "amy" is below the option's start
        await _all_enter_and_wait([bob])
        assert (await zed.until("group"))["members"] == {"bob": "left", "zed": "right"}
        assert "group" not in amy.pushed
        for player in (zed, amy, bob):
            await player.sio.disconnect()

    config = _duel_config(tmp_path, timeout=30, matchmaker="alphabetical", start="b")
    config.plugins(
        allow=[],
        extra={
            "jsonl": jsonl_sink,
            "fake_runtime": _runtime_plugin(),
            "alphabetical": _matchmaker_plugin(),
        },
    )
    with StudyServer(config) as server:
        asyncio.run(run(server))
