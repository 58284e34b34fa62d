"""Where a study's files go: one list that the workflow's rules, the status and the commands
all read, so that a path is written once.

Patterns hold Snakemake's wildcards (``{study}``, ``{cell_id}``); :func:`fill` fills them.
Every path is relative to the folder the workflow runs in (``root``).

Example
-------
>>> fill(REPORT, study="default")
PosixPath('reports/default.html')
>>> [p.name for p in table_paths("default")]
['cells.csv', 'cells.parquet', 'profiles.parquet', 'training.parquet']
"""

from __future__ import annotations

import os
from pathlib import Path

CELL_RECORD = "results/{study}/cells/{cell_id}.json"
CELL_LOG = "logs/{study}/cells/{cell_id}.log"
CHECKPOINT = "results/{study}/checkpoints/{cell_id}.npz"  # a long cell resumes from here
STALE_FLAG = "results/{study}/stale/{cell_id}.flag"
TABLES_DIR = "results/{study}/tables"
FIGURES_DIR = "results/{study}/figures"
REPORT = "reports/{study}.html"
COMPARE = "reports/compare-{studies}.html"
STAGE_LOG = "logs/{study}/{stage}.log"  # tables, figures, report
LOCK = "results/{study}/.lock"

TABLES = ("cells", "profiles", "training")  # the long tables and cells, in this order
TABLE_FILES = {t: f"{t}.parquet" for t in TABLES}
CELLS_CSV = "cells.csv"  # the cells table again, for a spreadsheet
FIGURE_FORMATS = ("png", "svg", "pdf")  # every figure is saved in each


def fill(pattern: str, root: str | os.PathLike = ".", **wildcards: str) -> Path:
    """``pattern`` with its wildcards filled, under ``root``."""
    return Path(root) / pattern.format(**wildcards)


def table_pattern(table: str) -> str:
    """The pattern of a table's file (``table`` one of TABLES, or ``"csv"`` for cells.csv)."""
    return f"{TABLES_DIR}/{CELLS_CSV if table == 'csv' else TABLE_FILES[table]}"


def stage_log(stage: str) -> str:
    """The pattern of a stage's log (tables, figures, report)."""
    return STAGE_LOG.replace("{stage}", stage)


def table_paths(study: str, root: str | os.PathLike = ".") -> list[Path]:
    """The tables' files: cells.csv, then each table's parquet file."""
    tables = fill(TABLES_DIR, root, study=study)
    return [tables / CELLS_CSV, *(tables / TABLE_FILES[t] for t in TABLES)]


def figure_paths(study: str, names: list[str], root: str | os.PathLike = ".") -> list[Path]:
    """Every format of every figure called in ``names`` (the report's figures)."""
    figures = fill(FIGURES_DIR, root, study=study)
    return [figures / f"{n}.{ext}" for n in names for ext in FIGURE_FORMATS]
