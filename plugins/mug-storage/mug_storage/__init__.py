"""MUG's storage plugin: where study data ends up.

Registers the ``csv`` data sink (:class:`mug_storage.csv.CsvSink`), MUG's default, which writes
each study's records under ``data/<experiment_id>``. The record schema and file layout are
documented in ``docs/data.md``. Importing this package imports nothing heavy; the sink module is
loaded only when a study uses it.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
