"""Export a study's data for analysis: tidy Parquet tables and Minari datasets for offline RL.

::

    from mug_core.export import read_study, export_parquet, export_minari

    data = read_study("data/my_study")          # the csv sink's folder; standard library only
    export_parquet(data, "exports/my_study")    # steps, events, scenes, participants .parquet
    export_minari(data, "exports/minari")       # one dataset per game scene and agent

Reading needs nothing beyond the core; Parquet needs pyarrow and Minari needs minari
(``pip install 'mug-core[export]'``), imported only when used. The command line is
``mug export`` (:mod:`mug_core.export.cli`).
"""

from __future__ import annotations

from typing import Any

from mug_core.export.reading import StudyData, read_study

__all__ = ["StudyData", "export_minari", "export_parquet", "read_study"]


def __getattr__(name: str) -> Any:
    if name == "export_parquet":
        from mug_core.export.tidy import export_parquet

        return export_parquet
    if name == "export_minari":
        from mug_core.export.offline_rl import export_minari

        return export_minari
    raise AttributeError(name)
