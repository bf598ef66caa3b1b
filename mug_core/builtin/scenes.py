"""Built-in scene types: static pages, start, end, completion code and surveys."""

from __future__ import annotations

from typing import Any

from mug_core.plugins import hookimpl
from mug_core.registry import Registry
from mug_core.scenes import CompletionCodeScene, EndScene, StartScene, StaticScene, SurveyScene


@hookimpl
def mug_register_scene_types(register: Registry[Any]) -> None:
    for scene_class in (StaticScene, StartScene, EndScene, CompletionCodeScene, SurveyScene):
        register(scene_class.scene_type, scene_class)
