"""Public helpers for testing studies and plugins: a real server in a thread, a real browser.

::

    from mug_core.testing import StudyServer

    with StudyServer(config) as server:
        page.goto(server.url("/p1"))
"""

from mug_core.testing.browser import chromium_executable, launch_chromium
from mug_core.testing.server import StudyServer, free_port, start_study_process

__all__ = [
    "StudyServer",
    "chromium_executable",
    "free_port",
    "launch_chromium",
    "start_study_process",
]
