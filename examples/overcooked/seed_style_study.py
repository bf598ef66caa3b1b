"""The Multi-User Gymnasium Overcooked script, as its users write it, running on MUG.

Only three things differ from the original: ``mug`` is ``mug_core``, there is no eventlet
(the server is asyncio), and the env steps on the study server (``runtime="server"``), since
CoGrid needs numpy. The partner is the ONNX policy ``cramped_room_policy.onnx`` when that file
sits beside this script (export a policy trained in ``cogrid.make("Overcooked-CrampedRoom-V0")``,
observation input ``input``, logits output ``logits``; needs ``mug-core[onnx]``), and the
scripted chef of ``env_file.py`` otherwise.

Run it with ``mug run examples/overcooked/seed_style_study.py`` and open http://localhost:8000/.
"""

from pathlib import Path

from mug_core.configurations import experiment_config
from mug_core.configurations.configuration_constants import (
    HeuristicPolicy,
    ModelConfig,
    PolicyTypes,
)
from mug_core.scenes import gym_scene, stager, static_scene
from mug_core.server import app

HERE = Path(__file__).resolve().parent
POLICY = HERE / "cramped_room_policy.onnx"

policy_mapping = {
    0: PolicyTypes.Human,
    1: ModelConfig(
        onnx_path=POLICY,
        obs_input="input",
        logit_output="logits",
    )
    if POLICY.is_file()
    else HeuristicPolicy("env:chef"),
}

game = (
    gym_scene.GymScene()
    .scene(scene_id="overcooked_game")
    .policies(policy_mapping=policy_mapping)
    .rendering(fps=8, game_width=480, game_height=440)
    .runtime(
        # A file that initializes the environment
        # and stores it in a global variable `env`
        #   from overcooked_mug_env import OvercookedMUG
        #   env = OvercookedMUG()
        environment_initialization_code_filepath=HERE / "env_file.py",
        runtime="server",
    )
    .gameplay(
        # arrow keys move (0 up, 1 down, 2 left, 3 right), space picks up and puts down (4)
        action_mapping={"ArrowUp": 0, "ArrowDown": 1, "ArrowLeft": 2, "ArrowRight": 3, " ": 4},
        default_action=6,
        input_mode="single_keystroke",
    )
)

start = (
    static_scene.StartScene()
    .scene(scene_id="start")
    .display(
        scene_header="Welcome",
        scene_body="You'll play Overcooked with an AI partner. Press continue to begin.",
    )
)
end = (
    static_scene.EndScene()
    .scene(scene_id="end")
    .display(
        scene_header="Thanks!",
        scene_body="You're all done.",
    )
)

app.run(
    experiment_config.ExperimentConfig()
    .experiment(
        stager=stager.Stager(scenes=[start, game, end]),
        experiment_id="overcooked_hai",
    )
    .hosting(port=8000)
)
