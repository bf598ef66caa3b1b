"""The Overcooked studies' shared parts: the game scene and the scenes around it.

``study_two_humans.py`` and ``study_human_ai.py`` call :func:`build_study`; tests call it
with a shorter game. The env steps on the study server (``runtime="server"``): CoGrid needs
numpy, which the offline Pyodide copy does not have.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mug_core.configurations import experiment_config
from mug_core.configurations.configuration_constants import HeuristicPolicy, PolicyTypes
from mug_core.scenes import stager, static_scene
from mug_core.scenes.gym_scene import GymScene

HERE = Path(__file__).resolve().parent
FPS = 8
"""Steps per second; matches ``env_file.py``."""
MAX_STEPS = 60 * FPS
"""One minute per round; matches ``env_file.py``."""

# CoGrid's cardinal actions: 0 up, 1 down, 2 left, 3 right, 4 pick up / put down, 5 toggle, 6 no-op.
ACTION_MAPPING = {"ArrowUp": 0, "ArrowDown": 1, "ArrowLeft": 2, "ArrowRight": 3, " ": 4}
NOOP = 6
PARTNER_CHEF = HeuristicPolicy("env:chef")
"""The scripted chef the env file defines next to ``env`` (``overcooked_chef.py``)."""

INSTRUCTIONS = """
<p>You are a chef in a small kitchen, working with {partner}. Together, cook and serve as many
onion soups as you can in one minute.</p>
<ol>
  <li>Take an onion from a crate (the brown boxes of onions) and put it into the pot.</li>
  <li>Three onions start the soup; the orange ring around the pot shows it cooking.</li>
  <li>When the ring turns green, bring a plate from the plate stack to the pot to dish it up.</li>
  <li>Carry the soup to the blue <strong>SERVE</strong> window.</li>
</ol>
<p>Move with the arrow keys <kbd>&larr;</kbd> <kbd>&uarr;</kbd> <kbd>&rarr;</kbd>
<kbd>&darr;</kbd> (one press, one step; walking into a counter turns you to face it).
Press <kbd>Space</kbd> to pick up or put down what is in front of you.
Your chef wears a yellow glow and a "You" tag.</p>
"""

PARTNERS = {
    "human": "another participant",
    "ai": "a computer-controlled chef",
}


def build_game(
    partner: str = "ai",
    *,
    num_episodes: int = 2,
    max_steps: int = MAX_STEPS,
    countdown_s: int = 3,
    fps: int = FPS,
    waitroom_timeout_s: float = 300.0,
    seed: int | None = None,
) -> GymScene:
    """The Overcooked game scene. ``partner="human"``: two participants play together (they
    meet in a waiting room; one who leaves is replaced by the scripted chef after 20 s).
    ``partner="ai"``: the participant plays chef 0 with the scripted chef as chef 1.
    ``seed`` fixes where the chefs start (round ``k`` uses ``seed + k``; random by default)."""
    if partner not in PARTNERS:
        raise ValueError(f"partner must be one of {sorted(PARTNERS)}, got {partner!r}")
    second = PolicyTypes.Human if partner == "human" else PARTNER_CHEF
    game = (
        GymScene()
        .scene(scene_id="overcooked")
        .policies(policy_mapping={0: PolicyTypes.Human, 1: second})
        .rendering(
            fps=fps,
            game_width=480,
            game_height=440,
            background="#2d3142",
            hud="Round {episode} of {num_episodes}",
        )
        .runtime(environment_initialization_code_filepath=HERE / "env_file.py", runtime="server")
        .gameplay(
            action_mapping=ACTION_MAPPING,
            default_action=NOOP,
            num_episodes=num_episodes,
            max_steps=max_steps,
            input_mode="single_keystroke",
            countdown_s=countdown_s,
            seed=seed,
        )
        .content(
            scene_header="Overcooked",
            scene_body="<p>The kitchen is being set up…</p>",
            in_game_scene_body=(
                "<p>Arrow keys move, <kbd>Space</kbd> picks up and puts down. "
                "Keep this tab in front while you play.</p>"
            ),
        )
    )
    if partner == "human":
        game.waitroom(
            timeout=waitroom_timeout_s,
            timeout_message="Sorry, no other participant arrived in time. Thank you for waiting.",
        ).reconnection(timeout_s=20, then="ai", replacement=PARTNER_CHEF)
    return game


def build_study(
    partner: str = "ai",
    *,
    experiment_id: str | None = None,
    data_dir: str | Path | None = None,
    **game_options: Any,
) -> experiment_config.ExperimentConfig:
    """Instructions, the game (``game_options`` go to :func:`build_game`), and a thank-you."""
    start = (
        static_scene.StartScene()
        .scene(scene_id="instructions")
        .display(
            scene_header="Overcooked",
            scene_body=INSTRUCTIONS.format(partner=PARTNERS[partner]),
        )
    )
    end = (
        static_scene.EndScene()
        .scene(scene_id="end")
        .display(
            scene_header="Thank you!", scene_body="<p>You're all done. You may close this tab.</p>"
        )
    )
    config = experiment_config.ExperimentConfig().experiment(
        stager=stager.Stager(scenes=[start, build_game(partner, **game_options), end]),
        experiment_id=experiment_id or f"overcooked_{partner}",
    )
    if data_dir is not None:
        config.data(data_dir=data_dir)
    return config.hosting(port=8000)
