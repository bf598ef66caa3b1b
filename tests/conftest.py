"""Shared fixtures: study configs, a real server, python-socketio clients."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mug_core import (
    CompletionCodeScene,
    ExperimentConfig,
    FreeText,
    Likert,
    MultipleChoice,
    Stager,
    StartScene,
    StaticScene,
    SurveyScene,
)
from tests.support import jsonl_sink


def survey_study(tmp_path: Path, *, sink: str = "jsonl") -> ExperimentConfig:
    """Consent, instructions, a survey with every question kind, and a completion code."""
    start = StartScene().scene("consent").display(scene_header="Welcome").consent("I agree.")
    info = StaticScene().scene("instructions").display(scene_header="Instructions")
    survey = (
        SurveyScene()
        .scene("survey")
        .display(scene_header="Questions")
        .questions(
            Likert("fun", "It was fun.", scale=5, labels=("No", "Yes")),
            MultipleChoice("hand", "Hand?", options=["Left", "Right"]),
            MultipleChoice(
                "genres", "Genres?", options=["A", "B", "C"], multi=True, required=False
            ),
            FreeText("comments", "Comments?", required=False),
        )
    )
    end = CompletionCodeScene().scene("end").display(scene_header="Thanks")
    config = (
        ExperimentConfig()
        .experiment(stager=Stager(scenes=[start, info, survey, end]), experiment_id="study")
        .data(data_dir=tmp_path / "data", sinks=[sink])
    )
    if sink == "jsonl":
        config.plugins(allow=[], extra={"test_jsonl": jsonl_sink})
    return config


@pytest.fixture
def study_config(tmp_path: Path) -> ExperimentConfig:
    return survey_study(tmp_path)
