"""``mug export``: a study's data as tidy Parquet tables or Minari datasets.

::

    mug export data/my_study --to parquet --out exports/my_study
    mug export study.py --to minari --out exports/minari

The core registers :data:`EXPORT_COMMAND` as ``export`` through
``mug_register_commands`` hook.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mug_core.cli.command import Command
from mug_core.errors import MugError


class ExportFailed(MugError):
    """``mug export`` could not read or write the data; the message says why."""


def study_folder(source: str | Path) -> Path:
    """The data folder of ``source``: a study file (``.py``) or the folder itself."""
    path = Path(source)
    if path.is_file() and path.suffix == ".py":
        from mug_core.cli.study import load_study

        return load_study(path).study_dir
    if path.is_dir():
        return path
    raise ExportFailed(f"{str(source)!r} is neither a study file (.py) nor a data folder")


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source", help="the study's data folder (data/<experiment_id>) or its study file (.py)"
    )
    parser.add_argument(
        "--to",
        choices=["parquet", "minari"],
        action="append",
        help="output format; repeat for both (default: parquet)",
    )
    parser.add_argument("--out", type=Path, required=True, help="the folder to write into")
    parser.add_argument(
        "--keep-duplicates",
        action="store_true",
        help="keep rows a sink stored twice after a crash (dropped and counted by default)",
    )


def _run(args: argparse.Namespace) -> int:
    from mug_core.export.reading import read_study

    folder = study_folder(args.source)
    if not folder.is_dir():
        raise ExportFailed(f"no data folder at {folder}: has the study recorded anything yet?")
    data = read_study(folder, drop_duplicates=not args.keep_duplicates)
    print(
        f"study {data.experiment_id!r} in {folder}: {len(data.participants)} participants, "
        f"{len(data.scenes)} scene rows, {len(data.steps)} steps, {len(data.events)} events"
    )
    for kind, count in sorted(data.duplicates.items()):
        print(f"dropped {count} repeated {kind} rows (re-delivered after a crash)")
    try:
        for target in args.to or ["parquet"]:
            if target == "parquet":
                from mug_core.export.tidy import export_parquet

                for table, rows in export_parquet(data, args.out).items():
                    print(f"wrote {args.out / (table + '.parquet')}: {rows} rows")
            else:
                from mug_core.export.offline_rl import export_minari

                for dataset, episodes in export_minari(data, args.out).items():
                    print(f"wrote Minari dataset {dataset} in {args.out}: {episodes} episodes")
    except (ImportError, ValueError, FileExistsError) as exc:
        print(f"mug export: error: {exc}", file=sys.stderr)
        return 2
    return 0


EXPORT_COMMAND = Command(
    "export a study's data as tidy Parquet tables or Minari datasets", _run, _arguments
)
"""Register as ``register("export", EXPORT_COMMAND)`` in ``mug_register_commands``."""
