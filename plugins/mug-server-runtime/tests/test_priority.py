"""The game path at real-time priority: game processes and the event loop that relays their
frames run the moment they have work, give real time up when they would take a core from
everything else, and run as any program where real time is not permitted or turned off."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import socketio
from mug_server_runtime import priority
from mug_server_runtime.priority import GAME_LEVEL, LOOP_LEVEL, wanted
from test_server_shutdown import STUDY  # a slime volleyball game on the server

from mug_core.testing import free_port, start_study_process

SLIME = Path(__file__).resolve().parents[3] / "examples" / "slime_volleyball"


def _realtime_permitted() -> bool:
    try:
        probe = subprocess.run(
            [
                sys.executable,
                "-c",
                "import os; os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(2))",
            ],
            capture_output=True,
            timeout=30,
        )
    except OSError:
        return False
    return probe.returncode == 0


needs_realtime = pytest.mark.skipif(
    not _realtime_permitted(), reason="real-time scheduling is not permitted on this machine"
)


def _child(code: str) -> list[str]:
    """Run ``code`` (with a ``Priority`` at hand) in a fresh interpreter; its output lines."""
    prelude = textwrap.dedent(
        """
        import os, threading, time
        from mug_server_runtime.priority import Priority
        reports = []
        def note(realtime, reason):
            reports.append(f"report {realtime} {reason}")
        def policy():
            return os.sched_getscheduler(0) & ~os.SCHED_RESET_ON_FORK
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code) + "\nprint(*reports, sep='\\n')"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_the_environment_variable_turns_real_time_off() -> None:
    assert wanted({})
    assert wanted({"MUG_GAME_REALTIME": "1"})
    for value in ("0", "off", "False", " no "):
        assert not wanted({"MUG_GAME_REALTIME": value})


@needs_realtime
def test_a_promoted_thread_runs_round_robin_and_the_threads_it_starts_do_not() -> None:
    lines = _child(
        """
        p = Priority(note, level=2, max_busy=0.6, resume_busy=0.4)
        p.start()
        print("main", policy() == os.SCHED_RR, os.sched_getparam(0).sched_priority)
        seen = []
        t = threading.Thread(target=lambda: seen.append(policy() == os.SCHED_OTHER))
        t.start(); t.join()
        print("thread normal", seen[0])
        """
    )
    assert lines == ["main True 2", "thread normal True", "report True SCHED_RR 2"]


@needs_realtime
def test_a_thread_that_runs_without_a_pause_gives_real_time_up() -> None:
    """A stuck step must not hold a core at real-time priority: the kernel's signal demotes the
    thread while it is still running, and the next check reports it."""
    lines = _child(
        """
        p = Priority(note, level=2, max_busy=0.6, resume_busy=0.4, runaway_s=0.05)
        p.start()
        end = time.monotonic() + 1.0
        while time.monotonic() < end and policy() == os.SCHED_RR:
            pass  # pure Python, no system call that sleeps
        print("demoted while running", policy() == os.SCHED_OTHER, time.monotonic() < end)
        time.sleep(1.1)
        p.check(time.monotonic())
        print("still normal", policy() == os.SCHED_OTHER)
        """
    )
    assert lines[:2] == ["demoted while running True True", "still normal True"]
    assert lines[2:] == ["report True SCHED_RR 2", "report False ran 0.05 s without a pause"]


@needs_realtime
def test_an_overloaded_thread_competes_fairly_and_takes_real_time_back_when_calm() -> None:
    lines = _child(
        """
        p = Priority(note, level=2, max_busy=0.6, resume_busy=0.4)
        p.start()
        end = time.monotonic() + 1.3
        while time.monotonic() < end:  # busy about 80%, pausing every 4 ms
            busy_until = time.monotonic() + 0.004
            while time.monotonic() < busy_until:
                pass
            time.sleep(0.001)
            p.check(time.monotonic())
        print("overloaded", policy() == os.SCHED_OTHER)
        end = time.monotonic() + 2.2
        while time.monotonic() < end:  # idle
            time.sleep(0.05)
            p.check(time.monotonic())
        print("calm", policy() == os.SCHED_RR)
        """
    )
    assert lines[:2] == ["overloaded True", "calm True"]
    assert lines[2] == "report True SCHED_RR 2"
    assert lines[3].startswith("report False busy ") and lines[3].endswith("(overloaded)")
    assert lines[4].startswith("report True busy ")


def test_without_permission_a_thread_runs_at_normal_priority_and_says_why() -> None:
    lines = _child(
        """
        import resource
        if os.geteuid() == 0:  # become a user without a real-time allowance
            resource.setrlimit(resource.RLIMIT_RTPRIO, (0, 0))
            os.setgid(65534)
            os.setuid(65534)
        p = Priority(note, level=2, max_busy=0.6, resume_busy=0.4)
        p.start()
        print("normal", policy() == os.SCHED_OTHER, p.realtime)
        """
    )
    if lines[0] == "normal False True":
        pytest.skip("this user may use real-time scheduling")
    assert lines[0] == "normal True False"
    assert lines[1].startswith("report False real-time scheduling is not permitted here")
    assert "CAP_SYS_NICE" in lines[1]


def test_a_system_without_real_time_scheduling_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(priority, "AVAILABLE", False)
    reports: list[tuple[bool, str]] = []
    p = priority.Priority(
        lambda *report: reports.append(report), level=2, max_busy=0.6, resume_busy=0.4
    )
    p.start()
    assert not p.realtime and not p.allowed
    assert reports == [(False, "this system has no real-time scheduling for it")]


def test_turned_off_a_thread_stays_at_normal_priority() -> None:
    lines = _child(
        """
        p = Priority(note, level=2, max_busy=0.6, resume_busy=0.4, enabled=False)
        p.start()
        print("normal", policy() == os.SCHED_OTHER)
        """
    )
    assert lines == ["normal True", "report False MUG_GAME_REALTIME=0"]


def _scheduling(pid: int) -> tuple[int, int]:
    return os.sched_getscheduler(pid) & ~os.SCHED_RESET_ON_FORK, os.sched_getparam(
        pid
    ).sched_priority


def _game_processes(parent: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat, open(f"/proc/{entry}/cmdline") as cmd:
                    ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
                    if ppid == parent and "mug_server_runtime.worker" in cmd.read():
                        pids.append(int(entry))
            except OSError:
                continue
    return pids


def _serve_a_game(tmp_path: Path, env: dict[str, str]) -> tuple[dict[str, tuple[int, int]], str]:
    """Start a study server, play one game until frames stream; the scheduling of the server's
    event loop (its main thread) and of each game process, and the server's log."""
    study = tmp_path / "study.py"
    study.write_text(
        STUDY.format(env_file=str(SLIME / "env_file.py"), data_dir=str(tmp_path / "data"))
    )
    port = free_port()
    server = start_study_process(study, port, {**os.environ, **env}, timeout=60)
    log: list[bytes] = []
    reader = threading.Thread(target=lambda: log.extend(server.stderr or []), daemon=True)
    reader.start()
    try:

        async def play() -> dict[str, tuple[int, int]]:
            frames = asyncio.Event()
            client = socketio.AsyncClient(reconnection=False)
            client.on("game_frame", lambda m: frames.set())
            await client.connect(f"http://127.0.0.1:{port}", transports=["websocket"])
            await client.call("join", {"participant_id": "p1", "tab_id": "t"}, timeout=60)
            assert (await client.call("game_join", {"scene_key": "match"}, timeout=60))["ok"]
            await asyncio.wait_for(frames.wait(), 60)
            seen = {"loop": _scheduling(server.pid)}
            for pid in _game_processes(server.pid):
                seen[f"game {pid}"] = _scheduling(pid)
            await client.disconnect()
            return seen

        seen = asyncio.run(play())
    finally:
        server.terminate()
        server.wait(timeout=60)
        reader.join(timeout=10)
    return seen, b"".join(log).decode(errors="replace")


@needs_realtime
def test_the_event_loop_relays_just_below_its_game_processes(tmp_path: Path) -> None:
    seen, log = _serve_a_game(tmp_path, {"MUG_GAME_PROCESSES": "1"})
    assert seen.pop("loop") == (os.SCHED_RR, LOOP_LEVEL)
    assert list(seen.values()) == [(os.SCHED_RR, GAME_LEVEL)]
    assert "the event loop relays frames at real-time priority" in log
    assert "steps its games at real-time priority" in log


def test_turned_off_the_game_path_runs_at_normal_priority(tmp_path: Path) -> None:
    seen, log = _serve_a_game(tmp_path, {"MUG_GAME_PROCESSES": "1", "MUG_GAME_REALTIME": "0"})
    assert seen.pop("loop") == (os.SCHED_OTHER, 0)
    assert list(seen.values()) == [(os.SCHED_OTHER, 0)]
    assert "the event loop relays frames at normal priority: MUG_GAME_REALTIME=0" in log
    assert "steps its games at normal priority: MUG_GAME_REALTIME=0" in log
