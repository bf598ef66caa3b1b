"""Scenes and the Stager that orders them."""

from mug_core.scenes.scene import Response, Scene, SceneContext
from mug_core.scenes.stager import Branch, RandomizeOrder, RepeatScene, Stager
from mug_core.scenes.static_scene import CompletionCodeScene, EndScene, StartScene, StaticScene
from mug_core.scenes.survey import FreeText, Likert, MultipleChoice, Question, SurveyScene

__all__ = [
    "Branch",
    "CompletionCodeScene",
    "EndScene",
    "FreeText",
    "Likert",
    "MultipleChoice",
    "Question",
    "RandomizeOrder",
    "RepeatScene",
    "Response",
    "Scene",
    "SceneContext",
    "Stager",
    "StartScene",
    "StaticScene",
    "SurveyScene",
]
