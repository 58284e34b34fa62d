"""Figures of training: solved against seq_len, steps to solve, training curves, speed and
memory capacity (plot functions of :data:`rnngrad.report.figures.FIGURES`).
"""

from __future__ import annotations

import textwrap

import numpy as np
import seaborn as sns
from matplotlib.figure import Figure

from rnngrad.report import analysis as an
from rnngrad.report import analysis_training as an_training
from rnngrad.report import captions
from rnngrad.report import figstyle as st


# -- remedies and training -----------------------------------------------------------------
def _task_rows(n: int) -> tuple[Figure, list]:
    """A figure of ``n`` rows (one a task) of two panels sharing seq_len, 11 inches wide."""
    fig = st.figure(11, 4.2 if n == 1 else 3.4 * n + 0.6)
    rows = fig.subplots(n, 2, sharex=True, squeeze=False)
    return fig, list(rows)


def _row_label(ax, task) -> None:
    """Name a row's task on its left panel (a study of several tasks draws a row each)."""
    if task is not None:
        ax.set_title(f"task: {task}", fontsize=9, loc="left")


def plot_solved_vs_seq_len(tables) -> Figure | None:
    cells = an_training.trained_cells(an.frame(tables, "cells"))
    if cells.empty:
        return None
    loss_all, rate_all = an_training.solved_by_seq_len(cells)
    tasks = an.tasks_in(loss_all)
    fig, rows = _task_rows(len(tasks))
    for (ax1, ax2), task in zip(rows, tasks, strict=True):
        loss, rate = an.of_task(loss_all, task), an.of_task(rate_all, task)
        for rem in an.remedy_order(loss["remedy"]):
            col = st.remedy_colour(rem)
            d = loss[loss["remedy"] == rem]
            ax1.plot(d["seq_len"], d["median"], "-o", color=col, ms=4, label=rem)
            ax1.fill_between(d["seq_len"], d["lo"], d["hi"], color=col, alpha=0.12, lw=0)
            d = rate[rate["remedy"] == rem]
            ax2.plot(d["seq_len"], d["solved"], "-o", color=col, ms=4, label=rem)
        ax1.axhline(1.0, color="0.5", ls=":", lw=1)
        # x in axes units: the log seq_len axis set below moves the limits
        kw = {"transform": ax1.get_yaxis_transform(), "fontsize": 8, "color": "0.4"}
        ax1.text(0.01, 1.0, "chance (memoryless)", va="bottom", **kw)
        for level in an.short_memory_levels(an.of_task(cells, task)):
            ax1.axhline(level, color="0.5", ls="--", lw=1)
            # below its line where it would run into chance's label (copy's 0.9)
            ax1.text(0.01, level, "short memory", va="top" if level > 0.7 else "bottom", **kw)
        ax1.set_yscale("log")
        st.cap_loss_axis(ax1, loss)
        st.plain_log_y(ax1)
        ax1.set_ylabel("normalized_loss (final / baseline)")
        ax2.set_ylabel("fraction of cells solved (accuracy >= 0.99)")
        ax2.set_ylim(-0.03, 1.03)
        _row_label(ax1, task)
        for ax in (ax1, ax2):
            st.log_ticks(ax, loss_all["seq_len"])
            ax.grid(True, which="both", alpha=0.3)
    for ax in rows[-1]:
        ax.set_xlabel("seq_len")
    rows[0][1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    pooled = "pooled over w_rec_scale; " + an.seed_note(cells)
    note = "; ".join(x for x in (an_training.lr_note(cells), pooled) if x)
    fig.suptitle(f"What each remedy learns as sequences grow ({note})", fontsize=10)
    return fig


def plot_steps_to_solve(tables) -> Figure | None:
    """Success rate and steps to solve against seq_len, a line per remedy (Pascanu et al.'s
    fig. 7; Hochreiter and Schmidhuber's sequences until solved); a row per task."""
    c_all, rate_all = an_training.steps_to_solve(an.frame(tables, "cells"))
    if c_all.empty:
        return None
    tasks = an.tasks_in(c_all)
    fig, rows = _task_rows(len(tasks))
    seq = sorted(c_all["seq_len"].unique())
    jitter = {rem: i for i, rem in enumerate(an.remedy_order(c_all["remedy"]))}
    spread = 1.0 + 0.012 * (len(jitter) - 1)  # remedies side by side on the log seq_len axis
    budget = int(c_all["train_steps"].max())
    for (ax1, ax2), task in zip(rows, tasks, strict=True):
        c, rate = an.of_task(c_all, task), an.of_task(rate_all, task)
        for rem in an.remedy_order(c["remedy"]):
            col = st.remedy_colour(rem)
            shift = spread ** (jitter[rem] - (len(jitter) - 1) / 2)
            d = rate[rate["remedy"] == rem]
            ax1.plot(d["seq_len"] * shift, d["success"], "-o", color=col, ms=5, label=rem)
            m = d.dropna(subset=["median_to_solve"])
            ax2.plot(m["seq_len"] * shift, m["median_to_solve"], "-o", color=col, ms=5, label=rem)
            runs = c[c["remedy"] == rem]
            done = runs[runs["to_solve"].notna()]
            ax2.scatter(done["seq_len"] * shift, done["to_solve"], color=col, s=12, alpha=0.5)
            never = runs[runs["to_solve"].isna() & (runs["status"] != "diverged")]
            kw = {"marker": "x", "color": col, "s": 22, "alpha": 0.8}
            ax2.scatter(never["seq_len"] * shift, never["last_step"], **kw)
        ax1.set_ylabel("success rate (accuracy >= 0.99)")
        ax1.set_ylim(-0.03, 1.03)
        ax2.axhline(budget, color="0.5", ls=":", lw=1)
        kw = {"transform": ax2.get_yaxis_transform(), "va": "bottom", "fontsize": 8}
        ax2.text(0.01, budget, "budget", **kw)
        # limits from the values drawn: where every run ended at the budget, the automatic
        # ones have no range and the log axis came out empty, its labels astray
        drawn = c["to_solve"].fillna(c["last_step"].where(c["status"] != "diverged"))
        ys = np.append(drawn.dropna().to_numpy(dtype=float), budget)
        ys = ys[ys > 0]
        ax2.set_ylim(float(ys.min()) / 1.3, float(ys.max()) * 1.3)
        ax2.set_yscale("log")
        st.plain_log_y(ax2)
        ax2.set_ylabel("steps to solve (x: unsolved, at its last step)")
        _row_label(ax1, task)
        for ax in (ax1, ax2):
            st.log_ticks(ax, seq)
            if len(seq) == 1:  # one length: the remedies side by side around it, not edge to edge
                ax.set_xlim(seq[0] / 1.4, seq[0] * 1.4)
            ax.grid(True, which="both", alpha=0.3)
    for ax in rows[-1]:
        ax.set_xlabel("seq_len")
    rows[0][1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    batches = "/".join(str(b) for b in sorted(c_all["batch"].unique()))
    n_diverged = int((c_all["status"] == "diverged").sum())
    title = "Success rate and steps to solve against sequence length "
    title += f"(sequences = steps x batch {batches}; {an.seed_note(c_all, band=False)})"
    if n_diverged:
        title += f"\n{n_diverged} diverged runs count as unsolved, not drawn on the right"
    fig.suptitle(title, fontsize=10)
    return fig


def plot_training_curves(tables) -> Figure | None:
    cells = an_training.trained_cells(an.frame(tables, "cells"))
    t = an_training.training_curves(tables)
    if t.empty:
        return None
    keys = an.task_keys(t)  # a panel per (task, w_rec_scale) where several tasks
    panels = sorted(t[[*keys, "w_rec_scale"]].drop_duplicates().itertuples(index=False))
    fig, axes = st.panels(len(panels), 3.8, 3.0, 1.8)
    agg = an.median_band(t, [*keys, "remedy", "w_rec_scale", "step"], "y")
    clip = an_training.mostly_clipped(t)
    for ax, panel in zip(axes, panels, strict=False):
        here = dict(zip([*keys, "w_rec_scale"], panel, strict=True))
        task = here.get("task")
        a, k_all = (an.of_task(x, task) for x in (agg, clip))
        for rem in an.remedy_order(t["remedy"]):
            d = a[(a["remedy"] == rem) & (a["w_rec_scale"] == here["w_rec_scale"])]
            if d.empty:
                continue
            col = st.remedy_colour(rem)
            ax.plot(d["step"], d["median"], color=col, lw=1.2, label=rem)
            if an.n_seeds(cells) > 1:
                ax.fill_between(d["step"], d["lo"], d["hi"], color=col, alpha=0.12, lw=0)
            k = k_all[(k_all["remedy"] == rem) & (k_all["w_rec_scale"] == here["w_rec_scale"])]
            if len(k):
                y = d.set_index("step")["median"].reindex(k["step"]).to_numpy() * 0.8
                ax.scatter(k["step"], y, marker="|", color=col, s=30, lw=1)
        ax.axhline(1.0, color="0.5", ls=":", lw=1)
        for level in an.short_memory_levels(an.of_task(cells, task)):
            ax.axhline(level, color="0.5", ls="--", lw=1)
        ax.set_yscale("log")
        name = f"w_rec_scale {here['w_rec_scale']:g}"
        if task is not None:
            T = int(an.of_task(t, task)["seq_len"].max())
            name = f"{task}, seq_len {T}, {name}"
        ax.set_title(name, fontsize=10)
        ax.grid(True, alpha=0.3)
    top = float(t["y"].max())
    cut = f"loss above {st.LOSS_CAP:g} x baseline cut off (largest {top:.1e})"
    cut = cut if top > st.LOSS_CAP else ""
    if cut:  # a blown-up run (1e30) would squash every other curve to a line at 1
        axes[0].set_ylim(max(float(t["y"].min()) / 1.5, st.LOSS_CAP / 1e6), st.LOSS_CAP)  # shared y
    for ax in axes[: len(panels)]:
        st.plain_log_y(ax)  # once every panel is drawn: the shared limits are final
    st.label_panels(axes, len(panels), "training step", "loss / baseline_loss")
    lines = {}  # one legend for the st.figure, outside the grid, so no column widens for it
    for ax in axes[: len(panels)]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=False):
            lines.setdefault(label, handle)
    fig.legend(lines.values(), lines.keys(), fontsize=7, loc="outside right center")
    levels = an.short_memory_levels(cells)
    short = (
        f"dotted: memoryless 1; dashed: short memory {'/'.join(f'{v:g}' for v in levels)}"
        if levels
        else ""
    )
    note = "; ".join(x for x in (an_training.lr_note(cells), an.seed_note(cells), short, cut) if x)
    where = "at each task's longest seq_len" if keys else f"at seq_len {t['seq_len'].max()}"
    title = f"Training curves {where} (| = clipped; {note})"
    fig.suptitle(textwrap.fill(title, 30 + 45 * min(len(panels), 4)), fontsize=10)
    return fig


# -- speed ---------------------------------------------------------------------------------
def plot_speed(tables) -> Figure | None:
    cells = an.frame(tables, "cells")
    if cells.empty or not an.has(cells, "init_profile_seconds"):
        return None
    c = an_training.speed_frame(cells)
    machine, memory = an.has(c, "gemm_share"), an.has(c, "peak_arrays")
    fig = st.figure(13, 8.0 if machine or memory else 4.0)
    axes = fig.subplots(2 if machine or memory else 1, 3, squeeze=False)
    backends = an.ordered(c["backend"], an.BACKEND_ORDER)

    def lines(ax, axis: str, value: str, ylabel: str, log_y: bool = True, fit: bool = False):
        for b in backends:
            d = an.median_band(c[c["backend"] == b].dropna(subset=[value]), [axis], value)
            if d.empty:
                continue
            label = b
            if fit and len(d) > 1:  # the scaling exponent of the median time in seq_len
                label += f" (slope {an_training.scaling_exponent(d[axis], d['median']):.2f})"
            (line,) = ax.plot(
                d[axis], d["median"], marker=st.BACKEND_MARKERS.get(b, "^"), label=label
            )
            ax.fill_between(d[axis], d["lo"], d["hi"], color=line.get_color(), alpha=0.15, lw=0)
        st.log_ticks(ax, c[axis])
        if log_y:
            ax.set_yscale("log")
        ax.set_xlabel(axis)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        if c[axis].nunique() == 1:
            ax.set_title(f"one {axis} in this study", fontsize=9)

    seconds = "profile_seconds (median; band min-max)"
    lines(axes[0, 0], "seq_len", "init_profile_seconds", seconds, fit=True)
    lines(axes[0, 1], "hidden", "init_profile_seconds", seconds)
    ax = axes[0, 2]
    if an.has(cells, "overhead_s"):
        data = [
            cells.loc[cells["backend"] == b, "overhead_s"].dropna().to_numpy() for b in backends
        ]
        ax.boxplot(data, tick_labels=backends)
        ax.set_ylabel("overhead_s per cell (outside the cell)")
        ax.grid(True, axis="y", alpha=0.3)
    else:
        ax.set_axis_off()
    if machine or memory:
        for ax in axes[1]:
            ax.set_axis_off()
        if machine:
            axes[1, 0].set_axis_on()
            lines(axes[1, 0], "hidden", "gemm_share", captions.GEMM_SHARE, log_y=False)
            axes[1, 0].axhline(100, color="0.5", ls=":", lw=1)
            top = c["gemm_share"].max()
            if top > 200:  # a call-bound step GEMM (B = 1) makes the rate tiny
                axes[1, 0].set_ylim(0, 200)
                axes[1, 0].set_title(f"above 200% cut off (largest {top:.0f}%)", fontsize=9)
        if memory:
            axes[1, 1].set_axis_on()
            lines(axes[1, 1], "seq_len", "peak_arrays", "peak memory / one (T, B, H) state array")
        axes[1, 2].text(0, 0.5, captions.SPEED_NOTE, fontsize=8, va="center")
    fig.suptitle("Speed of the forward + full BPTT pass, per backend (all cells)", fontsize=10)
    return fig


def plot_memory_capacity(tables) -> Figure | None:
    """MC / N against the spectral radius, a line per reservoir, a panel per readout ridge (below
    radius 0.9 the ridge, not the reservoir, sets MC: docs/studies.md)."""
    cells = an.frame(tables, "cells")
    if cells.empty or not an.has(cells, "memory_capacity"):
        return None
    band = an_training.memory_capacity(cells)
    ridges = sorted(band["ridge"].unique(), reverse=True) if "ridge" in band else [None]
    reservoirs = sorted(band["reservoir"].unique())
    palette = dict(zip(reservoirs, sns.color_palette("colorblind", len(reservoirs)), strict=True))
    fig = st.figure(3.2 + 3.3 * len(ridges), 4.2)
    axes = fig.subplots(1, len(ridges), sharey=True, squeeze=False)[0]
    for ax, ridge in zip(axes, ridges, strict=True):  # strongest regularization first
        panel = band if ridge is None else band[band["ridge"] == ridge]
        for name, d in panel.groupby("reservoir", sort=True):
            ax.plot(d["w_rec_scale"], d["median"], "-o", color=palette[name], ms=4, label=name)
            ax.fill_between(
                d["w_rec_scale"], d["lo"], d["hi"], color=palette[name], alpha=0.15, lw=0
            )
        ax.axhline(1.0, color="0.3", ls="--", lw=1)
        ax.set_ylim(0, 1.08)
        ax.text(
            ax.get_xlim()[0], 1.0, " MC = N (Jaeger's bound)", va="bottom", fontsize=8, color="0.3"
        )
        ax.axvline(1.0, color="0.6", ls=":", lw=1)
        ax.set_xlabel("w_rec_scale (spectral radius of the reservoir)")
        if ridge is not None:
            ax.set_title(f"readout ridge {ridge:g}", fontsize=9)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("memory capacity / N")
    axes[0].legend(fontsize=8, loc="upper left", bbox_to_anchor=(0.0, 0.94))
    note = an.seed_note(cells[cells["memory_capacity"].notna()])
    fig.suptitle(f"Short-term memory capacity of echo state networks ({note})", fontsize=10)
    return fig
