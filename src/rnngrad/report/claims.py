"""Published claims against what a study measured.

``data/published_claims.csv`` lists classic findings on vanishing and exploding gradients with
their source, the setting they hold in, the published value and ``how_to_compare``: what to
compute from a study's tables. :func:`evaluate` runs that computation for every claim the
tables can speak to and gives a verdict: ``agrees``, ``differs`` (with the honest reason, often
a budget far below the paper's) or ``not measured here`` (the study has the cells but not the
measurement, e.g. ``jacobian: false``). Methods are recognized by their settings, not by remedy
names: SGD is a vanilla rnn trained by plain SGD without clip or penalty, SGD-C adds clipping by
norm, SGD-CR adds Pascanu's Omega; the same rnn trained by Adam or momentum is Adam, Adam-C,
Adam-CR (Momentum, ...), so a claim about SGD is judged on SGD runs only; IRNN is identity init
with relu. Every reason names the runs it was judged on (:func:`budget`) and, where a claim
differs, what they reached (:func:`outcome`: steps to solve, steps trained, accuracy, loss).

Example
-------
>>> claims = load_claims()
>>> claims.loc[claims.claim_id == "adding_baseline", "published_value"].item()
'1/6 = 0.167'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from rnngrad.core.memory import MEMORY_SEQUENCES, closed_form
from rnngrad.report.analysis import (  # sup |f'|; a table of ``tables``; success
    GAMMA,
    frame,
    succeeded,
)
from rnngrad.report.analysis import has as has_column

COLUMNS = (
    "claim_id",
    "source",
    "where",
    "claim",
    "setting",
    "published_value",
    "how_to_compare",
    "confidence",
)
VERDICTS = ("agrees", "differs", "not measured here")
RESULT_COLUMNS = (
    "claim_id",
    "source",
    "where",
    "claim",
    "published_value",
    "measured_value",
    "verdict",
    "reason",
)
SINGLE_LOSS_TASKS = ("adding", "temporal_order", "digits")  # one loss, at the last step
LONG_LAG_TASKS = ("adding", "temporal_order", "copy")
BOUND_TOL = 1e-9  # log10 slack of the Jacobian bound: rounding of products of ~T matrices
EXACT_TOL = 1e-8  # the linear orthogonal oracle holds to rounding
MC_SLACK = 0.01  # MC <= N (1 + slack): squared correlations on finite samples are biased up
MC_NEAR_N = 0.9  # a linear reservoir "approaches N" when its best MC reaches this fraction
LONG_T = 100  # Hochreiter and Schmidhuber's delay where BPTT fails


def load_claims() -> pd.DataFrame:
    """The published claims, one row each, columns ``COLUMNS`` (all strings)."""
    with resources.files("rnngrad").joinpath("data", "published_claims.csv").open() as f:
        return pd.read_csv(f, dtype=str, keep_default_na=False)


def evaluate(tables: Any, study_config: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """One row per claim the study's tables can speak to (columns ``RESULT_COLUMNS``).

    Parameters
    ----------
    tables : the study's tables (``rnngrad.load(study)`` or a mapping with ``cells``,
        ``profiles`` and ``training``).
    study_config : the validated config; when its grid holds more cells than the tables (a
        partial run), every reason says so.
    """
    cells = frame(tables, "cells")
    if cells.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    ctx = {
        "cells": cells,
        "profiles": frame(tables, "profiles"),
        "training": frame(tables, "training"),
    }
    partial = _partial_note(cells, study_config)
    rows = []
    for claim in load_claims().to_dict("records"):
        check = CHECKS.get(claim["claim_id"])
        result = check(ctx) if check else None
        if result is None:
            continue
        measured, verdict, reason = result
        rows.append(
            {
                **{k: claim[k] for k in RESULT_COLUMNS[:5]},
                "measured_value": measured,
                "verdict": verdict,
                "reason": reason + partial,
            }
        )
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def _partial_note(cells: pd.DataFrame, config: Mapping[str, Any] | None) -> str:
    if not config or "grid" not in config:
        return ""
    expected = math.prod(len(v) for v in config["grid"].values())
    return f" Partial run: {len(cells)} of {expected} cells." if len(cells) < expected else ""


# -- helpers on the cells table -----------------------------------------------------------------
def _col(cells: pd.DataFrame, name: str, default: Any = None) -> pd.Series:
    return cells[name] if name in cells else pd.Series(default, index=cells.index)


def _is_null(s: pd.Series) -> pd.Series:
    return s.isna() | (s.astype(str) == "None")


OPTIMIZER_NAMES = {"sgd": "SGD", "momentum": "Momentum", "adam": "Adam"}


def method(cells: pd.DataFrame) -> pd.Series:
    """Each cell's method in the papers' words: SGD, SGD-C, SGD-CR (vanilla rnn; Adam, Adam-C,
    Adam-CR or Momentum, ... when another optimizer trained it), IRNN, LSTM, GRU, ESN, expRNN,
    AntisymmetricRNN, IndRNN, LRU, or other (truncation, clipping by value, an L2 penalty)."""
    model = _col(cells, "model", "rnn")
    clip_norm = _col(cells, "clip_kind").astype(str) == "norm"
    no_clip = _is_null(_col(cells, "clip_kind"))
    omega = _col(cells, "penalty_kind").astype(str) == "pascanu"
    no_pen = _is_null(_col(cells, "penalty_kind"))
    no_trunc = _is_null(_col(cells, "truncate_k1"))
    irnn = (_col(cells, "init") == "identity") & (_col(cells, "nonlinearity") == "relu")
    rnn = (model == "rnn") & no_trunc & ~irnn
    opt = _col(cells, "optimizer", "sgd").map(OPTIMIZER_NAMES).fillna("SGD").astype(object)
    out = pd.Series("other", index=cells.index, dtype=object)
    out[rnn & no_clip & no_pen] = opt
    out[rnn & clip_norm & no_pen] = opt + "-C"
    out[rnn & clip_norm & omega] = opt + "-CR"
    out[(model == "rnn") & irnn & no_trunc & no_pen] = "IRNN"
    for m in ("lstm", "gru", "esn"):
        out[model == m] = m.upper()
    out[model == "exprnn"] = "expRNN"
    out[model == "antisymmetric"] = "AntisymmetricRNN"
    out[model == "indrnn"] = "IndRNN"
    out[model == "lru"] = "LRU"
    return out


def _trained(cells: pd.DataFrame) -> pd.DataFrame:
    return cells[(_col(cells, "train_steps", 0) > 0) & _col(cells, "accuracy").notna()]


def success_rate(cells: pd.DataFrame, by: list[str]) -> pd.Series:
    """Fraction of runs that succeeded (:func:`rnngrad.report.analysis.succeeded`: accuracy
    >= 0.99 at a held-out evaluation, or at the end for runs without) per group, over seeds and
    other axes."""
    solved = succeeded(cells)
    return solved.groupby([cells[b] for b in by]).mean()


def reach(cells: pd.DataFrame) -> int:
    """Longest seq_len solved by at least half of its cells (0 when none)."""
    rate = success_rate(cells, ["seq_len"])
    ok = rate[rate >= 0.5]
    return int(ok.index.max()) if len(ok) else 0


def budget(cells: pd.DataFrame) -> str:
    """The runs a verdict rests on: their count, method, optimizer, lr, batch and budget, e.g.
    '4 runs (SGD-C, SGD-CR): sgd lr 0.01, 1,000 steps x 20 = 20,000 sequences a run, stopping
    at the first solved evaluation (every 500 steps), 2 seed(s)'."""
    steps, batch = int(cells["train_steps"].max()), int(cells["batch"].max())
    methods = ", ".join(sorted(method(cells).unique()))
    opts = "/".join(sorted(_col(cells, "optimizer", "sgd").fillna("sgd").astype(str).unique()))
    lrs = "/".join(f"{v:g}" for v in sorted(_col(cells, "lr", np.nan).dropna().unique()))
    optimizer = f"{opts} lr {lrs}" if lrs else opts
    stop = _col(cells, "stop_when_solved", False).fillna(False).astype(bool)
    every = _col(cells, "eval_every", 0).fillna(0)
    if stop.all():
        stopping = (
            ", stopping at the first solved evaluation "
            f"(every {'/'.join(f'{int(v):,}' for v in sorted(every.unique()))} steps)"
        )
    elif stop.any():
        stopping = f", {int(stop.sum())} of them stopping when solved"
    else:
        stopping = ""
    if methods == "ESN":  # a closed-form readout: no optimizer
        return (
            f"{len(cells)} runs (ESN): {steps:,} batches x {batch} = {steps * batch:,} "
            f"training sequences a run, {cells['seed'].nunique()} seed(s)"
        )
    return (
        f"{len(cells)} runs ({methods}): {optimizer}, "
        f"{steps:,} steps x {batch} = {steps * batch:,} sequences a run{stopping}, "
        f"{cells['seed'].nunique()} seed(s)"
    )


def outcome(cells: pd.DataFrame) -> str:
    """What the runs reached, measured: the solved ones' steps to solve, the others' steps
    trained, best accuracy and median normalized loss."""
    solved = succeeded(cells)
    parts = []
    to_solve = _col(cells, "steps_to_solve").astype("Float64").dropna()
    if solved.any():
        s = to_solve[to_solve.index.isin(cells.index[solved])]
        acc = cells.loc[solved, "accuracy"]
        parts.append(
            f"{int(solved.sum())} solved"
            + (f" at step {_span(s)}" if len(s) else "")
            + " (final accuracy "
            + (
                f"{acc.min():.3f}"
                if acc.min() == acc.max()
                else f"{acc.min():.3f} to {acc.max():.3f}"
            )
            + ")"
        )
    diverged = ~solved & (_col(cells, "status").astype(str) == "diverged")
    if diverged.any():
        at = _col(cells, "diverged_at").astype("Float64")[diverged].dropna()
        parts.append(
            f"{int(diverged.sum())} diverged" + (f" at step {_span(at)}" if len(at) else "")
        )
    rest = cells[~solved & ~diverged]
    if len(rest):
        trained = _col(rest, "steps_trained").astype("Float64").dropna()
        parts.append(
            f"{len(rest)} unsolved"
            + (f" after {_span(trained)} steps" if len(trained) else "")
            + f", best accuracy {rest['accuracy'].max():.2f}, "
            f"median normalized loss {rest['normalized_loss'].median():.3g}"
        )
    return "; ".join(parts)


def _span(values: pd.Series) -> str:
    """'700 to 1,900' (or '3,000' when all are equal) of integer-valued steps."""
    lo, hi = int(values.min()), int(values.max())
    return f"{lo:,}" if lo == hi else f"{lo:,} to {hi:,}"


def _rates(rate: pd.Series) -> str:
    """'T=50: 0.33, T=100: 0.00': a success-rate series indexed by seq_len, as text."""
    return ", ".join(f"T={t}: {r:.2f}" for t, r in rate.items())


# -- checks: each returns (measured_value, verdict, reason) or None when it cannot speak ---------
def _gamma_cells(cells: pd.DataFrame) -> pd.DataFrame:
    ok = (_col(cells, "model") == "rnn") & _col(cells, "nonlinearity").isin(list(GAMMA))
    return cells[ok]


def _bound_vanish(ctx) -> tuple[str, str, str] | None:
    cells = _gamma_cells(ctx["cells"])
    if cells.empty:
        return None
    prof = ctx["profiles"]
    if prof.empty or "jacobian_norm" not in prof or prof["jacobian_norm"].isna().all():
        return (
            "-",
            "not measured here",
            "jacobian_norm was not measured (jacobian: false) in this study.",
        )
    prof = prof[prof["cell_id"].isin(cells["cell_id"]) & prof["jacobian_norm"].notna()]
    held = n = vanish_q = vanished = 0
    worst = -np.inf
    by_id = cells.set_index("cell_id")
    for (cid, phase), p in prof.sort_values("lag").groupby(["cell_id", "phase"]):
        q = GAMMA[by_id.at[cid, "nonlinearity"]] * by_id.at[cid, f"{phase}_spectral_norm"]
        if not np.isfinite(q) or q <= 0:
            continue
        with np.errstate(divide="ignore"):
            excess = np.log10(p["jacobian_norm"].to_numpy()) - p["lag"].to_numpy() * math.log10(q)
        excess = excess[np.isfinite(excess)]
        n += 1
        worst = max(worst, float(excess.max()) if excess.size else -np.inf)
        held += bool(np.all(excess <= BOUND_TOL))
        if q < 1:
            vanish_q += 1
            vanished += bool(p["jacobian_norm"].iloc[-1] < 1 or p["lag"].max() == 0)
    if n == 0:
        return None
    measured = (
        f"bound held in {held} of {n} cell-phases (largest log10 excess {worst:.2g}); "
        f"gamma*sigma_max < 1 in {vanish_q}: {vanished} vanish"
    )
    agree = held == n and vanished == vanish_q
    return (
        measured,
        "agrees" if agree else "differs",
        (
            "Checked on every lag of every measured profile."
            if agree
            else "Some profile exceeds (gamma sigma_max)^k: a bug or rounding beyond the tolerance."
        ),
    )


def _bound_explode(ctx) -> tuple[str, str, str] | None:
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
    agree = not (explode & below).any()
    reason = (
        "At initialization, loss at the last step; above 1/gamma explosion is possible, "
        "not certain, as the paper says."
        if agree
        else "A cell with gamma*sigma_max < 1 grew its gradient: the bound forbids it."
    )
    return measured, "agrees" if agree else "differs", reason


def _linear(ctx) -> tuple[str, str, str] | None:
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
    measured = f"max |decay_rate - log10 rho| = {err.max():.2g} over {len(c)} cells"
    agree = bool(err.max() <= EXACT_TOL)
    return (
        measured,
        "agrees" if agree else "differs",
        (
            "Linear rnn with W = rho Q, loss at the last step: exact to rounding."
            if agree
            else f"Off by more than {EXACT_TOL:g}: the oracle should hold to rounding."
        ),
    )


def _clip_rule(ctx) -> tuple[str, str, str] | None:
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
    agree = wrong == 0
    return (
        measured,
        "agrees" if agree else "differs",
        (
            "Algorithm 1 as published: rescale to the threshold when the norm exceeds it."
            if agree
            else "Clipping fired (or not) against the rule on some steps."
        ),
    )


def _omega(ctx) -> tuple[str, str, str] | None:
    c = _trained(ctx["cells"])
    m = method(c)
    cr, cc = c[m == "SGD-CR"], c[m == "SGD-C"]
    if cr.empty:
        return None
    if cc.empty or cr["trained_decay_rate"].isna().all():
        return (
            "-",
            "not measured here",
            "The study has no SGD-C cells (or no trained profiles) to compare Omega with.",
        )
    a = cr["trained_decay_rate"].abs().median()
    b = cc["trained_decay_rate"].abs().median()
    weights = "/".join(f"{w:g}" for w in sorted(cr["penalty_weight"].unique()))
    measured = (
        f"median |decay_rate| after training: SGD-CR {a:.3g}, SGD-C {b:.3g} (weight {weights})"
    )
    agree = bool(a < b)
    return (
        measured,
        "agrees" if agree else "differs",
        (
            f"Omega keeps the per-step factor of the backpropagated error nearer 1 ({budget(c)})."
            if agree
            else f"At our budget ({budget(c)}) Omega did not bring the per-step factor "
            "nearer 1 than clipping alone."
        ),
    )


def _temporal_order(ctx) -> tuple[str, str, str] | None:
    c = _trained(ctx["cells"])
    c = c[c["task"] == "temporal_order"]
    m = method(c)
    rnn = c[m.str.match(r"^(SGD|Adam|Momentum)(-CR?)?$")]
    c = c[m.isin(["SGD", "SGD-C", "SGD-CR"])]
    if c.empty:
        if rnn.empty:
            return None
        return (
            "-",
            "not measured here",
            f"The claim is about plain SGD; this study trained its rnns otherwise ({budget(rnn)}).",
        )
    m = method(c)
    variant = c["nonlinearity"].astype(str) + "/" + c["init"].astype(str)
    rate = succeeded(c).groupby([m, variant, c["seq_len"]]).mean()
    best = rate.groupby(level=[0, 2]).max()  # the best initialization per method and length
    parts = [
        f"{name} {_rates(best[name])}"
        for name in ("SGD", "SGD-C", "SGD-CR")
        if name in best.index.get_level_values(0)
    ]
    measured = (
        "solved fraction (best init): "
        + "; ".join(parts)
        + f"; best accuracy {c['accuracy'].max():.2f}"
    )
    cr = best["SGD-CR"] if "SGD-CR" in best.index.get_level_values(0) else pd.Series(dtype=float)
    sgd = best["SGD"] if "SGD" in best.index.get_level_values(0) else pd.Series(dtype=float)
    cc = best["SGD-C"] if "SGD-C" in best.index.get_level_values(0) else pd.Series(dtype=float)
    remedied = pd.concat([cr, cc], axis=1).max(axis=1)  # SGD-C or SGD-CR, per length
    in_range = remedied[(remedied.index >= 50) & (remedied.index <= 200)]
    longest = in_range.index.max() if len(in_range) else None
    agree = (
        len(in_range) > 0
        and bool((in_range == 1).all())
        and (sgd.empty or longest not in sgd.index or sgd[longest] < 1)
    )
    by_method = "; ".join(
        f"{name}: {outcome(c[m == name])}"
        for name in ("SGD", "SGD-C", "SGD-CR")
        if (m == name).any()
    )
    reason = f"Judged on {budget(c)}. {by_method}."
    if not agree:
        reason += " The paper trains each run until under 1% error (5 seeds)."
    return measured, "agrees" if agree else "differs", reason


def _smart_init(ctx) -> tuple[str, str, str] | None:
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
    agree = bool(err < EXACT_TOL) and bool(np.isclose(c["w_rec_scale"], 0.95).any())
    return (
        measured,
        "agrees" if agree else "differs",
        (
            "15 nonzero inputs per unit, radius 0.95, small input and output weights."
            if agree
            else "The study's sparse init is not at Pascanu's radius 0.95."
        ),
    )


def _solved_by_length(ctx, model: str, task: str) -> pd.DataFrame:
    c = _trained(ctx["cells"])
    return c[(method(c) == model) & (c["task"] == task)]


def _lstm_solves(task: str, published: str) -> Callable:
    def check(ctx) -> tuple[str, str, str] | None:
        c = _solved_by_length(ctx, "LSTM", task)
        if c.empty:
            return None
        rate = success_rate(c, ["seq_len"])
        measured = (
            f"LSTM solved fraction {_rates(rate)}; median normalized loss "
            f"{c['normalized_loss'].median():.2f}"
        )
        agree = bool((rate >= 0.5).all())
        return (
            measured,
            "agrees" if agree else "differs",
            f"Judged on {budget(c)}: {outcome(c)}. The paper's: {published}.",
        )

    return check


def _bptt_fails(ctx) -> tuple[str, str, str] | None:
    c = _trained(ctx["cells"])
    # clipping keeps it plain BPTT: it only rescales the gradient
    c = c[
        method(c).str.match(r"^(SGD|Adam|Momentum)(-C)?$")
        & (c["nonlinearity"] == "tanh")
        & c["task"].isin(LONG_LAG_TASKS)
        & (c["seq_len"] >= LONG_T)
    ]
    if c.empty:
        return None
    n = int(succeeded(c).sum())
    names = " or ".join(sorted(method(c).unique()))
    measured = (
        f"{n} of {len(c)} tanh rnn cells ({names}, T >= {LONG_T}) solved; best "
        f"accuracy {c['accuracy'].max():.2f}"
    )
    agree = n == 0
    return (
        measured,
        "agrees" if agree else "differs",
        (
            f"Judged on {budget(c)}: {outcome(c)}; compare the remedies' rows at the same budget."
            if agree
            else f"Plain BPTT solved a long lag here ({budget(c)}: {outcome(c)})."
        ),
    )


def _irnn(ctx) -> tuple[str, str, str] | None:
    c = _trained(ctx["cells"])
    c = c[c["task"] == "adding"]
    m = method(c)
    irnn = c[m == "IRNN"]
    tanh = c[m.str.match(r"^(SGD|Adam|Momentum)(-C)?$") & (c["nonlinearity"] == "tanh")]
    if irnn.empty or tanh.empty:
        return None
    r_i, r_t = reach(irnn), reach(tanh)
    nl_i = irnn.groupby("seq_len")["normalized_loss"].median()
    nl_t = tanh.groupby("seq_len")["normalized_loss"].median()
    measured = (
        f"longest T solved: IRNN {r_i or 'none'}, tanh RNN {r_t or 'none'}; median "
        f"normalized loss IRNN {', '.join(f'{v:.3g}' for v in nl_i)}, tanh "
        f"{', '.join(f'{v:.3g}' for v in nl_t)} (T = {', '.join(map(str, nl_i.index))})"
    )
    agree = r_i > r_t
    reason = (
        f"Judged on {budget(pd.concat([irnn, tanh]))}. IRNN: {outcome(irnn)}; tanh RNN: "
        f"{outcome(tanh)}."
    )
    if not agree:
        reason += " Le et al. train over a million iterations."
    return measured, "agrees" if agree else "differs", reason


def solved_interval(cells: pd.DataFrame) -> tuple[int, int, float, float]:
    """Runs solved, runs, and the Wilson 95% interval of the solved fraction."""
    k, n = int(succeeded(cells).sum()), len(cells)
    return (k, n, *_wilson(k, n))


def _fraction(cells: pd.DataFrame) -> str:
    """'2 of 3 solved (95% interval 0.09 to 0.99)'."""
    k, n, lo, hi = solved_interval(cells)
    return f"{k} of {n} solved (95% interval {lo:.2f} to {hi:.2f})"


def _indrnn(ctx) -> tuple[str, str, str] | None:
    c = _trained(ctx["cells"])
    c = c[(method(c) == "IndRNN") & (c["task"] == "adding")]
    if c.empty:
        return None
    by_t = "; ".join(f"T={T}: {_fraction(g)}" for T, g in c.groupby("seq_len"))
    long = c[c["seq_len"] >= 1000]
    if len(long) < MIN_RUNS:
        return (
            f"IndRNN {by_t}",
            "not measured here",
            f"Fewer than {MIN_RUNS} runs at T >= 1000 (the claim's length); judged on "
            f"{budget(c)}: {outcome(c)}.",
        )
    k, n, lo, _ = solved_interval(long)
    agree = 2 * k >= n
    return (
        f"IndRNN {by_t}",
        "agrees" if agree else "differs",
        f"At T >= 1000: {_fraction(long)}, judged on {budget(long)}: {outcome(long)}. Li et al. "
        "train 2 layers of 128 units with Adam at lr 2e-4 until the MSE settles"
        + ("." if agree else f"; the lower end of our interval is {lo:.2f}."),
    )


def _lru_ablation(ctx) -> tuple[str, str, str] | None:
    c = _trained(ctx["cells"])
    m = method(c)
    lru, tanh = (
        c[m == "LRU"],
        c[m.str.match(r"^(SGD|Adam|Momentum)(-C)?$") & (c["nonlinearity"] == "tanh")],
    )
    keys = ["task", "seq_len"]
    shared = lru[keys].drop_duplicates().merge(tanh[keys].drop_duplicates())
    if shared.empty:
        return None
    parts, above = [], []
    for task, T in shared.itertuples(index=False):
        a = lru[(lru["task"] == task) & (lru["seq_len"] == T)]
        b = tanh[(tanh["task"] == task) & (tanh["seq_len"] == T)]
        (ka, na, lo_a, _), (kb, nb, _, hi_b) = solved_interval(a), solved_interval(b)
        parts.append(f"{task} T={T}: LRU {ka}/{na}, tanh RNN {kb}/{nb}")
        above.append(lo_a > hi_b or (ka > 0 and kb == 0))
    agree = all(above)
    both = pd.concat([lru, tanh])
    return (
        "; ".join(parts),
        "agrees" if agree else "differs",
        f"The two ends of their ablation only (the steps between are no model here). Judged on "
        f"{budget(both)}. LRU: {outcome(lru)}; tanh RNN: {outcome(tanh)}."
        + ("" if agree else " The LRU did not come out ahead at every task and length."),
    )


def _baseline(task: str, formula: Callable[[pd.Series], pd.Series], label: str) -> Callable:
    def check(ctx) -> tuple[str, str, str] | None:
        c = ctx["cells"]
        c = c[(c["task"] == task) & _col(c, "baseline_loss").notna()]
        if c.empty:
            return None
        err = (c["baseline_loss"] - formula(c["seq_len"])).abs().max()
        stuck = c[~c["solved"].fillna(False).astype(bool) & (c["normalized_loss"] < 2)]
        plateau = (
            f"; unsolved cells end at {stuck['normalized_loss'].median():.2f} x baseline"
            if len(stuck)
            else ""
        )
        measured = (
            f"baseline_loss = {label} in {len(c)} cells (largest difference {err:.1g}){plateau}"
        )
        agree = bool(err < 1e-12)
        return (
            measured,
            "agrees" if agree else "differs",
            (
                "Closed form of the memoryless predictor."
                if agree
                else "Our baseline differs from the published closed form."
            ),
        )

    return check


def _mc_bound(ctx) -> tuple[str, str, str] | None:
    c = ctx["cells"]
    c = c[(c["model"] == "esn") & (c["task"] == "memory") & _col(c, "memory_capacity").notna()]
    if c.empty:
        return None
    ratio = c["memory_capacity"] / c["hidden"]
    best = ratio.groupby(c["nonlinearity"]).max()
    bound_ok = bool((ratio <= 1 + MC_SLACK).all())
    lin = best.get("linear", np.nan)
    measured = (
        f"max MC/N {ratio.max():.3f} over {len(c)} cells; best MC/N by reservoir: "
        + ", ".join(f"{k} {v:.3f}" for k, v in best.items())
    )
    if not bound_ok:
        return measured, "differs", "Some MC exceeds N beyond the estimation slack: a bug."
    if np.isnan(lin):
        return measured, "agrees", "MC <= N holds; the study has no linear reservoir."
    agree = bool(lin >= MC_NEAR_N)
    return (
        measured,
        "agrees" if agree else "differs",
        (
            f"MC <= N holds, and a linear reservoir reaches {lin:.0%} of N."
            if agree
            else f"MC <= N holds, but our best linear reservoir reaches only {lin:.0%} of N: "
            f"finite data ({budget(c)}), ridge {c['ridge'].min():g} and a finite spectral radius."
        ),
    )


def _tradeoff(ctx) -> tuple[str, str, str] | None:
    c = ctx["cells"]
    c = c[(c["model"] == "esn") & (c["task"] == "memory") & _col(c, "memory_capacity").notna()]
    if c.empty:
        return None
    best = (c["memory_capacity"] / c["hidden"]).groupby(c["nonlinearity"]).max()
    if not {"linear", "tanh"} <= set(best.index):
        return None
    measured = f"best MC/N: linear {best['linear']:.3f}, tanh {best['tanh']:.3f}"
    agree = bool(best["tanh"] < best["linear"])
    return (
        measured,
        "agrees" if agree else "differs",
        (
            f"Input std {'/'.join(f'{v:g}' for v in sorted(c['input_scale'].unique()))}: larger "
            "inputs drive tanh further from its linear regime."
            if agree
            else "Our tanh reservoirs remembered as much as the linear ones."
        ),
    )


def _esn_heuristic(ctx) -> tuple[str, str, str] | None:
    c = ctx["cells"]
    c = c[(c["model"] == "esn") & c["init_spectral_norm"].notna()]
    if c.empty:
        return None
    if c["init_jacobian_decay_rate"].isna().all():
        return (
            "-",
            "not measured here",
            "The Jacobian (fading of the state map) was not measured (jacobian: false).",
        )
    c = c[c["init_jacobian_decay_rate"].notna()]
    fades = c["init_jacobian_decay_rate"] < 0
    small_sigma = c["init_spectral_norm"] < 1
    big_rho = c["init_spectral_radius"] >= 1
    measured = (
        f"sigma_max < 1: {int((fades & small_sigma).sum())} of {int(small_sigma.sum())} "
        f"fade; rho >= 1: {int((fades & big_rho).sum())} of {int(big_rho.sum())} fade"
    )
    agree = bool(fades[small_sigma].all())
    return (
        measured,
        "agrees" if agree else "differs",
        (
            "Fading measured as a negative Jacobian decay rate on the probe sequence."
            if agree
            else "A reservoir with sigma_max < 1 did not fade: the sufficient condition failed."
        ),
    )


MIN_RUNS = 5  # a reproduction is judged on at least this many runs of each model
CLOSED_FORM_TOL = 0.2  # median |measured / closed form - 1| of the curse of memory's cells


def _wilson(k: int, n: int) -> tuple[float, float]:
    """The Wilson 95% interval of k successes in n runs."""
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(method="wilson")
    return float(ci.low), float(ci.high)


def _orthogonal_copy(ctx) -> tuple[str, str, str] | None:
    c = _trained(ctx["cells"])
    c = c[c["task"] == "copy"]
    ortho, lstm = c[c["model"] == "exprnn"], c[c["model"] == "lstm"]
    if ortho.empty or lstm.empty:
        return None
    parts, bounds = [], {}
    for name, runs in (("exprnn", ortho), ("lstm", lstm)):
        k, n = int(succeeded(runs).sum()), len(runs)
        bounds[name] = _wilson(k, n)
        lo, hi = bounds[name]
        parts.append(
            f"{name} solved {k} of {n} (95% interval {lo:.2f} to {hi:.2f}), median normalized "
            f"loss {runs['normalized_loss'].median():.3g}"
        )
    lengths = "/".join(str(v) for v in sorted(c["seq_len"].unique()))
    measured = f"copy T = {lengths}: " + "; ".join(parts)
    judged = f"Judged on {budget(pd.concat([ortho, lstm]))}."
    if min(len(ortho), len(lstm)) < MIN_RUNS:
        return (
            measured,
            "not measured here",
            f"Fewer than {MIN_RUNS} runs of each model. {judged}",
        )
    at_baseline = lstm["normalized_loss"].median() >= 0.9
    agree = bool(bounds["exprnn"][0] > bounds["lstm"][1] and at_baseline)
    reason = f"{judged} exprnn: {outcome(ortho)}; lstm: {outcome(lstm)}."
    if not agree:
        reason += (
            " The papers train 4,000+ steps of batch 128 with RMSprop at T = 1000 and 2000 "
            "(expRNN) or T = 100 to 500 (uRNN)."
        )
    return measured, "agrees" if agree else "differs", reason


def _memory_closed_form(ctx) -> tuple[str, str, str] | None:
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
    agree = bool(abs(med - 1) <= CLOSED_FORM_TOL)
    return (
        measured,
        "agrees" if agree else "differs",
        (
            f"Linear reservoirs with W = l I fed the memory task's i.i.d. input; each cell "
            f"averages {MEMORY_SEQUENCES} sequences (about +-30% Monte Carlo error a cell), so "
            f"the median is held to {CLOSED_FORM_TOL:.0%}; tests/test_memory.py holds the metric "
            "to the closed form within 12% on 1000 sequences."
            + ("" if agree else " The median is off by more: a bug, or T too short for l.")
        ),
    )


CHECKS: dict[str, Callable[[dict], tuple[str, str, str] | None]] = {
    "pascanu_bound_vanish": _bound_vanish,
    "pascanu_bound_explode": _bound_explode,
    "pascanu_linear": _linear,
    "pascanu_clip_rule": _clip_rule,
    "pascanu_omega": _omega,
    "pascanu_temporal_order": _temporal_order,
    "pascanu_smart_init": _smart_init,
    "hochreiter_adding": _lstm_solves("adding", "74,000 (T=100) to 853,000 (T=1000) sequences"),
    "hochreiter_temporal_order": _lstm_solves("temporal_order", "31,390 sequences"),
    "hochreiter_bptt_fails": _bptt_fails,
    "le_irnn_adding": _irnn,
    "arjovsky_copy_baseline": _baseline(
        "copy", lambda T: 10 * math.log(8) / (T + 20), "10 ln 8 / (T + 20)"
    ),
    "adding_baseline": _baseline("adding", lambda T: 1.0 / 6.0 + 0 * T, "1/6"),
    "li_indrnn_adding": _indrnn,
    "orvieto_lru_ablation": _lru_ablation,
    "jaeger_mc_bound": _mc_bound,
    "esn_sr_heuristic": _esn_heuristic,
    "dambre_memory_nonlinearity": _tradeoff,
    "orthogonal_copy": _orthogonal_copy,
    "zucchet_orvieto_closed_form": _memory_closed_form,
}
