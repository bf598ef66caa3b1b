"""Built-in scene types: static pages, start, end, completion code and surveys."""

from __future__ import annotations

from typing import Any

from mug_core.plugins import hookimpl
from mug_core.registry import Registry
from mug_core.scenes import CompletionCodeScene, EndScene, StartScene, StaticScene, SurveyScene
from mug_core.scenes.gym_scene import GymScene


@hookimpl
def mug_register_scene_types(register: Registry[Any]) -> None:
    scene_classes = (StaticScene, StartScene, EndScene, CompletionCodeScene, SurveyScene, GymScene)
    for scene_class in scene_classes:
        register(scene_class.scene_type, scene_class)
