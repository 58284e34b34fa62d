"""Cell records to the typed tables of a study (docs/tables.md), and back.

- ``cells``: one row per cell: ``cell_id``, the grid axes, ``steps``, every other resolved
  setting (nested ones flattened: ``clip_kind``, ...), the gradient metrics with their phase as
  prefix (``init_decay_rate``, ``trained_decay_rate``, ...; empty where the phase was not
  measured), the training metrics, ``status``, ``runtime_s`` and the provenance columns.
- ``profiles`` (long): ``cell_id``, ``phase``, ``lag``, ``grad_norm``, ``jacobian_norm``,
  ``weight_grad_norm``.
- ``training`` (long): ``cell_id``, ``step``, ``loss``, ``param_grad_norm``, ``clipped``,
  ``penalty``.

Columns are typed the same whatever the records hold (a study where no cell trained still has
float ``trained_*`` columns): integers are ``int64`` (``Int64`` where they may be empty), reals
``float64`` (NaN where empty, inf kept), flags ``bool`` (``boolean`` where they may be empty),
and strings ``object``.

Example
-------
>>> t = build_tables([])
>>> list(t.profiles.columns)
['cell_id', 'phase', 'lag', 'grad_norm', 'jacobian_norm', 'weight_grad_norm']
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from rnngrad.config import AXES
from rnngrad.files import atomic_write
from rnngrad.provenance import PROVENANCE
from rnngrad.settings import NESTED, CellSettings

PHASES = ("init", "trained")
# gradient metrics of a phase (docs/metrics.md), in column order; others a record has follow
PHASE_METRICS = (
    "log10_grad_ratio",
    "decay_rate",
    "jacobian_decay_rate",
    "horizon",
    "lyapunov_max",
    "spectral_radius",
    "spectral_norm",
    "profile_seconds",
    "jacobian_seconds",
)
TRAINING_METRICS = (
    "final_loss",
    "accuracy",
    "baseline_loss",
    "normalized_loss",
    "solved",
    "clip_fraction",
    "max_grad_norm",
    "diverged_at",
    "train_seconds",
)
TABLES = ("cells", "profiles", "training")
FILES = {"cells": "cells.parquet", "profiles": "profiles.parquet", "training": "training.parquet"}
CELLS_CSV = "cells.csv"

# column types that values alone cannot tell (a column may be empty in every cell)
_SETTING_DTYPES = {"int": "int64", "float": "float64", "str": "object", "bool": "bool"}
_NULLABLE = {"int64": "Int64", "bool": "boolean", "float64": "float64", "object": "object"}
_METRIC_DTYPES = {
    "horizon": "Int64",
    "solved": "boolean",
    "diverged_at": "Int64",
    "status": "object",
}
PROFILE_DTYPES = {
    "cell_id": "object",
    "phase": "object",
    "lag": "int64",
    "grad_norm": "float64",
    "jacobian_norm": "float64",
    "weight_grad_norm": "float64",
}
TRAINING_DTYPES = {
    "cell_id": "object",
    "step": "int64",
    "loss": "float64",
    "param_grad_norm": "float64",
    "clipped": "bool",
    "penalty": "float64",
}


class Tables(NamedTuple):
    cells: pd.DataFrame
    profiles: pd.DataFrame
    training: pd.DataFrame


class RecordError(ValueError):
    """A record file that is missing, unreadable or not a cell record."""


# -- building -----------------------------------------------------------------------------------
def read_records(paths: Iterable[str | os.PathLike]) -> list[dict[str, Any]]:
    """Read cell records (JSON); a missing or corrupt file is an error naming it."""
    records = []
    for path in paths:
        try:
            with open(path) as f:
                records.append(json.load(f))
        except (OSError, json.JSONDecodeError) as e:
            raise RecordError(f"{path}: not a readable cell record ({e})") from e
    return records


def setting_dtypes() -> dict[str, str]:
    """The column type of every flattened setting (``seq_len``: int64, ``clip_kind``: object...)."""
    out = {}
    for f in dataclasses.fields(CellSettings):
        if f.name == "extra_axes":
            continue
        if f.name in NESTED:
            for sub in dataclasses.fields(NESTED[f.name]):
                out[f"{f.name}_{sub.name}"] = _NULLABLE[_SETTING_DTYPES[sub.type]]
        else:
            out[f.name] = _SETTING_DTYPES[f.type]
    return out


def _inferred(values: list[Any]) -> str:
    seen = [v for v in values if v is not None]
    if seen and all(isinstance(v, bool) for v in seen):
        return "boolean"
    if seen and all(isinstance(v, int) and not isinstance(v, bool) for v in seen):
        return "Int64"
    if seen and all(isinstance(v, str) for v in seen):
        return "object"
    return "float64"


def _typed(
    rows: list[dict[str, Any]], columns: list[str], dtypes: Mapping[str, str]
) -> pd.DataFrame:
    data = {}
    for c in columns:
        values = [r.get(c) for r in rows]
        data[c] = _column(values, dtypes.get(c) or _inferred(values))
    return pd.DataFrame(data, columns=columns)


def _extend(names: list[str], new: Iterable[str]) -> None:
    for n in new:
        if n not in names:
            names.append(n)


def cells_table(records: list[Mapping[str, Any]]) -> pd.DataFrame:
    """One typed row per record (see the module docstring for the columns)."""
    settings = setting_dtypes()
    extra: list[str] = []
    phase_names = list(PHASE_METRICS)
    other: list[str] = [*list(TRAINING_METRICS), "status", "runtime_s"]
    provenance = list(PROVENANCE)
    rows = []
    for r in records:
        s = CellSettings.from_dict(r["settings"])
        _extend(extra, s.extra_axes)
        for k in r["metrics"]:
            phase, _, name = k.partition("_")
            if phase in PHASES and name:
                _extend(phase_names, [name])
            else:
                _extend(other, [k])
        _extend(provenance, r["provenance"])
        rows.append(
            {
                "cell_id": r["cell_id"],
                "steps": r["steps"],
                **s.flat(),
                **r["metrics"],
                **r["provenance"],
            }
        )
    axes = [*AXES, *extra]
    columns = [
        "cell_id",
        *axes,
        "steps",
        *(k for k in settings if k not in axes),
        *(f"{p}_{n}" for p in PHASES for n in phase_names),
        *other,
        *provenance,
    ]
    dtypes = {
        "cell_id": "object",
        "steps": "int64",
        **settings,
        **{f"{p}_{n}": _METRIC_DTYPES.get(n, "") for p in PHASES for n in phase_names},
        **{k: _METRIC_DTYPES.get(k, "") for k in other},
        **dict.fromkeys(provenance, "object"),
    }
    return _typed(rows, columns, {k: v for k, v in dtypes.items() if v})


def _long(
    records: Iterable[Mapping[str, Any]],
    blocks: Callable[[Mapping[str, Any]], Iterable],
    dtypes: Mapping[str, str],
) -> pd.DataFrame:
    """Concatenate per-record column blocks (dicts of equal-length lists) into a typed table."""
    columns = list(dtypes)
    parts: dict[str, list] = {c: [] for c in columns}
    for r in records:
        for block in blocks(r):
            n = len(block["lag" if "lag" in block else "step"])
            for c in columns:
                v = r["cell_id"] if c == "cell_id" else block.get(c)
                if c in ("cell_id", "phase"):
                    v = [v] * n
                elif v is None:
                    v = [None] * n
                parts[c].extend(v)
    return pd.DataFrame({c: _column(parts[c], dtypes[c]) for c in columns}, columns=columns)


def _column(values: list[Any], dtype: str) -> pd.Series:
    if dtype == "float64":  # None is an empty value: NaN
        return pd.Series(np.array([np.nan if v is None else v for v in values], dtype=float))
    return pd.Series(values, dtype=dtype)


def profiles_table(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Per-lag gradient profiles, one row per cell, phase and lag."""
    return _long(records, lambda r: r["profiles"], PROFILE_DTYPES)


def training_table(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Training curves, one row per cell and step (none for cells that did not train)."""
    return _long(records, lambda r: [r["training"]] if r.get("training") else [], TRAINING_DTYPES)


def build_tables(records: Iterable[Mapping[str, Any]]) -> Tables:
    """The three tables of a list of cell records (each cell once)."""
    records = list(records)
    ids = [r["cell_id"] for r in records]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise RecordError(f"cell_id: records repeat a cell (value {dup[0]!r})")
    return Tables(cells_table(records), profiles_table(records), training_table(records))


# -- files --------------------------------------------------------------------------------------
def write_tables(tables: Tables, outdir: str | os.PathLike) -> list[Path]:
    """Write ``cells.csv`` and the three parquet tables under ``outdir``, each atomically."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = [outdir / CELLS_CSV]
    atomic_write(paths[0], lambda p: tables.cells.to_csv(p, index=False))
    for name in TABLES:
        path = outdir / FILES[name]
        frame = getattr(tables, name)
        atomic_write(path, lambda p, frame=frame: frame.to_parquet(p, index=False))
        paths.append(path)
    return paths


def tables_dir(study: str, root: str | os.PathLike = ".") -> Path:
    return Path(root) / "results" / study / "tables"


def load(study: str, root: str | os.PathLike = ".") -> Tables:
    """The tables of a study as DataFrames (``.cells``, ``.profiles``, ``.training``).

    Example
    -------
    >>> t = load("default")  # doctest: +SKIP
    >>> t.cells.groupby("remedy").init_decay_rate.median()  # doctest: +SKIP
    """
    d = tables_dir(study, root)
    if not (d / FILES["cells"]).exists():
        raise FileNotFoundError(
            f"{d / FILES['cells']}: no tables for study {study!r} (run `snakemake --cores 2` first)"
        )
    return read_tables(d)


def read_tables(directory: str | os.PathLike) -> Tables:
    """The three parquet tables in a folder."""
    return Tables(*(pd.read_parquet(Path(directory) / FILES[name]) for name in TABLES))
