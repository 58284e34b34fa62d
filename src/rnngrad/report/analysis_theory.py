"""Derived tables of theory against measurement: the gradient bound's points, the vanishing
boundary's crossings, mean field at initialization (conditions, decay panels, chi = 1, finite-size
gaps), dynamical isometry, trainability and the curse of memory (conventions of
:mod:`rnngrad.report.analysis`; no matplotlib).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from rnngrad.core import theory
from rnngrad.report.analysis import (
    REMEDY_ORDER,
    first_backend,
    frame,
    has,
    median_band,
    remedy_order,
    succeeded,
)
from rnngrad.report.analysis_training import trained_at_best_lr, trained_cells


# -- theory against measurement --------------------------------------------------------------
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
    # conditions named over the whole study, as decay_panels names its panels (named over the
    # mean-field cells alone, a study of several models would name them otherwise)
    c = c.assign(condition=init_conditions(cells).loc[c.index])
    c = c[c["w_rec_scale"] > 0]
    c = c.assign(ratio=c["sigma_w"] / c["w_rec_scale"])
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
