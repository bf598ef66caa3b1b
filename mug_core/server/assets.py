"""Files the browser needs: the core's ES modules, plugins' bundles, and npm packages.

npm packages (socket.io-client, and whatever plugins add) are pinned by the plugin that needs
them (``ClientAssets.npm``) and installed with ``mug assets install``; the server serves local
copies only, and refuses to start when one is missing.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs

CLIENT_DIR = Path(__file__).resolve().parent.parent / "client"
"""The core's browser kernel (ES modules, page template, styles)."""


@attrs.frozen
class ClientAssets:
    """What one plugin ships to the browser.

    ``static_dir`` is served at ``/static/<bundle name>/``; ``modules`` are paths inside it that
    the page imports at start (each registers into the browser kernel); ``vendor`` maps a URL
    path under ``/vendor/`` to a file inside an installed npm package, e.g.
    ``{"socket.io.min.js": "socket.io-client/dist/socket.io.min.js"}``.
    """

    static_dir: Path
    modules: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    vendor: dict[str, str] = attrs.field(factory=dict)
    npm: dict[str, str] = attrs.field(factory=dict)


def vendor_search_path() -> list[Path]:
    """Folders searched for ``node_modules`` content, most specific first."""
    paths: list[Path] = []
    env = os.environ.get("MUG_VENDOR_DIR")
    if env:
        paths.append(Path(env))
    paths.append(Path.cwd() / "node_modules")
    paths.append(CLIENT_DIR.parent.parent / "node_modules")
    paths.append(default_vendor_dir() / "node_modules")
    return paths


def default_vendor_dir() -> Path:
    """Where ``mug assets install`` puts npm packages unless told otherwise."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mug" / "vendor"


def find_vendor_file(relative: str) -> Path | None:
    """The first installed copy of ``relative`` (``package/path/file``), or None."""
    for folder in vendor_search_path():
        candidate = folder / relative
        if candidate.is_file():
            return candidate
    return None
