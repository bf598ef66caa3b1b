"""A player's keys become actions as the scene maps them, whatever Shift or Caps Lock did."""

from __future__ import annotations

from mug_server_runtime.actors import KeyState

from mug_core.scenes.gym_scene import GymScene


def _keys(**gameplay: object) -> KeyState:
    scene = (
        GymScene()
        .scene("g")
        .gameplay(
            action_mapping={"x": 5, ("ArrowLeft", "ArrowUp"): 4, "ArrowLeft": 1},
            default_action=0,
            **gameplay,
        )
    )
    return KeyState(scene)


def test_a_letter_key_matches_with_shift_or_caps_lock() -> None:
    keys = _keys()
    keys.key("X", True)  # Caps Lock on
    assert keys.action() == 5
    keys.key("x", False)  # released after Caps Lock went off
    assert keys.action() == 0


def test_the_longest_held_combination_wins_and_named_keys_keep_their_case() -> None:
    keys = _keys()
    keys.key("ArrowLeft", True)
    assert keys.action() == 1
    keys.key("ArrowUp", True)
    assert keys.action() == 4
    keys.key("arrowleft", False)  # not the same key
    assert keys.action() == 4


def test_a_single_keystroke_acts_once() -> None:
    keys = _keys(input_mode="single_keystroke")
    keys.key("X", True)
    assert keys.action() == 5
    assert keys.action() == 0
