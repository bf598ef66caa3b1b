"""Every Python example in the README runs (studies are built and validated, not served)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from mug_core.cli.study import load_study

ROOT = Path(__file__).resolve().parents[2]
BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index: int, tmp_path: Path) -> None:
    pytest.importorskip("mug_storage", reason="the README's studies use the CSV sink")
    source = BLOCKS[index]
    if "GymScene" in source:
        pytest.importorskip("mug_pyodide", reason="the game example needs mug-pyodide")
        pytest.importorskip("mug_onnx", reason="the game example needs mug-onnx")
    study = tmp_path / "example.py"
    study.write_text(source)
    cwd = os.getcwd()
    # Examples name files the way a study beside them would (env_file.py, policy.onnx).
    os.chdir(ROOT / "examples" / "slime_volleyball")
    try:
        if "app.run(" in source:
            config = load_study(study)
            assert config.stager is not None
        else:
            exec(compile(source, str(study), "exec"), {"__name__": "readme_example"})
    finally:
        os.chdir(cwd)
