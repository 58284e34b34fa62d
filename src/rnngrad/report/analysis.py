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
from typing import Any

import numpy as np
import pandas as pd

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
    "not measured here": "#999999",
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


def succeeded(cells: pd.DataFrame) -> pd.Series:
    """Whether each trained run succeeded: for a run with periodic evaluations, whether one of
    them reached accuracy 0.99 on the held-out sequences (``steps_to_solve`` set; a run that
    stopped there sits at the threshold, so its final accuracy on 1000 other fresh sequences
    may land just below); for a run without, ``solved`` (the final accuracy)."""
    solved = _col_or(cells, "solved", False).astype("boolean").fillna(False).astype(bool)
    evaluated = pd.to_numeric(_col_or(cells, "eval_every", 0)).fillna(0) > 0
    reached = _col_or(cells, "steps_to_solve", np.nan).notna()
    return (reached & evaluated) | (solved & ~evaluated)


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
    the verdict ``agree`` | ``disagree`` | ``chaotic`` (lyapunov_max > 0)."""
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
        p = prof[prof["phase"] == "init"][["cell_id", "lag", "grad_norm"]]
        pa = p.merge(a[["cell_id"]].reset_index(), on="cell_id")
        pb = p.merge(b[["cell_id"]].reset_index(), on="cell_id")
        pp = pa.merge(pb, on=["pair", "lag"], suffixes=("_a", "_b"))
        r, ok = rel_diff(pp["grad_norm_a"], pp["grad_norm_b"])
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
    verdict = np.where(lyap > 0, "chaotic", np.where(ok_all, "agree", "disagree"))
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
    """Per remedy and seq_len, the w_rec_scale where the median init log10_grad_ratio crosses
    zero, interpolated linearly in log10(scale); one backend (the reference one)."""
    if cells.empty or "init_log10_grad_ratio" not in cells:
        return pd.DataFrame(columns=["remedy", "seq_len", "crossing"])
    c = cells[cells["backend"] == first_backend(cells)]
    agg = (
        c.groupby(["remedy", "seq_len", "w_rec_scale"], observed=True)["init_log10_grad_ratio"]
        .median()
        .reset_index()
    )
    rows = []
    for (rem, L), d in agg.groupby(["remedy", "seq_len"], observed=True):
        d = d.sort_values("w_rec_scale")
        s, r = d["w_rec_scale"].to_numpy(float), d["init_log10_grad_ratio"].to_numpy(float)
        rows.append({"remedy": str(rem), "seq_len": int(L), "crossing": _crossing(s, r)})
    out = pd.DataFrame(rows)
    order = {r: i for i, r in enumerate(remedy_order(out["remedy"]))}
    return out.sort_values(
        ["remedy", "seq_len"], key=lambda k: k.map(order) if k.name == "remedy" else k
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
        rel = log10(p["grad_norm"].to_numpy()) - log10(p["grad_norm"].to_numpy()[:1])
        series.append((label, row, rel))
    return series


def log10(x) -> np.ndarray:
    """log10 of ``x`` as float64, quietly (0 gives -inf, overflow inf, negatives NaN)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.log10(np.asarray(x, dtype=np.float64))


def colour_limit(values) -> float:
    """The phase diagram's symmetric colour limit: the 98th percentile of the finite |values|,
    at least 1 (the figure and the interactive chart alike; a few overflowing cells would
    otherwise wash the rest out)."""
    v = np.abs(np.asarray(values, dtype=float))
    v = v[np.isfinite(v)]
    return max(1.0, float(np.quantile(v, 0.98))) if v.size else 1.0


def phase_grid(cells: pd.DataFrame) -> pd.DataFrame:
    """Median init log10_grad_ratio per backend, remedy (as text), seq_len and w_rec_scale."""
    c = cells.assign(remedy=cells["remedy"].astype(str))
    keys = ["backend", "remedy", "seq_len", "w_rec_scale"]
    return c.groupby(keys, observed=True)["init_log10_grad_ratio"].median().reset_index()


def phase_tile(agg: pd.DataFrame, backend: str, remedy: str, scales, seq) -> pd.DataFrame:
    """One panel of the phase diagram from :func:`phase_grid`: w_rec_scale rows (``scales``
    largest first) by seq_len columns (``seq``), NaN where the study has no cell."""
    d = agg[(agg["backend"] == backend) & (agg["remedy"] == remedy)]
    grid = d.pivot(index="w_rec_scale", columns="seq_len", values="init_log10_grad_ratio")
    return grid.reindex(index=sorted(scales, reverse=True), columns=sorted(seq))


def by_lag(tables, value: str, relative: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cells and init profiles of :func:`profiles_at_longest` with ``y``: ``value``, or
    ``value`` over its lag-0 value when ``relative``; only positive finite ``y`` (a log axis)."""
    cells, p = profiles_at_longest(tables)
    if p.empty or value not in p or not p[value].notna().any():
        return cells, p.iloc[0:0]
    p = p.assign(remedy=p["remedy"].astype(str))
    if relative:
        first = p[p["lag"] == 0].set_index("cell_id")[value]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            p = p.assign(y=p[value] / p["cell_id"].map(first).to_numpy())
    else:
        p = p.assign(y=p[value])
    return cells, p[np.isfinite(p["y"]) & (p["y"] > 0)]


def truncation_k2(cells: pd.DataFrame, remedy: str) -> int | None:
    """The truncate k2 of a remedy's cells (the first one), or None where it does not truncate."""
    if "truncate_k2" not in cells:
        return None
    k2 = cells.loc[cells["remedy"].astype(str) == remedy, "truncate_k2"].dropna()
    return int(k2.iloc[0]) if len(k2) else None


def theory_points(cells: pd.DataFrame) -> pd.DataFrame:
    """Median init decay_rate, spectral_norm and spectral_radius of the plain rnn and esn cells
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
    agg = c.groupby(keys, observed=True)[need].median().reset_index()
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
