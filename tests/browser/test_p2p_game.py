"""Peer-to-peer Slime Volleyball end to end: two participants' pages, each running the env in its
own Pyodide, connected peer to peer, with Playwright key presses.

Each page loads Pyodide (about 3 s of CPU on this machine), so every test starts two pages.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mug_core.plugins import installed_entry_points
from mug_core.server.assets import find_vendor_file
from mug_core.testing import StudyServer
from tests.support.examples import load_example

pytestmark = pytest.mark.browser

pyodide_plugin = pytest.importorskip("mug_pyodide.plugin", reason="needs mug-pyodide")
p2p_runtime = pytest.importorskip("mug_p2p.runtime", reason="needs mug-p2p")
if "p2p" not in {ep.name for ep in installed_entry_points()}:
    pytest.skip("mug-p2p is not installed: pip install -e plugins/mug-p2p", allow_module_level=True)
if pyodide_plugin.pyodide_url() is None and find_vendor_file("pyodide/pyodide.asm.wasm") is None:
    pytest.skip(
        "Pyodide is not installed locally: run `mug assets install`", allow_module_level=True
    )

STEPS = 180
LEFT_PID, RIGHT_PID = "lefty", "righty"
PER_PEER_COLUMNS = ("participant_id", "seq")
"""Columns of a step file that name the participant who stored it (the rest is the game)."""


def _load_study() -> Any:
    return load_example("slime_volleyball/p2p_study.py")


def _config(tmp_path: Path, **options: Any) -> Any:
    config = _load_study().build_study(
        data_dir=tmp_path,
        experiment_id="p2p_duel",
        max_steps=STEPS,
        countdown_s=1,
        **options,
    )
    return config.plugins(allow=["storage", "pyodide", "p2p"])


@pytest.fixture
def pages(browser: Any) -> Iterator[tuple[Any, Any]]:
    """Two participants' pages, each in its own browser context (no shared storage)."""
    contexts = [browser.new_context(), browser.new_context()]
    for ctx in contexts:
        ctx.set_default_timeout(30_000)
    yield contexts[0].new_page(), contexts[1].new_page()
    for ctx in contexts:
        ctx.close()


def _join(page: Any, server: StudyServer, pid: str) -> None:
    page.goto(server.url(f"/{pid}"))
    page.click("#mug-continue")
    page.wait_for_selector("#mug-game")


def _wait_playing(page: Any) -> None:
    page.wait_for_function(
        "Number(document.querySelector('#mug-game')?.dataset.step ?? -1) >= 0", timeout=60_000
    )


def _hold(page: Any, key: str, seconds: float) -> None:
    page.keyboard.down(key)
    time.sleep(seconds)
    page.keyboard.up(key)


def _game_columns(path: Path) -> tuple[list[str], bytes]:
    """The step file without its per-participant columns, re-encoded the sink's way."""
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    keep = [i for i, name in enumerate(rows[0]) if name not in PER_PEER_COLUMNS]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([row[i] for i in keep])
    return rows[0], out.getvalue().encode()


def _same_game(folder: Path, episode: int) -> bytes:
    """Both pages' step files of ``episode``, which must hold the same game; its bytes."""
    _, left = _game_columns(folder / f"{LEFT_PID}_ep{episode}.csv")
    _, right = _game_columns(folder / f"{RIGHT_PID}_ep{episode}.csv")
    assert left == right, f"the pages recorded different games in episode {episode}"
    return left


def _events(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def _start_pair(server: StudyServer, left: Any, right: Any) -> None:
    _join(left, server, LEFT_PID)
    left.wait_for_selector("#mug-waiting")
    _join(right, server, RIGHT_PID)
    for page in (left, right):
        _wait_playing(page)


def _finish_pair(server: StudyServer, left: Any, right: Any, timeout_ms: int = 60_000) -> None:
    """Wait until both pages show their completion code and every record is stored."""
    for page in (left, right):
        page.wait_for_selector("#mug-completion-code", timeout=timeout_ms)
    server.flush()


def test_two_pages_play_p2p_and_store_identical_episodes(
    tmp_path: Path, pages: tuple[Any, Any]
) -> None:
    left, right = pages
    config = _config(tmp_path, num_episodes=2)
    with StudyServer(config) as server:
        _start_pair(server, left, right)
        left.keyboard.down("ArrowRight")
        right.keyboard.down("ArrowLeft")
        time.sleep(1.0)
        left.keyboard.up("ArrowRight")
        right.keyboard.up("ArrowLeft")
        _hold(right, "ArrowUp", 0.4)
        _finish_pair(server, left, right, timeout_ms=90_000)
    folder = config.study_dir / "slime_duel"
    header, left_bytes = _game_columns(folder / f"{LEFT_PID}_ep0.csv")
    _, right_bytes = _game_columns(folder / f"{RIGHT_PID}_ep0.csv")
    assert "participant_id" in header
    assert left_bytes == right_bytes
    # The second round is a new session: the pages meet again and agree again.
    left_again = _same_game(folder, 1)
    assert left_again != left_bytes
    assert len(left_again.splitlines()) == STEPS + 1
    rows = list(csv.DictReader(io.StringIO(left_bytes.decode())))
    assert [int(r["step"]) for r in rows] == list(range(STEPS))
    actions = [json.loads(r["actions"]) for r in rows]
    assert any(a["agent_left"] == 2 for a in actions), "the left page's ArrowRight is recorded"
    assert any(a["agent_right"] == 1 for a in actions), "the right page's ArrowLeft is recorded"
    assert any(a["agent_right"] == 3 for a in actions), "the right page's jump is recorded"
    assert float(rows[30]["t"]) == pytest.approx(1000.0)  # game time, the same on both pages
    for pid in (LEFT_PID, RIGHT_PID):
        events = _events(folder / f"{pid}_ep0_events.csv")
        metrics = [json.loads(e["data"]) for e in events if e["type"] == "p2p_metrics"]
        assert metrics and metrics[-1]["final"] is True
        assert metrics[-1]["desyncs"] == 0 and metrics[-1]["checksums_compared"] > 0
        assert metrics[-1]["input_delay"] == 2
        connections = [json.loads(e["data"]) for e in events if e["type"] == "p2p_connection"]
        assert connections and connections[0]["via"] in ("webrtc", "relay")


@pytest.mark.parametrize("outcome", ["end", "ai"])
def test_a_peer_closing_its_tab_ends_the_game_or_hands_over_to_ai(
    tmp_path: Path, pages: tuple[Any, Any], outcome: str
) -> None:
    left, right = pages
    config = _config(tmp_path, after_timeout=outcome, rejoin_timeout_s=2.0)
    with StudyServer(config) as server:
        _start_pair(server, left, right)
        time.sleep(1.0)
        right.close()
        if outcome == "end":
            error = left.wait_for_selector("#mug-game-error:not([hidden])", timeout=20_000)
            assert "Your partner left, so this game has ended." in error.inner_text()
            left.click("#mug-game-continue")
        left.wait_for_selector("#mug-completion-code", timeout=60_000)
        server.flush()
    folder = config.study_dir / "slime_duel"
    events = _events(folder / f"{LEFT_PID}_ep0_events.csv")
    gone = [json.loads(e["data"]) for e in events if e["type"] == "p2p_disconnect"]
    assert any(g["state"] == "gone" and g["outcome"] == outcome for g in gone), gone
    rows = list(csv.DictReader((folder / f"{LEFT_PID}_ep0.csv").open(newline="")))
    if outcome == "ai":
        # The episode was played to its end, the departed player's agent acting at random.
        assert [int(r["step"]) for r in rows] == list(range(STEPS))
        late = {json.loads(r["actions"])["agent_right"] for r in rows[-60:]}
        assert len(late) > 2
    else:
        assert len(rows) < STEPS


@pytest.mark.parametrize("without", ["study_option", "browser_support"])
def test_without_webrtc_the_server_relay_carries_the_game(
    tmp_path: Path, pages: tuple[Any, Any], without: str
) -> None:
    left, right = pages
    if without == "study_option":
        config = _config(tmp_path, transport="relay")
    else:  # pages whose browser has no WebRTC, in a study that asks for it
        config = _config(tmp_path)
        for page in pages:
            page.add_init_script("delete globalThis.RTCPeerConnection;")
    with StudyServer(config) as server:
        _start_pair(server, left, right)
        _hold(left, "ArrowLeft", 0.6)
        _hold(right, "ArrowRight", 0.6)
        _finish_pair(server, left, right)
    folder = config.study_dir / "slime_duel"
    left_bytes = _same_game(folder, 0)
    rows = list(csv.DictReader(io.StringIO(left_bytes.decode())))
    assert any(json.loads(r["actions"])["agent_left"] == 1 for r in rows)
    assert any(json.loads(r["actions"])["agent_right"] == 2 for r in rows)
    for pid in (LEFT_PID, RIGHT_PID):
        events = _events(folder / f"{pid}_ep0_events.csv")
        vias = {json.loads(e["data"]).get("via") for e in events if e["type"] == "p2p_connection"}
        assert vias == {"relay"}
        final = [json.loads(e["data"]) for e in events if e["type"] == "p2p_metrics"][-1]
        assert final["desyncs"] == 0
        assert all(peer["via"] == "relay" for peer in final["peers"].values())


def test_latency_is_rolled_back_and_a_silent_peer_pauses_the_game(
    tmp_path: Path, pages: tuple[Any, Any]
) -> None:
    left, right = pages
    for page in (left, right):
        # About 200 ms round trips: inputs arrive after the 2 frames of input delay.
        page.add_init_script("globalThis.mugP2PNetem = {delayMs: 95, jitterMs: 10, loss: 0};")
    config = _config(tmp_path)
    with StudyServer(config) as server:
        _start_pair(server, left, right)
        _hold(left, "ArrowRight", 0.5)
        _hold(right, "ArrowLeft", 0.5)
        # The right page's inputs stop reaching the left one: the left game waits, says so,
        # and goes on when they arrive again.
        left.evaluate("globalThis.mugP2PNetem.loss = 1")
        pause = left.wait_for_selector("#mug-p2p-pause:not([hidden])", timeout=10_000)
        assert "Waiting for the other player" in pause.inner_text()
        time.sleep(1.0)
        left.evaluate("globalThis.mugP2PNetem.loss = 0")
        left.wait_for_selector("#mug-p2p-pause", state="hidden", timeout=10_000)
        _finish_pair(server, left, right)
    folder = config.study_dir / "slime_duel"
    _same_game(folder, 0)
    events = _events(folder / f"{LEFT_PID}_ep0_events.csv")
    stalls = [json.loads(e["data"]) for e in events if e["type"] == "p2p_stall"]
    assert any(s["type"] == "resumed" and s["ticks"] > 15 for s in stalls), stalls
    finals = [
        [json.loads(e["data"]) for e in _events(path) if e["type"] == "p2p_metrics"][-1]
        for path in (folder / f"{LEFT_PID}_ep0_events.csv", folder / f"{RIGHT_PID}_ep0_events.csv")
    ]
    assert sum(final["rollbacks"] for final in finals) > 0
    assert all(final["desyncs"] == 0 and final["max_rollback_depth"] <= 8 for final in finals)


def test_a_lost_peer_pauses_the_game_until_it_comes_back(
    tmp_path: Path, pages: tuple[Any, Any]
) -> None:
    left, right = pages
    left.add_init_script("globalThis.mugP2PNetem = {loss: 0};")
    config = _config(tmp_path, rejoin_timeout_s=30.0)
    with StudyServer(config) as server:
        _start_pair(server, left, right)
        # Nothing from the right page reaches the left one for a while: its link is lost.
        left.evaluate("globalThis.mugP2PNetem.loss = 1")
        left.wait_for_selector("text=Your partner's connection was lost.", timeout=15_000)
        left.evaluate("globalThis.mugP2PNetem.loss = 0")
        left.wait_for_selector("#mug-p2p-pause", state="hidden", timeout=15_000)
        _finish_pair(server, left, right)
    folder = config.study_dir / "slime_duel"
    left_bytes = _same_game(folder, 0)
    assert len(left_bytes.splitlines()) == STEPS + 1
    events = _events(folder / f"{LEFT_PID}_ep0_events.csv")
    states = [json.loads(e["data"])["state"] for e in events if e["type"] == "p2p_disconnect"]
    assert states[:2] == ["lost", "back"] and "gone" not in states


def test_a_page_whose_main_thread_stalls_catches_up_and_agrees(
    tmp_path: Path, pages: tuple[Any, Any]
) -> None:
    """What a background tab goes through: its page's own thread runs late (timers throttled,
    messages held back) while the simulation's worker goes on; afterwards it catches up and
    records the same game as its partner."""
    left, right = pages
    config = _config(tmp_path)
    with StudyServer(config) as server:
        _start_pair(server, left, right)
        before = int(left.get_attribute("#mug-game", "data-step") or 0)
        # The stall starts from a timer, so this call returns at once; the partner's key goes
        # down just after, so its inputs reach the stalled page only once the stall is over.
        left.evaluate(
            "() => { setTimeout(() => {"
            " const end = performance.now() + 3000; while (performance.now() < end); }, 0); }"
        )
        right.keyboard.down("ArrowLeft")
        time.sleep(1.0)
        right.keyboard.up("ArrowLeft")
        time.sleep(2.5)  # past the stall
        left.wait_for_function(
            f"Number(document.querySelector('#mug-game')?.dataset.step ?? -1) > {before + 60}",
            timeout=30_000,
        )
        _finish_pair(server, left, right)
    folder = config.study_dir / "slime_duel"
    left_bytes = _same_game(folder, 0)
    assert len(left_bytes.splitlines()) == STEPS + 1
    final = [
        json.loads(e["data"])
        for e in _events(folder / f"{LEFT_PID}_ep0_events.csv")
        if e["type"] == "p2p_metrics"
    ][-1]
    assert final["desyncs"] == 0
    # The partner's inputs were held back: the page predicted to the window's end, waited, then
    # rolled back once they arrived.
    assert final["max_rollback_depth"] > 0 and final["stalled_ticks"] > 0
