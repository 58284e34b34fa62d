"""Derived tables of training: which cells trained, each remedy at its best learning rate,
solved rates, steps to solve, training curves, speed and memory capacity (the training half of
:mod:`rnngrad.report.analysis`, whose conventions it follows; no matplotlib).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rnngrad.report.analysis import (
    frame,
    has,
    median_band,
    of_task,
    remedy_order,
    succeeded,
    task_keys,
    tasks_in,
)


# -- training: who trained, at which lr, what it solved ------------------------------------
def trained_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """The cells that trained (have training metrics)."""
    if "final_loss" not in cells:
        return cells.iloc[0:0]
    return cells[cells["final_loss"].notna() | cells["status"].eq("diverged")]


def best_lr(cells: pd.DataFrame) -> pd.DataFrame:
    """Where ``lr`` is a grid axis, each (remedy, seq_len) of each task keeps only its best lr:
    the highest solved rate, then the lowest median normalized_loss (as the papers tuned per
    method)."""
    if not lr_varies(cells):
        return cells
    keys = [*task_keys(cells), "remedy", "seq_len"]
    score = (
        cells.groupby([*keys, "lr"], observed=True)
        .agg(solved=("solved", "mean"), loss=("normalized_loss", "median"))
        .reset_index()
    )
    score = score.sort_values(["solved", "loss"], ascending=[False, True], na_position="last")
    best = score.drop_duplicates(keys)[[*keys, "lr"]]
    return cells.merge(best, on=[*keys, "lr"])


def trained_at_best_lr(cells: pd.DataFrame) -> pd.DataFrame:
    """The trained cells, each remedy and seq_len at its best lr where lr is a grid axis
    (``remedy`` as text and ``solved`` as 0/1, so that rates are means)."""
    t = trained_cells(cells)
    if t.empty:
        return t
    return best_lr(t.assign(remedy=t["remedy"].astype(str), solved=t["solved"].astype(float)))


def lr_varies(cells: pd.DataFrame) -> bool:
    """Whether some remedy ran at several learning rates at one seq_len (lr a grid axis), not
    merely remedies at their own (the modern study's IndRNN at 0.001, the others at 0.01)."""
    if "lr" not in cells or cells.empty:
        return False
    keys = [*task_keys(cells), "remedy", "seq_len"]
    return bool(cells.groupby(keys, observed=True)["lr"].nunique().max() > 1)


def lr_note(cells: pd.DataFrame) -> str:
    if lr_varies(cells):
        return "each remedy at its best lr per seq_len"
    return ""


def solved_at_longest(cells: pd.DataFrame) -> pd.DataFrame:
    """Per remedy: solved rate and median normalized_loss at the longest trained seq_len; per
    task and remedy (a ``task`` column first, each task at its own longest) where the cells
    hold several tasks."""
    t = trained_at_best_lr(cells)
    keys = task_keys(t)
    if t.empty:
        return pd.DataFrame(
            columns=["remedy", "seq_len", "solved_rate", "normalized_loss", "cells"]
        )
    out = []
    for task in tasks_in(t):
        d = of_task(t, task)
        d = d[d["seq_len"] == d["seq_len"].max()]
        g = (
            d.groupby("remedy")
            .agg(
                seq_len=("seq_len", "first"),
                solved_rate=("solved", "mean"),
                normalized_loss=("normalized_loss", "median"),
                cells=("cell_id", "size"),
            )
            .reset_index()
        )
        g = g.set_index("remedy").loc[remedy_order(g["remedy"])].reset_index()
        out.append(g.assign(task=task)[[*keys, *g.columns]] if keys else g)
    return pd.concat(out, ignore_index=True)


def learning_table(cells: pd.DataFrame) -> pd.DataFrame:
    """Median normalized_loss of the trained cells, a row per remedy (fixed order) and a column
    per seq_len (per (task, seq_len) where the cells hold several tasks), each remedy at its
    best lr per seq_len where lr is a grid axis; empty when nothing trained."""
    t = trained_at_best_lr(cells)
    if t.empty:
        return pd.DataFrame()
    keys = [*task_keys(t), "seq_len"]
    table = t.pivot_table(
        index="remedy", columns=keys, values="normalized_loss", aggfunc="median", dropna=False
    )
    if len(keys) > 1:  # the (task, seq_len) pairs the grid has, not every product of the two
        present = set(t[keys].drop_duplicates().itertuples(index=False, name=None))
        table = table[[c for c in table.columns if c in present]]
    return table.loc[remedy_order(table.index)]


def decay_before_after(cells: pd.DataFrame) -> pd.DataFrame:
    """Median decay_rate at initialization and after training per remedy, seq_len and
    w_rec_scale (and task, :func:`task_keys`), over the cells where both are finite; empty where
    nothing trained."""
    if cells.empty or "trained_decay_rate" not in cells:
        return pd.DataFrame()
    c = cells[np.isfinite(cells["init_decay_rate"]) & np.isfinite(cells["trained_decay_rate"])]
    c = c.assign(remedy=c["remedy"].astype(str))
    cols = ["init_decay_rate", "trained_decay_rate"]
    keys = [*task_keys(c), "remedy", "seq_len", "w_rec_scale"]
    return c.groupby(keys, observed=True)[cols].median().reset_index()


def solved_by_seq_len(cells: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per remedy and seq_len (and task, :func:`task_keys`) over :func:`trained_at_best_lr`:
    the normalized_loss's :func:`median_band` and the ``solved`` rate."""
    c = trained_at_best_lr(cells)
    keys = [*task_keys(c), "remedy", "seq_len"]
    loss = median_band(c, keys, "normalized_loss")
    rate = c.groupby(keys, observed=True)["solved"].mean().reset_index()
    return loss, rate


def steps_to_solve(cells: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The trained runs with ``success`` (:func:`succeeded`, 0/1), ``to_solve`` (float
    steps_to_solve, NaN when never) and ``last_step`` (steps_trained, or the budget in cells
    that predate it), and per remedy and seq_len (and task, :func:`task_keys`) the ``success``
    rate and the ``median_to_solve`` of the solved runs (NaN when none solved); both empty
    when nothing trained or the cells predate ``steps_to_solve``."""
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
    by = runs.groupby([*task_keys(runs), "remedy", "seq_len"], observed=True)
    rate = pd.concat(
        [by["success"].mean(), by["to_solve"].median().rename("median_to_solve")], axis=1
    ).reset_index()
    return runs, rate


def training_curves(tables) -> pd.DataFrame:
    """The training table of :func:`trained_at_best_lr` at the longest seq_len (each task's own,
    with a ``task`` column where the cells hold several: :func:`task_keys`), with ``remedy``,
    ``seq_len``, ``w_rec_scale`` and ``y`` = loss / baseline_loss (positive finite only), and
    ``clipped`` as 0/1."""
    cells, tr = frame(tables, "cells"), frame(tables, "training")
    c = trained_at_best_lr(cells)
    if c.empty or tr.empty:
        return pd.DataFrame()
    keys = task_keys(c)
    longest = c.groupby(keys, observed=True)["seq_len"].transform("max") if keys else None
    c = c[c["seq_len"] == (longest if keys else c["seq_len"].max())]
    cols = ["cell_id", *keys, "remedy", "seq_len", "w_rec_scale", "baseline_loss"]
    t = tr.merge(c[cols], on="cell_id")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t = t.assign(y=t["loss"] / t["baseline_loss"], clipped=t["clipped"].astype(float))
    return t[np.isfinite(t["y"]) & (t["y"] > 0)]


def mostly_clipped(curves: pd.DataFrame) -> pd.DataFrame:
    """The (remedy, w_rec_scale, step), and task where several, of :func:`training_curves` where
    at least half the runs clipped their gradient."""
    keys = [*task_keys(curves), "remedy", "w_rec_scale", "step"]
    share = curves.groupby(keys, observed=True)["clipped"].mean().reset_index()
    return share[share["clipped"] >= 0.5]


def scaling_exponent(x, y) -> float:
    """The slope of log10 y against log10 x (least squares): how a time scales with a size."""
    return float(np.polyfit(np.log10(np.asarray(x, float)), np.log10(np.asarray(y, float)), 1)[0])


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
