"""Env files on the server: each game gets its own env; games of one scene share its modules."""

from __future__ import annotations

import sys
from pathlib import Path

from mug_server_runtime.envload import EnvFiles

from mug_core.scenes.gym_scene import GymScene

ENV = "import helper\nenv = helper.Env()\n"
HELPER = "built = []\n\nclass Env:\n    def __init__(self):\n        built.append(self)\n"


def _scene(tmp_path: Path, key: str, helper: str = HELPER) -> GymScene:
    folder = tmp_path / key
    folder.mkdir()
    (folder / "helper.py").write_text(helper)
    return (
        GymScene()
        .scene(key)
        .runtime(
            environment_initialization_code=ENV,
            python_files=[folder / "helper.py"],
            runtime="server",
        )
    )


def _build(files: EnvFiles) -> dict:
    with files.importable():
        return files.namespace()


def test_games_of_one_scene_share_its_modules_but_not_their_envs(tmp_path: Path) -> None:
    scene = _scene(tmp_path, "shared")
    first, second = EnvFiles.for_scene(scene), EnvFiles.for_scene(scene)
    assert first is second
    one, two = _build(first), _build(second)
    assert one["env"] is not two["env"]
    assert one["helper"] is two["helper"]  # one copy of the code for every game
    assert one["helper"].built == [one["env"], two["env"]]
    assert "helper" not in sys.modules  # only importable while a game is being built


def test_scenes_keep_their_own_modules_of_the_same_name(tmp_path: Path) -> None:
    other = HELPER.replace("built = []", "built = ['other']")
    one = _build(EnvFiles.for_scene(_scene(tmp_path, "first")))
    two = _build(EnvFiles.for_scene(_scene(tmp_path, "second", other)))
    assert one["helper"] is not two["helper"]
    assert two["helper"].built[0] == "other" and one["helper"].built == [one["env"]]
