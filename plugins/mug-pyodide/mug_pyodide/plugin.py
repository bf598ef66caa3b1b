"""The ``mug`` entry point of mug-pyodide: the ``browser`` runtime and its browser bundle.

Where Pyodide comes from
    By default the page loads Pyodide from this server: ``mug assets install`` fetches the
    pinned npm package (``pyodide`` ``PYODIDE_VERSION``) and the server serves its core files at
    ``/vendor/pyodide/``. That works offline, but holds only the core (no numpy, no micropip).
    Set the environment variable ``MUG_PYODIDE_URL`` before starting the server to load Pyodide
    from elsewhere instead, e.g. the CDN of the same release::

        MUG_PYODIDE_URL=https://cdn.jsdelivr.net/pyodide/v314.0.7/full/ mug run study.py

    The URL is the folder holding ``pyodide.mjs`` (a trailing ``/`` is added if missing). With
    it set, no local Pyodide files are needed, and ``packages_to_install`` (numpy, ...) can be
    installed from there with micropip.

Where other packages come from
    Packages that are not part of the Pyodide distribution come from PyPI, or from the index
    named by ``MUG_PACKAGE_INDEX`` (a lab mirror, or a folder of wheels served by any web
    server).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import attrs

from mug_core.plugins import hookimpl
from mug_core.registry import Registry
from mug_core.server.assets import ClientAssets

if TYPE_CHECKING:
    from mug_core.configurations.experiment_config import ExperimentConfig
    from mug_core.registry import Registries

PYODIDE_VERSION = "314.0.7"
"""The pinned Pyodide release (``mug assets install`` fetches it from npm)."""

PYODIDE_FILES = (
    "pyodide.mjs",
    "pyodide.asm.mjs",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "pyodide-lock.json",
)
"""The files of the npm package the page needs, served at ``/vendor/pyodide/<file>``."""

PYODIDE_URL_ENV = "MUG_PYODIDE_URL"
PACKAGE_INDEX_ENV = "MUG_PACKAGE_INDEX"
"""A package index (a PEP 503 simple index or a JSON API URL) for ``packages_to_install``,
instead of PyPI; passed to micropip's ``index_urls``."""
"""Environment variable naming a Pyodide folder URL to use instead of the local copy."""

STATIC_DIR = Path(__file__).resolve().parent / "static"
"""``runtime.js``, ``worker.js`` and ``runner.py``, served at ``/static/pyodide/``."""

RUNNER_PATH = STATIC_DIR / "runner.py"
"""The Python side of the runtime (importable in CPython for tests and tools)."""


@attrs.frozen
class BrowserRuntime:
    """A runtime entry: what it does, and the browser module implementing it."""

    description: str
    client_module: str


BROWSER = BrowserRuntime(
    description="the env steps in the participant's page: Pyodide in a Web Worker",
    client_module="/static/pyodide/runtime.js",
)


def pyodide_url() -> str | None:
    """``MUG_PYODIDE_URL`` as a folder URL ending in ``/``, or None when unset."""
    url = os.environ.get(PYODIDE_URL_ENV, "").strip()
    if not url:
        return None
    return url if url.endswith("/") else url + "/"


def client_assets() -> ClientAssets:
    """The ``pyodide`` bundle, following ``MUG_PYODIDE_URL`` and ``MUG_PACKAGE_INDEX`` (see the
    module docstring)."""
    url = pyodide_url()
    index = os.environ.get(PACKAGE_INDEX_ENV, "").strip()
    if url is not None:
        # The page reads its settings from its module address (import.meta.url).
        query = f"pyodide={quote(url)}" + (f"&index={quote(index)}" if index else "")
        return ClientAssets(static_dir=STATIC_DIR, modules=[f"runtime.js?{query}"])
    return ClientAssets(
        static_dir=STATIC_DIR,
        modules=["runtime.js"],
        vendor={f"pyodide/{name}": f"pyodide/{name}" for name in PYODIDE_FILES},
        npm={"pyodide": PYODIDE_VERSION},
    )


@hookimpl
def mug_register_runtimes(register: Registry[Any]) -> None:
    """Register ``browser``."""
    register("browser", BROWSER)


@hookimpl
def mug_register_client_assets(register: Registry[Any]) -> None:
    """Register the ``pyodide`` bundle: ``/static/pyodide/runtime.js`` and Pyodide's files."""
    register("pyodide", client_assets())


def _module_names(files: Any) -> set[str]:
    """Importable module and package names of a scene's ``python_files``."""
    names: set[str] = set()
    for name in files:
        path = Path(name)
        if path.suffix != ".py":
            continue
        parts = list(path.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        for i in range(1, len(parts) + 1):
            names.add(".".join(parts[:i]))
    return names


def scene_problems(scene: Any) -> list[str]:
    """What would stop a ``browser`` game scene in the page, found before the server starts:
    heuristics whose module is not sent to the browser, and packages that cannot be installed
    from the local Pyodide copy."""
    problems = []
    name = f"GymScene {scene.scene_id!r}"
    modules = _module_names(scene.python_files) | {Path(scene.env_filename).stem}
    folder = getattr(scene, "_env_folder", None)  # GymScene ships the siblings it imports
    if folder is not None:
        modules |= _module_names(p.name for p in Path(folder).glob("*.py"))
    for agent, policy in scene.policy_mapping.items():
        reference = getattr(policy, "reference", None)
        if not isinstance(reference, str):
            continue
        module = reference.partition(":")[0]
        if module not in modules:
            problems.append(
                f"{name}: agent {agent!r} uses the heuristic {reference!r}, but {module}.py is "
                "not among the python files sent to the browser; add it to "
                ".runtime(python_files=[...])"
            )
    if scene.packages_to_install and pyodide_url() is None:
        problems.append(
            f"{name} installs {', '.join(scene.packages_to_install)} in the browser, but the "
            "local Pyodide copy has no package index (no micropip): set "
            f"{PYODIDE_URL_ENV} to a Pyodide CDN folder, e.g. "
            f"https://cdn.jsdelivr.net/pyodide/v{PYODIDE_VERSION}/full/"
        )
    return problems


@hookimpl
def mug_validate_config(config: ExperimentConfig, registries: Registries) -> list[str] | None:
    """Check every game scene that runs in the ``browser`` runtime (see :func:`scene_problems`)."""
    if config.stager is None:
        return None
    problems: list[str] = []
    for scene in config.stager.all_scenes():
        if getattr(scene, "scene_type", None) == "gym" and scene.runtime_name == "browser":
            problems.extend(scene_problems(scene))
    return problems


__all__ = [
    "BROWSER",
    "PYODIDE_FILES",
    "PYODIDE_URL_ENV",
    "PYODIDE_VERSION",
    "RUNNER_PATH",
    "STATIC_DIR",
    "BrowserRuntime",
    "client_assets",
    "pyodide_url",
    "scene_problems",
]
