"""Tables derived from a study's tables: what the figures draw, the report summarizes and the
claims test.

Every function takes the study tables (``tables``: a mapping or an object with the DataFrames
``cells``, ``profiles`` and ``training``, see docs/tables.md) or the cells table, and returns a
DataFrame or plain values; nothing here draws or imports matplotlib. Shared conventions: fixed
category orders (:data:`REMEDY_ORDER`, :data:`BACKEND_ORDER`), the median over seeds (and any
grid axis not shown) with the min-max spread as a band, each remedy at its best learning rate
where ``lr`` is a grid axis.

Example
-------
>>> remedy_order(["lstm", "zzz", "none"])
['none', 'lstm', 'zzz']
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pandas as pd

from rnngrad.core import tasks, theory

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


def profiles_at_longest(tables, phase: str = "init") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Profiles of ``phase`` joined with their cells, for one backend at its longest seq_len."""
    cells, prof = frame(tables, "cells"), frame(tables, "profiles")
    if cells.empty or prof.empty:
        return cells.iloc[0:0], prof.iloc[0:0]
    c = cells[cells["backend"] == first_backend(cells)]
    c = c[c["seq_len"] == c["seq_len"].max()]
    keep = [
        k for k in ("cell_id", "remedy", "w_rec_scale", "seed", "steps", "truncate_k2") if k in c
    ]
    p = prof[(prof["phase"] == phase) & prof["cell_id"].isin(c["cell_id"])]
    return c, p.merge(c[keep], on="cell_id")


# -- the study's regimes and learning --------------------------------------------------------
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


def trained_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """The cells that trained (have training metrics)."""
    if "final_loss" not in cells:
        return cells.iloc[0:0]
    return cells[cells["final_loss"].notna() | cells["status"].eq("diverged")]


def short_memory_levels(cells: pd.DataFrame) -> list[float]:
    """The normalized losses (short_memory_loss / baseline_loss) of remembering only the most
    recent marked item, one per distinct level among the cells' tasks and lengths (adding and
    temporal order: 0.5; copy: 0.9); empty for tasks without one (digits, memory)."""
    if not {"task", "seq_len"} <= set(cells.columns):
        return []
    levels = set()
    for task, T in cells[["task", "seq_len"]].drop_duplicates().itertuples(index=False):
        level = tasks.short_memory_loss(task, int(T)) / tasks.baseline_loss(task, int(T))
        if np.isfinite(level):
            levels.add(round(level, 3))
    return sorted(levels)


def succeeded(cells: pd.DataFrame) -> pd.Series:
    """Whether each trained run succeeded: ``solved``, its accuracy on the fresh evaluation set
    (``eval_sequences`` sequences that did not decide stopping), never the held-out set whose
    first 297 of 300 stopped it (``steps_to_solve``)."""
    return _col_or(cells, "solved", False).astype("boolean").fillna(False).astype(bool)


def _col_or(cells: pd.DataFrame, name: str, default: Any) -> pd.Series:
    return cells[name] if name in cells else pd.Series(default, index=cells.index)


def best_lr(cells: pd.DataFrame) -> pd.DataFrame:
    """Where ``lr`` is a grid axis, each (remedy, seq_len) keeps only its best lr: the highest
    solved rate, then the lowest median normalized_loss (as the papers tuned per method)."""
    if "lr" not in cells or cells["lr"].nunique() <= 1:
        return cells
    score = (
        cells.groupby(["remedy", "seq_len", "lr"], observed=True)
        .agg(solved=("solved", "mean"), loss=("normalized_loss", "median"))
        .reset_index()
    )
    score = score.sort_values(["solved", "loss"], ascending=[False, True], na_position="last")
    best = score.drop_duplicates(["remedy", "seq_len"])[["remedy", "seq_len", "lr"]]
    return cells.merge(best, on=["remedy", "seq_len", "lr"])


def trained_at_best_lr(cells: pd.DataFrame) -> pd.DataFrame:
    """The trained cells, each remedy and seq_len at its best lr where lr is a grid axis
    (``remedy`` as text and ``solved`` as 0/1, so that rates are means)."""
    t = trained_cells(cells)
    if t.empty:
        return t
    return best_lr(t.assign(remedy=t["remedy"].astype(str), solved=t["solved"].astype(float)))


def lr_note(cells: pd.DataFrame) -> str:
    if "lr" in cells and cells["lr"].nunique() > 1:
        return "each remedy at its best lr per seq_len"
    return ""


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


def zero_crossings(cells: pd.DataFrame) -> pd.DataFrame:
    """Per condition at initialization (:func:`init_conditions`) and seq_len, the w_rec_scale
    where the median init decay_rate (per step, so comparable across seq_len) crosses zero,
    interpolated linearly in log10(scale), and the mean field's chi = 1 scale where it applies;
    one backend (the reference one)."""
    columns = ["condition", "seq_len", "crossing", "mean_field"]
    if cells.empty or "init_decay_rate" not in cells:
        return pd.DataFrame(columns=columns)
    c = cells[cells["backend"] == first_backend(cells)]
    c = c.assign(condition=init_conditions(c))
    agg = (
        c.groupby(["condition", "seq_len", "w_rec_scale"], observed=True)["init_decay_rate"]
        .median()
        .reset_index()
    )
    stats = mean_field_statistics(c)
    rows = []
    for (cond, L), d in agg.groupby(["condition", "seq_len"], observed=True):
        d = d.sort_values("w_rec_scale")
        s, r = d["w_rec_scale"].to_numpy(float), d["init_decay_rate"].to_numpy(float)
        st = stats[(stats["condition"] == cond) & (stats["seq_len"] == L)] if len(stats) else stats
        edge = mean_field_boundary(st.iloc[0]) if len(st) else float("nan")
        mf = "" if not len(st) else ("none in 0.01..100" if np.isnan(edge) else f"{edge:.3g}")
        rows.append(
            {"condition": cond, "seq_len": int(L), "crossing": _crossing(s, r), "mean_field": mf}
        )
    out = pd.DataFrame(rows, columns=columns)
    order = {r: i for i, r in enumerate(condition_order(out["condition"]))}
    return out.sort_values(
        ["condition", "seq_len"], key=lambda k: k.map(order) if k.name == "condition" else k
    )


def _crossing(s: np.ndarray, r: np.ndarray) -> str:
    ok = ~np.isnan(r)
    s, r = s[ok], r[ok]
    if len(r) == 0:
        return "no data"
    for i in range(len(r) - 1):
        if r[i] < 0 <= r[i + 1]:
            if not np.isfinite(r[i + 1]) or not np.isfinite(r[i]) or s[i] <= 0:
                return f"between {s[i]:g} and {s[i + 1]:g}"
            f = -r[i] / (r[i + 1] - r[i])
            return f"{10 ** ((1 - f) * math.log10(s[i]) + f * math.log10(s[i + 1])):.3g}"
    if np.all(r < 0):
        return f"above {s[-1]:g} (vanishing at every scale)"
    if np.all(r >= 0):
        return f"below {s[0]:g} (no vanishing at any scale)"
    return "no single crossing"


def solved_at_longest(cells: pd.DataFrame) -> pd.DataFrame:
    """Per remedy: solved rate and median normalized_loss at the longest trained seq_len."""
    t = trained_at_best_lr(cells)
    if t.empty:
        return pd.DataFrame(
            columns=["remedy", "seq_len", "solved_rate", "normalized_loss", "cells"]
        )
    t = t[t["seq_len"] == t["seq_len"].max()]
    out = (
        t.groupby("remedy")
        .agg(
            seq_len=("seq_len", "first"),
            solved_rate=("solved", "mean"),
            normalized_loss=("normalized_loss", "median"),
            cells=("cell_id", "size"),
        )
        .reset_index()
    )
    order = remedy_order(out["remedy"])
    return out.set_index("remedy").loc[order].reset_index()


def learning_table(cells: pd.DataFrame) -> pd.DataFrame:
    """Median normalized_loss of the trained cells, a row per remedy (fixed order) and a column
    per seq_len, each remedy at its best lr per seq_len where lr is a grid axis; empty when
    nothing trained."""
    t = trained_at_best_lr(cells)
    if t.empty:
        return pd.DataFrame()
    table = t.pivot_table(
        index="remedy", columns="seq_len", values="normalized_loss", aggfunc="median", dropna=False
    )
    return table.loc[remedy_order(table.index)]


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


def theory_points(cells: pd.DataFrame) -> pd.DataFrame:
    """Median init decay_rate, spectral_norm, spectral_radius and (where recorded)
    mf_decay_rate of the plain rnn and esn cells
    (leak 1: the bound's update h_t = f(W h_{t-1} + ...)) per remedy, nonlinearity, seq_len and
    w_rec_scale; empty where the study lacks them."""
    need = ["init_decay_rate", "init_spectral_norm", "init_spectral_radius"]
    if cells.empty or not set(need) <= set(cells):
        return pd.DataFrame()
    c = cells[cells["model"].isin(["rnn", "esn"])] if "model" in cells else cells
    if "leak" in c:
        c = c[c["leak"] == 1.0]
    c = c[np.isfinite(c["init_decay_rate"])]
    if c.empty:
        return pd.DataFrame()
    keys = [k for k in ("remedy", "nonlinearity", "seq_len", "w_rec_scale") if k in c]
    cols = need + (["mf_decay_rate"] if "mf_decay_rate" in c else [])
    agg = c.groupby(keys, observed=True)[cols].median().reset_index()
    return agg.assign(remedy=agg["remedy"].astype(str))


def decay_before_after(cells: pd.DataFrame) -> pd.DataFrame:
    """Median decay_rate at initialization and after training per remedy, seq_len and
    w_rec_scale, over the cells where both are finite; empty where nothing trained."""
    if cells.empty or "trained_decay_rate" not in cells:
        return pd.DataFrame()
    c = cells[np.isfinite(cells["init_decay_rate"]) & np.isfinite(cells["trained_decay_rate"])]
    c = c.assign(remedy=c["remedy"].astype(str))
    cols = ["init_decay_rate", "trained_decay_rate"]
    return (
        c.groupby(["remedy", "seq_len", "w_rec_scale"], observed=True)[cols].median().reset_index()
    )


def solved_by_seq_len(cells: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per remedy and seq_len over :func:`trained_at_best_lr`: the normalized_loss's
    :func:`median_band` and the ``solved`` rate."""
    c = trained_at_best_lr(cells)
    loss = median_band(c, ["remedy", "seq_len"], "normalized_loss")
    rate = c.groupby(["remedy", "seq_len"], observed=True)["solved"].mean().reset_index()
    return loss, rate


def steps_to_solve(cells: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The trained runs with ``success`` (:func:`succeeded`, 0/1), ``to_solve`` (float
    steps_to_solve, NaN when never) and ``last_step`` (steps_trained, or the budget in cells
    that predate it), and per remedy and seq_len the ``success`` rate and the
    ``median_to_solve`` of the solved runs (NaN when none solved); both empty when nothing
    trained or the cells predate ``steps_to_solve``."""
    c = trained_cells(cells)
    if c.empty or "steps_to_solve" not in c:
        return c.iloc[0:0], pd.DataFrame(columns=["remedy", "seq_len", "success"])
    last = c["steps_trained"] if "steps_trained" in c else c["train_steps"]
    runs = c.assign(
        remedy=c["remedy"].astype(str),
        success=succeeded(c).astype(float),
        to_solve=c["steps_to_solve"].astype("Float64").astype(float),
        last_step=last.astype(float),
    )
    by = runs.groupby(["remedy", "seq_len"], observed=True)
    rate = pd.concat(
        [by["success"].mean(), by["to_solve"].median().rename("median_to_solve")], axis=1
    ).reset_index()
    return runs, rate


def training_curves(tables) -> pd.DataFrame:
    """The training table of :func:`trained_at_best_lr` at the longest seq_len, with ``remedy``,
    ``seq_len``, ``w_rec_scale`` and ``y`` = loss / baseline_loss (positive finite only), and
    ``clipped`` as 0/1."""
    cells, tr = frame(tables, "cells"), frame(tables, "training")
    c = trained_at_best_lr(cells)
    if c.empty or tr.empty:
        return pd.DataFrame()
    c = c[c["seq_len"] == c["seq_len"].max()]
    t = tr.merge(c[["cell_id", "remedy", "seq_len", "w_rec_scale", "baseline_loss"]], on="cell_id")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t = t.assign(y=t["loss"] / t["baseline_loss"], clipped=t["clipped"].astype(float))
    return t[np.isfinite(t["y"]) & (t["y"] > 0)]


def mostly_clipped(curves: pd.DataFrame) -> pd.DataFrame:
    """The (remedy, w_rec_scale, step) of :func:`training_curves` where at least half the runs
    clipped their gradient."""
    keys = ["remedy", "w_rec_scale", "step"]
    share = curves.groupby(keys, observed=True)["clipped"].mean().reset_index()
    return share[share["clipped"] >= 0.5]


def scaling_exponent(x, y) -> float:
    """The slope of log10 y against log10 x (least squares): how a time scales with a size."""
    return float(np.polyfit(np.log10(np.asarray(x, float)), np.log10(np.asarray(y, float)), 1)[0])


def has(cells: pd.DataFrame, column: str) -> bool:
    """Whether ``cells`` has ``column`` with at least one value."""
    return column in cells and cells[column].notna().any()


def speed_frame(cells: pd.DataFrame) -> pd.DataFrame:
    """The cells with a measured profile time, with ``gemm_share`` (init_profile_gflops in % of
    gemm_gflops) and ``peak_arrays`` (init_profile_peak_mb in (T+1, B, H) state arrays of the
    cell's dtype), NaN where not measured."""
    c = cells[cells["init_profile_seconds"] > 0].copy()
    machine = has(c, "init_profile_gflops") and has(c, "gemm_gflops")
    c["gemm_share"] = 100 * c["init_profile_gflops"] / c["gemm_gflops"] if machine else np.nan
    c["peak_arrays"] = np.nan
    if has(c, "init_profile_peak_mb"):
        itemsize = np.where(c["dtype"].astype(str) == "float32", 4, 8) if "dtype" in c else 8
        state_mb = (c["steps"] + 1) * c["batch"] * c["hidden"] * itemsize / 1e6
        c["peak_arrays"] = c["init_profile_peak_mb"] / state_mb
    return c


def training_speed(cells: pd.DataFrame) -> pd.DataFrame:
    """Median training steps/s per backend, model, dtype, device, hidden, batch and seq_len over
    the cells that trained, with plain PyTorch's rate at the same shape and the ratio where the
    cells timed it (``plain_reference_steps``), and the number of cells; empty where nothing
    trained."""
    if cells.empty or not has(cells, "train_steps_per_s"):
        return pd.DataFrame()
    c = cells[cells["train_steps_per_s"].notna()]
    keys = [
        k for k in ("backend", "model", "dtype", "device", "hidden", "batch", "seq_len") if k in c
    ]
    values = ["train_steps_per_s"] + [
        v for v in ("plain_train_steps_per_s", "train_vs_plain") if has(c, v)
    ]
    by = c.groupby(keys, observed=True, sort=True)
    out = by[values].median()
    out["cells"] = by.size()
    return out.reset_index()


def memory_capacity(cells: pd.DataFrame) -> pd.DataFrame:
    """:func:`median_band` of memory_capacity / hidden per readout ridge (where the cells have
    one: below radius 0.9 it sets MC), reservoir (nonlinearity and init) and w_rec_scale, over
    the cells that measured it."""
    c = cells[cells["memory_capacity"].notna()]
    c = c.assign(
        mc_per_unit=c["memory_capacity"] / c["hidden"],
        reservoir=c["nonlinearity"].astype(str) + ", " + c["init"].astype(str) + " init",
    )
    by = ["ridge", "reservoir", "w_rec_scale"] if has(c, "ridge") else ["reservoir", "w_rec_scale"]
    return median_band(c, by, "mc_per_unit")


# -- mean field against measurement (docs/metrics.md, "Mean field at initialization") -----------
# the settings that shape a cell's profile at initialization, beside the grid's seq_len,
# w_rec_scale, seed and backend: remedies equal in these (none, clip_norm, truncated_bptt and
# penalty in the default study) start from the same weights and data and share a condition
INIT_SETTINGS = (
    "model",
    "nonlinearity",
    "init",
    "w_rec_scaling",
    "input_scale",
    "hidden",
    "task",
    "batch",
    "leak",
    "dtype",
)
TORCH_DIFFERS = 1e-3  # a torch cell's decay_rate this far (log10 a step) from its numpy twin's


def init_conditions(cells: pd.DataFrame) -> pd.Series:
    """Each cell's condition at initialization, named by the remedies that share it (in
    :data:`REMEDY_ORDER`), e.g. 'none, clip_norm, truncated_bptt, penalty'; where two conditions
    would get one name (a study with nonlinearity or init as a grid axis), the settings that
    tell them apart follow in brackets, e.g. 'none (sigmoid, orthogonal)'."""
    keys = [k for k in INIT_SETTINGS if k in cells]
    if cells.empty:
        return pd.Series(dtype=object, index=cells.index)
    key = cells[keys].astype(str).agg("|".join, axis=1) if keys else pd.Series("", cells.index)
    rem = cells["remedy"].astype(str)
    names = {k: ", ".join(remedy_order(rem[key == k].unique())) for k in key.unique()}
    varying = [k for k in keys if cells[k].astype(str).nunique() > 1]
    counts = pd.Series(names).value_counts()
    for k in names:
        if counts[names[k]] > 1:
            first = cells.loc[key == k].iloc[0]
            names[k] += " (" + ", ".join(str(first[v]) for v in varying) + ")"
    return key.map(names)


def condition_order(conditions: pd.Series) -> list[str]:
    """Conditions in the order of their first remedy (:data:`REMEDY_ORDER`), then by name, its
    numbers as numbers (hidden 16 before 128)."""
    rank = {r: i for i, r in enumerate(REMEDY_ORDER)}

    def key(c: str) -> tuple:
        natural = [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", c)]
        return rank.get(c.split(" (")[0].split(", ")[0], len(rank)), natural

    return sorted(pd.unique(conditions.dropna()), key=key)


def torch_differs(cells: pd.DataFrame) -> set[str]:
    """The conditions where a torch cell's init decay_rate differs from its numpy twin's (same
    id but the backend) by more than :data:`TORCH_DIFFERS`; elsewhere a torch panel would
    repeat the numpy one."""
    if cells.empty or not {"numpy", "torch"} <= set(cells["backend"]):
        return set()
    c = cells.assign(condition=init_conditions(cells))
    numpy_rate = c[c["backend"] == "numpy"].set_index("cell_id")["init_decay_rate"]
    t = c[c["backend"] == "torch"]
    twin = t["cell_id"].str.replace("backend=torch", "backend=numpy", n=1).map(numpy_rate)
    with np.errstate(invalid="ignore"):
        far = ~np.isclose(t["init_decay_rate"], twin, rtol=0.0, atol=TORCH_DIFFERS, equal_nan=True)
    return set(t.loc[far & twin.notna(), "condition"])


def decay_panels(cells: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Median, min and max over seeds of the init decay_rate and the median mf_decay_rate per
    backend, condition (:func:`init_conditions`), seq_len and w_rec_scale, and the panels to
    draw: (condition, backend) for the reference backend, and torch where it differs."""
    if cells.empty or "init_decay_rate" not in cells:
        return pd.DataFrame(), []
    c = cells.assign(condition=init_conditions(cells))
    keys = ["backend", "condition", "seq_len", "w_rec_scale"]
    agg = median_band(c, keys, "init_decay_rate")
    if "mf_decay_rate" in c:
        mf = c.groupby(keys, observed=True)["mf_decay_rate"].median().reset_index()
        agg = agg.merge(mf, on=keys)
    ref = first_backend(c)
    differs = torch_differs(cells)
    panels = []
    for cond in condition_order(c["condition"]):
        panels.append((cond, ref))
        if ref != "torch" and cond in differs:
            panels.append((cond, "torch"))
    return agg, panels


def _mean_field_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """The cells with mean-field columns, where the theory applies (rnngrad.theory.applies)."""
    need = {"mf_chi", "mf_decay_rate", "sigma_w", "sigma_u", "sigma_b", "init_decay_rate"}
    if cells.empty or not need <= set(cells) or not {"w_rec_scale", "remedy"} <= set(cells):
        return pd.DataFrame()
    return cells[cells["mf_chi"].notna() & cells["sigma_w"].notna()]


def mean_field_statistics(cells: pd.DataFrame) -> pd.DataFrame:
    """Per condition and seq_len, the medians over the cells of sigma_w / w_rec_scale (the
    matrix's own ratio: 1 for orthogonal, about 1/rho(G) for a gaussian W scaled by radius),
    sigma_u and sigma_b, and the nonlinearity: what the mean-field curve of a panel needs."""
    c = _mean_field_cells(cells)
    if c.empty or not (c["w_rec_scale"] > 0).any():
        return pd.DataFrame()
    c = c[c["w_rec_scale"] > 0]
    c = c.assign(condition=init_conditions(c), ratio=c["sigma_w"] / c["w_rec_scale"])
    if "nonlinearity" not in c:
        c = c.assign(nonlinearity="tanh")
    keys = ["condition", "seq_len", "nonlinearity"]
    return c.groupby(keys, observed=True)[["ratio", "sigma_u", "sigma_b"]].median().reset_index()


def mean_field_curve(stats: pd.Series, scales: np.ndarray) -> np.ndarray:
    """The mean field's decay_rate at each w_rec_scale of ``scales`` for one row of
    :func:`mean_field_statistics`."""
    return np.array(
        [
            theory.decay_rate(
                theory.chi(
                    stats["nonlinearity"], s * stats["ratio"], stats["sigma_u"], stats["sigma_b"]
                )
            )
            for s in scales
        ]
    )


def mean_field_boundary(stats: pd.Series, low: float = 0.01, high: float = 100.0) -> float:
    """The w_rec_scale where chi = 1 for one row of :func:`mean_field_statistics` (NaN when chi
    stays on one side of 1 between ``low`` and ``high``)."""
    from scipy.optimize import brentq

    def log_chi(s: float) -> float:
        c = theory.chi(
            stats["nonlinearity"], s * stats["ratio"], stats["sigma_u"], stats["sigma_b"]
        )
        return math.log(c) if c > 0 else -math.inf

    grid = np.geomspace(low, high, 60)
    values = np.array([log_chi(s) for s in grid])
    up = np.flatnonzero((values[:-1] < 0) & (values[1:] >= 0))
    if not len(up):
        return float("nan")
    i = int(up[0])
    return float(brentq(log_chi, grid[i], grid[i + 1], xtol=1e-10))


def mean_field_gaps(cells: pd.DataFrame) -> pd.DataFrame:
    """|init_decay_rate - mf_decay_rate| per cell where both are finite, with the cell's
    settings: what the finite-size figure and the boundary claim read."""
    c = _mean_field_cells(cells)
    if c.empty:
        return c
    c = c[np.isfinite(c["init_decay_rate"]) & np.isfinite(c["mf_decay_rate"])]
    return c.assign(gap=(c["init_decay_rate"] - c["mf_decay_rate"]).abs())


def isometry_profiles(tables) -> pd.DataFrame:
    """For each mean-field condition (reference backend, longest seq_len), the init profile of
    the w_rec_scale whose median mf_chi is nearest 1, with the largest (jacobian_norm), median
    and smallest singular values of ds_T/ds_{T-k}: median over seeds per lag."""
    cells, prof = frame(tables, "cells"), frame(tables, "profiles")
    need = {"jacobian_norm", "jacobian_sv_median", "jacobian_sv_min"}
    if (
        cells.empty
        or prof.empty
        or not need <= set(prof)
        or prof["jacobian_sv_median"].isna().all()
    ):
        return pd.DataFrame()
    c = _mean_field_cells(cells)
    c = c[c["backend"] == first_backend(cells)] if len(c) else c
    if c.empty:
        return pd.DataFrame()
    c = c.assign(condition=init_conditions(c))
    c = c[c["seq_len"] == c.groupby("condition")["seq_len"].transform("max")]
    chi = c.groupby(["condition", "w_rec_scale"], observed=True)["mf_chi"].median().reset_index()
    chi["off"] = np.abs(np.log(chi["mf_chi"]))
    best = chi.loc[chi.groupby("condition")["off"].idxmin(), ["condition", "w_rec_scale", "mf_chi"]]
    pick = c.merge(best, on=["condition", "w_rec_scale"], suffixes=("", "_median"))
    p = prof[(prof["phase"] == "init") & prof["cell_id"].isin(pick["cell_id"])]
    p = p.merge(
        pick[["cell_id", "condition", "w_rec_scale", "mf_chi_median", "init"]], on="cell_id"
    )
    cols = ["jacobian_norm", "jacobian_sv_median", "jacobian_sv_min"]
    keys = ["condition", "init", "w_rec_scale", "mf_chi_median", "lag"]
    return p.groupby(keys, observed=True)[cols].median().reset_index()


def trainability(cells: pd.DataFrame) -> pd.DataFrame:
    """The trained mean-field cells (at each remedy's best lr) with ``depths``, seq_len in units
    of the depth scale (steps / mf_depth_scale), and whether each succeeded."""
    c = _mean_field_cells(trained_at_best_lr(trained_cells(cells)) if len(cells) else cells)
    if c.empty or "mf_depth_scale" not in c:
        return pd.DataFrame()
    c = c[c["mf_depth_scale"] > 0]
    return c.assign(
        depths=c["steps"] / c["mf_depth_scale"],
        success=succeeded(c).astype(float),
        remedy=c["remedy"].astype(str),
    )


def curse_of_memory(cells: pd.DataFrame) -> pd.DataFrame:
    """The curse-of-memory figure's points: per remedy and w_rec_scale (and seq_len), the median
    over seeds and backends of the memory timescale tau = -1 / ln(10^init_jacobian_decay_rate)
    (steps for the Jacobian norm to fall by e; -1 / ln l for the recurrence h = l h + x) and of
    init_memory_sensitivity, with their min and max; tau is inf where the Jacobian does not
    decay (init_jacobian_decay_rate >= 0)."""
    need = ("init_memory_sensitivity", "init_jacobian_decay_rate")
    if cells.empty or not all(has(cells, c) for c in need):
        return pd.DataFrame()
    c = cells.copy()
    rate = c["init_jacobian_decay_rate"].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        c["timescale"] = np.where(rate < 0, -1.0 / (np.log(10.0) * rate), np.inf)
    c["sensitivity"] = c["init_memory_sensitivity"].astype(float)
    c = c[rate.notna() & np.isfinite(c["sensitivity"]) & (c["sensitivity"] > 0)]
    if c.empty:
        return pd.DataFrame()
    keys = [k for k in ("remedy", "seq_len", "w_rec_scale") if k in c]
    out = c.groupby(keys, sort=True).agg(
        timescale=("timescale", "median"),
        sensitivity=("sensitivity", "median"),
        lo=("sensitivity", "min"),
        hi=("sensitivity", "max"),
    )
    return out.reset_index()
