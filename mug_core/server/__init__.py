"""The study server: ``app.run(config)`` serves a study."""

from mug_core.server import app
from mug_core.server.server import MugServer

__all__ = ["MugServer", "app"]
