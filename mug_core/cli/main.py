"""Entry point of the ``mug`` command. Sub-commands come from the ``mug_register_commands`` hook."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from mug_core.cli.command import Command
from mug_core.errors import MugError
from mug_core.plugins import PluginHost


def build_parser(host: PluginHost) -> argparse.ArgumentParser:
    """The argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="mug", description="Run browser-based experiments with Gymnasium environments."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    registry = host.registries.commands
    for name in registry.names():
        command: Command = registry.get(name)
        sub = subparsers.add_parser(name, help=command.help, description=command.help)
        command.add_arguments(sub)
        sub.set_defaults(_run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``mug`` command line; returns the exit status."""
    try:
        host = PluginHost.load()
        args = build_parser(host).parse_args(argv)
        args.plugin_host = host
        return int(args._run(args) or 0)
    except MugError as exc:
        print(f"mug: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
