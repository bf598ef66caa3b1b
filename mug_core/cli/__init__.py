"""The ``mug`` command: ``mug run``, ``mug check``, ``mug plugins``, ``mug assets`` and any
sub-command a plugin registers."""

from mug_core.cli.main import main

__all__ = ["main"]
