from __future__ import annotations

from pathlib import Path

import pytest

from mug_core import (
    ConfigError,
    EndScene,
    ExperimentConfig,
    Likert,
    MultipleChoice,
    PluginHost,
    Stager,
    StaticScene,
    SurveyScene,
)
from mug_core.server.app import create_server
from tests.conftest import survey_study


def _host() -> PluginHost:
    from tests.support import jsonl_sink

    return PluginHost.load(entry_points=[], extra_plugins=[("jsonl", jsonl_sink)])


def test_a_valid_study_has_no_problems(tmp_path: Path) -> None:
    config = survey_study(tmp_path)
    assert config.problems(_host().registries) == []


def test_every_problem_is_reported_at_once_with_what_to_change() -> None:
    a = StaticScene().scene("same")
    b = StaticScene().scene("same")
    config = ExperimentConfig().experiment(stager=Stager([a, b, StaticScene()]))
    config.data(sinks=["nope"])
    with pytest.raises(ConfigError) as info:
        config.validate(_host())
    text = str(info.value)
    assert "no experiment_id: call .experiment(experiment_id=" in text
    assert "two different scenes use scene_id 'same'" in text
    assert "has no scene_id: call .scene(scene_id=...)" in text
    assert "data sink 'nope' is not installed" in text
    assert "last scene should be an EndScene" in text


def test_missing_csv_sink_says_which_extra_to_install() -> None:
    config = ExperimentConfig().experiment(
        stager=Stager([EndScene().scene("end")]), experiment_id="x"
    )
    host = PluginHost.load(entry_points=[])
    problems = config.problems(host.registries)
    assert any("pip install 'mug-core[storage]'" in p for p in problems)


def test_scene_type_without_a_plugin_is_reported() -> None:
    class Fancy(StaticScene):
        scene_type = "fancy"

    config = ExperimentConfig().experiment(
        stager=Stager([Fancy().scene("f"), EndScene().scene("end")]), experiment_id="x"
    )
    problems = config.problems(_host().registries)
    assert any("no installed plugin provides that scene type" in p for p in problems)


def test_create_server_refuses_a_broken_study_before_serving(tmp_path: Path) -> None:
    config = survey_study(tmp_path).experiment(experiment_id="bad id!")
    with pytest.raises(ConfigError, match="experiment_id must be"):
        create_server(config)


def test_builder_argument_mistakes_raise_immediately() -> None:
    with pytest.raises(ValueError, match="scene_id"):
        StaticScene().scene("../etc")
    with pytest.raises(ValueError, match="scale must be 2 to 11"):
        Likert("q", "prompt", scale=1)
    with pytest.raises(ValueError, match="at least two options"):
        MultipleChoice("q", "prompt", options=["only"])
    with pytest.raises(ValueError, match="question ids must be unique"):
        SurveyScene().questions(Likert("q", "a"), Likert("q", "b"))
    with pytest.raises(TypeError, match="not a scene"):
        Stager(["start"])
    with pytest.raises(ValueError, match="redirect"):
        EndScene().redirect("javascript:alert(1)")
    with pytest.raises(ValueError, match="scene_body or scene_body_filepath"):
        StaticScene().display(scene_body="x", scene_body_filepath="y")


def test_survey_validation_is_done_on_the_server() -> None:
    from mug_core.scenes import FreeText, SceneContext

    scene = (
        SurveyScene()
        .scene("s")
        .questions(
            Likert("fun", "Fun?", scale=5),
            MultipleChoice("hand", "Hand?", options=["L", "R"]),
            MultipleChoice("many", "Many?", options=["a", "b", "c"], multi=True),
            FreeText("text", "Text?", required=False, max_length=5),
        )
    )
    ctx = SceneContext(participant_id="p", scene_key="s", answers={})
    empty = scene.handle_response({"answers": {}}, ctx)
    assert set(empty.errors) == {"fun", "hand", "many"}
    bad = scene.handle_response(
        {"answers": {"fun": 9, "hand": "X", "many": ["a", "z"], "text": "toolong"}}, ctx
    )
    assert set(bad.errors) == {"fun", "hand", "many", "text"}
    good = scene.handle_response(
        {"answers": {"fun": "4", "hand": "R", "many": ["c", "a"], "text": " hi "}}, ctx
    )
    assert good.ok
    assert good.values == {"fun": 4, "hand": "R", "many": ["a", "c"], "text": "hi"}
    assert not scene.handle_response({"answers": "nope"}, ctx).ok


def test_end_scene_redirect_appends_the_participant_id() -> None:
    url = "https://app.prolific.com/submissions/complete?cc="
    end = EndScene().scene("end").redirect(url, append_subject_id=True)
    assert end.redirect_for("abc") == "https://app.prolific.com/submissions/complete?cc=abc"
    templated = EndScene().redirect("https://example.org/done/{participant_id}")
    assert templated.redirect_for("p9") == "https://example.org/done/p9"
