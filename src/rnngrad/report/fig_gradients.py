"""Figures of gradients against lag and backend: the unrolled network, the phase diagram, the
decay curves, the weight-gradient norms, the remedies' decay before and after training and the
backends' agreement (plot functions of :data:`rnngrad.report.figures.FIGURES`).
"""

from __future__ import annotations

import math
import warnings

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from rnngrad.report import analysis as an
from rnngrad.report import analysis_theory as an_theory
from rnngrad.report import analysis_training as an_training
from rnngrad.report import figstyle as st


# -- the unrolled network --------------------------------------------------------------------
def plot_unrolled(tables) -> Figure | None:
    series = an.unrolled_series(tables)
    if not series:
        return None
    finite = np.concatenate([s[2][np.isfinite(s[2])] for s in series] + [np.zeros(1)])
    vmax = max(1.0, float(np.max(np.abs(finite))))
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-vmax, vmax=vmax)
    cmap = matplotlib.colormaps[st.DIVERGING]
    fig = st.figure(12, 2.1 * len(series) + 0.4)
    axes = np.atleast_1d(fig.subplots(len(series), 1))
    for ax, (label, row, rel) in zip(axes, series, strict=False):
        st.draw_chain(ax, rel, cmap, norm, vmax)
        nl = f" ({row['nonlinearity']})" if "nonlinearity" in row else ""
        title = (
            f"{label}: remedy {row['remedy']}{nl}, {row['backend']}, seq_len {row['seq_len']}, "
            f"w_rec_scale {row['w_rec_scale']:g}, log10 grad ratio "
            f"{row['init_log10_grad_ratio']:.3g}"
        )
        ax.set_title(title, fontsize=10, loc="left")
    sm = matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap)
    label = "log10(grad_norm at step t / grad_norm at step T)"
    fig.colorbar(sm, ax=list(axes), shrink=0.8, pad=0.01, label=label)
    return fig


# -- phase diagrams ------------------------------------------------------------------------
def _boundary_rows(scale: float, scales_desc: list[float]) -> float | None:
    """The heatmap row coordinate (rows are ``scales_desc``, largest first, centres at i + 0.5)
    of w_rec_scale ``scale``, interpolated in log scale; None outside the rows."""
    if len(scales_desc) < 2 or min(scales_desc) <= 0 or not scale > 0:
        return None
    logs = np.log10(scales_desc)
    x = math.log10(scale)
    if not (logs[-1] <= x <= logs[0]):
        return None
    return float(np.interp(-x, -logs, np.arange(len(logs)) + 0.5))


def plot_phase_diagram(tables) -> Figure | None:
    cells = an.frame(tables, "cells")
    agg, panels = an_theory.decay_panels(cells)
    if agg.empty:
        return None
    vmax = an.colour_limit(agg["median"])
    seq = sorted(cells["seq_len"].unique())
    scales = sorted(cells["w_rec_scale"].unique(), reverse=True)
    stats = an_theory.mean_field_statistics(cells)
    annotate = len(seq) * len(scales) <= 80
    ncols = min(len(panels), 4)
    nrows = math.ceil(len(panels) / ncols)
    fig = st.figure(min(3.0 * ncols, 14) + 1.2, 2.9 * nrows + 0.9)
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False).ravel()
    multi = cells["backend"].nunique() > 1
    for ax, (cond, b) in zip(axes, panels, strict=False):
        d = agg[(agg["condition"] == cond) & (agg["backend"] == b)]
        grid = d.pivot(index="w_rec_scale", columns="seq_len", values="median")
        grid = grid.reindex(index=scales, columns=seq)
        labels = grid.map(lambda v: "" if pd.isna(v) else ("inf" if np.isinf(v) else f"{v:.2f}"))
        with warnings.catch_warnings():  # seaborn 0.13.2 calls a deprecated cmap.set_bad
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            kw = {"cmap": st.DIVERGING, "vmin": -vmax, "vmax": vmax, "center": 0.0, "fmt": ""}
            kw.update(annot_kws={"fontsize": 7}, cbar=False, linewidths=0.5, linecolor="white")
            sns.heatmap(grid.clip(-vmax, vmax), ax=ax, annot=labels if annotate else False, **kw)
        s = stats[stats["condition"] == cond] if len(stats) else None
        edges = []
        for j, L in enumerate(seq if s is not None else []):  # chi = 1 per seq_len (sigma_u)
            row = s[s["seq_len"] == L]
            edge = an_theory.mean_field_boundary(row.iloc[0]) if len(row) else float("nan")
            edges.append(edge)
            y = _boundary_rows(edge, scales)
            if y is not None:
                ax.plot([j, j + 1], [y, y], color="k", lw=2.2, ls="--")
        title = st.panel_title(cond, b, multi)
        if any(np.isfinite(edges)):
            title += "\nchi = 1 at " + ", ".join(f"{e:.3g}" for e in edges)
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("seq_len")
        ax.set_ylabel("")
    for ax in axes[len(panels) :]:
        ax.set_axis_off()
    for ax in axes[::ncols]:
        ax.set_ylabel("w_rec_scale")
    sm = matplotlib.cm.ScalarMappable(norm=TwoSlopeNorm(0.0, -vmax, vmax), cmap=st.DIVERGING)
    label = "init decay_rate (log10 factor of grad_norm a step)"
    fig.colorbar(sm, ax=axes.tolist(), shrink=0.8, label=label)
    note = an.seed_note(cells, band=False)
    one = (
        " (torch repeats numpy: not drawn)"
        if multi and not any(b == "torch" for _, b in panels)
        else ""
    )
    title = (
        "Where gradients vanish (blue) or explode (red) at initialization, per step; "
        f"dashed: mean field's chi = 1 ({note}){one}"
    )
    fig.suptitle(title, fontsize=10)
    return fig


# -- profiles against lag ------------------------------------------------------------------
def _plot_by_lag(tables, value: str, ylabel: str, title: str, relative: bool) -> Figure | None:
    cells, p = an.by_lag(tables, value, relative)
    if p.empty:
        return None
    remedies = an.remedy_order(p["remedy"])
    scales = sorted(p["w_rec_scale"].unique())
    colours = st.scale_colours(scales)
    fig, axes = st.panels(len(remedies), 3.6, 2.9, 1.5)
    agg = an.median_band(p, ["remedy", "w_rec_scale", "lag"], "y")
    for ax, rem in zip(axes, remedies, strict=False):
        for s in scales:
            d = agg[(agg["remedy"] == rem) & (agg["w_rec_scale"] == s)]
            if d.empty:
                continue
            ax.plot(d["lag"], d["median"], color=colours[s], lw=1.4, label=f"{s:g}")
            if an.n_seeds(cells) > 1:
                ax.fill_between(d["lag"], d["lo"], d["hi"], color=colours[s], alpha=0.2, lw=0)
        k2 = an.truncation_k2(cells, rem)
        if k2 is not None:
            ax.axvline(k2, color=st.remedy_colour("truncated_bptt"), ls="--", lw=1.2)
            kw = {"transform": ax.get_xaxis_transform(), "fontsize": 8, "color": "0.2"}
            ax.text(k2, 0.02, f" k2={k2}", **kw)
        ax.set_yscale("log")
        ax.set_title(rem, fontsize=10, color=st.remedy_colour(rem))
        ax.grid(True, which="major", alpha=0.3)
    st.label_panels(axes, len(remedies), "lag k = T - t (steps back from the loss)", ylabel)
    axes[0].legend(title="w_rec_scale", fontsize=7, title_fontsize=8)
    seq_len = int(cells["seq_len"].max())
    task = an.profile_task(an.frame(tables, "cells"))
    fig.suptitle(
        f"{title}: {f'task {task}, ' if task else ''}seq_len {seq_len}, backend "
        f"{an.first_backend(cells)}, initialization ({an.seed_note(cells)})",
        fontsize=10,
    )
    return fig


def plot_decay_curves(tables) -> Figure | None:
    ylabel, title = "grad_norm[k] / grad_norm[0]", "Gradient norm against lag"
    return _plot_by_lag(tables, "grad_norm", ylabel, title, relative=True)


def plot_weight_grad_norm(tables) -> Figure | None:
    ylabel, title = "||step term of dL/dW_rec||", "What each step contributes to dL/dW_rec"
    return _plot_by_lag(tables, "weight_grad_norm", ylabel, title, relative=False)


# -- remedies' decay before and after training ---------------------------------------------
def plot_remedy_decay(tables) -> Figure | None:
    cells = an.frame(tables, "cells")
    agg = an_training.decay_before_after(cells)
    if agg.empty:
        return None
    seq = sorted(agg["seq_len"].unique())
    fig = st.figure(min(4 * len(seq), 16) + 1.5, 4.2)
    axes = np.atleast_1d(fig.subplots(1, len(seq), sharex=True, sharey=True, squeeze=False)).ravel()
    lo = float(min(agg["init_decay_rate"].min(), agg["trained_decay_rate"].min()))
    hi = float(max(agg["init_decay_rate"].max(), agg["trained_decay_rate"].max()))
    tasks = an.tasks_in(agg)  # a marker a task where the study has several
    markers = dict(zip(tasks, "os^Dv<>p", strict=False))
    for ax, L in zip(axes, seq, strict=False):
        ax.plot([lo, hi], [lo, hi], color="0.5", ls=":", lw=1)
        for rem in an.remedy_order(agg["remedy"]):
            for task in tasks:
                d = an.of_task(agg, task)
                d = d[(d["remedy"] == rem) & (d["seq_len"] == L)]
                x, y = d["init_decay_rate"], d["trained_decay_rate"]
                label = rem if task == tasks[0] else None
                kw = {"s": 26, "alpha": 0.85, "marker": markers.get(task, "o")}
                ax.scatter(x, y, color=st.remedy_colour(rem), label=label, **kw)
        ax.set_title(f"seq_len {L}", fontsize=10)
        ax.set_xlabel("decay_rate at initialization")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("decay_rate after training")
    axes[-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    note = an.seed_note(cells, band=False)
    if tasks != [None]:
        shapes = {"o": "circle", "s": "square", "^": "triangle", "D": "diamond"}
        note += "; " + ", ".join(f"{t} {shapes.get(m, m)}" for t, m in markers.items())
    fig.suptitle(
        f"decay_rate before and after training (a point per w_rec_scale; {note})", fontsize=10
    )
    return fig


# -- backend agreement -----------------------------------------------------------------------
def plot_backend_agreement(tables) -> Figure | None:
    ag = an.backend_agreement(tables)
    if ag.empty:
        return None
    fig = st.figure(9, 4.4)
    ax = fig.subplots()
    floor = 1e-18  # exact agreement drawn at the floor of the log axis
    y = ag["max_rel_diff"].clip(lower=floor).replace(np.inf, 1e3)
    x = ag["lyapunov_max"].fillna(0.0)
    finite = x[np.isfinite(x)]
    low = (float(finite.min()) if len(finite) else 0.0) - 0.2
    x = x.replace(-np.inf, low)  # e.g. ReLU cells whose units all died: drawn at the left edge
    for v in ("agree", "chaotic", "disagree"):
        m = ag["verdict"] == v
        if m.any():
            label = f"{v} ({int(m.sum())})"
            ax.scatter(x[m], y[m], s=18, color=an.VERDICT_COLOURS[v], alpha=0.8, label=label)
    tol = an.AGREE_RTOL
    ax.axhline(tol, color="0.3", ls="--", lw=1)
    ax.text(ax.get_xlim()[0], tol, f" tolerance {tol:g}", va="bottom", fontsize=8)
    ax.axvline(0, color="0.6", ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("lyapunov_max at initialization (natural log per step)")
    ax.set_ylabel("largest relative difference numpy vs torch")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    title = f"Backend agreement over {len(ag)} float64 pairs (exact matches at {floor:g})"
    fig.suptitle(title, fontsize=10)
    return fig
