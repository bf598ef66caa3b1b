"""Start a study: ``app.run(config)``.

::

    from mug_core.server import app
    app.run(config)

Blocks until interrupted (Ctrl+C or SIGTERM), then shuts down cleanly: queued data is written
before the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from mug_core.configurations.experiment_config import ExperimentConfig
from mug_core.plugins import PluginHost
from mug_core.server.server import MugServer

log = logging.getLogger("mug")


def create_server(config: ExperimentConfig, host: PluginHost | None = None) -> MugServer:
    """Load plugins, validate ``config`` and build the server (raises ConfigError on mistakes)."""
    return MugServer(config, host)


async def serve(config: ExperimentConfig) -> None:
    """Serve ``config`` until SIGINT or SIGTERM."""
    server = create_server(config)
    shutdown = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        # Not available off the main thread or on some platforms; Ctrl+C still stops asyncio.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, shutdown.set)
    url_host = "localhost" if config.host in ("127.0.0.1", "0.0.0.0") else config.host
    log.info(
        "study %r: open http://%s:%s/ (data in %s)",
        config.experiment_id,
        url_host,
        config.port,
        config.study_dir,
    )
    await server.serve(shutdown)


def run(config: ExperimentConfig) -> None:
    """Validate ``config``, then serve it until interrupted."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(serve(config))
