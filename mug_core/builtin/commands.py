"""Built-in ``mug`` sub-commands: run, check, plugins, assets."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from mug_core.cli.command import Command
from mug_core.plugins import hookimpl, plugin_list
from mug_core.registry import Registry
from mug_core.server.assets import ClientAssets, default_vendor_dir


def _study_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", help="the study's Python file (it builds an ExperimentConfig)")
    parser.add_argument("--port", type=int, help="override the configured port")
    parser.add_argument("--host", help="override the configured host")


def _load(args: argparse.Namespace) -> Any:
    from mug_core.cli.study import load_study

    config = load_study(args.study)
    config.hosting(host=args.host, port=args.port)
    return config


def _run(args: argparse.Namespace) -> int:
    from mug_core.server import app

    app.run(_load(args))
    return 0


def _check(args: argparse.Namespace) -> int:
    from mug_core.server.app import create_server

    config = _load(args)
    server = create_server(config)
    scenes = config.stager.all_scenes() if config.stager else []
    print(
        f"ok: study {config.experiment_id!r} with {len(scenes)} scenes, sinks "
        f"{', '.join(config.sinks)}; {len(server.plugins.plugins)} plugins loaded"
    )
    return 0


def _plugins(args: argparse.Namespace) -> int:
    rows = plugin_list(args.plugin_host)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "name": info.name,
                        "distribution": info.distribution,
                        "version": info.version,
                        "builtin": info.builtin,
                        "registers": registers,
                    }
                    for info, registers in rows
                ],
                indent=2,
            )
        )
        return 0
    for info, registers in rows:
        origin = "built-in" if info.builtin else f"{info.distribution or '?'} {info.version or ''}"
        print(f"{info.name}  ({origin.strip()})")
        for kind, names in registers.items():
            print(f"    {kind}: {', '.join(names)}")
    return 0


def _plugins_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON")


def _assets_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["install", "list"], help="install or list packages")
    parser.add_argument(
        "--dir", type=Path, default=None, help=f"where to install (default {default_vendor_dir()})"
    )
    parser.add_argument("--quiet", action="store_true", help="print only errors")


def npm_packages(host: Any) -> dict[str, str]:
    """Every pinned npm package the installed plugins' client bundles need."""
    packages: dict[str, str] = {}
    registry = host.registries.client_assets
    for name in registry.names():
        assets: ClientAssets = registry.get(name)
        packages.update(assets.npm)
    return dict(sorted(packages.items()))


def _installed_version(target: Path, name: str) -> str | None:
    try:
        meta = json.loads((target / "node_modules" / name / "package.json").read_text())
    except (OSError, ValueError):
        return None
    return meta.get("version")


def _assets(args: argparse.Namespace) -> int:
    packages = npm_packages(args.plugin_host)
    if args.action == "list":
        for name, version in packages.items():
            print(f"{name}@{version}")
        return 0
    target: Path = args.dir or default_vendor_dir()
    npm = shutil.which("npm")
    if npm is None:
        print(
            "mug: error: npm is needed to fetch browser packages; install Node.js", file=sys.stderr
        )
        return 2
    target.mkdir(parents=True, exist_ok=True)
    manifest_file = target / "package.json"
    # The folder is shared by every environment on this machine: keep what other plugin sets
    # installed there (npm would otherwise prune it) and update only our pins.
    existing: dict[str, str] = {}
    if manifest_file.is_file():
        try:
            existing = dict(json.loads(manifest_file.read_text()).get("dependencies", {}))
        except (ValueError, AttributeError):
            existing = {}
    wanted = dict(sorted({**existing, **packages}.items()))
    installed = all(
        _installed_version(target, name) == version for name, version in packages.items()
    )
    if installed and wanted == existing:
        if not args.quiet:
            print(f"browser packages are up to date in {target}")
        return 0
    manifest = {"name": "mug-vendor", "private": True, "dependencies": wanted}
    manifest_file.write_text(json.dumps(manifest, indent=2) + "\n")
    if not args.quiet:
        print(f"installing {', '.join(f'{n}@{v}' for n, v in packages.items())} into {target}")
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
        cwd=target,
        check=False,
    )
    return done.returncode


@hookimpl
def mug_register_commands(register: Registry[Any]) -> None:
    from mug_core.export.cli import EXPORT_COMMAND

    register("export", EXPORT_COMMAND)
    register("run", Command("serve a study file", _run, _study_argument))
    register("check", Command("validate a study file without serving it", _check, _study_argument))
    register(
        "plugins",
        Command("list installed plugins and what each registers", _plugins, _plugins_arguments),
    )
    register(
        "assets",
        Command(
            "install the pinned browser packages (npm) the plugins need", _assets, _assets_arguments
        ),
    )
