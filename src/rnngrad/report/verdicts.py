"""The verdict machinery shared by every claim's check.

A check returns a :class:`Verdict`. An invariant's is :func:`invariant` (``holds`` or
``fails``). A reproduction is judged only on the runs under the paper's conditions
(:class:`Conditions`: task variant and so its criterion, lengths, method, optimizer family,
evaluation set), by one rule, :func:`judge`: the claim says that most runs succeed (or fail);
it agrees when the 95% Wilson interval of the success fraction over runs lies wholly on the
claimed side of 1/2, differs when it lies wholly on the other side, and is inconclusive when it
straddles 1/2 or rests on fewer than MIN_RUNS runs (:func:`reproduce`, :func:`combine`,
:func:`not_measured` when no run meets the conditions). A run succeeds when it is ``solved`` on
the fresh evaluation set that did not decide stopping.

Methods are recognized by their settings, not by remedy names (:func:`method`): SGD is a
vanilla rnn trained by plain SGD without clip or penalty, SGD-C adds clipping by norm, SGD-CR
adds Pascanu's Omega (clipping and Omega together); the same rnn trained by Adam or momentum is
Adam, Adam-C, Adam-CR (Momentum, ...); IRNN is identity init at scale 1 with relu (Le et al.).
Every reason names the runs it was judged on (:func:`budget`) and what they reached
(:func:`outcome`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rnngrad.report.analysis import short_memory_levels, succeeded
from rnngrad.run.intervals import wilson

MIN_RUNS = 5  # a reproduction rests on at least this many runs
SUCCESS_SIDE = 0.5  # a reproduction claims that most runs succeed (or fail)


# -- helpers on the cells table -----------------------------------------------------------------
def _col(cells: pd.DataFrame, name: str, default: Any = None) -> pd.Series:
    return cells[name] if name in cells else pd.Series(default, index=cells.index)


def _is_null(s: pd.Series) -> pd.Series:
    return s.isna() | (s.astype(str) == "None")


OPTIMIZER_NAMES = {"sgd": "SGD", "momentum": "Momentum", "adam": "Adam"}


def method(cells: pd.DataFrame) -> pd.Series:
    """Each cell's method in the papers' words: SGD, SGD-C, SGD-CR (vanilla rnn; Adam, Adam-C,
    Adam-CR or Momentum, ... when another optimizer trained it), IRNN (identity at scale 1 with
    relu, Le et al.'s; other scales are other), LSTM, GRU, ESN, expRNN, AntisymmetricRNN,
    IndRNN, LRU, or other (truncation, clipping by value, an L2 penalty)."""
    model = _col(cells, "model", "rnn")
    clip_norm = _col(cells, "clip_kind").astype(str) == "norm"
    no_clip = _is_null(_col(cells, "clip_kind"))
    omega = _col(cells, "penalty_kind").astype(str) == "pascanu"
    no_pen = _is_null(_col(cells, "penalty_kind"))
    no_trunc = _is_null(_col(cells, "truncate_k1"))
    identity_relu = (_col(cells, "init") == "identity") & (_col(cells, "nonlinearity") == "relu")
    irnn = identity_relu & np.isclose(pd.to_numeric(_col(cells, "w_rec_scale", np.nan)), 1.0)
    rnn = (model == "rnn") & no_trunc & ~identity_relu
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
    >= 0.99 on the fresh evaluation set) per group, over seeds and other axes."""
    solved = succeeded(cells)
    return solved.groupby([cells[b] for b in by]).mean()


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
            + f", best accuracy {rest['accuracy'].max():.3f}, "
            f"median normalized loss {rest['normalized_loss'].median():.3g}"
            + _short_memory_note(rest)
        )
    return "; ".join(parts)


def _short_memory_note(cells: pd.DataFrame) -> str:
    """' (short-memory level 0.5, memoryless 1)': the normalized loss of remembering only the
    latest marked item, where the task has one."""
    levels = short_memory_levels(cells)
    if not levels:
        return ""
    return f" (short-memory level {'/'.join(f'{v:g}' for v in levels)}, memoryless 1)"


def _span(values: pd.Series) -> str:
    """'700 to 1,900' (or '3,000' when all are equal) of integer-valued steps."""
    lo, hi = int(values.min()), int(values.max())
    return f"{lo:,}" if lo == hi else f"{lo:,} to {hi:,}"


def _rates(rate: pd.Series) -> str:
    """'T=50: 0.33, T=100: 0.00': a success-rate series indexed by seq_len, as text."""
    return ", ".join(f"T={t}: {r:.2f}" for t, r in rate.items())


def _esn_cells(ctx) -> pd.DataFrame:
    c = ctx["cells"]
    return c[(c["model"] == "esn") & (c["task"] == "memory") & _col(c, "memory_capacity").notna()]


# -- verdicts ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    measured: str  # what the study measured, in words and numbers
    verdict: str  # holds | fails (invariants); agrees | differs | inconclusive | not measured here
    reason: str
    conditions: str = ""  # what the verdict was judged on: task, lengths, method, criterion
    n_runs: int | None = None  # runs (reproductions) or cells (invariants) checked
    low: float = math.nan  # the 95% Wilson interval of a reproduction's success fraction
    high: float = math.nan


def invariant(ok: bool, measured: str, held: str, failed: str, n: int | None = None) -> Verdict:
    """An invariant's verdict: ``holds`` with the reason ``held``, else ``fails``."""
    return Verdict(measured, "holds" if ok else "fails", held if ok else failed, n_runs=n)


def judge(k: int, n: int, claims_success: bool = True) -> tuple[str, float, float]:
    """A reproduction's verdict on k successes in n runs, and the success fraction's 95% Wilson
    interval: the claim says most runs succeed (``claims_success``) or most fail; ``agrees``
    when the interval lies wholly on the claimed side of 1/2, ``differs`` when wholly on the
    other, ``inconclusive`` when it straddles 1/2 or n < MIN_RUNS."""
    low, high = wilson(k, n)
    if n < MIN_RUNS:
        return "inconclusive", low, high
    above, below = low > SUCCESS_SIDE, high < SUCCESS_SIDE
    if (above and claims_success) or (below and not claims_success):
        return "agrees", low, high
    if above or below:
        return "differs", low, high
    return "inconclusive", low, high


def solved_text(k: int, n: int) -> str:
    """'solved 4 of 5 runs, 95% interval 0.38-0.96'."""
    low, high = wilson(k, n)
    return f"solved {k} of {n} runs, 95% interval {low:.2f}-{high:.2f}"


def combine(*verdicts: str) -> str:
    """Several parts of one claim: differs if any part differs, agrees if all agree, else
    inconclusive."""
    if "differs" in verdicts:
        return "differs"
    return "agrees" if all(v == "agrees" for v in verdicts) else "inconclusive"


@dataclass(frozen=True)
class Conditions:
    """A paper's conditions: the runs a reproduction may be judged on."""

    tasks: tuple[str, ...]  # task variants scored by the paper's criterion
    methods: tuple[str, ...]  # :func:`method` names
    min_len: int = 1
    max_len: int = 10**9
    min_eval: int = 0  # fewest fresh evaluation sequences (Pascanu's code: 10,000)
    criterion: str = ""
    min_steps: int = 0  # the smallest training budget (train_steps) that stands for the paper's

    def select(self, cells: pd.DataFrame) -> pd.DataFrame:
        c = _trained(cells)
        ok = (
            c["task"].isin(self.tasks)
            & method(c).isin(self.methods)
            & c["seq_len"].between(self.min_len, self.max_len)
            & (pd.to_numeric(_col(c, "eval_sequences", 1000)) >= self.min_eval)
            & (pd.to_numeric(_col(c, "train_steps", 0)) >= self.min_steps)
        )
        return c[ok]

    def lengths(self) -> str:
        if self.max_len >= 10**9:
            return f"T >= {self.min_len}"
        return f"T = {self.min_len} to {self.max_len}"

    def describe(self, runs: pd.DataFrame | None = None) -> str:
        """'SGD-CR on temporal_order, T = 50 to 200; <criterion>; judged at T = 50, 5 seed(s)'."""
        text = (
            f"{'/'.join(self.methods)} on {' or '.join(self.tasks)}, {self.lengths()}; "
            f"{self.criterion}"
        )
        if runs is not None and len(runs):
            ts = ", ".join(str(int(t)) for t in sorted(runs["seq_len"].unique()))
            text += f"; judged at T = {ts}, {runs['seed'].nunique()} seed(s)"
        return text

    def missing(self, cells: pd.DataFrame) -> str:
        """Why no run of the study meets the conditions (the first condition none meets)."""
        c = _trained(cells)
        for what, ok in (
            ("task variant " + " or ".join(self.tasks), lambda c: c["task"].isin(self.tasks)),
            ("method " + "/".join(self.methods), lambda c: method(c).isin(self.methods)),
            (
                f"lengths {self.lengths()}",
                lambda c: c["seq_len"].between(self.min_len, self.max_len),
            ),
            (
                f"at least {self.min_eval:,} fresh evaluation sequences",
                lambda c: pd.to_numeric(_col(c, "eval_sequences", 1000)) >= self.min_eval,
            ),
            (
                f"training budget of at least {self.min_steps:,} steps",
                lambda c: pd.to_numeric(_col(c, "train_steps", 0)) >= self.min_steps,
            ),
        ):
            c = c[ok(c)]
            if c.empty:
                return f"No trained run of this study has the paper's {what}."
        return ""


def not_measured(cond: Conditions, cells: pd.DataFrame) -> Verdict:
    return Verdict("-", "not measured here", cond.missing(cells), cond.describe())


def reproduce(
    cond: Conditions, runs: pd.DataFrame, published: str, claims_success: bool = True
) -> Verdict:
    """A reproduction judged on ``runs`` (already under ``cond``): k solved of n."""
    k, n = int(succeeded(runs).sum()), len(runs)
    verdict, low, high = judge(k, n, claims_success)
    reason = f"Judged on {budget(runs)}: {outcome(runs)}. The paper's: {published}."
    if n < MIN_RUNS:
        reason += f" Fewer than {MIN_RUNS} runs: inconclusive whatever they reached."
    return Verdict(solved_text(k, n), verdict, reason, cond.describe(runs), n, low, high)
