"""Real-time scheduling for the game path, while it leaves the machine its share.

Server games have two parts that must run the moment they have work: the game processes
(awake for a fraction of a millisecond at a time, many times per frame period) and the study
server's event loop that relays their frames to the pages. Under the kernel's normal
scheduler both often wait behind each other, the data sinks and anything else on the machine
for their turn on a core: on a busy 2-core machine, games stepped up to 10 ms late and frames
reached pages over 100 ms after their step. Under ``SCHED_RR`` they run at once: the game
processes at :data:`GAME_LEVEL`, the event loop just below them at :data:`LOOP_LEVEL`, and the
rest (data sinks, the store's writer, other services) in the time left over, which is the work
that may lag without anyone seeing it.

That needs the right to use real-time scheduling (root, ``CAP_SYS_NICE``, or an
``RLIMIT_RTPRIO`` of at least :data:`GAME_LEVEL`); without it, or with
``MUG_GAME_REALTIME=0``, everything runs at normal priority, as any other program.

A real-time thread that never pauses would take its core from everything else, so
:class:`Priority` gives real time up while its thread is busy for more than ``max_busy`` of
a second (an overloaded thread then competes fairly, so the rest still runs) or runs
:data:`RUNAWAY_S` without a pause (a runaway env or handler; the kernel signals it with
``SIGXCPU``), and takes it back after a second busy for less than ``resume_busy``. Threads
that a real-time thread starts (an env's, a policy's, the server's helpers) run at normal
priority (``SCHED_RESET_ON_FORK``).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

try:
    import resource
except ImportError:  # not a Unix
    resource = None  # type: ignore[assignment]

ENVIRONMENT_VARIABLE = "MUG_GAME_REALTIME"
"""``0`` (or ``off``, ``false``, ``no``) keeps the game path at normal priority."""

GAME_LEVEL = 2
"""``SCHED_RR`` priority of a game process's thread."""

LOOP_LEVEL = 1
"""``SCHED_RR`` priority of the study server's event loop while it runs server games."""

RUNAWAY_S = 0.5
"""CPU seconds without a pause after which the kernel makes a thread give up real time."""

WINDOW_S = 1.0
"""How often the busy share is measured."""

_OFF = {"0", "off", "false", "no"}

AVAILABLE = (
    hasattr(os, "sched_setscheduler")
    and hasattr(resource, "RLIMIT_RTTIME")
    and hasattr(signal, "SIGXCPU")
)
"""Whether this system has real-time scheduling as used here (Linux does; macOS does not)."""


def wanted(environ: dict[str, str] | None = None) -> bool:
    """Whether the game path should try real-time scheduling (``MUG_GAME_REALTIME``)."""
    value = (environ if environ is not None else os.environ).get(ENVIRONMENT_VARIABLE, "")
    return value.strip().lower() not in _OFF


def _to_normal() -> None:
    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


class Priority:
    """The scheduling of the calling thread, which must be its process's main thread (the
    one that gets signals): call :meth:`start` once, then :meth:`check` at least every
    :data:`WINDOW_S` (it does real work once a window). ``on_change(realtime, reason)`` hears
    of every change, starting with the outcome of :meth:`start`."""

    def __init__(
        self,
        on_change: Callable[[bool, str], None],
        *,
        level: int,
        max_busy: float,
        resume_busy: float,
        enabled: bool = True,
        runaway_s: float = RUNAWAY_S,
    ) -> None:
        self.on_change = on_change
        self.level = level
        self.max_busy = max_busy
        self.resume_busy = resume_busy
        self.enabled = enabled
        self.runaway_s = runaway_s
        self.realtime = False
        self.allowed = False
        self._window_start = 0.0
        self._cpu_at = 0.0
        self._runaway = False

    def start(self) -> None:
        """Take real time if it is wanted and allowed, and report the outcome."""
        if not self.enabled:
            self.on_change(False, f"{ENVIRONMENT_VARIABLE}=0")
            return
        if not AVAILABLE:
            self.on_change(False, "this system has no real-time scheduling for it")
            return
        if threading.current_thread() is not threading.main_thread():
            self.on_change(False, "not the main thread, which the runaway signal needs")
            return
        try:
            self._to_realtime()
        except OSError as exc:
            self.on_change(
                False,
                f"real-time scheduling is not permitted here ({exc.strerror}); run the server "
                f"as root, or grant it CAP_SYS_NICE or an RLIMIT_RTPRIO of {GAME_LEVEL}",
            )
            return
        self.allowed = self.realtime = True
        signal.signal(signal.SIGXCPU, self._on_runaway)
        self._window_start = time.monotonic()
        self._cpu_at = time.thread_time()
        self.on_change(True, f"SCHED_RR {self.level}")

    def _to_realtime(self) -> None:
        # The kernel raises the soft limit by a second each time it signals: set it again.
        _, hard = resource.getrlimit(resource.RLIMIT_RTTIME)
        soft = int(self.runaway_s * 1_000_000)
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_RTTIME, (soft, hard))
        policy = os.SCHED_RR | os.SCHED_RESET_ON_FORK
        os.sched_setscheduler(0, policy, os.sched_param(self.level))

    def _on_runaway(self, signum: int, frame: object) -> None:
        # Now, not at the next check (the thread may not get there soon); reported there,
        # as a signal handler must not interrupt a report half-way.
        if self.realtime:
            self._runaway = True
            self.realtime = False
            _to_normal()

    def check(self, now: float) -> None:
        """Give real time up or take it back as the busy share says (see the module)."""
        if not self.allowed or now - self._window_start < WINDOW_S:
            return
        cpu = time.thread_time()
        busy = (cpu - self._cpu_at) / (now - self._window_start)
        self._cpu_at = cpu
        self._window_start = now
        if self._runaway:  # a window at normal priority before taking real time back
            self._runaway = False
            self.on_change(False, f"ran {self.runaway_s:g} s without a pause")
        elif self.realtime and busy > self.max_busy:
            self._set(False, f"busy {busy:.0%} of the last second (overloaded)")
        elif not self.realtime and busy < self.resume_busy:
            self._set(True, f"busy {busy:.0%} of the last second")

    def stop(self) -> None:
        """Return to normal priority for good (nothing is reported)."""
        self.allowed = False
        if self.realtime:
            self.realtime = False
            _to_normal()

    def _set(self, realtime: bool, reason: str) -> None:
        try:
            if realtime:
                self._to_realtime()
            else:
                _to_normal()
        except OSError:
            return
        self.realtime = realtime
        self.on_change(realtime, reason)
