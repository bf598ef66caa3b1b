"""Returns per participant: load a study's steps with pandas and plot them.

Run it on a ``mug export`` folder (``steps.parquet``) or straight on the data folder the
``csv`` sink wrote (``data/<experiment_id>``)::

    mug export data/my_study --to parquet --out exports/my_study
    python examples/analysis/returns_per_participant.py exports/my_study --png returns.png

It prints one line per participant, episode and agent with the episode's return (the sum of
that agent's rewards), and saves a bar chart of each participant's mean return per agent.
Needs pandas (and pyarrow for Parquet); the chart needs matplotlib and is skipped without it.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd

KEYS = ["participant_id", "scene_key", "episode"]


def _steps_from_csv(folder: Path) -> pd.DataFrame:
    """The step files of a data folder, with a ``reward_<agent>`` column per agent."""
    files = [
        path
        for path in glob.glob(str(folder / "*" / "*_ep*.csv"))
        if not path.endswith("_events.csv")
    ]
    if not files:
        raise SystemExit(f"no step files (<scene>/<participant>_ep<n>.csv) under {folder}")
    steps = pd.concat(pd.read_csv(path, keep_default_na=False) for path in files)
    steps = steps.drop_duplicates()  # rows a sink stored twice after a crash
    rewards = pd.json_normalize([json.loads(cell) if cell else {} for cell in steps["rewards"]])
    rewards.columns = [f"reward_{agent}" for agent in rewards.columns]
    return pd.concat([steps.reset_index(drop=True), rewards], axis=1)


def load_steps(source: str | Path) -> pd.DataFrame:
    """One row per step, from ``<source>/steps.parquet`` or else the CSV files in ``source``."""
    folder = Path(source)
    parquet = folder / "steps.parquet"
    if parquet.is_file():
        return pd.read_parquet(parquet)
    return _steps_from_csv(folder)


def returns_per_episode(steps: pd.DataFrame) -> pd.DataFrame:
    """Columns participant_id, scene_key, episode, agent, return (one row per agent)."""
    reward_columns = [c for c in steps.columns if c.startswith("reward_")]
    totals = steps.groupby(KEYS, sort=True)[reward_columns].sum().reset_index()
    long = totals.melt(id_vars=KEYS, var_name="agent", value_name="return")
    long["agent"] = long["agent"].str.removeprefix("reward_")
    return long.sort_values([*KEYS, "agent"], ignore_index=True)


def plot(returns: pd.DataFrame, png: Path) -> bool:
    """Save a bar chart of mean return per participant and agent; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: skipping the chart", file=sys.stderr)
        return False
    means = returns.pivot_table(index="participant_id", columns="agent", values="return")
    axes: Any = means.plot.bar(figsize=(max(4.0, 0.6 * len(means)), 3.5), rot=45)
    axes.set_xlabel("participant")
    axes.set_ylabel("mean return per episode")
    axes.set_title("Returns per participant")
    figure = axes.get_figure()
    figure.tight_layout()
    figure.savefig(png, dpi=120)
    plt.close(figure)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a `mug export` folder or a study's data folder")
    parser.add_argument("--png", type=Path, default=Path("returns_per_participant.png"))
    args = parser.parse_args(argv)
    returns = returns_per_episode(load_steps(args.source))
    print(returns.to_string(index=False))
    if plot(returns, args.png):
        print(f"saved {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
