"""Launch the system's Chromium through Playwright (Playwright's own download is not needed)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

CHROMIUM_CANDIDATES = (
    "/usr/lib/chromium/chromium",
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
)
CHROMIUM_ARGS = ["--disable-gpu", "--disable-quic", "--disable-dev-shm-usage"]


def chromium_executable() -> str | None:
    """Path of a Chromium to drive: ``MUG_CHROMIUM`` if set, else a system install, or None."""
    env = os.environ.get("MUG_CHROMIUM")
    if env:
        return env
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).exists():
            return candidate
    found = shutil.which("chromium")
    return found


def launch_chromium(playwright: Any, **kwargs: Any) -> Any:
    """Launch headless Chromium with flags that work offline and in containers."""
    executable = chromium_executable()
    if executable is None:
        raise RuntimeError(
            "no Chromium found: install it (apt-get install chromium) or set MUG_CHROMIUM"
        )
    args = [*CHROMIUM_ARGS, *kwargs.pop("args", [])]
    return playwright.chromium.launch(
        executable_path=executable, headless=True, args=args, **kwargs
    )
