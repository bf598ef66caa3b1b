"""Make the example folder importable (``import slime_env``, ``import heuristic``), the way the
MUG runtime does when it executes ``env_file.py``."""

from __future__ import annotations

import sys
from pathlib import Path

EXAMPLE_DIR = Path(__file__).resolve().parent.parent

if str(EXAMPLE_DIR) in sys.path:
    sys.path.remove(str(EXAMPLE_DIR))
sys.path.insert(0, str(EXAMPLE_DIR))

# Other examples may ship modules with the same generic names; make sure ours are the ones used.
for _name in ("slime_env", "heuristic"):
    _module = sys.modules.get(_name)
    if _module is not None and Path(getattr(_module, "__file__", "") or "").parent != EXAMPLE_DIR:
        del sys.modules[_name]
