"""Run Python code in Pyodide under node: for proving that a workload gives the same results in
CPython and in the browser's Python, and for measuring it there (tests, ``bench/rollback.py``).

Needs ``node`` and a local Pyodide distribution (``npm install pyodide``, or ``mug assets
install``), found through ``MUG_PYODIDE_DIR``, a ``node_modules/pyodide`` folder above the
current directory or this file, or mug's vendor cache. Nothing here needs the internet.

Example::

    files = {**engine_files(), "/lib/work.py": Path("work.py")}
    result = run_in_pyodide(files, "import work, json; json.dumps(work.main())")
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "node_pyodide.mjs"
LIB = "/lib/mug"
"""Where :func:`run_in_pyodide` puts files by default; it is first on ``sys.path``."""


class PyodideUnavailable(RuntimeError):
    """node or a local Pyodide distribution is missing."""


def find_pyodide() -> Path | None:
    """The folder holding ``pyodide.mjs``, or None (see the module docstring)."""
    candidates = [os.environ.get("MUG_PYODIDE_DIR", "")]
    for base in (Path.cwd(), HERE):
        candidates += [str(parent / "node_modules" / "pyodide") for parent in (base, *base.parents)]
    try:
        from mug_core.server.assets import default_vendor_dir
    except ImportError:  # pragma: no cover - mug_core is a dependency
        pass
    else:
        candidates.append(str(default_vendor_dir() / "node_modules" / "pyodide"))
    for candidate in candidates:
        if candidate and (Path(candidate) / "pyodide.mjs").is_file():
            return Path(candidate)
    return None


def engine_files(*, with_testing: bool = True) -> dict[str, Path]:
    """``mug_p2p`` (the engine, and :mod:`mug_p2p.testing`) as Pyodide paths under :data:`LIB`."""
    files = {f"{LIB}/mug_p2p/__init__.py": HERE / "__init__.py"}
    if with_testing:
        files[f"{LIB}/mug_p2p/testing.py"] = HERE / "testing.py"
    for file in sorted((HERE / "rollback").glob("*.py")):
        files[f"{LIB}/mug_p2p/rollback/{file.name}"] = file
    return files


def game_files() -> dict[str, Path]:
    """What the page's game glue needs besides the engine: ``mug_core.rendering``,
    mug-pyodide's ``runner.py`` (as ``mug_runner``) and ``p2p_runner.py``."""
    from mug_pyodide.plugin import RUNNER_PATH

    import mug_core

    core = Path(mug_core.__file__).resolve().parent
    files = {f"{LIB}/mug_core/__init__.py": core / "__init__.py"}
    for file in sorted((core / "rendering").glob("*.py")):
        files[f"{LIB}/mug_core/rendering/{file.name}"] = file
    files[f"{LIB}/mug_runner.py"] = RUNNER_PATH
    files[f"{LIB}/p2p_runner.py"] = HERE / "static" / "p2p_runner.py"
    return files


def run_in_pyodide(files: Mapping[str, str | Path], code: str, *, timeout: float = 600.0) -> str:
    """Write ``files`` (``{path in Pyodide: path here}``) into a fresh Pyodide, put
    :data:`LIB` first on ``sys.path``, run ``code`` and return the ``str`` of its last
    expression. Raises :class:`PyodideUnavailable` without node or Pyodide, and
    ``subprocess.CalledProcessError`` (with Python's traceback in ``stderr``) if ``code``
    fails."""
    pyodide, node = find_pyodide(), shutil.which("node")
    if pyodide is None or node is None:
        raise PyodideUnavailable("needs node and a local Pyodide (set MUG_PYODIDE_DIR)")
    manifest = {
        "files": {target: str(Path(source).resolve()) for target, source in files.items()},
        "sys_path": [LIB],
        "code": code,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(manifest, handle)
    try:
        done = subprocess.run(
            [node, str(RUNNER), str(pyodide), handle.name],
            capture_output=True,
            text=True,
            check=True,
            timeout=timeout,
        )
    finally:
        os.unlink(handle.name)
    return done.stdout.rstrip("\n").splitlines()[-1]


__all__ = [
    "LIB",
    "PyodideUnavailable",
    "engine_files",
    "find_pyodide",
    "game_files",
    "run_in_pyodide",
]
