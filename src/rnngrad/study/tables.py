"""Cell records to the typed tables of a study (docs/tables.md), and back.

- ``cells``: one row per cell: ``cell_id``, the grid axes, ``steps``, every other resolved
  setting (nested ones flattened: ``clip_kind``, ...), the gradient metrics with their phase as
  prefix (``init_decay_rate``, ``trained_decay_rate``, ...; empty where the phase was not
  measured), the training metrics, ``status``, ``runtime_s`` and the provenance columns.
- ``profiles`` (long): ``cell_id``, ``phase``, ``lag``, ``grad_norm``, ``jacobian_norm``,
  ``weight_grad_norm``.
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
>>> list(t.profiles.columns)
['cell_id', 'phase', 'lag', 'grad_norm', 'jacobian_norm', 'weight_grad_norm']
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from rnngrad.core.cellid import AXES
from rnngrad.core.files import atomic_write
from rnngrad.core.settings import NESTED, CellSettings
from rnngrad.core.settings import describe as describe_settings
from rnngrad.run.provenance import PROVENANCE
from rnngrad.run.record import RecordError, check_record
from rnngrad.study.paths import CELLS_CSV, TABLE_FILES, TABLES, TABLES_DIR, fill

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
    "memory_sensitivity",
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
    "steps_trained",
    "train_steps_per_s",
    "plain_train_steps_per_s",
    "train_vs_plain",
    "steps_to_solve",
    "sequences_to_solve",
)

# column types that values alone cannot tell (a column may be empty in every cell)
_SETTING_DTYPES = {"int": "int64", "float": "float64", "str": "object", "bool": "bool"}
_NULLABLE = {"int64": "Int64", "bool": "boolean", "float64": "float64", "object": "object"}
_METRIC_DTYPES = {
    "horizon": "Int64",
    "solved": "boolean",
    "diverged_at": "Int64",
    "steps_trained": "Int64",
    "steps_to_solve": "Int64",
    "sequences_to_solve": "Int64",
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
    "eval_loss": "float64",
    "eval_accuracy": "float64",
}


# the data dictionary (the report shows it, load() puts it in df.attrs): column -> (unit,
# meaning); init_/trained_ metrics are described once, without their prefix
METRIC_COLUMNS = {
    "decay_rate": (
        "log10 per step",
        "least-squares slope of log10 grad_norm[k] against lag k (lstm: lags 1 on)",
    ),
    "jacobian_decay_rate": ("log10 per step", "the same slope of jacobian_norm"),
    "log10_grad_ratio": (
        "log10 (ratio)",
        "log10(grad_norm[steps-1] / grad_norm[0]): < 0 vanishing, > 0 exploding (lstm: "
        "against grad_norm[1], the first lag covering both h and c, as dL/dc_T = 0)",
    ),
    "horizon": (
        "steps",
        "smallest lag with grad_norm below 1e-3 grad_norm[0] (lstm: grad_norm[1]); steps when none",
    ),
    "lyapunov_max": (
        "ln per step (natural log)",
        "finite-time largest Lyapunov exponent along the first probe sequence: (1/steps) ln "
        "||J_steps ... J_1 q_0|| from a fixed seeded unit vector q_0, no transient discarded; "
        "below the direction-free value by about (psi(N/2) - psi(1/2)) / (2 steps), i.e. "
        "2.35/steps at N 32 (measured 0.02-0.09 at steps 30); "
        "-inf when the product is exactly zero",
    ),
    "spectral_radius": ("1", "largest |eigenvalue| of W_rec (gated models: candidate block)"),
    "spectral_norm": ("1", "largest singular value of W_rec (gated models: candidate block)"),
    "memory_sensitivity": (
        "1",
        "the curse of memory (Zucchet and Orvieto 2024): sqrt((H / |theta_rec|) mean_b "
        "||dy_b/dtheta_rec||^2 / (mean_b ||h_T(b)||^2 / H)), y_b = u . h_T(b) for the first 16 "
        "probe sequences and a fixed seeded unit vector u, theta_rec the recurrent weights; "
        "the scalar linear recurrence with white input reads sqrt(1 + l^2) / (1 - l^2)",
    ),
    "profile_seconds": ("s", "median wall time of the forward + backward pass giving grad_norm"),
    "jacobian_seconds": ("s", "median wall time of the Jacobian norms and lyapunov_max"),
    "probe_loss": ("loss units of the task", "task loss of the probe batch"),
    "profile_gflops": (
        "GFLOP/s",
        "useful FLOPs of the profile pass (6BH^2T per gate block) per second of profile_seconds",
    ),
    "profile_peak_mb": (
        "MB",
        "peak memory of one profile pass above what was held before it "
        "(tracemalloc for NumPy, peak RSS rise or CUDA peak for torch)",
    ),
}
COLUMNS = {
    "cell_id": ("text", "stable id: backend, remedy, seq_len, w_rec_scale, seed, further axes"),
    "steps": ("steps", "actual sequence length the network reads"),
    "study": ("category", "the study of the row (rnngrad.load)"),
    **describe_settings(),
    "final_loss": ("loss units of the task", "loss on >= 1000 fresh evaluation sequences"),
    "accuracy": ("fraction", "fraction of evaluation sequences correct"),
    "baseline_loss": ("loss units of the task", "loss of the best memoryless predictor"),
    "normalized_loss": ("1 (1 = chance)", "final_loss / baseline_loss"),
    "solved": ("bool", "accuracy >= 0.99 (Pascanu et al.'s fewer than 1% errors)"),
    "memory_capacity": ("delays", "Jaeger's memory capacity (memory task)"),
    "clip_fraction": ("fraction", "fraction of training steps whose gradient was clipped"),
    "max_grad_norm": ("gradient units", "largest global gradient norm before clipping"),
    "diverged_at": ("step", "training step with a non-finite loss or gradient; empty if none"),
    "train_seconds": ("s", "wall time of training"),
    "steps_trained": ("steps", "training steps run (below train_steps when stopped when solved)"),
    "train_steps_per_s": ("steps/s", "steps_trained / train_seconds"),
    "plain_train_steps_per_s": (
        "steps/s",
        "plain PyTorch's training steps/s at the cell's shape, timed in the same job after "
        "training (plain_reference_steps); empty if not timed",
    ),
    "train_vs_plain": ("1", "train_steps_per_s / plain_train_steps_per_s"),
    "steps_to_solve": (
        "steps",
        "first step whose held-out evaluation reached accuracy 0.99; empty if never",
    ),
    "sequences_to_solve": ("sequences", "steps_to_solve x batch (Hochreiter and Schmidhuber)"),
    "status": ("category", "ok, exploded (init profile overflowed) or diverged (training)"),
    "runtime_s": ("s", "wall time of the whole cell"),
    "overhead_s": ("s", "the job's time outside the cell (interpreter start, imports)"),
    "gemm_gflops": (
        "GFLOP/s",
        "this machine's GEMM rate at the cell's per-step matrix shape, measured in the same job",
    ),
    "rnngrad_version": ("text", "package version"),
    "code_hash": ("hex", "hash of the package source that computed the cell"),
    "numpy_version": ("text", "NumPy version"),
    "torch_version": ("text", "PyTorch version (empty if not installed)"),
    "git_commit": ("hex", "git commit of the checkout (empty outside git)"),
    "settings_hash": ("hex", "hash of the cell's resolved settings"),
    "host": ("text", "host name"),
    "python_version": ("text", "Python version"),
    # profiles
    "phase": ("category", "init (at initialization) or trained (after training)"),
    "lag": ("steps", "k = steps - t, steps back from the last step"),
    "grad_norm": (
        "loss units / state units",
        "||dL/ds_{steps-k}||, Frobenius over batch and units, of the last loss step's term of the "
        "loss (copy and memory score several steps)",
    ),
    "jacobian_norm": ("1", "||ds_steps / ds_{steps-k}||_2 on the first probe sequence"),
    "weight_grad_norm": ("loss units", "Frobenius norm of step (steps-k)'s term in dL/dW_rec"),
    # training
    "step": ("step", "training step"),
    "loss": ("loss units of the task", "training batch loss"),
    "param_grad_norm": ("gradient units", "global gradient norm before clipping"),
    "clipped": ("bool", "whether the step's gradient was clipped"),
    "penalty": ("1", "value of the penalty term (its form: penalty_kind)"),
    "eval_loss": ("loss units of the task", "held-out loss at a periodic evaluation; else empty"),
    "eval_accuracy": ("fraction", "held-out accuracy at a periodic evaluation; else empty"),
}


def describe_column(name: str) -> tuple[str, str]:
    """Unit and meaning of a table column (phase-prefixed metrics included)."""
    for prefix, phase in (("init_", "at initialization"), ("trained_", "after training")):
        if name.startswith(prefix) and name[len(prefix) :] in METRIC_COLUMNS:
            unit, meaning = METRIC_COLUMNS[name[len(prefix) :]]
            return unit, f"{meaning}, {phase}"
    return COLUMNS.get(name, ("", "further grid axis or setting (see the config)"))


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
