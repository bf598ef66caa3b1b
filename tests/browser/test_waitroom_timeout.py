"""A participant waits alone in Chromium; the waiting room's timeout does what the study says.

The game (slime volleyball) runs in the ``server`` runtime, so the page needs no Pyodide; nobody
is ever grouped, so no game starts.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from mug_core import EndScene, ExperimentConfig, PolicyTypes, Stager, StaticScene
from mug_core.scenes.gym_scene import GymScene
from mug_core.testing import StudyServer, free_port
from tests.support import jsonl_sink
from tests.support.jsonl_sink import read_records

pytest.importorskip("mug_server_runtime", reason="needs mug-server-runtime")
pytestmark = pytest.mark.browser

TIMEOUT_S = 2.5
SLIME = Path(__file__).resolve().parents[2] / "examples" / "slime_volleyball"


def _study(tmp_path: Path, **waitroom: Any) -> ExperimentConfig:
    game = (
        GymScene()
        .scene("duel")
        .policies(
            policy_mapping={"agent_left": PolicyTypes.Human, "agent_right": PolicyTypes.Human}
        )
        .runtime(environment_initialization_code_filepath=SLIME / "env_file.py", runtime="server")
        .gameplay(action_mapping={"ArrowLeft": 1})
        .waitroom(timeout=TIMEOUT_S, **waitroom)
    )
    sorry = StaticScene().scene("sorry").display(scene_header="No partner today")
    config = (
        ExperimentConfig()
        .experiment(stager=Stager([game, sorry, EndScene().scene("end")]), experiment_id="wr")
        .data(data_dir=tmp_path, sinks=["jsonl"])
    )
    config.plugins(allow=["server_runtime"], extra={"jsonl": jsonl_sink})
    return config


def _waits_alone(page: Any, server: StudyServer, pid: str) -> None:
    """The page shows the waiting room, counts the time, and reports its round trip."""
    page.goto(server.url(f"/{pid}"))
    page.wait_for_selector("#mug-waiting")
    assert "1 of 2 here" in page.inner_text("#mug-waiting")
    page.wait_for_function(
        "document.querySelector('#mug-waiting').textContent.includes('(0:01)')", timeout=5_000
    )
    assert server.server is not None
    entry = server.server.waiting.rooms["duel"].waiting.get(pid)
    assert entry is not None and entry.rtt_ms is not None and 0 <= entry.rtt_ms < 1000


def test_a_timeout_redirects_to_the_study_url(tmp_path: Path, context: Any) -> None:
    port = free_port()
    back = f"http://127.0.0.1:{port}/healthz?from={{participant_id}}"
    config = _study(tmp_path, timeout_redirect_url=back, timeout_message="Nobody came.")
    with StudyServer(config, port=port) as server:
        page = context.new_page()
        _waits_alone(page, server, "redirected")
        page.wait_for_function(
            "document.querySelector('#mug-waiting').textContent === 'Nobody came.'",
            timeout=10_000,
        )
        page.wait_for_url(re.compile(r"/healthz\?from=redirected$"), timeout=10_000)


def test_a_timeout_moves_the_page_to_the_named_scene(tmp_path: Path, context: Any) -> None:
    with StudyServer(_study(tmp_path, timeout_scene_id="sorry")) as server:
        page = context.new_page()
        _waits_alone(page, server, "moved")
        page.wait_for_selector("text=No partner today", timeout=10_000)
        assert page.query_selector("#mug-waiting") is None


def test_a_timeout_shows_a_completion_code_that_is_recorded(tmp_path: Path, context: Any) -> None:
    config = _study(tmp_path, timeout_completion_code=True, timeout_message="Thanks for waiting.")
    with StudyServer(config) as server:
        page = context.new_page()
        started = time.monotonic()
        _waits_alone(page, server, "coded")
        page.wait_for_selector("#mug-waitroom-code", timeout=10_000)
        assert time.monotonic() - started >= TIMEOUT_S - 0.5
        code = page.inner_text("#mug-waitroom-code")
        assert re.fullmatch(r"[A-Z2-9]{10}", code)
        assert page.inner_text("#mug-waiting") == "Thanks for waiting."
        page.reload()  # the outcome is kept: a reload shows the same code
        page.wait_for_selector("#mug-waitroom-code")
        assert page.inner_text("#mug-waitroom-code") == code
        server.flush()
    records = read_records(config.study_dir / "records.jsonl")
    metadata = [r["values"] for r in records if r["kind"] == "participant"]
    assert metadata[-1]["participant_id"] == "coded"
    assert metadata[-1]["completion_code"] == code
