"""A study server running many server games stops promptly when asked to (SIGTERM)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import threading
from pathlib import Path

import socketio

from mug_core.testing import free_port, start_study_process

SLIME = Path(__file__).resolve().parents[3] / "examples" / "slime_volleyball"
GAMES = 60
STUDY = """
from mug_core import EndScene, ExperimentConfig, PolicyTypes, Stager
from mug_core.scenes.gym_scene import GymScene
from mug_core.server import app

game = (
    GymScene().scene("match")
    .policies(policy_mapping={{"agent_left": PolicyTypes.Human, "agent_right": PolicyTypes.Random}})
    .rendering(fps=30, game_width=600, game_height=300)
    .runtime(environment_initialization_code_filepath={env_file!r}, runtime="server")
    .gameplay(action_mapping={{"ArrowLeft": 1}}, default_action=0, countdown_s=0,
              max_steps=100000)
)
app.run(
    ExperimentConfig()
    .experiment(stager=Stager([game, EndScene().scene("end")]), experiment_id="many")
    .data(data_dir={data_dir!r})
    .plugins(allow=["storage", "server_runtime"])
)
"""


async def _play(url: str, index: int, started: list[int]) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    client.on("game_frame", lambda m: started.__setitem__(index, started[index] + 1))
    await client.connect(url, transports=["websocket"], wait_timeout=60)
    await client.call("join", {"participant_id": f"p{index}", "tab_id": "t"}, timeout=60)
    joined = await client.call("game_join", {"scene_key": "match"}, timeout=60)
    assert joined["ok"], joined
    return client


def test_a_server_with_many_games_stops_promptly_on_sigterm(tmp_path: Path) -> None:
    study = tmp_path / "study.py"
    study.write_text(
        STUDY.format(env_file=str(SLIME / "env_file.py"), data_dir=str(tmp_path / "data"))
    )
    port = free_port()
    server = start_study_process(study, port, timeout=60)
    errors: list[bytes] = []
    reader = threading.Thread(target=lambda: errors.extend(server.stderr or []), daemon=True)
    reader.start()
    try:
        started = [0] * GAMES

        async def fill() -> list[socketio.AsyncClient]:
            url = f"http://127.0.0.1:{port}"
            clients = await asyncio.gather(*(_play(url, i, started) for i in range(GAMES)))
            for _ in range(600):
                if min(started) >= 30:
                    break
                await asyncio.sleep(0.1)
            assert min(started) >= 30, "every game streams frames"
            server.send_signal(signal.SIGTERM)
            return list(clients)

        asyncio.run(fill())
        server.wait(timeout=60)  # generous: a lost SIGTERM used to leave it running forever
    except subprocess.TimeoutExpired:
        server.kill()
        raise AssertionError("the server did not stop after SIGTERM") from None
    finally:
        if server.poll() is None:
            server.kill()
    reader.join(5)
    output = b"".join(errors).decode(errors="replace")
    assert server.returncode == 0, output[-2000:]
    assert "signal wakeup fd" not in output
    steps = list((tmp_path / "data" / "many" / "match").glob("*_ep0.csv"))
    assert len(steps) == GAMES  # every game's steps were written before the server exited
