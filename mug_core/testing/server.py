"""Run a real study server (hypercorn on 127.0.0.1) in a background thread."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from types import TracebackType

from mug_core.configurations.experiment_config import ExperimentConfig
from mug_core.server.server import MugServer


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class StudyServer:
    """A :class:`MugServer` for ``config`` serving from a thread until :meth:`stop`.

    The config's host is forced to 127.0.0.1 and, unless set, a free port is chosen. Stopping
    and starting again (same config, same data folder) is how tests simulate a server restart.
    """

    def __init__(self, config: ExperimentConfig, *, port: int | None = None) -> None:
        self.config = config
        config.hosting(host="127.0.0.1", port=port or free_port())
        self.server: MugServer | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._shutdown: asyncio.Event | None = None
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        return self.config.port

    def url(self, path: str = "/") -> str:
        """An absolute URL on this server."""
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self, timeout: float = 15.0) -> StudyServer:
        """Build the server (validating the config) and wait until it answers."""
        self.server = MugServer(self.config)
        ready = threading.Event()

        def _main() -> None:
            async def _serve() -> None:
                self._loop = asyncio.get_running_loop()
                self._shutdown = asyncio.Event()
                ready.set()
                assert self.server is not None
                await self.server.serve(self._shutdown)

            try:
                asyncio.run(_serve())
            except BaseException as exc:
                self._error = exc
                ready.set()

        self._thread = threading.Thread(target=_main, name="mug-test-server", daemon=True)
        self._thread.start()
        ready.wait(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._error is not None:
                raise RuntimeError("the study server failed to start") from self._error
            try:
                with urllib.request.urlopen(self.url("/healthz"), timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"the study server did not answer on port {self.port}")

    def flush(self, timeout: float = 15.0) -> None:
        """Wait until every data sink holds every record acknowledged so far."""
        assert self.server is not None and self.server.delivery is not None
        if not self.server.delivery.wait_drained(timeout):
            raise TimeoutError(f"data sinks still lag: {self.server.delivery.lag()}")

    def stop(self, timeout: float = 15.0) -> None:
        """Shut down gracefully: queued data is written before this returns."""
        if self._loop is not None and self._shutdown is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._shutdown.set)
            self._thread.join(timeout)
        self._thread = None
        self._loop = None

    def __enter__(self) -> StudyServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_study_process(
    study: Path | str, port: int, env: dict[str, str] | None = None, timeout: float = 30.0
) -> subprocess.Popen[bytes]:
    """Run ``mug run <study> --port <port>`` in a new process and wait until it answers.

    Raises RuntimeError with the server's output if it exits first. Stop it with
    ``terminate()`` (a graceful shutdown: queued data is written) or ``kill()``. The server's
    log is the pipe ``server.stderr``: a caller whose server logs much (many games, a long
    run) must read it, or the server blocks once the pipe is full.
    """
    server = subprocess.Popen(
        [sys.executable, "-m", "mug_core.cli", "run", str(study), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            output = server.stderr.read().decode(errors="replace") if server.stderr else ""
            raise RuntimeError(f"the study server exited:\n{output}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return server
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise TimeoutError(f"the study server did not answer on port {port}")
