"""Build a GymScene's environment in this process, from the same files the browser would get."""

from __future__ import annotations

import importlib
import sys
import tempfile
from pathlib import Path
from typing import Any

from mug_core.scenes.gym_scene import GymScene


class EnvLoadError(RuntimeError):
    """The env file failed, or defined no ``env``."""


class EnvFiles:
    """The scene's Python files written to a private folder that is importable."""

    def __init__(self, scene: GymScene) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix=f"mug-env-{scene.scene_id}-"))
        for name, source in scene.python_files.items():
            (self.folder / name).write_text(source, encoding="utf-8")
        if str(self.folder) not in sys.path:
            sys.path.insert(0, str(self.folder))
        importlib.invalidate_caches()
        self.scene = scene

    def namespace(self) -> dict[str, Any]:
        """Execute the env code and return its globals (``env`` among them)."""
        scene = self.scene
        namespace: dict[str, Any] = {"__name__": "__mug_env__", "__file__": scene.env_filename}
        try:
            code = compile(scene.env_code or "", scene.env_filename, "exec")
            exec(code, namespace)
        except Exception as exc:
            raise EnvLoadError(f"{scene.env_filename} failed: {type(exc).__name__}: {exc}") from exc
        if "env" not in namespace:
            raise EnvLoadError(f"{scene.env_filename} ran but defined no global named env")
        return namespace


def resolve_reference(reference: str, namespace: dict[str, Any]) -> Any:
    """``"module:attr"`` from the env's files (or a name in the env file's globals)."""
    module_name, _, attr = reference.partition(":")
    if module_name in ("", "__main__", "env") and attr in namespace:
        return namespace[attr]
    module = importlib.import_module(module_name)
    obj: Any = module
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj
