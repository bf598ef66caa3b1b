"""The peer transport in real Chromium pages against a real study server.

Each participant is its own browser context (as two people on two machines). The pages join a
game scene's waiting room, get their group, and open ``p2p_transport.js``: over WebRTC
DataChannels when they connect, over the server relay when WebRTC is off, missing, does not
connect, or dies. The server records every connection change.
"""

from __future__ import annotations

import csv
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mug_core import EndScene, ExperimentConfig, PolicyTypes, Stager
from mug_core.plugins import hookimpl
from mug_core.scenes.gym_scene import GymScene
from mug_core.server.assets import ClientAssets
from mug_core.testing import StudyServer

pytestmark = pytest.mark.browser

pytest.importorskip("mug_p2p.plugin", reason="needs mug-p2p")
pytest.importorskip("mug_storage", reason="needs mug-storage (csv sink)")

PAGES = Path(__file__).resolve().parent / "pages" / "p2p"
NO_WEBRTC = "delete window.RTCPeerConnection; delete window.webkitRTCPeerConnection;"


def _test_plugin() -> types.ModuleType:
    """Serves the test page (``/static/p2p-test/``) and stands in for the ``browser`` runtime."""
    module = types.ModuleType("p2p_transport_test_plugin")

    def assets(register: Any) -> None:
        register("p2p-test", ClientAssets(static_dir=PAGES))

    def runtimes(register: Any) -> None:
        register("browser", object())

    module.mug_register_client_assets = hookimpl(assets)  # type: ignore[attr-defined]
    module.mug_register_runtimes = hookimpl(runtimes)  # type: ignore[attr-defined]
    return module


def _config(tmp_path: Path, players: int) -> ExperimentConfig:
    humans = {f"agent{i}": PolicyTypes.Human for i in range(players)}
    game = (
        GymScene()
        .scene("duel")
        .policies(policy_mapping=humans)
        .runtime(environment_initialization_code="env = None\n")
        .gameplay(action_mapping={"ArrowLeft": 1})
    )
    config = (
        ExperimentConfig()
        .experiment(stager=Stager([game, EndScene().scene("end")]), experiment_id="p2pt")
        .data(data_dir=tmp_path, sinks=["csv"])
    )
    return config.plugins(allow=["storage", "p2p"], extra={"p2p_test": _test_plugin()})


@pytest.fixture
def study(tmp_path: Path) -> Iterator[StudyServer]:
    with StudyServer(_config(tmp_path, 2)) as server:
        yield server


def _page(browser: Any, server: StudyServer, pid: str, init_script: str | None = None) -> Any:
    context = browser.new_context()
    context.set_default_timeout(20_000)
    if init_script:
        context.add_init_script(init_script)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    page.goto(server.url(f"/static/p2p-test/transport_test.html?pid={pid}"))
    page.wait_for_function("window.p2pJoined === true")
    return page


def _open_all(pages: list[Any], **options: Any) -> list[dict[str, Any]]:
    """Open the transport in every page at once (each waits for the others)."""
    for i, page in enumerate(pages):
        page.evaluate(
            "([i, o]) => { window.opening = openP2P(o).then((r) => (window.opened = r),"
            " (e) => (window.openFailed = String(e))); }",
            [i, options],
        )
    results = []
    for page in pages:
        page.wait_for_function("window.opened || window.openFailed", timeout=30_000)
        failed = page.evaluate("window.openFailed || null")
        assert failed is None, failed
        results.append(page.evaluate("window.opened"))
    return results


def _exchange(pages: list[Any], pids: list[str], rounds: int = 5) -> None:
    """Every page broadcasts `rounds` messages; every other page receives each of them."""
    for page, pid in zip(pages, pids, strict=True):
        for n in range(rounds):
            page.evaluate("(t) => transport.send(t)", f"{pid}:{n}")
    for page, pid in zip(pages, pids, strict=True):
        expected = {
            (other, f"{other}:{n}") for other in pids if other != pid for n in range(rounds)
        }
        page.wait_for_function(
            "(n) => p2pLog.messages.length >= n", arg=len(expected), timeout=10_000
        )
        got = {tuple(m) for m in page.evaluate("p2pLog.messages")}
        assert expected <= got, (pid, expected - got)


def _connection_rows(server: StudyServer, pid: str) -> list[dict[str, str]]:
    server.flush()
    path = server.config.study_dir / "duel" / f"{pid}_ep0_events.csv"
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as file:
        return [r for r in csv.DictReader(file) if r["type"] == "p2p_transport"]


def _wait_rows(server: StudyServer, pid: str, count: int) -> list[dict[str, str]]:
    deadline = time.monotonic() + 10
    while True:
        rows = _connection_rows(server, pid)
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def _close(*pages: Any) -> None:
    for page in pages:
        page.context.close()


def test_two_pages_talk_over_webrtc_and_a_closed_page_is_lost(
    browser: Any, study: StudyServer
) -> None:
    a, b = _page(browser, study, "pa"), _page(browser, study, "pb")
    opened = _open_all([a, b])
    assert opened[0]["via"] == {"pb": "webrtc"} and opened[1]["via"] == {"pa": "webrtc"}
    assert study.server is not None
    signalling = study.server.p2p_signalling  # type: ignore[attr-defined]
    relayed = signalling.relayed  # the hellos that found the peers
    _exchange([a, b], ["pa", "pb"])
    # The messages took the DataChannel: the server relayed none of them.
    assert signalling.relayed == relayed
    a.wait_for_function("transport.rttMs('pb') !== null", timeout=5_000)
    assert 0 <= a.evaluate("transport.rttMs('pb')") < 500
    rows = _wait_rows(study, "pa", 1)
    assert [(r["peer"], r["state"], r["via"]) for r in rows] == [("pb", "open", "webrtc")]

    _close(b)
    a.wait_for_function(
        "p2pLog.peers.some(([p, s]) => p === 'pb' && (s === 'lost' || s === 'left'))"
    )
    assert a.errors == []
    _close(a)


def test_without_webrtc_in_one_page_both_use_the_relay(browser: Any, study: StudyServer) -> None:
    a = _page(browser, study, "pa")
    b = _page(browser, study, "pb", init_script=NO_WEBRTC)
    opened = _open_all([a, b])
    assert opened[0]["via"] == {"pb": "relay"} and opened[1]["via"] == {"pa": "relay"}
    _exchange([a, b], ["pa", "pb"])
    assert study.server is not None
    assert study.server.p2p_signalling.relayed >= 10  # type: ignore[attr-defined]
    a.wait_for_function("transport.rttMs('pb') !== null", timeout=5_000)
    rows_a, rows_b = _wait_rows(study, "pa", 1), _wait_rows(study, "pb", 1)
    assert [(r["state"], r["via"], r["reason"]) for r in rows_a] == [
        ("open", "relay", "the peer uses the relay")
    ]
    assert [(r["state"], r["via"], r["reason"]) for r in rows_b] == [
        ("open", "relay", "this browser has no WebRTC")
    ]
    # A transport closed on purpose tells the others the peer left.
    a.evaluate("transport.close()")
    b.wait_for_function("p2pLog.peers.some(([p, s]) => p === 'pa' && s === 'left')")
    assert a.errors == [] and b.errors == []
    _close(a, b)


def test_webrtc_false_forces_the_relay(browser: Any, study: StudyServer) -> None:
    a, b = _page(browser, study, "pa"), _page(browser, study, "pb")
    opened = _open_all([a, b], webrtc=False)
    assert [o["via"] for o in opened] == [{"pb": "relay"}, {"pa": "relay"}]
    _exchange([a, b], ["pa", "pb"])
    assert [r["reason"] for r in _wait_rows(study, "pa", 1)] == ["webrtc is off"]
    _close(a, b)


def test_a_data_channel_that_never_opens_falls_back_to_the_relay(
    browser: Any, study: StudyServer
) -> None:
    # Relay-only ICE through a TURN server that does not answer: WebRTC cannot connect.
    a, b = _page(browser, study, "pa"), _page(browser, study, "pb")
    turn = {"urls": ["turn:127.0.0.1:9?transport=udp"], "username": "mug", "credential": "pw"}
    opened = _open_all([a, b], iceServers=[turn], iceTransportPolicy="relay", rtcTimeoutMs=1500)
    assert [o["via"] for o in opened] == [{"pb": "relay"}, {"pa": "relay"}]
    _exchange([a, b], ["pa", "pb"])
    rows = _wait_rows(study, "pa", 1)
    assert [(r["state"], r["via"], r["reason"]) for r in rows] == [
        ("open", "relay", "no data channel after 1500 ms")
    ]
    _close(a, b)


def test_a_data_channel_that_dies_mid_game_falls_back_to_the_relay(
    browser: Any, study: StudyServer
) -> None:
    a, b = _page(browser, study, "pa"), _page(browser, study, "pb")
    assert [o["via"] for o in _open_all([a, b])] == [{"pb": "webrtc"}, {"pa": "webrtc"}]
    # The DataChannel closes under the game (as when the network path between peers breaks).
    a.evaluate("transport.links.get('pb').dc.close()")
    for page, peer in ((a, "pb"), (b, "pa")):
        page.wait_for_function(
            "(p) => p2pLog.peers.some(([q, s, via]) => q === p && s === 'open' && via === 'relay')",
            arg=peer,
        )
        assert page.evaluate("(p) => transport.via(p)", peer) == "relay"
    _exchange([a, b], ["pa", "pb"])
    rows = _wait_rows(study, "pa", 2)
    assert [(r["state"], r["via"]) for r in rows] == [("open", "webrtc"), ("fallback", "relay")]
    assert rows[1]["reason"] == "the data channel closed"
    _close(a, b)


def test_three_pages_connect_in_a_full_mesh(browser: Any, tmp_path: Path) -> None:
    with StudyServer(_config(tmp_path, 3)) as server:
        pids = ["pa", "pb", "pc"]
        pages = [_page(browser, server, pid) for pid in pids]
        opened = _open_all(pages)
        for pid, result in zip(pids, opened, strict=True):
            assert result["via"] == {p: "webrtc" for p in pids if p != pid}
        _exchange(pages, pids)
        # One peer, one message: sendTo reaches only its target.
        pages[0].evaluate("transport.sendTo('pc', 'only for c')")
        pages[2].wait_for_function("p2pLog.messages.some(([f, t]) => t === 'only for c')")
        time.sleep(0.3)
        assert not pages[1].evaluate("p2pLog.messages.some(([f, t]) => t === 'only for c')")
        _close(*pages)


def test_a_silent_data_channel_is_abandoned_for_the_relay(browser: Any, study: StudyServer) -> None:
    a, b = _page(browser, study, "pa"), _page(browser, study, "pb")
    assert [o["via"] for o in _open_all([a, b], silentAfterMs=1000)] == [
        {"pb": "webrtc"},
        {"pa": "webrtc"},
    ]
    # Page a stops hearing the DataChannel (still open, but nothing gets through any more).
    a.evaluate("transport.links.get('pb').dc.onmessage = null")
    a.wait_for_function(
        "p2pLog.peers.some(([q, s, via]) => q === 'pb' && s === 'open' && via === 'relay')"
    )
    _exchange([a, b], ["pa", "pb"])
    rows = _wait_rows(study, "pa", 2)
    assert [(r["state"], r["via"]) for r in rows] == [("open", "webrtc"), ("fallback", "relay")]
    assert rows[1]["reason"].startswith("the data channel was silent for ")
    _close(a, b)


def test_a_reloaded_page_is_lost_then_back_over_webrtc(browser: Any, study: StudyServer) -> None:
    a, b = _page(browser, study, "pa"), _page(browser, study, "pb")
    _open_all([a, b])
    b.reload()
    b.wait_for_function("window.p2pJoined === true")
    a.wait_for_function("p2pLog.peers.some(([q, s]) => q === 'pb' && s === 'lost')")
    assert _open_all([b])[0]["via"] == {"pa": "webrtc"}
    a.wait_for_function("p2pLog.peers.some(([q, s]) => q === 'pb' && s === 'back')")
    assert a.evaluate("transport.via('pb')") == "webrtc"
    a.evaluate("p2pLog.messages.length = 0")
    _exchange([a, b], ["pa", "pb"])
    # (The closing DataChannel turned the link to the relay just before the loss was known.)
    states = [(r["state"], r["via"]) for r in _wait_rows(study, "pa", 3)]
    assert states == [("open", "webrtc"), ("lost", "relay"), ("back", "webrtc")]
    _close(a, b)


def test_the_test_network_knobs_delay_messages_and_the_round_trip(
    browser: Any, study: StudyServer
) -> None:
    a, b = _page(browser, study, "pa"), _page(browser, study, "pb")
    assert [o["via"] for o in _open_all([a, b], netem={"delayMs": 60})] == [
        {"pb": "webrtc"},
        {"pa": "webrtc"},
    ]
    # Each direction adds 60 ms, so the measured round trip grows past 120 ms.
    a.wait_for_function("transport.rttMs('pb') > 110", timeout=10_000)
    _exchange([a, b], ["pa", "pb"])
    a.evaluate("window.transport.config.netem.delayMs = 0")  # read live: back to normal
    a.wait_for_function("transport.rttMs('pb') < 100", timeout=15_000)
    _close(a, b)
