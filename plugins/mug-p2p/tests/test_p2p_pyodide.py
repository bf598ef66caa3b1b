"""The engine gives bit-identical results in Pyodide (Python 3.14) and in CPython.

Runs ``crosscheck.py`` in both and compares the output. Needs ``node`` and a local Pyodide
distribution (``mug assets install``, or ``MUG_PYODIDE_DIR``; see ``mug_p2p.node_pyodide``);
skipped otherwise (no test needs the internet).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mug_p2p.node_pyodide import find_pyodide

HERE = Path(__file__).resolve().parent
PLUGIN = HERE.parent


def test_same_results_in_pyodide_and_cpython():
    pyodide, node = find_pyodide(), shutil.which("node")
    if pyodide is None or node is None:
        pytest.skip("needs node and a local Pyodide (set MUG_PYODIDE_DIR)")
    env = {**os.environ, "PYTHONPATH": str(PLUGIN)}
    cpython = subprocess.run(
        [sys.executable, str(HERE / "crosscheck.py")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    browser = subprocess.run(
        [node, str(HERE / "pyodide_runner.mjs"), str(pyodide), str(PLUGIN)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    ours, theirs = json.loads(cpython.stdout), json.loads(browser.stdout.strip().splitlines()[-1])
    assert theirs.pop("python")[0] == 3
    ours.pop("python")
    assert theirs == ours
    assert ours["sync_ok"][1] == 0 and ours["sync_bad"][1] > 0
