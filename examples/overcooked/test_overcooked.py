"""The Overcooked example: CoGrid's kitchen drawn with a Surface, the scripted chef, and the
two-human study played over real sockets on a real server."""

from __future__ import annotations

import asyncio
import csv
import json
import runpy
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("cogrid")

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from overcooked_chef import ScriptedChef  # noqa: E402
from overcooked_mug_env import INTERACT, NOOP, RIGHT, OvercookedMUG  # noqa: E402

from mug_core.rendering.packets import apply_packet  # noqa: E402

OBS_SIZE = 892
"""Length of CoGrid's Cramped Room feature observation per agent."""


def test_the_env_file_defines_the_env_and_its_scripted_chef() -> None:
    namespace = runpy.run_path(str(HERE / "env_file.py"))
    env, chef = namespace["env"], namespace["chef"]
    assert isinstance(env, OvercookedMUG) and isinstance(chef, ScriptedChef)
    assert chef.env is env
    observations, _ = env.reset(seed=0)
    assert sorted(observations) == [0, 1]
    assert observations[0].shape == (OBS_SIZE,)


def _ids(packet: dict[str, Any]) -> set[str]:
    return {o["id"] for o in packet["objects"]}


def test_render_gives_each_player_a_valid_packet_of_the_whole_kitchen() -> None:
    env = OvercookedMUG()
    env.reset(seed=0)
    first = env.render(0)
    json.dumps(first)  # plain JSON, no numpy values
    scene = apply_packet(None, first)
    assert first["clear"] and (first["width"], first["height"]) == (480, 440)
    ids = _ids(first)
    # counters, the pot, the crates, plates and the serving window, the chefs, the HUD
    assert {"tile0-2", "pot0-2", "crate1-0", "plates3-1-0", "serve3-3", "chef0", "chef1"} <= ids
    assert {"chef0:facing", "chef0:hat", "served", "clock", "potlabel0-2"} <= ids
    assert "chef0:tag" in ids and "chef1:tag" not in ids  # "You" marks the viewer's chef
    assert "chef1:tag" in _ids(env.render(1))
    assert any(o.get("text") == "0/3" for o in first["objects"])
    assert any(o.get("text") == "Soups served: 0" for o in first["objects"])

    unchanged = env.render(0)
    assert unchanged["objects"] == [] and unchanged["removed"] == []
    scene = apply_packet(scene, unchanged)

    before = env.kitchen().chefs[0]
    env.step({0: RIGHT, 1: NOOP})
    moved = env.render(0)
    scene = apply_packet(scene, moved)
    after = env.kitchen().chefs[0]
    assert (after.col, after.facing) != (before.col, before.facing)
    # chef 0 turned to face the counter on its right: only what changed is sent
    assert "chef0:facing" in _ids(moved) and "tile0-2" not in _ids(moved)
    assert "chef0" in scene["objects"] and "tile0-2" in scene["objects"]


def test_a_new_episode_redraws_the_kitchen_from_scratch() -> None:
    env = OvercookedMUG()
    env.reset(seed=0)
    env.render(0)
    env.reset(seed=1)
    packet = env.render(0)
    assert packet["clear"] and "tile0-2" in _ids(packet)


def test_two_scripted_chefs_cook_and_serve_soup() -> None:
    env = OvercookedMUG(max_steps=200)
    chef = ScriptedChef(env)
    observations, _ = env.reset(seed=0)
    deliveries = 0
    labels: set[str] = set()
    for _ in range(200):
        actions = {agent: chef.act(observations[agent], agent) for agent in (0, 1)}
        observations, rewards, terminated, truncated, _ = env.step(actions)
        deliveries += rewards[0] >= 20  # CoGrid's delivery reward
        labels |= {o.get("text") for o in env.render(None)["objects"]}
        if any(terminated.values()) or any(truncated.values()):
            break
    assert deliveries >= 1 and env.soups_served == deliveries
    assert {"cooking", "ready!", "Served!", "Soups served: 1"} <= labels


def test_other_cogrid_layouts_are_drawn_and_played_too() -> None:
    env = OvercookedMUG(layout="overcooked_asymmetric_advantages_v0", max_steps=200)
    chef = ScriptedChef(env)
    observations, _ = env.reset(seed=0)
    packet = env.render(1)
    assert (packet["width"], packet["height"]) == (9 * 96, 56 + 5 * 96)
    assert {"pot2-4", "pot3-4", "serve1-8", "chef0", "chef1"} <= _ids(packet)
    for _ in range(200):
        observations, *_ = env.step({a: chef.act(observations[a], a) for a in (0, 1)})
        env.render(1)
    assert env.soups_served >= 1


def test_the_scripted_partner_cooks_while_the_human_waits() -> None:
    env = OvercookedMUG(max_steps=150)
    chef = ScriptedChef(env)
    observations, _ = env.reset(seed=1)
    rewards_seen = []
    for _ in range(150):
        observations, rewards, _, _, _ = env.step({0: NOOP, 1: chef(observations[1], 1)})
        rewards_seen.append(rewards[1])
    assert rewards_seen.count(3.0) >= 3  # three onions went into the pot
    assert env.soups_served >= 1


def test_the_scripted_chef_interacts_with_what_it_faces() -> None:
    env = OvercookedMUG()
    chef = ScriptedChef(env)
    env.reset(seed=0)  # chef 1 stands next to an onion crate at (1, 4)
    actions = []
    for _ in range(3):
        action = chef.act(None, 1)
        actions.append(action)
        env.step({0: NOOP, 1: action})
    assert INTERACT in actions and env.kitchen().chefs[1].holding == "onion"


# -- the two-human study on a real server ---------------------------------------------------


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


class _Player:
    """A participant's socket: joins the study, collects frames and the game's end."""

    def __init__(self, pid: str) -> None:
        import socketio

        self.pid = pid
        self.sio = socketio.AsyncClient(reconnection=False)
        self.chunks: dict[int, list[bytes]] = {}
        self.over: list[Any] = []
        self.sio.on("game_frame", self._frame)
        self.sio.on("game_over", self.over.append)

    def _frame(self, message: dict[str, Any]) -> None:
        self.chunks.setdefault(message["stream"], []).append(message["data"])

    def frames(self) -> list[dict[str, Any]]:
        from mug_server_runtime.encoding import decode_stream

        return [f for chunks in self.chunks.values() for f in decode_stream(chunks)]

    async def press(self, key: str) -> None:
        await self.sio.emit("game_input", {"key": key, "down": True, "t": 1.0})
        await self.sio.emit("game_input", {"key": key, "down": False, "t": 2.0})

    async def wait_over(self) -> None:
        for _ in range(300):
            if self.over:
                return
            await asyncio.sleep(0.05)


async def _seat(url: str, players: tuple[_Player, ...]) -> dict[str, Any]:
    """Past the instructions, through the waiting room, into one game: ``{pid: agent}``."""
    for player in players:
        await player.sio.connect(url, transports=["websocket"])
        await player.sio.call("join", {"participant_id": player.pid, "tab_id": "t"})
        moved = await player.sio.call("advance", {"scene_key": "instructions", "response": {}})
        assert moved["ok"] and moved["scene"]["scene_key"] == "overcooked"
        await player.sio.call(
            "scene_event", {"scene_key": "overcooked", "name": "wait", "payload": {}}
        )
    agents: dict[str, Any] = {}
    for _ in range(100):
        for player in players:
            if player.pid not in agents:
                joined = await player.sio.call("game_join", {"scene_key": "overcooked"})
                if joined["ok"]:
                    agents[player.pid] = joined["agent"]
        if len(agents) == len(players):
            return agents
        await asyncio.sleep(0.1)
    raise AssertionError(f"only {sorted(agents)} got into the game")


def _pair_study(tmp_path: Path, steps: int) -> Any:
    from overcooked_study import build_study

    config = build_study(
        "human",
        experiment_id="overcooked_pair",
        data_dir=tmp_path,
        num_episodes=1,
        max_steps=steps,
        countdown_s=0,
    )
    return config.data(data_dir=tmp_path, sinks=["csv"])


def test_two_players_play_the_server_game_and_every_step_is_recorded(tmp_path: Path) -> None:
    pytest.importorskip("mug_server_runtime")
    pytest.importorskip("mug_storage")
    pytest.importorskip("socketio")
    from mug_core.testing import StudyServer

    steps = 40
    config = _pair_study(tmp_path, steps)

    async def play(server: StudyServer) -> tuple[_Player, _Player]:
        players = (_Player("chef_a"), _Player("chef_b"))
        agents = await _seat(server.url(), players)
        assert sorted(agents.values()) == [0, 1]
        await asyncio.sleep(0.5)
        for player in players:  # one step to the right, then pick up / put down
            for key in ("ArrowRight", " "):
                await player.press(key)
                await asyncio.sleep(0.3)
        for player in players:
            await player.wait_over()
            assert player.over and player.over[0]["message"] is None
            done = await player.sio.call("advance", {"scene_key": "overcooked", "response": {}})
            assert done["ok"] and done["scene"]["scene_key"] == "end"
            await player.sio.disconnect()
        return players

    with StudyServer(config) as server:
        players = asyncio.run(play(server))
        server.flush()

    for player in players:
        frames = player.frames()
        assert frames[0]["packet"]["clear"] and [f["step"] for f in frames] == list(range(steps))
        texts = {o.get("text") for f in frames for o in f["packet"]["objects"]}
        assert "You" in texts and "Soups served: 0" in texts

    folder = config.study_dir / "overcooked"
    rows_a = _rows(folder / "chef_a_ep0.csv")
    rows_b = _rows(folder / "chef_b_ep0.csv")
    assert [int(r["step"]) for r in rows_a] == list(range(steps))
    assert [r["actions"] for r in rows_a] == [r["actions"] for r in rows_b]
    actions = [json.loads(r["actions"]) for r in rows_a]
    for agent in ("0", "1"):
        taken = [a[agent] for a in actions]
        assert taken.count(RIGHT) == 1 and taken.count(INTERACT) == 1  # one action per press
        assert taken.index(RIGHT) < taken.index(INTERACT)
    observations = json.loads(rows_a[0]["observations"])
    assert sorted(observations) == ["0", "1"] and len(observations["0"]) == OBS_SIZE
    assert all(isinstance(v, float) for v in observations["1"])
    assert json.loads(rows_a[0]["rewards"]) == {"0": 0.0, "1": 0.0}
    events = _rows(folder / "chef_a_ep0_events.csv")
    assert [(e["type"], e["key"]) for e in events] == [
        ("keydown", "ArrowRight"),
        ("keyup", "ArrowRight"),
        ("keydown", " "),
        ("keyup", " "),
    ]
    assert all(e["input_latency_ms"] for e in events)


def test_the_scripted_chef_takes_over_from_a_player_who_leaves(tmp_path: Path) -> None:
    pytest.importorskip("mug_server_runtime")
    pytest.importorskip("mug_storage")
    pytest.importorskip("socketio")
    from overcooked_study import PARTNER_CHEF

    from mug_core.testing import StudyServer

    steps = 48
    config = _pair_study(tmp_path, steps)
    game = config.stager.all_scenes()[1]
    game.reconnection(timeout_s=0.5, then="ai", replacement=PARTNER_CHEF)  # 20 s in the study

    async def play(server: StudyServer) -> dict[str, Any]:
        players = (_Player("stays"), _Player("leaves"))
        agents = await _seat(server.url(), players)
        await asyncio.sleep(0.3)
        await players[1].sio.disconnect()
        await players[0].wait_over()
        assert players[0].over and players[0].over[0]["message"] is None  # played to the end
        await players[0].sio.disconnect()
        return agents

    with StudyServer(config) as server:
        agents = asyncio.run(play(server))
        server.flush()
    folder = config.study_dir / "overcooked"
    events = _rows(folder / "leaves_ep0_events.csv")
    assert [e["type"] for e in events] == ["disconnected", "replaced_by_ai"]
    rows = _rows(folder / "stays_ep0.csv")
    assert len(rows) == steps
    replaced = [json.loads(r["actions"])[str(agents["leaves"])] for r in rows[-24:]]
    assert len(set(replaced) - {NOOP}) >= 2  # the scripted chef walks and works


# -- the Multi-User Gymnasium style script --------------------------------------------------


def test_the_seed_style_script_builds_a_server_study_with_the_scripted_partner() -> None:
    from mug_core.cli.study import load_study
    from mug_core.configurations.configuration_constants import HeuristicPolicy, PolicyTypes

    config = load_study(HERE / "seed_style_study.py")
    assert config.experiment_id == "overcooked_hai"
    start, game, end = config.stager.all_scenes()
    assert (start.scene_id, game.scene_id, end.scene_id) == ("start", "overcooked_game", "end")
    assert game.runtime_name == "server"
    assert game.policy_mapping == {0: PolicyTypes.Human, 1: HeuristicPolicy("env:chef")}
    game.check()  # the env file's own modules are shipped with it, nothing else
    assert sorted(game.python_files) == [
        "overcooked_chef.py",
        "overcooked_drawing.py",
        "overcooked_kitchen.py",
        "overcooked_mug_env.py",
    ]
    pytest.importorskip("mug_server_runtime")
    from mug_core.plugins import PluginHost

    config.validate(PluginHost.load())


def _tiny_policy(path: Path) -> None:
    """A linear ONNX policy with the seed's names: input ``input`` (1, 892), output ``logits``."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper, save

    rng = np.random.default_rng(0)
    weights = rng.normal(0.0, 1.0, (OBS_SIZE, 7)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["input", "weights"], ["logits"])],
        "cramped_room_policy",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, OBS_SIZE])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 7])],
        initializer=[numpy_helper.from_array(weights, "weights")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    save(model, str(path))


def test_the_seed_style_script_plays_with_an_onnx_partner_on_the_server(tmp_path: Path) -> None:
    pytest.importorskip("mug_onnx")
    pytest.importorskip("onnx")
    pytest.importorskip("mug_server_runtime")
    pytest.importorskip("mug_storage")
    socketio = pytest.importorskip("socketio")
    import shutil

    from mug_core.cli.study import load_study
    from mug_core.configurations.configuration_constants import ModelConfig
    from mug_core.plugins import PluginHost
    from mug_core.testing import StudyServer

    folder = tmp_path / "study"
    folder.mkdir()
    for name in (
        "seed_style_study.py",
        "env_file.py",
        "overcooked_mug_env.py",
        "overcooked_chef.py",
    ):
        shutil.copy(HERE / name, folder / name)
    _tiny_policy(folder / "cramped_room_policy.onnx")
    config = load_study(folder / "seed_style_study.py")
    game = config.stager.all_scenes()[1]
    assert isinstance(game.policy_mapping[1], ModelConfig)
    config.validate(PluginHost.load())  # the ONNX names and sizes fit the env
    steps = 16
    game.gameplay(max_steps=steps, countdown_s=0)
    config.data(data_dir=tmp_path / "data", sinks=["csv"])

    async def play(server: StudyServer) -> None:
        sio = socketio.AsyncClient(reconnection=False)
        over: list[Any] = []
        sio.on("game_over", over.append)
        await sio.connect(server.url(), transports=["websocket"])
        await sio.call("join", {"participant_id": "seed1", "tab_id": "t"})
        moved = await sio.call("advance", {"scene_key": "start", "response": {}})
        assert moved["scene"]["scene_key"] == "overcooked_game"
        joined = await sio.call("game_join", {"scene_key": "overcooked_game"})
        assert joined["ok"] and joined["agent"] == 0
        for _ in range(200):
            if over:
                break
            await asyncio.sleep(0.05)
        assert over and over[0]["message"] is None
        done = await sio.call("advance", {"scene_key": "overcooked_game", "response": {}})
        assert done["ok"] and done["scene"]["scene_key"] == "end"
        await sio.disconnect()

    with StudyServer(config) as server:
        asyncio.run(play(server))
        server.flush()
    rows = _rows(config.study_dir / "overcooked_game" / "seed1_ep0.csv")
    assert [int(r["step"]) for r in rows] == list(range(steps))
    partner = [json.loads(r["actions"])["1"] for r in rows]
    assert all(a in range(7) for a in partner) and len(set(partner)) >= 2
