"""``GymScene.multiplayer()``: options, start-up checks, and the spec the page's runtime gets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from mug_p2p import runtime

from mug_core.configurations.configuration_constants import PolicyTypes
from mug_core.plugins import PluginHost
from mug_core.scenes.gym_scene import GymScene
from mug_core.scenes.scene import SceneContext

SLIME = Path(__file__).resolve().parents[3] / "examples" / "slime_volleyball"
STATELESS_ENV = """
class Env:
    possible_agents = ["a", "b"]
    def reset(self, seed=None):
        return {"a": 0, "b": 0}, {}
    def step(self, actions):
        return {}, {}, {}, {}, {}
env = Env()
"""


def duel(**multiplayer: Any) -> GymScene:
    return (
        GymScene()
        .scene("duel")
        .policies({"agent_left": PolicyTypes.Human, "agent_right": PolicyTypes.Human})
        .runtime(environment_initialization_code_filepath=SLIME / "env_file.py")
        .gameplay(action_mapping={"ArrowLeft": 1}, default_action=0)
        .multiplayer(**multiplayer)
    )


def registries(*, with_p2p: bool) -> Any:
    """The built-in plugins, mug-pyodide's ``browser`` runtime and, if asked, ``p2p``."""
    browser = pytest.importorskip("mug_pyodide.plugin", reason="needs the browser runtime")
    extra: list[tuple[str, Any]] = [("pyodide", browser)]
    if with_p2p:
        extra.append(("p2p_runtime", runtime))
    return PluginHost.load(allow=[], extra_plugins=extra).registries


def context(scene: GymScene) -> SceneContext:
    return SceneContext(
        participant_id="p1",
        answers={},
        experiment_id="x",
        scene_key="duel",
        scene_state={"group": {"game_id": "g", "members": {"p1": "agent_left"}}},
        max_payload_bytes=65536,
    )


def test_slime_duel_passes_every_check() -> None:
    scene = duel()
    assert scene.check() == []
    assert scene.plugin_problems(registries(with_p2p=True)) == []
    assert scene.peer_to_peer


def test_missing_plugin_says_what_to_install() -> None:
    problems = duel().plugin_problems(registries(with_p2p=False))
    assert any("pip install 'mug-core[p2p]'" in p for p in problems), problems


def test_env_without_state_methods_is_named() -> None:
    scene = (
        GymScene()
        .scene("duel")
        .policies({"a": PolicyTypes.Human, "b": PolicyTypes.Human})
        .runtime(environment_initialization_code=STATELESS_ENV)
        .gameplay(action_mapping={"x": 1})
        .multiplayer()
    )
    problems = scene.check()
    assert any("env.py" in p and "get_state() and set_state()" in p for p in problems), problems


def test_an_env_from_an_installed_package_is_left_to_the_page() -> None:
    # get_state() may be defined in the package: only the page, which builds the env, can tell.
    scene = (
        GymScene()
        .scene("duel")
        .policies({"a": PolicyTypes.Human, "b": PolicyTypes.Human})
        .runtime(environment_initialization_code="from some_package import make\nenv = make()\n")
        .gameplay(action_mapping={"x": 1})
        .multiplayer()
    )
    assert scene.check() == []


def test_one_human_is_not_a_multiplayer_game() -> None:
    scene = (
        GymScene()
        .scene("solo")
        .policies({"agent_left": PolicyTypes.Human, "agent_right": PolicyTypes.Random})
        .runtime(environment_initialization_code_filepath=SLIME / "env_file.py")
        .gameplay(action_mapping={"ArrowLeft": 1})
        .multiplayer()
    )
    assert any("two or more" in p for p in scene.check())
    assert not scene.peer_to_peer


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"input_delay": -1}, "input_delay"),
        ({"max_prediction": 65}, "max_prediction"),
        ({"transport": "carrier pigeon"}, "transport"),
        ({"ice_servers": ["http://example.org"]}, "stun:"),
        ({"ice_servers": [{"url": "stun:x"}]}, "urls"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        duel(**options)


def test_the_page_gets_the_p2p_runtime_and_its_options() -> None:
    scene = duel(
        input_delay=3,
        ice_servers=[
            "stun:stun.example.org:3478",
            {"urls": "turn:t.example.org", "username": "u", "credential": "c"},
        ],
        relay_only=True,
    ).reconnection(timeout_s=5, then="ai", replacement=PolicyTypes.Random)
    spec = scene.client_spec(context(scene))
    assert spec["runtime"] == "p2p"
    mp = spec["multiplayer"]
    assert mp["input_delay"] == 3 and mp["max_prediction"] == 8 and mp["checksum_interval"] == 30
    assert mp["relay_only"] is True and mp["transport"] == "webrtc"
    assert mp["ice_servers"][1] == {
        "urls": ["turn:t.example.org"],
        "username": "u",
        "credential": "c",
    }
    assert mp["rejoin_timeout_s"] == 5 and mp["after_timeout"] == "ai"
    assert mp["replacement"]["type"] == "random"


def test_engine_files_listed_for_the_page_are_the_engine() -> None:
    on_disk = sorted(p.name for p in runtime.ENGINE_DIR.glob("*.py"))
    assert sorted(runtime.ENGINE_FILES) == on_disk
    worker = (runtime.STATIC_DIR / "p2p_worker.js").read_text()
    listed = re.search(r"ENGINE_FILES = \[(.*?)\]", worker, re.S)
    assert listed is not None
    assert sorted(re.findall(r'"([^"]+\.py)"', listed.group(1))) == on_disk
