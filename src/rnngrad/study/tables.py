"""Cell records to the typed tables of a study (docs/tables.md), and back.

- ``cells``: one row per cell: ``cell_id``, the grid axes, ``steps``, every other resolved
  setting (nested ones flattened: ``clip_kind``, ...), the gradient metrics with their phase as
  prefix (``init_decay_rate``, ``trained_decay_rate``, ...; empty where the phase was not
  measured), the training metrics, ``status``, ``runtime_s`` and the provenance columns.
- ``profiles`` (long): ``cell_id``, ``phase``, ``lag``, ``grad_norm``, ``jacobian_norm``,
  ``weight_grad_norm``, ``jacobian_sv_median``, ``jacobian_sv_min``, and the exact log10
  values ``log10_grad_norm``, ``log10_jacobian_norm``, ``log10_weight_grad_norm`` (the norms
  themselves are 0 below float64's range and inf above it; the log10 columns hold every value).
- ``training`` (long): ``cell_id``, ``step``, ``loss``, ``param_grad_norm``, ``clipped``,
  ``penalty``, ``eval_loss``, ``eval_accuracy`` (the periodic held-out evaluation, NaN on steps
  without one).

Columns are typed the same whatever the records hold (a study where no cell trained still has
float ``trained_*`` columns): integers are ``int64`` (``Int64`` where they may be empty), reals
``float64`` (NaN where empty, inf kept), flags ``bool`` (``boolean`` where they may be empty),
and strings ``object``.

Example
-------
>>> t = build_tables([])
>>> list(t.profiles.columns)[:6]
['cell_id', 'phase', 'lag', 'grad_norm', 'jacobian_norm', 'weight_grad_norm']
>>> list(t.profiles.columns)[8:]
['log10_grad_norm', 'log10_jacobian_norm', 'log10_weight_grad_norm']
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from rnngrad.core.cellid import AXES
from rnngrad.core.files import atomic_write
from rnngrad.core.settings import CellSettings
from rnngrad.core.theory import MEAN_FIELD_COLUMNS
from rnngrad.run.provenance import PROVENANCE
from rnngrad.run.record import RecordError, check_record
from rnngrad.study.columns import (
    LOG10_COLUMNS,
    METRIC_DTYPES,
    PHASE_METRICS,
    PHASES,
    PROFILE_DTYPES,
    TRAINING_DTYPES,
    TRAINING_METRICS,
    describe_column,
    setting_dtypes,
)
from rnngrad.study.paths import CELLS_CSV, TABLE_FILES, TABLES, TABLES_DIR, fill


class Tables(NamedTuple):
    cells: pd.DataFrame
    profiles: pd.DataFrame
    training: pd.DataFrame


# -- building -----------------------------------------------------------------------------------
def read_records(paths: Iterable[str | os.PathLike]) -> list[dict[str, Any]]:
    """Read cell records (JSON); a missing, corrupt or inconsistent file is an error naming it
    (see :func:`rnngrad.run.cell.check_record`)."""
    records = []
    for path in paths:
        try:
            with open(path) as f:
                record = json.load(f)
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
            raise RecordError(f"{path}: not a readable cell record ({e})") from e
        check_record(record, path)
        records.append(record)
    return records


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
    other: list[str] = [*TRAINING_METRICS, *MEAN_FIELD_COLUMNS, "status", "runtime_s"]
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
        **{f"{p}_{n}": METRIC_DTYPES.get(n, "") for p in PHASES for n in phase_names},
        **{k: METRIC_DTYPES.get(k, "") for k in other},
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
    return _long(records, lambda r: map(_with_log10, r["profiles"]), PROFILE_DTYPES)


def _with_log10(block: Mapping[str, Any]) -> Mapping[str, Any]:
    """A profile block with its log10 columns; a record written before they existed gets them
    from its norms (exact wherever those are within float64's range)."""
    missing = {k: c for k, c in LOG10_COLUMNS.items() if k not in block and block.get(c)}
    if not missing:
        return block
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = {k: np.log10(np.asarray(block[c], dtype=float)).tolist() for k, c in missing.items()}
    return {**block, **logs}


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
        path = outdir / TABLE_FILES[name]
        frame = getattr(tables, name)
        atomic_write(path, lambda p, frame=frame: frame.to_parquet(p, index=False))
        paths.append(path)
    return paths


def tables_dir(study: str, root: str | os.PathLike = ".") -> Path:
    """results/<study>/tables under ``root``."""
    return fill(TABLES_DIR, root, study=study)


def load(study: str | Sequence[str], root: str | os.PathLike = ".") -> Tables:
    """The tables of a study, or of several studies concatenated, as typed, annotated frames.

    Every table starts with a categorical ``study`` column (categories in the order given).
    Column types are those of the module docstring; a column that only some of several studies
    have is empty (NaN) in the others' rows. ``df.attrs["columns"]`` maps each column to its
    ``dtype``, ``unit`` and ``meaning`` (the data dictionary, as in the report) and
    ``df.attrs["studies"]`` lists the studies.

    Example
    -------
    >>> t = load(["bengio1994", "le2015"])  # doctest: +SKIP
    >>> t.cells.groupby(["study", "remedy"]).init_decay_rate.median()  # doctest: +SKIP
    >>> t.cells.attrs["columns"]["init_decay_rate"]["unit"]  # doctest: +SKIP
    'log10 per step'
    """
    names = [study] if isinstance(study, str) else list(study)
    if not names:
        raise ValueError("study: name at least one study (value [])")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"study: a study is named twice (value {repeated[0]!r})")
    per_study = []
    for name in names:
        d = tables_dir(name, root)
        if not (d / TABLE_FILES["cells"]).exists():
            raise FileNotFoundError(
                f"{d / TABLE_FILES['cells']}: no tables for study {name!r} "
                "(run `snakemake --cores 2` first)"
            )
        per_study.append([df.assign(study=name) for df in read_tables(d)])
    out = []
    for i in range(len(TABLES)):
        frames = [t[i] for t in per_study]
        filled = [f for f in frames if len(f)] or frames[:1]  # pandas warns on empty parts
        df = filled[0] if len(filled) == 1 else pd.concat(filled, ignore_index=True)
        df.insert(0, "study", pd.Categorical(df.pop("study"), categories=names))
        df.attrs = {
            "studies": names,
            "columns": {
                c: {"dtype": str(df[c].dtype), "unit": unit, "meaning": meaning}
                for c in df.columns
                for unit, meaning in [describe_column(c)]
            },
        }
        out.append(df)
    return Tables(*out)


def read_tables(directory: str | os.PathLike) -> Tables:
    """The three parquet tables in a folder."""
    return Tables(*(pd.read_parquet(Path(directory) / TABLE_FILES[name]) for name in TABLES))
