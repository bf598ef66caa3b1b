"""What a ``mug`` sub-command is, for plugins that register one."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import attrs


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    return None


@attrs.frozen
class Command:
    """A sub-command: ``help`` text, a function that adds its arguments to an argparse parser,
    and ``run(args) -> exit status``. ``args.plugin_host`` holds the loaded plugins."""

    help: str
    run: Callable[[argparse.Namespace], int | None]
    add_arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments
