"""Tables derived from a study's tables: what the figures draw, the report summarizes and the
claims test.

Every function takes the study tables (``tables``: a mapping or an object with the DataFrames
``cells``, ``profiles`` and ``training``, see docs/tables.md) or the cells table, and returns a
DataFrame or plain values; nothing here draws or imports matplotlib. This module holds the
shared helpers and conventions, the regimes, the backends' agreement and the gradient profiles;
the training tables are in :mod:`~rnngrad.report.analysis_training` and theory against
measurement in :mod:`~rnngrad.report.analysis_theory`. Shared conventions: fixed
category orders (:data:`REMEDY_ORDER`, :data:`BACKEND_ORDER`), the median over seeds (and any
grid axis not shown) with the min-max spread as a band, each remedy at its best learning rate
where ``lr`` is a grid axis.

Example
-------
>>> remedy_order(["lstm", "zzz", "none"])
['none', 'lstm', 'zzz']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from rnngrad.core import tasks
from rnngrad.core.choices import TASKS

REMEDY_ORDER = (
    "none",
    "clip_norm",
    "clip_value",
    "truncated_bptt",
    "penalty",
    "l2_penalty",
    "orthogonal_init",
    "identity_init",
    "smart_init",
    "esn",
    "lstm",
    "gru",
    "exprnn",
    "antisymmetric",
    "indrnn",
    "lru",
)
BACKEND_ORDER = ("numpy", "torch")
GAMMA = {"tanh": 1.0, "relu": 1.0, "linear": 1.0, "sigmoid": 0.25}  # bound on |f'| (Pascanu)
AGREE_RTOL, AGREE_ATOL = 1e-8, 1e-12  # the backends' agreement in float64 (docs/metrics.md)
AGREEMENT_METRICS = ("log10_grad_ratio", "decay_rate", "jacobian_decay_rate", "lyapunov_max")
REGIME_LOG10 = 1.0  # |log10 grad ratio| above this: a cell is called vanishing/exploding
REGIMES = ("vanishing", "stable", "exploding")
# verdicts of backend_agreement (agree, disagree, chaotic) and of the claims (agrees, ...)
VERDICT_COLOURS = {
    "agree": "#009E73",
    "disagree": "#D55E00",
    "chaotic": "#56B4E9",
    "agrees": "#009E73",
    "differs": "#D55E00",
    "inconclusive": "#E69F00",
    "not measured here": "#999999",
    "holds": "#009E73",
    "fails": "#D55E00",
}


# -- shared helpers ----------------------------------------------------------------------------
def frame(tables: Any, name: str) -> pd.DataFrame:
    """Table ``name`` of ``tables`` (a mapping or an object with attributes); empty if absent."""
    t = tables.get(name) if hasattr(tables, "get") else getattr(tables, name, None)
    return pd.DataFrame() if t is None else t


def ordered(values, order) -> list:
    """Distinct ``values`` in a fixed ``order``, unknown ones after it, sorted."""
    present = set(pd.unique(pd.Series(values).dropna()))
    known = [v for v in order if v in present]
    return known + sorted(present - set(known), key=str)


def remedy_order(values) -> list[str]:
    return [str(v) for v in ordered(pd.Series(values).astype(str), REMEDY_ORDER)]


def n_seeds(cells: pd.DataFrame) -> int:
    return int(cells["seed"].nunique()) if "seed" in cells else 1


def seed_note(cells: pd.DataFrame, band: bool = True) -> str:
    """How a figure aggregates seeds, said on every figure that aggregates."""
    n = n_seeds(cells)
    if n <= 1:
        return "one seed: no spread over seeds"
    return f"median over {n} seeds" + ("; band: min to max" if band else "")


def median_band(df: pd.DataFrame, by: list[str], value: str) -> pd.DataFrame:
    """Median, min and max of ``value`` per group ``by`` (NaN-aware; inf kept)."""
    g = df.groupby(by, observed=True, sort=True)[value]
    return g.agg(median="median", lo="min", hi="max").reset_index()


def first_backend(cells: pd.DataFrame) -> str:
    """The backend a single-backend figure draws: NumPy (the hand-written reference) if present."""
    return ordered(cells["backend"], BACKEND_ORDER)[0]


def task_keys(cells: pd.DataFrame) -> list[str]:
    """``["task"]`` where the cells hold more than one task, else ``[]``: the keys that keep
    tasks apart in a table or figure (a loss over one task's baseline is not another's)."""
    return ["task"] if "task" in cells and cells["task"].nunique() > 1 else []


def tasks_in(cells: pd.DataFrame) -> list:
    """The cells' tasks in a fixed order (sorted); ``[None]`` where :func:`task_keys` is empty,
    i.e. one task or none recorded."""
    return sorted(cells["task"].astype(str).unique()) if task_keys(cells) else [None]


def of_task(cells: pd.DataFrame, task) -> pd.DataFrame:
    """The cells of ``task`` (all of them for None, see :func:`tasks_in`)."""
    return cells if task is None else cells[cells["task"].astype(str) == task]


def profile_task(cells: pd.DataFrame) -> str | None:
    """The task whose profiles the lag figures draw where the cells hold several (the first of
    :func:`tasks_in`: adding before copy), else None."""
    return tasks_in(cells)[0]


def profiles_at_longest(tables, phase: str = "init") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Profiles of ``phase`` joined with their cells, for one backend at its longest seq_len,
    and one task (:func:`profile_task`) where the study has several: their inputs and lengths
    differ, so their profiles do not pool."""
    cells, prof = frame(tables, "cells"), frame(tables, "profiles")
    if cells.empty or prof.empty:
        return cells.iloc[0:0], prof.iloc[0:0]
    c = cells[cells["backend"] == first_backend(cells)]
    task = profile_task(c)
    if task is not None:
        c = c[c["task"].astype(str) == task]
    c = c[c["seq_len"] == c["seq_len"].max()]
    keep = [
        k for k in ("cell_id", "remedy", "w_rec_scale", "seed", "steps", "truncate_k2") if k in c
    ]
    p = prof[(prof["phase"] == phase) & prof["cell_id"].isin(c["cell_id"])]
    return c, p.merge(c[keep], on="cell_id")


# -- the study's regimes and success ---------------------------------------------------------
def regime(log10_ratio: float) -> str:
    """What a log10 grad ratio says: vanishing, stable or exploding (``REGIME_LOG10`` rule)."""
    if log10_ratio < -REGIME_LOG10:
        return "vanishing"
    return "exploding" if log10_ratio > REGIME_LOG10 else "stable"


def _most(r: pd.Series, name: str):
    """Index of the most extreme value of ``r`` for regime ``name`` (stable: nearest 0)."""
    return {"vanishing": r.idxmin, "exploding": r.idxmax, "stable": r.abs().idxmin}[name]()


def pick_regimes(cells: pd.DataFrame) -> list[tuple[str, pd.Series]]:
    """A vanishing, a stable and an exploding cell at initialization, in that order.

    Each comes from the first remedy (none) where it has a cell in that regime, else it is the
    most extreme cell of the regime of any remedy (tanh never explodes, IRNN's ReLU does). All
    are rnn cells (when the study has any) of the reference backend, at a short sequence for
    legibility, first seed. A regime no cell shows is stood in for by the first remedy's most
    extreme cell, labelled by what it measured; the same cell is never drawn twice.
    """
    c = (
        cells[cells["init_log10_grad_ratio"].notna()]
        if "init_log10_grad_ratio" in cells
        else cells.iloc[0:0]
    )
    if c.empty:
        return []
    c = c[c["backend"] == first_backend(c)]
    if "model" in c and (c["model"] == "rnn").any():
        c = c[c["model"] == "rnn"]
    short = c[c["steps"] <= 40]
    c = (
        short[short["steps"] == short["steps"].max()]
        if len(short)
        else c[c["steps"] == c["steps"].min()]
    )
    c = c[c["seed"] == c["seed"].min()]
    r = c["init_log10_grad_ratio"].replace(-np.inf, -1e300).replace(np.inf, 1e300)
    first = r[c["remedy"].astype(str) == remedy_order(c["remedy"])[0]]
    out, seen = [], set()
    for name in REGIMES:
        i = _most(first, name)
        if regime(r[i]) != name and regime(r[_most(r, name)]) == name:
            i = _most(r, name)
        if i not in seen:
            seen.add(i)
            out.append((regime(r[i]), c.loc[i]))  # named by what it measured
    return out


def short_memory_levels(cells: pd.DataFrame) -> list[float]:
    """The normalized losses (short_memory_loss / baseline_loss) of remembering only the most
    recent marked item, one per distinct level among the cells' tasks and lengths (adding and
    temporal order: 0.5; copy: 0.9); empty for tasks without one (digits, memory). A plugin's
    task (not loaded here) by the levels its trained cells recorded."""
    if not {"task", "seq_len"} <= set(cells.columns):
        return []
    levels = set()
    recorded = {"short_memory_loss", "baseline_loss"} <= set(cells.columns)
    for (task, T), c in cells.groupby(["task", "seq_len"], observed=True):
        if task in TASKS:
            level = tasks.short_memory_loss(task, int(T)) / tasks.baseline_loss(task, int(T))
        elif recorded:
            level = (c["short_memory_loss"] / c["baseline_loss"]).dropna().astype(float).min()
        else:
            continue
        if np.isfinite(level) and level < 1:  # at 1 it is the chance line itself
            levels.add(round(float(level), 3))
    return sorted(levels)


def succeeded(cells: pd.DataFrame) -> pd.Series:
    """Whether each trained run succeeded: ``solved``, its accuracy on the fresh evaluation set
    (``eval_sequences`` sequences that did not decide stopping), never the held-out set whose
    first 297 of 300 stopped it (``steps_to_solve``)."""
    return _col_or(cells, "solved", False).astype("boolean").fillna(False).astype(bool)


def _col_or(cells: pd.DataFrame, name: str, default: Any) -> pd.Series:
    return cells[name] if name in cells else pd.Series(default, index=cells.index)


def rel_diff(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Relative difference |a - b| / max(|a|, |b|) and whether it is within the agreement tolerance.
    Equal values (inf and nan included: both overflowed alike) differ by 0."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        diff = np.abs(a - b)
        scale = np.maximum(np.abs(a), np.abs(b))
        rel = np.where(same, 0.0, diff / scale)
        ok = same | (diff <= np.maximum(AGREE_RTOL * scale, AGREE_ATOL))
    return np.where(np.isnan(rel) & ~same, np.inf, rel), ok


def backend_agreement(tables) -> pd.DataFrame:
    """One row per numpy/torch pair of float64 cells (equal in every other setting), phase init:
    the largest relative difference over ``AGREEMENT_METRICS`` and the grad_norm profile, and
    the verdict: ``agree`` when every difference is within the tolerance (whatever the Lyapunov
    exponent: a pair that agrees to rounding is never called chaotic), else ``chaotic`` where the
    largest init lyapunov_max of the pair is positive (rounding grows as e^(lyapunov_max steps)),
    else ``disagree``."""
    cells, prof = frame(tables, "cells"), frame(tables, "profiles")
    cols = [
        "pair",
        "seq_len",
        "remedy",
        "w_rec_scale",
        "seed",
        "lyapunov_max",
        "max_rel_diff",
        "worst",
        "verdict",
    ]
    if cells.empty or set(cells["backend"]) < {"numpy", "torch"}:
        return pd.DataFrame(columns=cols)
    c = cells[cells["dtype"] == "float64"] if "dtype" in cells else cells
    sep = "/"
    pair = c["cell_id"].str.replace(r"^backend=[^/]*/", "", regex=True)
    c = c.assign(pair=pair)
    a = c[c["backend"] == "numpy"].set_index("pair")
    b = c[c["backend"] == "torch"].set_index("pair")
    common = a.index.intersection(b.index)
    if common.empty:
        return pd.DataFrame(columns=cols)
    a, b = a.loc[common], b.loc[common]
    rels, oks = {}, {}
    for m in AGREEMENT_METRICS:
        col = f"init_{m}"
        if col in a:
            rels[m], oks[m] = rel_diff(a[col], b[col])
    if not prof.empty:
        p = prof[prof["phase"] == "init"]
        p = pd.DataFrame(
            {
                "cell_id": p["cell_id"],
                "lag": p["lag"],
                "log10_grad_norm": log10_profile(p, "grad_norm"),
            }
        )
        pa = p.merge(a[["cell_id"]].reset_index(), on="cell_id")
        pb = p.merge(b[["cell_id"]].reset_index(), on="cell_id")
        pp = pa.merge(pb, on=["pair", "lag"], suffixes=("_a", "_b"))
        # the norms' relative difference from their exact log10 values, at any depth
        la, lb = pp["log10_grad_norm_a"].to_numpy(), pp["log10_grad_norm_b"].to_numpy()
        same = (la == lb) | (np.isnan(la) & np.isnan(lb))
        with np.errstate(over="ignore", invalid="ignore"):
            r = np.where(same, 0.0, np.expm1(np.abs(la - lb) * np.log(10)))
        r = np.where(np.isnan(r), np.inf, r)
        ok = r <= AGREE_RTOL
        g = pd.DataFrame({"pair": pp["pair"], "r": r, "ok": ok}).groupby("pair")
        rels["grad_norm profile"] = g["r"].max().reindex(common).to_numpy()
        oks["grad_norm profile"] = g["ok"].all().reindex(common).fillna(True).to_numpy()
    R = pd.DataFrame(rels, index=common)
    ok_all = pd.DataFrame(oks, index=common).all(axis=1)
    lyap = (
        np.fmax(a["init_lyapunov_max"].to_numpy(), b["init_lyapunov_max"].to_numpy())
        if "init_lyapunov_max" in a
        else np.full(len(common), np.nan)
    )
    verdict = np.where(ok_all, "agree", np.where(lyap > 0, "chaotic", "disagree"))
    out = pd.DataFrame(
        {
            "pair": [x.replace(sep, " ") for x in common],
            "seq_len": a["seq_len"].to_numpy(),
            "remedy": a["remedy"].astype(str).to_numpy(),
            "w_rec_scale": a["w_rec_scale"].to_numpy(),
            "seed": a["seed"].to_numpy(),
            "lyapunov_max": lyap,
            "max_rel_diff": R.max(axis=1).to_numpy(),
            "worst": R.fillna(-1).idxmax(axis=1).to_numpy(),
            "verdict": verdict,
        }
    )
    return out


# -- what each figure draws ---------------------------------------------------------------------
def unrolled_series(tables) -> list[tuple[str, pd.Series, np.ndarray]]:
    """The cells of :func:`pick_regimes` with their init profile relative to lag 0, in log10
    (``rel[k] = log10(grad_norm[k] / grad_norm[0])``)."""
    cells, prof = frame(tables, "cells"), frame(tables, "profiles")
    if cells.empty or prof.empty:
        return []
    series = []
    for label, row in pick_regimes(cells):
        p = prof[(prof["cell_id"] == row["cell_id"]) & (prof["phase"] == "init")].sort_values("lag")
        log_g = log10_profile(p, "grad_norm")  # exact at any depth
        rel = log_g - log_g[:1]
        series.append((label, row, rel))
    return series


def log10_profile(prof: pd.DataFrame, value: str) -> np.ndarray:
    """A profile column's exact log10 values (``log10_<value>``, docs/tables.md), or the log10 of
    the plain column where a frame lacks them (a table made by hand)."""
    col = f"log10_{value}"
    return prof[col].to_numpy(dtype=np.float64) if col in prof else log10(prof[value])


def log10(x) -> np.ndarray:
    """log10 of ``x`` as float64, quietly (0 gives -inf, overflow inf, negatives NaN)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.log10(np.asarray(x, dtype=np.float64))


def colour_limit(values) -> float:
    """The phase diagram's symmetric colour limit on the per-step decay_rate: the 98th
    percentile of the finite |values|, at least 0.05 log10 a step (the figure and the
    interactive chart alike; a few overflowing cells would otherwise wash the rest out)."""
    v = np.abs(np.asarray(values, dtype=float))
    v = v[np.isfinite(v)]
    return max(0.05, float(np.quantile(v, 0.98))) if v.size else 0.5


def by_lag(tables, value: str, relative: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cells and init profiles of :func:`profiles_at_longest` with ``y``: ``value``, or
    ``value`` over its lag-0 value when ``relative``, from its exact log10 column; only
    positive finite ``y`` (a log axis)."""
    cells, p = profiles_at_longest(tables)
    if p.empty or value not in p or not p[value].notna().any():
        return cells, p.iloc[0:0]
    p = p.assign(remedy=p["remedy"].astype(str), log_y=log10_profile(p, value))
    y = p["log_y"].to_numpy()
    if relative:
        first = p[p["lag"] == 0].set_index("cell_id")["log_y"]
        y = y - p["cell_id"].map(first).to_numpy(dtype=np.float64)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        p = p.assign(y=np.power(10.0, y))
    return cells, p[np.isfinite(p["y"]) & (p["y"] > 0)]


def truncation_k2(cells: pd.DataFrame, remedy: str) -> int | None:
    """The truncate k2 of a remedy's cells (the first one), or None where it does not truncate."""
    if "truncate_k2" not in cells:
        return None
    k2 = cells.loc[cells["remedy"].astype(str) == remedy, "truncate_k2"].dropna()
    return int(k2.iloc[0]) if len(k2) else None


def has(cells: pd.DataFrame, column: str) -> bool:
    """Whether ``cells`` has ``column`` with at least one value."""
    return column in cells and cells[column].notna().any()
