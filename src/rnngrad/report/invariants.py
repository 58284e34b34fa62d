"""The invariant checks: identities that hold by mathematics, read ``holds`` or ``fails``.

The Jacobian bound (vanishing and exploding), the linear orthogonal oracle, the clip rule,
Pascanu's smart init, the closed-form baselines of the copy and adding tasks, the memory
capacity bound, the ESN spectral-radius heuristic and the curse of memory's closed form. Each
check is a function ``ctx -> Verdict | None`` (:mod:`~rnngrad.report.verdicts`), listed in
:data:`rnngrad.report.claims.CHECKS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

from rnngrad.core.memory import MEMORY_SEQUENCES, closed_form
from rnngrad.report.analysis import GAMMA, log10_profile  # sup |f'|; exact log10 norms
from rnngrad.report.analysis import has as has_column
from rnngrad.report.verdicts import (
    Verdict,
    _col,
    _esn_cells,
    _short_memory_note,
    budget,
    invariant,
)

# one loss, at the last step
SINGLE_LOSS_TASKS = (
    "adding",
    "adding_hs",
    "adding_pascanu",
    "temporal_order",
    "temporal_order_hs",
    "digits",
)
BOUND_TOL = 1e-9  # log10 slack of the Jacobian bound: rounding of products of ~T matrices
EXACT_TOL = 1e-8  # the linear orthogonal oracle holds to rounding
MC_SLACK = 0.01  # MC <= N (1 + slack): squared correlations on finite samples are biased up
MC_NEAR_N = 0.9  # a linear reservoir "approaches N" when its best MC reaches this fraction
SMART_RADIUS = 0.95  # trainingRNNs RNN.py line 134
SMART_STD = 0.01  # RNN.py lines 127 and 137: input and output weights N(0, 0.01^2)
CLOSED_FORM_TOL = 0.2  # median |measured / closed form - 1| of the curse of memory's cells


def _gamma_cells(cells: pd.DataFrame) -> pd.DataFrame:
    ok = (_col(cells, "model") == "rnn") & _col(cells, "nonlinearity").isin(list(GAMMA))
    return cells[ok]


def _bound_vanish(ctx) -> Verdict | None:
    cells = _gamma_cells(ctx["cells"])
    if cells.empty:
        return None
    prof = ctx["profiles"]
    if prof.empty or "jacobian_norm" not in prof or prof["jacobian_norm"].isna().all():
        return None  # jacobian: false; nothing to check
    prof = prof[prof["cell_id"].isin(cells["cell_id"]) & prof["jacobian_norm"].notna()]
    held = n = vanish_q = vanished = 0
    worst = -np.inf
    by_id = cells.set_index("cell_id")
    for (cid, phase), p in prof.sort_values("lag").groupby(["cell_id", "phase"]):
        q = GAMMA[by_id.at[cid, "nonlinearity"]] * by_id.at[cid, f"{phase}_spectral_norm"]
        if not np.isfinite(q) or q <= 0:
            continue
        log_jn = log10_profile(p, "jacobian_norm")  # exact at any depth
        excess = log_jn - p["lag"].to_numpy() * math.log10(q)
        excess = excess[np.isfinite(excess)]
        n += 1
        worst = max(worst, float(excess.max()) if excess.size else -np.inf)
        held += bool(np.all(excess <= BOUND_TOL))
        if q < 1:
            vanish_q += 1
            vanished += bool(log_jn[-1] < 0 or p["lag"].max() == 0)
    if n == 0:
        return None
    measured = (
        f"bound held in {held} of {n} cell-phases (largest log10 excess {worst:.2g}); "
        f"gamma*sigma_max < 1 in {vanish_q}: {vanished} vanish"
    )
    return invariant(
        held == n and vanished == vanish_q,
        measured,
        "Checked on every lag of every measured profile.",
        "Some profile exceeds (gamma sigma_max)^k: a bug or rounding beyond the tolerance.",
        n,
    )


def _bound_explode(ctx) -> Verdict | None:
    cells = _gamma_cells(ctx["cells"])
    cells = cells[cells["task"].isin(SINGLE_LOSS_TASKS) & cells["init_spectral_norm"].notna()]
    if cells.empty:
        return None
    q = cells["nonlinearity"].map(GAMMA) * cells["init_spectral_norm"]
    ratio = cells["init_log10_grad_ratio"]
    explode = (ratio > 0) | (cells["status"] == "exploded")
    below, above = q < 1, q >= 1
    measured = (
        f"exploding cells: {int((explode & below).sum())} of {int(below.sum())} with "
        f"gamma*sigma_max < 1, {int((explode & above).sum())} of {int(above.sum())} above"
    )
    return invariant(
        not (explode & below).any(),
        measured,
        "At initialization, loss at the last step; above 1/gamma explosion is possible, "
        "not certain, as the paper says.",
        "A cell with gamma*sigma_max < 1 grew its gradient: the bound forbids it.",
        len(cells),
    )


def _linear(ctx) -> Verdict | None:
    c = ctx["cells"]
    c = c[
        (_col(c, "model") == "rnn")
        & (_col(c, "nonlinearity") == "linear")
        & (_col(c, "init") == "orthogonal")
        & _col(c, "task").isin(SINGLE_LOSS_TASKS)
    ]
    c = c[c["init_decay_rate"].notna() & (c["w_rec_scale"] > 0)]
    if c.empty:
        return None
    err = (c["init_decay_rate"] - np.log10(c["w_rec_scale"])).abs()
    return invariant(
        bool(err.max() <= EXACT_TOL),
        f"max |decay_rate - log10 rho| = {err.max():.2g} over {len(c)} cells",
        "Linear rnn with W = rho Q, loss at the last step: exact to rounding.",
        f"Off by more than {EXACT_TOL:g}: the oracle should hold to rounding.",
        len(c),
    )


def _clip_rule(ctx) -> Verdict | None:
    c, tr = ctx["cells"], ctx["training"]
    c = c[_col(c, "clip_kind").astype(str) == "norm"]
    if c.empty or tr.empty:
        return None
    t = tr.merge(c[["cell_id", "clip_threshold"]], on="cell_id")
    if t.empty:
        return None
    t = t[np.isfinite(t["param_grad_norm"])]
    wrong = int((t["clipped"].astype(bool) != (t["param_grad_norm"] > t["clip_threshold"])).sum())
    thresholds = "/".join(f"{v:g}" for v in sorted(c["clip_threshold"].unique()))
    measured = (
        f"threshold {thresholds}; clipped on {t['clipped'].mean():.0%} of {len(t):,} "
        f"steps, {wrong} steps where clipping disagrees with ||g|| > threshold"
    )
    return invariant(
        wrong == 0,
        measured,
        "Algorithm 1 as published: rescale to the threshold when the norm exceeds it.",
        "Clipping fired (or not) against the rule on some steps.",
        len(c),
    )


def _smart_init(ctx) -> Verdict | None:
    c = ctx["cells"]
    c = c[(_col(c, "init") == "sparse") & c["init_spectral_radius"].notna()]
    if c.empty:
        return None
    err = (c["init_spectral_radius"] - c["w_rec_scale"]).abs().max()
    radii = "/".join(f"{v:g}" for v in sorted(c["w_rec_scale"].unique()))
    scales = "/".join(f"{v:g}" for v in sorted(c["input_scale"].unique()))
    measured = (
        f"sparse W_rec at spectral radius {radii} (measured to {err:.1g}), input std {scales}"
    )
    as_code = np.isclose(c["w_rec_scale"], SMART_RADIUS) & np.isclose(c["input_scale"], SMART_STD)
    return invariant(
        bool(err < EXACT_TOL) and bool(as_code.all()),
        measured,
        "15 nonzero entries per unit, radius 0.95, input and output weights of std 0.01, as "
        "trainingRNNs RNN.py lines 125-138.",
        "The radius is off, or the study's sparse cells are not at Pascanu's radius 0.95 and "
        "input std 0.01.",
        len(c),
    )


def _baseline(task: str, formula: Callable[[pd.Series], pd.Series], label: str) -> Callable:
    def check(ctx) -> Verdict | None:
        c = ctx["cells"]
        c = c[(c["task"] == task) & _col(c, "baseline_loss").notna()]
        if c.empty:
            return None
        err = (c["baseline_loss"] - formula(c["seq_len"])).abs().max()
        stuck = c[~c["solved"].fillna(False).astype(bool) & (c["normalized_loss"] < 2)]
        plateau = (
            f"; unsolved cells end at {stuck['normalized_loss'].median():.2f} x baseline"
            + _short_memory_note(stuck)
            if len(stuck)
            else ""
        )
        return invariant(
            bool(err < 1e-12),
            f"baseline_loss = {label} in {len(c)} cells (largest difference {err:.1g}){plateau}",
            "Closed form of the memoryless predictor.",
            "Our baseline differs from the published closed form.",
            len(c),
        )

    return check


def _mc_bound(ctx) -> Verdict | None:
    c = _esn_cells(ctx)
    if c.empty:
        return None
    ratio = c["memory_capacity"] / c["hidden"]
    best = ratio.groupby(c["nonlinearity"]).max()
    lin = best.get("linear", np.nan)
    measured = (
        f"max MC/N {ratio.max():.3f} over {len(c)} cells; best MC/N by reservoir: "
        + ", ".join(f"{k} {v:.3f}" for k, v in best.items())
    )
    near = (
        f" A linear reservoir reaches {lin:.0%} of N ({budget(c)}, ridge {c['ridge'].min():g})."
        if np.isfinite(lin)
        else " The study has no linear reservoir."
    )
    return invariant(
        bool((ratio <= 1 + MC_SLACK).all()),
        measured,
        "MC <= N holds." + near,
        "Some MC exceeds N beyond the estimation slack: a bug.",
        len(c),
    )


def _esn_heuristic(ctx) -> Verdict | None:
    c = ctx["cells"]
    c = c[(c["model"] == "esn") & c["init_spectral_norm"].notna()]
    if c.empty or c["init_jacobian_decay_rate"].isna().all():
        return None
    c = c[c["init_jacobian_decay_rate"].notna()]
    fades = c["init_jacobian_decay_rate"] < 0
    small_sigma = c["init_spectral_norm"] < 1
    big_rho = c["init_spectral_radius"] >= 1
    measured = (
        f"sigma_max < 1: {int((fades & small_sigma).sum())} of {int(small_sigma.sum())} "
        f"fade; rho >= 1: {int((fades & big_rho).sum())} of {int(big_rho.sum())} fade"
    )
    return invariant(
        bool(fades[small_sigma].all()),
        measured,
        "Fading measured as a negative Jacobian decay rate on the probe sequence.",
        "A reservoir with sigma_max < 1 did not fade: the sufficient condition failed.",
        len(c),
    )


def _memory_closed_form(ctx) -> Verdict | None:
    c = ctx["cells"]
    if not has_column(c, "init_memory_sensitivity"):
        return None
    linear = (
        c["model"].isin(["esn", "rnn"])
        & (_col(c, "nonlinearity") == "linear")
        & (_col(c, "init") == "identity")
        & (_col(c, "task") == "memory")
        & (_col(c, "leak", 1.0) == 1.0)
        & (c["w_rec_scale"] < 1)
        & c["init_memory_sensitivity"].notna()
    )
    c = c[linear]
    if c.empty:
        return None
    ratio = c["init_memory_sensitivity"] / closed_form(c["w_rec_scale"])
    med = float(ratio.median())
    measured = (
        f"measured / closed form: median {med:.3f} (range {ratio.min():.3f} to "
        f"{ratio.max():.3f}) over {len(c)} cells, l = "
        + "/".join(f"{v:g}" for v in sorted(c["w_rec_scale"].unique()))
    )
    return invariant(
        bool(abs(med - 1) <= CLOSED_FORM_TOL),
        measured,
        f"Linear reservoirs with W = l I fed the memory task's i.i.d. input; each cell averages "
        f"{MEMORY_SEQUENCES} sequences (about +-30% Monte Carlo error a cell), so the median is "
        f"held to {CLOSED_FORM_TOL:.0%}; tests/test_memory.py holds the metric to the closed "
        "form within 12% on 1000 sequences.",
        "The median is off by more than the Monte Carlo error: a bug, or T too short for l.",
        len(c),
    )
