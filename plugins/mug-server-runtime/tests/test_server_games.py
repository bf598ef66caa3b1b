"""Server games over real sockets: frames stream, keys are applied, data is recorded."""

from __future__ import annotations

import asyncio
import csv
import sys
from pathlib import Path
from typing import Any

import pytest
import socketio
from mug_server_runtime.encoding import decode_stream

from mug_core import EndScene, ExperimentConfig, PolicyTypes, Stager
from mug_core.configurations.configuration_constants import HeuristicPolicy
from mug_core.scenes.gym_scene import GymScene
from mug_core.testing import StudyServer

SLIME = Path(__file__).resolve().parents[3] / "examples" / "slime_volleyball"


def _study(tmp_path: Path, env_code: str | None = None, **gameplay: Any) -> ExperimentConfig:
    game = (
        GymScene()
        .scene("match")
        .policies(
            policy_mapping={
                "agent_left": PolicyTypes.Human,
                "agent_right": HeuristicPolicy("heuristic:SlimeHeuristic"),
            }
        )
        .rendering(fps=30, game_width=600, game_height=300)
        .gameplay(
            action_mapping={"ArrowLeft": 1, "ArrowRight": 2},
            default_action=0,
            countdown_s=0,
            max_steps=45,
            seed=3,
            **gameplay,
        )
    )
    if env_code is None:
        game.runtime(
            environment_initialization_code_filepath=SLIME / "env_file.py", runtime="server"
        )
    else:
        game.runtime(
            environment_initialization_code=env_code,
            python_files=[SLIME / "slime_env.py", SLIME / "heuristic.py"],
            runtime="server",
        )
    return (
        ExperimentConfig()
        .experiment(stager=Stager([game, EndScene().scene("end")]), experiment_id="srv")
        .data(data_dir=tmp_path, sinks=["csv"])
    )


class Page:
    def __init__(self, server: StudyServer, pid: str) -> None:
        self.server, self.pid = server, pid
        self.sio = socketio.AsyncClient(reconnection=False)
        self.chunks: dict[int, list[bytes]] = {}
        self.over: list[Any] = []
        self.sio.on(
            "game_frame", lambda m: self.chunks.setdefault(m["stream"], []).append(m["data"])
        )
        self.sio.on("game_over", lambda m: self.over.append(m))

    def _frame(self, message: dict[str, Any]) -> None:
        self.chunks.setdefault(message["stream"], []).append(message["data"])

    async def start(self) -> dict[str, Any]:
        await self.sio.connect(self.server.url(), transports=["websocket"])
        await self.sio.call("join", {"participant_id": self.pid, "tab_id": "t"})
        return await self.sio.call("game_join", {"scene_key": "match"})

    async def wait_over(self, timeout: float = 5.0) -> None:
        """Wait (up to ``timeout`` seconds) for the server to say the game is over."""
        for _ in range(int(timeout / 0.05)):
            if self.over:
                return
            await asyncio.sleep(0.05)

    def frames(self) -> list[dict[str, Any]]:
        return [f for chunks in self.chunks.values() for f in decode_stream(chunks)]


def test_a_server_game_streams_frames_applies_keys_and_records_steps(tmp_path: Path) -> None:
    config = _study(tmp_path)

    async def run(server: StudyServer) -> None:
        page = Page(server, "solo1")
        joined = await page.start()
        assert joined["ok"] and joined["agent"] == "agent_left"
        await asyncio.sleep(0.3)
        await page.sio.emit("game_input", {"key": "ArrowLeft", "down": True, "t": 1.0})
        await asyncio.sleep(0.4)
        await page.sio.emit("game_input", {"key": "ArrowLeft", "down": False, "t": 2.0})
        await page.wait_over()
        assert page.over and page.over[0]["message"] is None
        done = await page.sio.call("advance", {"scene_key": "match", "response": {}})
        assert done["ok"] and done["scene"]["scene_key"] == "end"
        frames = page.frames()
        assert frames[0]["packet"]["clear"] and len(frames) == 45
        assert [f["step"] for f in frames] == list(range(45))
        await page.sio.disconnect()

    with StudyServer(config) as server:
        asyncio.run(run(server))
    with (config.study_dir / "match" / "solo1_ep0.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert [int(r["step"]) for r in rows] == list(range(45))
    lefts = [r for r in rows if '"agent_left":1' in r["actions"]]
    assert 5 <= len(lefts) <= 20  # held for 0.4 s at 30 fps
    with (config.study_dir / "match" / "solo1_ep0_events.csv").open() as file:
        events = list(csv.DictReader(file))
    assert [e["type"] for e in events] == ["keydown", "keyup"]
    assert all(float(e["input_latency_ms"]) < 100 for e in events)


def test_a_server_game_resets_its_env_with_the_study_seed(tmp_path: Path) -> None:
    seeded = (
        "from slime_env import SlimeVolleyballEnv\n"
        "class Seeded(SlimeVolleyballEnv):\n"
        "    def reset(self, seed=None, options=None):\n"
        "        self.reset_seed = seed\n"
        "        return super().reset(seed=seed, options=options)\n"
        "    def step(self, actions):\n"
        "        obs, rew, term, trunc, infos = super().step(actions)\n"
        "        return obs, rew, term, trunc, {'reset_seed': self.reset_seed}\n"
        "env = Seeded()\n"
    )

    async def run(server: StudyServer) -> None:
        page = Page(server, "seeded1")
        assert (await page.start())["ok"]
        await page.wait_over()
        await page.sio.disconnect()

    config = _study(tmp_path, env_code=seeded)  # .gameplay(seed=3)
    with StudyServer(config) as server:
        asyncio.run(run(server))
    with (config.study_dir / "match" / "seeded1_ep0.csv").open() as file:
        infos = {r["infos"] for r in csv.DictReader(file)}
    assert infos == {'{"reset_seed":3}'}


def test_a_crashing_env_ends_only_its_game_with_a_message(tmp_path: Path) -> None:
    crashing = (
        "from slime_env import SlimeVolleyballEnv\n"
        "class Crash(SlimeVolleyballEnv):\n"
        "    def step(self, actions):\n"
        "        if self._step_count > 5 if hasattr(self, '_step_count') else False:\n"
        "            raise ZeroDivisionError('boom')\n"
        "        self._step_count = getattr(self, '_step_count', 0) + 1\n"
        "        return super().step(actions)\n"
        "env = Crash()\n"
    )

    async def run(server: StudyServer) -> None:
        page = Page(server, "crash1")
        assert (await page.start())["ok"]
        await page.wait_over()
        assert "boom" in page.over[0]["message"]
        done = await page.sio.call("advance", {"scene_key": "match", "response": {}})
        assert done["ok"]
        await page.sio.disconnect()

    with StudyServer(_study(tmp_path, env_code=crashing)) as server:
        asyncio.run(run(server))


@pytest.fixture(autouse=True)
def _clean_modules() -> Any:
    yield
    for name in ("slime_env", "heuristic"):
        sys.modules.pop(name, None)


def _duel(tmp_path: Path, then: str) -> ExperimentConfig:
    game = (
        GymScene()
        .scene("match")
        .policies(
            policy_mapping={"agent_left": PolicyTypes.Human, "agent_right": PolicyTypes.Human}
        )
        .rendering(fps=30, game_width=600, game_height=300)
        .runtime(environment_initialization_code_filepath=SLIME / "env_file.py", runtime="server")
        .gameplay(action_mapping={"ArrowLeft": 1}, default_action=0, countdown_s=0, max_steps=60)
        .reconnection(timeout_s=0.5, then=then, message="Your partner left.")
    )
    return (
        ExperimentConfig()
        .experiment(stager=Stager([game, EndScene().scene("end")]), experiment_id="duel")
        .data(data_dir=tmp_path, sinks=["csv"])
        .plugins(allow=["storage", "server_runtime"])
    )


async def _grouped(server: StudyServer) -> tuple[Page, Page]:
    pages = (Page(server, "stay"), Page(server, "leave"))
    for page in pages:
        await page.sio.connect(server.url(), transports=["websocket"])
        await page.sio.call("join", {"participant_id": page.pid, "tab_id": "t"})
        await page.sio.call("scene_event", {"scene_key": "match", "name": "wait", "payload": {}})
    await asyncio.sleep(0.3)
    for page in pages:
        assert (await page.sio.call("game_join", {"scene_key": "match"}))["ok"]
    return pages


def test_a_player_who_does_not_return_is_replaced_by_an_ai(tmp_path: Path) -> None:
    async def run(server: StudyServer) -> None:
        stay, leave = await _grouped(server)
        await asyncio.sleep(0.2)
        await leave.sio.disconnect()
        await stay.wait_over()
        assert stay.over and stay.over[0]["message"] is None  # the game went on to its end
        await stay.sio.disconnect()

    config = _duel(tmp_path, "ai")
    with StudyServer(config) as server:
        asyncio.run(run(server))
    with (config.study_dir / "match" / "stay_ep0.csv").open() as file:
        assert len(list(csv.DictReader(file))) == 60
    with (config.study_dir / "match" / "leave_ep0_events.csv").open() as file:
        kinds = [row["type"] for row in csv.DictReader(file)]
    assert kinds == ["disconnected", "replaced_by_ai"]


def test_the_game_can_end_for_everyone_when_a_player_leaves(tmp_path: Path) -> None:
    async def run(server: StudyServer) -> None:
        stay, leave = await _grouped(server)
        await asyncio.sleep(0.2)
        await leave.sio.disconnect()
        await stay.wait_over()
        assert stay.over[0]["message"] == "Your partner left."
        done = await stay.sio.call("advance", {"scene_key": "match", "response": {}})
        assert done["ok"] and done["scene"]["scene_key"] == "end"
        await stay.sio.disconnect()

    with StudyServer(_duel(tmp_path, "end")) as server:
        asyncio.run(run(server))


def test_a_player_who_returns_in_time_keeps_their_slot(tmp_path: Path) -> None:
    async def run(server: StudyServer) -> None:
        stay, leave = await _grouped(server)
        await leave.sio.disconnect()
        back = Page(server, "leave")
        await back.sio.connect(server.url(), transports=["websocket"])
        await back.sio.call("join", {"participant_id": "leave", "tab_id": "t"})
        joined = await back.sio.call("game_join", {"scene_key": "match"})
        assert joined["ok"] and joined["agent"] == "agent_right"
        await back.wait_over()
        assert back.over and back.over[0]["message"] is None
        assert back.frames()[0]["packet"]["clear"]  # a fresh stream starts with a full frame
        await back.sio.disconnect()
        await stay.sio.disconnect()

    config = _duel(tmp_path, "end")
    config.stager.all_scenes()[0].reconnection(timeout_s=5, then="end")  # type: ignore[union-attr]
    with StudyServer(config) as server:
        asyncio.run(run(server))


VIEW_PER_AGENT = """
from slime_env import SlimeVolleyballEnv
from mug_core.rendering import Surface


class ViewPerAgent(SlimeVolleyballEnv):
    def render(self, agent_id):
        surfaces = self.__dict__.setdefault("views", {})
        surface = surfaces.setdefault(agent_id, Surface(self.render_width, self.render_height))
        surface.text(f"view of {agent_id}", 10, 10, id="label")
        surface.circle(self._ball[0] * 100 + 300, 150, 5, id="ball")
        return surface.commit()


env = ViewPerAgent(max_steps=60)
"""


def test_a_view_per_agent_goes_to_that_agents_player_only(tmp_path: Path) -> None:
    """An env whose ``render`` takes the agent draws each player's own view; no page gets a
    frame of another agent's view."""

    async def run(server: StudyServer) -> dict[str, set[str]]:
        pages = await _grouped(server)
        for page in pages:
            await page.wait_over()
        labels = {}
        for page in pages:
            texts = {
                o["text"] for f in page.frames() for o in f["packet"]["objects"] if "text" in o
            }
            labels[page.pid] = texts
            await page.sio.disconnect()
        return labels

    config = _duel(tmp_path, "end")
    config.stager.all_scenes()[0].runtime(  # type: ignore[union-attr]
        environment_initialization_code=VIEW_PER_AGENT,
        python_files=[SLIME / "slime_env.py"],
        runtime="server",
    )
    with StudyServer(config) as server:
        labels = asyncio.run(run(server))
    assert labels == {"stay": {"view of agent_left"}, "leave": {"view of agent_right"}}


async def _frames_until(page: Page, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The frames ``page`` decoded once it has at least ``count`` (fewer after ``timeout``)."""
    for _ in range(int(timeout / 0.02)):
        if sum(len(chunks) for chunks in page.chunks.values()) >= count:
            break
        await asyncio.sleep(0.02)
    return page.frames()


def _ack(stream: Any, step: Any, **changes: Any) -> dict[str, Any]:
    return {"stream": stream, "step": step, "episode": 0, "t": 1.7e12, "draw_ms": 4.5, **changes}


# each one would be recorded (step 31, before the valid acknowledgements) if it were taken
MALFORMED_ACKS: list[Any] = [
    "step 31",
    [1, 31, 0],
    _ack(1, "31"),
    _ack(1, True),
    _ack(1, 31.0),
    _ack(1, 31, episode=None),
    _ack(1.5, 31),
    _ack(-1, 31),
    _ack(1, 31, t="now"),
    _ack(1, 31, t=-5),
    _ack(1, 31, draw_ms=float("nan")),
    _ack(1, 31, draw_ms=float("inf")),
    _ack(1, 31, draw_ms=-1),
    _ack(1, 31, draw_ms=1e9),
    {"step": 31, "episode": 0},
]


def test_pages_acknowledging_drawn_frames_record_frame_delivery_times(tmp_path: Path) -> None:
    config = _duel(tmp_path, "end")
    config.stager.all_scenes()[0].max_steps = 90  # type: ignore[union-attr]

    async def run(server: StudyServer) -> None:
        stay, leave = await _grouped(server)
        frames = await _frames_until(stay, 32)
        assert [f["step"] for f in frames[:32]] == list(range(32))
        assert {f["episode"] for f in frames} == {0}
        stream = next(iter(stay.chunks))
        for malformed in MALFORMED_ACKS:
            await stay.sio.emit("game_frame_ack", malformed)
        await stay.sio.emit("game_frame_ack", _ack(stream, 0, draw_ms=3))
        await stay.sio.emit("game_frame_ack", _ack(stream, 30, t=1.7e12 + 1000))
        await stay.sio.emit("game_frame_ack", _ack(stream, 30))  # the same step again
        await stay.sio.emit("game_frame_ack", _ack(stream, 10))  # older than the last one
        await stay.sio.emit("game_frame_ack", _ack(stream, 5000))  # not sent yet
        await stay.sio.emit("game_frame_ack", _ack(stream, 31, episode=1))  # another episode
        await leave.sio.emit("game_frame_ack", _ack(stream, 31, draw_ms=7))
        await stay.sio.emit("game_input", {"key": "ArrowLeft", "down": True, "t": 5.0})
        await stay.wait_over()
        assert stay.over and stay.over[0]["message"] is None
        for page in (stay, leave):
            await page.sio.disconnect()

    with StudyServer(config) as server:
        asyncio.run(run(server))
    match = config.study_dir / "match"
    with (match / "stay_ep0_events.csv").open() as file:
        stay_events = list(csv.DictReader(file))
    with (match / "leave_ep0_events.csv").open() as file:
        leave_events = list(csv.DictReader(file))
    delivered = [e for e in stay_events if e["type"] == "frame_delivery"]
    assert [(e["step"], e["draw_ms"], e["t"]) for e in delivered] == [
        ("0", "3", "1700000000000.0"),
        ("30", "4.5", "1700000001000.0"),
    ]
    first, second = (float(e["frame_rtt_ms"]) for e in delivered)
    # step 0 went out a second (30 steps) before step 30, and both acks came back together
    assert 0 < second < first < 5000 and 500 < first - second < 1500
    assert all(e["agent"] == "agent_left" and e["input_latency_ms"] == "" for e in delivered)
    (key,) = [e for e in stay_events if e["type"] == "keydown"]
    assert key["frame_rtt_ms"] == key["draw_ms"] == "" and int(key["step"]) > 31
    assert list(key) == list(delivered[0])  # one header for every kind of event
    (other,) = [e for e in leave_events if e["type"] == "frame_delivery"]
    assert other["step"] == "31" and other["agent"] == "agent_right" and other["draw_ms"] == "7"


def test_a_game_process_that_dies_ends_its_games_and_new_games_still_start(
    tmp_path: Path,
) -> None:
    config = _study(tmp_path)
    config.stager.all_scenes()[0].max_steps = 100_000  # type: ignore[union-attr]

    async def run(server: StudyServer) -> None:
        first = Page(server, "first")
        assert (await first.start())["ok"]
        for _ in range(200):
            if first.chunks:
                break
            await asyncio.sleep(0.05)
        assert first.chunks, "the game streams frames"
        manager = server.server.games  # type: ignore[union-attr]
        for worker in manager.workers:
            worker.process.kill()
        for _ in range(200):
            if first.over:
                break
            await asyncio.sleep(0.05)
        assert "server process ended" in first.over[0]["message"]
        done = await first.sio.call("advance", {"scene_key": "match", "response": {}})
        assert done["ok"] and done["scene"]["scene_key"] == "end"
        second = Page(server, "second")
        assert (await second.start())["ok"]
        for _ in range(200):
            if len(second.frames()) >= 5:
                break
            await asyncio.sleep(0.05)
        assert len(second.frames()) >= 5, "a new game runs in a new game process"
        await first.sio.disconnect()
        await second.sio.disconnect()

    with StudyServer(config) as server:
        asyncio.run(run(server))
