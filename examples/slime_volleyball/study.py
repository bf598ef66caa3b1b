"""The flagship demo: a participant plays Slime Volleyball against a trained AI in the browser.

Instructions, two rounds of human (``agent_left``, arrow keys) vs the PPO policy in
``policy.onnx`` (``agent_right``; see ``README-policy.md``), both stepping in the participant's
page (the ``browser`` runtime and ONNX policies: ``pip install 'mug-core[pyodide,onnx]'`` and
``mug assets install``), a short survey and a completion code. ``opponent="heuristic"`` plays
against the scripted ``SlimeHeuristic`` instead.

Run it with ``mug run examples/slime_volleyball/study.py`` and open http://localhost:8000/.
Each round ends when a player reaches 5 points (``env_file.py``) or after one minute
(``max_steps``), whichever comes first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mug_core.configurations import experiment_config
from mug_core.configurations.configuration_constants import (
    HeuristicPolicy,
    ModelConfig,
    PolicyTypes,
)
from mug_core.scenes import stager, static_scene
from mug_core.scenes.gym_scene import GymScene
from mug_core.scenes.survey import FreeText, Likert, SurveyScene

HERE = Path(__file__).resolve().parent
FPS = 30
"""Steps per second; matches ``env_file.py``'s ``fps`` so the game runs in real time."""

# Actions of slime_env: 0 NOOP, 1 LEFT, 2 RIGHT, 3 JUMP, 4 LEFT+JUMP, 5 RIGHT+JUMP.
ACTION_MAPPING = {
    "ArrowLeft": 1,
    "ArrowRight": 2,
    "ArrowUp": 3,
    ("ArrowLeft", "ArrowUp"): 4,
    ("ArrowRight", "ArrowUp"): 5,
}

INSTRUCTIONS = """
<p>You will play two short rounds of <strong>Slime Volleyball</strong> against a computer player.
You are the <strong style="color:#e8553a">red slime on the left</strong>.</p>
<ul>
  <li><kbd>&larr;</kbd> and <kbd>&rarr;</kbd> move your slime.</li>
  <li><kbd>&uarr;</kbd> jumps (hold it together with an arrow to jump sideways).</li>
</ul>
<p>Score by making the ball land on the other side. A round lasts at most one minute.</p>
"""


def opponent_policy(opponent: str) -> Any:
    """The AI partner: ``"policy"`` (the trained ONNX policy) or ``"heuristic"``."""
    if opponent == "policy":
        # The policy was trained acting every second frame (README-policy.md).
        return ModelConfig(
            HERE / "policy.onnx", obs_input="obs", logit_output="logits", act_every=2
        )
    if opponent == "heuristic":
        return HeuristicPolicy("heuristic:SlimeHeuristic")
    raise ValueError(f"opponent must be 'policy' or 'heuristic', got {opponent!r}")


def build_game(
    *,
    opponent: str = "policy",
    num_episodes: int = 2,
    max_steps: int = 60 * FPS,
    countdown_s: int = 3,
    fps: int = FPS,
) -> GymScene:
    """The game scene; tests and benchmarks shorten it with the keyword arguments."""
    return (
        GymScene()
        .scene(scene_id="slime_game")
        .policies(
            policy_mapping={
                "agent_left": PolicyTypes.Human,
                "agent_right": opponent_policy(opponent),
            }
        )
        .rendering(
            fps=fps,
            game_width=600,
            game_height=300,
            background="#a8dcff",
            hud="Round {episode} of {num_episodes} · Your points: {score}",
        )
        .runtime(
            environment_initialization_code_filepath=HERE / "env_file.py",
            python_files=[HERE / "slime_env.py", HERE / "heuristic.py"],
        )
        .gameplay(
            action_mapping=ACTION_MAPPING,
            default_action=0,
            num_episodes=num_episodes,
            max_steps=max_steps,
            input_mode="pressed_keys",
            countdown_s=countdown_s,
        )
        .content(
            scene_header="Slime Volleyball",
            scene_body="<p>The game is loading…</p>",
            in_game_scene_body=(
                "<p>Use <kbd>&larr;</kbd> <kbd>&rarr;</kbd> to move and <kbd>&uarr;</kbd> to jump. "
                "Keep this tab in front while you play.</p>"
            ),
        )
    )


def build_study(
    *,
    data_dir: str | Path | None = None,
    experiment_id: str = "slime_volleyball_demo",
    **game_options: Any,
) -> experiment_config.ExperimentConfig:
    """The whole study; ``game_options`` go to :func:`build_game`."""
    start = (
        static_scene.StartScene()
        .scene(scene_id="instructions")
        .display(scene_header="Welcome", scene_body=INSTRUCTIONS)
    )
    survey = (
        SurveyScene()
        .scene(scene_id="feedback")
        .display(scene_header="A few questions")
        .questions(
            Likert(
                "fun",
                "The game was fun.",
                scale=5,
                labels=("Strongly disagree", "Strongly agree"),
            ),
            Likert(
                "ai_skill",
                "The computer player was good.",
                scale=5,
                labels=("Strongly disagree", "Strongly agree"),
            ),
            FreeText("comments", "Anything else you would like to tell us?", required=False),
        )
    )
    end = (
        static_scene.CompletionCodeScene()
        .scene(scene_id="end")
        .display(scene_header="Thank you!", scene_body="<p>Copy this code to finish.</p>")
    )
    config = experiment_config.ExperimentConfig().experiment(
        stager=stager.Stager(scenes=[start, build_game(**game_options), survey, end]),
        experiment_id=experiment_id,
    )
    if data_dir is not None:
        config.data(data_dir=data_dir)
    return config.hosting(port=8000)


config = build_study()

if __name__ == "__main__":
    from mug_core.server import app

    app.run(config)
