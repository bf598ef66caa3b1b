"""Two participants play Slime Volleyball against each other, peer to peer.

Each participant's page runs the env (Pyodide); only key presses travel between the two pages
(WebRTC, or the study server's relay when a direct connection fails), and rollback hides the
network delay (``.multiplayer()``). The first to arrive waits until a partner joins; the
waiting room's matchmaker puts the first participant on the left (``agent_left``, red) and the
second on the right. Both pages record the same confirmed steps.

Needs ``pip install 'mug-core[pyodide,p2p]'`` and ``mug assets install``. Run it with
``mug run examples/slime_volleyball/p2p_study.py`` and open http://localhost:8000/ in two
browsers (or two windows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mug_core.configurations import experiment_config
from mug_core.configurations.configuration_constants import PolicyTypes
from mug_core.scenes import stager, static_scene
from mug_core.scenes.gym_scene import GymScene

HERE = Path(__file__).resolve().parent
FPS = 30
"""Steps per second; matches ``env_file.py``'s ``fps`` so the game runs in real time."""

# Actions of slime_env, in screen directions for both players: 1 LEFT, 2 RIGHT, 3 JUMP, ...
ACTION_MAPPING = {
    "ArrowLeft": 1,
    "ArrowRight": 2,
    "ArrowUp": 3,
    ("ArrowLeft", "ArrowUp"): 4,
    ("ArrowRight", "ArrowUp"): 5,
}

INSTRUCTIONS = """
<p>You will play <strong>Slime Volleyball</strong> against another participant. When you
continue, you wait until a partner arrives; then a short countdown starts the game.</p>
<ul>
  <li><kbd>&larr;</kbd> and <kbd>&rarr;</kbd> move your slime (marked <em>YOU</em>).</li>
  <li><kbd>&uarr;</kbd> jumps.</li>
</ul>
<p>Keep this tab open until the end: if you close it, your partner's game stops.</p>
"""


def build_game(
    *,
    num_episodes: int = 1,
    max_steps: int = 60 * FPS,
    countdown_s: int = 3,
    input_delay: int = 2,
    transport: str = "webrtc",
    rejoin_timeout_s: float = 20.0,
    after_timeout: str = "end",
    waitroom_timeout_s: float = 300.0,
) -> GymScene:
    """The P2P game scene; tests shorten it with the keyword arguments."""
    return (
        GymScene()
        .scene(scene_id="slime_duel")
        .policies(
            policy_mapping={"agent_left": PolicyTypes.Human, "agent_right": PolicyTypes.Human}
        )
        .rendering(
            fps=FPS,
            game_width=600,
            game_height=300,
            background="#a8dcff",
            hud="Round {episode} of {num_episodes} · Your points: {score}",
        )
        .runtime(
            environment_initialization_code_filepath=HERE / "env_file.py",
            python_files=[HERE / "slime_env.py"],
        )
        .gameplay(
            action_mapping=ACTION_MAPPING,
            default_action=0,
            num_episodes=num_episodes,
            max_steps=max_steps,
            input_mode="pressed_keys",
            countdown_s=countdown_s,
        )
        .waitroom(timeout=waitroom_timeout_s, timeout_message="No partner arrived in time.")
        .multiplayer(input_delay=input_delay, max_prediction=8, transport=transport)
        .reconnection(
            timeout_s=rejoin_timeout_s,
            then=after_timeout,
            replacement=PolicyTypes.Random,
            message="Your partner left, so this game has ended.",
        )
        .content(
            scene_header="Slime Volleyball: you against another participant",
            scene_body="<p>The game is loading…</p>",
            in_game_scene_body=(
                "<p>Use <kbd>&larr;</kbd> <kbd>&rarr;</kbd> to move and "
                "<kbd>&uarr;</kbd> to jump.</p>"
            ),
        )
    )


def build_study(
    *,
    data_dir: str | Path | None = None,
    experiment_id: str = "slime_volleyball_p2p",
    **game_options: Any,
) -> experiment_config.ExperimentConfig:
    """The whole study; ``game_options`` go to :func:`build_game`."""
    start = (
        static_scene.StartScene()
        .scene(scene_id="instructions")
        .display(scene_header="Welcome", scene_body=INSTRUCTIONS)
    )
    end = (
        static_scene.CompletionCodeScene()
        .scene(scene_id="end")
        .display(scene_header="Thank you!", scene_body="<p>Copy this code to finish.</p>")
    )
    config = experiment_config.ExperimentConfig().experiment(
        stager=stager.Stager(scenes=[start, build_game(**game_options), end]),
        experiment_id=experiment_id,
    )
    if data_dir is not None:
        config.data(data_dir=data_dir)
    return config.hosting(port=8000)


config = build_study()

if __name__ == "__main__":
    from mug_core.server import app

    app.run(config)
