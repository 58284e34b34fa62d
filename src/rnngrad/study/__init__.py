"""A study: many cells from one config.

The config, its schema and the grid (:mod:`~rnngrad.study.config`), the output paths that the
workflow and the status both read (:mod:`~rnngrad.study.paths`), plan and status of a study's
cells (:mod:`~rnngrad.study.status`), the cost model of a cell (:mod:`~rnngrad.study.resources`)
the tables collected from the records (:mod:`~rnngrad.study.tables`) and their data dictionary
(:mod:`~rnngrad.study.columns`).

Imports: :mod:`rnngrad.core` and :mod:`rnngrad.run` (the record, the cost of a pass); never the
report or command layers, and no matplotlib.
"""
