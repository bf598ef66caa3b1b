"""Build a GymScene's environment in this process, from the same files the browser would get."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from mug_core.scenes.gym_scene import GymScene


class EnvLoadError(RuntimeError):
    """The env file failed, or defined no ``env``."""


class EnvFiles:
    """The scene's Python files in a private folder, importable inside :meth:`importable`.

    Modules imported from the folder are dropped from ``sys.modules`` when the block ends (the
    env keeps what it uses), so two scenes may ship different modules of the same name. The
    games of one scene in one process share those modules, as they share installed packages
    (see :meth:`for_scene`); each game still runs the env file and gets an env of its own.
    """

    _shared: ClassVar[dict[str, EnvFiles]] = {}

    def __init__(self, scene: GymScene) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix=f"mug-env-{scene.scene_id}-"))
        for name, source in scene.python_files.items():
            (self.folder / name).write_text(source, encoding="utf-8")
        self.scene = scene
        self._modules: dict[str, ModuleType] = {}

    @classmethod
    def for_scene(cls, scene: GymScene) -> EnvFiles:
        """The files of ``scene`` for this process, shared by its games: one folder, and one
        copy of each module imported from it (the interpreter then runs one copy of the env's
        code for all its games, which keeps it in the processor's caches)."""
        files = sorted(scene.python_files.items())
        key = hashlib.sha256(repr((scene.scene_id, files)).encode()).hexdigest()
        shared = cls._shared.get(key)
        if shared is None:
            shared = cls._shared[key] = cls(scene)
        return shared

    @contextlib.contextmanager
    def importable(self) -> Iterator[None]:
        """Make the files importable for the duration of the block."""
        folder = str(self.folder)
        before = set(sys.modules)
        sys.path.insert(0, folder)
        importlib.invalidate_caches()
        sys.modules.update({n: m for n, m in self._modules.items() if n not in before})
        try:
            yield
        finally:
            sys.path.remove(folder)
            for name in set(sys.modules) - before:
                module = sys.modules[name]
                if (getattr(module, "__file__", None) or "").startswith(folder):
                    self._modules[name] = module
                    del sys.modules[name]

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
