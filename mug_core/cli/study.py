"""Load a study file: run it, catching the ``ExperimentConfig`` it passes to ``app.run``."""

from __future__ import annotations

import contextlib
import runpy
import sys
from collections.abc import Iterator
from pathlib import Path

from mug_core.configurations.experiment_config import ExperimentConfig
from mug_core.errors import ConfigError
from mug_core.server import app


class _Captured(BaseException):
    def __init__(self, config: ExperimentConfig) -> None:
        self.config = config


@contextlib.contextmanager
def _capture_run() -> Iterator[None]:
    original = app.run

    def capture(config: ExperimentConfig) -> None:
        raise _Captured(config)

    app.run = capture  # type: ignore[assignment]
    try:
        yield
    finally:
        app.run = original  # type: ignore[assignment]


def load_study(path: str | Path) -> ExperimentConfig:
    """Execute the study file at ``path`` and return its configuration, without serving.

    The file's folder is its working directory's peer on ``sys.path`` (so it can import its own
    modules). The configuration is what the file passes to ``app.run``, or else a module-level
    ``ExperimentConfig`` (``config`` by preference).
    """
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"study file {str(path)!r} does not exist")
    folder = str(file.resolve().parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        with _capture_run():
            namespace = runpy.run_path(str(file), run_name="__main__")
    except _Captured as captured:
        return captured.config
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"study file {str(path)!r} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        if added:
            sys.path.remove(folder)
    config = namespace.get("config")
    if isinstance(config, ExperimentConfig):
        return config
    found = [v for v in namespace.values() if isinstance(v, ExperimentConfig)]
    if len(found) == 1:
        return found[0]
    raise ConfigError(
        f"study file {str(path)!r} neither calls app.run(config) nor defines one ExperimentConfig"
        " named config"
    )
