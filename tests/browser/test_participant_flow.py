"""A participant in real Chromium against a real server: consent, survey, completion code."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from mug_core.testing import StudyServer
from tests.conftest import survey_study

pytestmark = pytest.mark.browser


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def _consent(page: Any) -> None:
    page.wait_for_selector("#mug-consent")
    page.click("#mug-continue")
    page.wait_for_selector('.mug-error[data-for="consent"]:not(:empty)')
    page.check("#mug-consent")
    page.click("#mug-continue")


def _to_instructions(page: Any) -> None:
    page.wait_for_selector("#mug-consent")
    page.check("#mug-consent")
    page.click("#mug-continue")
    page.wait_for_selector("text=Instructions")


def _survey(page: Any) -> None:
    page.wait_for_selector('[data-question="fun"]')
    page.click("#mug-continue")  # nothing answered: the server refuses the required ones
    page.wait_for_selector('.mug-error[data-for="fun"]:not(:empty)')
    assert page.locator('.mug-error[data-for="hand"]').inner_text().strip()
    assert not page.locator('.mug-error[data-for="comments"]').inner_text().strip()
    page.check('input[name="fun"][value="4"]')
    page.check('input[name="hand"][value="Right"]')
    page.check('input[name="genres"][value="C"]')
    page.check('input[name="genres"][value="A"]')
    page.fill('[name="comments"]', 'Fun, but the survey was long, "really".')
    page.click("#mug-continue")


def test_consent_survey_and_completion_code_are_recorded_exactly(
    tmp_path: Path, context: Any
) -> None:
    config = survey_study(tmp_path, sink="csv")
    with StudyServer(config) as server:
        page = context.new_page()
        page.goto(server.url("/PID123?PROLIFIC_PID=PID123&STUDY_ID=st1&SESSION_ID=se1"))
        _consent(page)
        page.wait_for_selector("text=Instructions")
        page.click("#mug-continue")
        _survey(page)
        code = page.wait_for_selector("#mug-completion-code").inner_text().strip()
    assert len(code) == 10

    study = config.study_dir
    meta = json.loads((study / "metadata" / "PID123.json").read_text())
    assert meta["query_parameters"] == {
        "PROLIFIC_PID": "PID123",
        "STUDY_ID": "st1",
        "SESSION_ID": "se1",
    }
    assert meta["completion_code"] == code
    assert "Chrome" in meta["user_agent"]
    assert [s["scene_key"] for s in meta["scenes"]] == ["consent", "instructions", "survey"]
    (consent,) = _csv_rows(study / "consent" / "PID123.csv")
    assert consent["consent"] == "true"
    (row,) = _csv_rows(study / "survey" / "PID123.csv")
    assert row["fun"] == "4" and row["hand"] == "Right"
    assert json.loads(row["genres"]) == ["A", "C"]
    assert row["comments"] == 'Fun, but the survey was long, "really".'
    assert float(row["started_at"]) <= float(row["ended_at"])


def test_a_refresh_mid_study_resumes_at_the_same_scene(tmp_path: Path, context: Any) -> None:
    with StudyServer(survey_study(tmp_path, sink="csv")) as server:
        page = context.new_page()
        page.goto(server.url("/refresher"))
        _to_instructions(page)
        page.reload()
        page.wait_for_selector("text=Instructions")
        page.click("#mug-continue")
        page.wait_for_selector('[data-question="fun"]')


def test_a_server_restart_mid_study_resumes(tmp_path: Path, context: Any) -> None:
    server = StudyServer(survey_study(tmp_path, sink="csv")).start()
    page = context.new_page()
    page.goto(server.url("/restarter"))
    _to_instructions(page)
    server.stop()
    restarted = StudyServer(survey_study(tmp_path, sink="csv"), port=server.port).start()
    try:
        # socket.io reconnects by itself; the page resumes where it was and can go on.
        page.wait_for_selector("text=Instructions")
        page.click("#mug-continue")
        page.wait_for_selector('[data-question="fun"]')
    finally:
        restarted.stop()


def test_a_second_tab_is_told_to_continue_in_the_first(tmp_path: Path, context: Any) -> None:
    with StudyServer(survey_study(tmp_path)) as server:
        first = context.new_page()
        first.goto(server.url("/twotabs"))
        first.wait_for_selector("#mug-consent")
        second = context.new_page()
        second.goto(server.url("/twotabs"))
        second.wait_for_selector("text=already open in another tab")
        first.check("#mug-consent")
        first.click("#mug-continue")
        first.wait_for_selector("text=Instructions")


def test_a_hostile_participant_id_gets_a_clear_page(tmp_path: Path, context: Any) -> None:
    with StudyServer(survey_study(tmp_path)) as server:
        page = context.new_page()
        response = page.goto(server.url("/..%2F..%2Fetc%2Fpasswd"))
        assert response is not None and response.status in (400, 404)
        response = page.goto(server.url("/evil%3Cscript%3E"))
        assert response is not None and response.status == 400
        assert "not valid" in page.content()
        assert not any(p.name.startswith("evil") for p in tmp_path.rglob("*"))
