"""The single-player quick start: drive Gymnasium's MountainCar up the hill in the browser.

Needs the internet: Gymnasium and numpy are installed into the participant's Pyodide from the
Pyodide CDN and PyPI, so start the server with Pyodide's CDN::

    MUG_PYODIDE_URL=https://cdn.jsdelivr.net/pyodide/v314.0.7/full/ \\
        mug run examples/mountain_car/study.py
"""

from __future__ import annotations

from pathlib import Path

from mug_core.configurations import experiment_config
from mug_core.configurations.configuration_constants import PolicyTypes
from mug_core.scenes import stager, static_scene
from mug_core.scenes.gym_scene import GymScene
from mug_core.server import app

HERE = Path(__file__).resolve().parent

start = (
    static_scene.StartScene()
    .scene(scene_id="start")
    .display(
        scene_header="Mountain Car",
        scene_body="<p>Get the car to the flag. Use <kbd>&larr;</kbd> and <kbd>&rarr;</kbd>: "
        "rock back and forth to build up speed.</p>",
    )
)

game = (
    GymScene()
    .scene(scene_id="mountain_car")
    .policies(policy_mapping={"human": PolicyTypes.Human})
    .rendering(fps=30, game_width=600, game_height=400, background="#dff1ff")
    .runtime(
        environment_initialization_code_filepath=HERE / "env_file.py",
        packages_to_install=["gymnasium"],
    )
    .gameplay(
        action_mapping={"ArrowLeft": 0, "ArrowRight": 2},
        default_action=1,
        num_episodes=2,
        max_steps=600,
    )
)

end = static_scene.EndScene().scene(scene_id="end").display(scene_header="Thanks for playing!")

config = (
    experiment_config.ExperimentConfig()
    .experiment(stager=stager.Stager(scenes=[start, game, end]), experiment_id="mountain_car")
    .hosting(port=8000)
)

if __name__ == "__main__":
    app.run(config)
