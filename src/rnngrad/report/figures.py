"""Figures of a study: each one a function of the tables alone, returning a matplotlib Figure.

``FIGURES`` maps a figure's name to ``plot(tables) -> Figure | None`` (None when the study has
no data for it); ``tables`` is a mapping (or object) with the DataFrames ``cells``, ``profiles``
and ``training`` (docs/tables.md). What a figure draws is derived in
:mod:`rnngrad.report.analysis`, and its style (colours, layout, axes) is
:mod:`rnngrad.report.figstyle`: this module holds the plots.
Every figure draws the median over seeds (and any grid axis not drawn) with the min-max spread
as a band. No plot function touches files: :func:`save_all` writes ``<name>.png``, ``.svg`` and
``.pdf``, and an explanatory placeholder where a function has nothing to draw.

Example
-------
>>> from rnngrad import figures
>>> list(figures.FIGURES)[:3]
['unrolled', 'phase_diagram', 'decay_curves']
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from rnngrad.core import memory
from rnngrad.core.files import atomic_write
from rnngrad.report import analysis as an
from rnngrad.report import captions
from rnngrad.report import figstyle as st
from rnngrad.report.captions import CAPTIONS
from rnngrad.study.paths import FIGURE_FORMATS


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
def plot_phase_diagram(tables) -> Figure | None:
    cells = an.frame(tables, "cells")
    if cells.empty or "init_log10_grad_ratio" not in cells:
        return None
    remedies = an.remedy_order(cells["remedy"])
    backends = an.ordered(cells["backend"], an.BACKEND_ORDER)
    agg = an.phase_grid(cells)
    vmax = an.colour_limit(agg["init_log10_grad_ratio"])
    seq = sorted(cells["seq_len"].unique())
    scales = sorted(cells["w_rec_scale"].unique())
    annotate = len(seq) * len(scales) <= 80
    fig = st.figure(min(3.2 * len(remedies), 22) + 1.2, 2.8 * len(backends) + 0.8)
    axes = np.atleast_2d(
        fig.subplots(len(backends), len(remedies), sharex=True, sharey=True, squeeze=False)
    )
    for i, b in enumerate(backends):
        for j, rem in enumerate(remedies):
            ax = axes[i, j]
            grid = an.phase_tile(agg, b, rem, scales, seq)
            shown = grid.clip(-vmax, vmax)
            labels = grid.map(
                lambda v: "" if pd.isna(v) else ("inf" if np.isinf(v) else f"{v:.1f}")
            )
            with warnings.catch_warnings():  # seaborn 0.13.2 calls a deprecated cmap.set_bad
                warnings.simplefilter("ignore", PendingDeprecationWarning)
                kw = {"cmap": st.DIVERGING, "vmin": -vmax, "vmax": vmax, "center": 0.0, "fmt": ""}
                kw.update(annot_kws={"fontsize": 7}, cbar=False, linewidths=0.5, linecolor="white")
                sns.heatmap(shown, ax=ax, annot=labels if annotate else False, **kw)
            ax.set_title(f"{rem} | {b}", fontsize=9)
            ax.set_xlabel("seq_len" if i == len(backends) - 1 else "")
            ax.set_ylabel("w_rec_scale" if j == 0 else "")
    sm = matplotlib.cm.ScalarMappable(norm=TwoSlopeNorm(0.0, -vmax, vmax), cmap=st.DIVERGING)
    label = "init log10(grad_norm[T-1] / grad_norm[0])"
    fig.colorbar(sm, ax=axes.ravel().tolist(), shrink=0.8, label=label)
    note = an.seed_note(cells, band=False)
    title = f"Where gradients vanish (blue) or explode (red) at initialization ({note})"
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
    fig.suptitle(
        f"{title}: seq_len {seq_len}, backend {an.first_backend(cells)}, initialization "
        f"({an.seed_note(cells)})",
        fontsize=10,
    )
    return fig


def plot_decay_curves(tables) -> Figure | None:
    ylabel, title = "grad_norm[k] / grad_norm[0]", "Gradient norm against lag"
    return _plot_by_lag(tables, "grad_norm", ylabel, title, relative=True)


def plot_weight_grad_norm(tables) -> Figure | None:
    ylabel, title = "||step term of dL/dW_rec||", "What each step contributes to dL/dW_rec"
    return _plot_by_lag(tables, "weight_grad_norm", ylabel, title, relative=False)


# -- theory against measurement ------------------------------------------------------------
def plot_theory(tables) -> Figure | None:
    cells = an.frame(tables, "cells")
    agg = an.theory_points(cells)
    if agg.empty:
        return None
    nls = an.ordered(agg["nonlinearity"], tuple(an.GAMMA)) if "nonlinearity" in agg else ["tanh"]
    markers = dict(zip(nls, "osD^v", strict=False))
    fig = st.figure(11, 4.6)
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    x1 = an.log10(agg["init_spectral_norm"])
    x2 = an.log10(agg["init_spectral_radius"])
    for rem in an.remedy_order(agg["remedy"]):
        for nl in nls:
            m = (agg["remedy"] == rem) & (agg.get("nonlinearity", "tanh") == nl)
            if not m.any():
                continue
            kw = {"color": st.remedy_colour(rem), "marker": markers.get(nl, "o"), "s": 22}
            kw.update(alpha=0.8, edgecolor="none")
            ax1.scatter(x1[m], agg.loc[m, "init_decay_rate"], label=f"{rem} ({nl})", **kw)
            ax2.scatter(x2[m], agg.loc[m, "init_decay_rate"], **kw)
    lo, hi = min(np.nanmin(x1), np.nanmin(x2), -0.5), max(np.nanmax(x1), np.nanmax(x2), 0.5)
    xs = np.linspace(lo, hi, 50)
    for g in sorted({an.GAMMA.get(nl, 1.0) for nl in nls}, reverse=True):
        label = f"bound log10({'' if g == 1 else '1/4 * '}sigma_max)"
        ax1.plot(xs, xs + np.log10(g), color="0.3", ls="--", lw=1.2, label=label)
    ax2.plot(xs, xs, color="0.3", ls=":", lw=1.4, label="linear RNN, W = s Q: log10 s (exact)")
    ax1.set_xlabel("log10 spectral_norm of W_rec (sigma_max)")
    ax2.set_xlabel("log10 spectral_radius of W_rec (s)")
    ax1.set_ylabel("init decay_rate (log10 factor per step)")
    for ax in (ax1, ax2):
        ax.axhline(0, color="0.8", lw=0.8)
        ax.grid(True, alpha=0.3)
    ax1.legend(fontsize=7, loc="upper left")
    ax2.legend(fontsize=7, loc="upper left")
    note = an.seed_note(cells, band=False)
    fig.suptitle(
        f"Measured decay against the spectrum of W_rec (rnn/esn cells; {note})", fontsize=10
    )
    return fig


# -- remedies and training -----------------------------------------------------------------
def plot_remedy_decay(tables) -> Figure | None:
    cells = an.frame(tables, "cells")
    agg = an.decay_before_after(cells)
    if agg.empty:
        return None
    seq = sorted(agg["seq_len"].unique())
    fig = st.figure(min(4 * len(seq), 16) + 1.5, 4.2)
    axes = np.atleast_1d(fig.subplots(1, len(seq), sharex=True, sharey=True, squeeze=False)).ravel()
    lo = float(min(agg["init_decay_rate"].min(), agg["trained_decay_rate"].min()))
    hi = float(max(agg["init_decay_rate"].max(), agg["trained_decay_rate"].max()))
    for ax, L in zip(axes, seq, strict=False):
        ax.plot([lo, hi], [lo, hi], color="0.5", ls=":", lw=1)
        for rem in an.remedy_order(agg["remedy"]):
            d = agg[(agg["remedy"] == rem) & (agg["seq_len"] == L)]
            x, y = d["init_decay_rate"], d["trained_decay_rate"]
            ax.scatter(x, y, color=st.remedy_colour(rem), s=26, label=rem, alpha=0.85)
        ax.set_title(f"seq_len {L}", fontsize=10)
        ax.set_xlabel("decay_rate at initialization")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("decay_rate after training")
    axes[-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    note = an.seed_note(cells, band=False)
    fig.suptitle(
        f"decay_rate before and after training (a point per w_rec_scale; {note})", fontsize=10
    )
    return fig


def plot_solved_vs_seq_len(tables) -> Figure | None:
    cells = an.trained_cells(an.frame(tables, "cells"))
    if cells.empty:
        return None
    loss, rate = an.solved_by_seq_len(cells)
    fig = st.figure(11, 4.2)
    ax1, ax2 = fig.subplots(1, 2, sharex=True)
    for rem in an.remedy_order(loss["remedy"]):
        col = st.remedy_colour(rem)
        d = loss[loss["remedy"] == rem]
        ax1.plot(d["seq_len"], d["median"], "-o", color=col, ms=4, label=rem)
        ax1.fill_between(d["seq_len"], d["lo"], d["hi"], color=col, alpha=0.12, lw=0)
        d = rate[rate["remedy"] == rem]
        ax2.plot(d["seq_len"], d["solved"], "-o", color=col, ms=4, label=rem)
    ax1.axhline(1.0, color="0.5", ls=":", lw=1)
    # x in axes units: the log seq_len axis set below moves the limits
    kw = {"transform": ax1.get_yaxis_transform(), "va": "bottom", "fontsize": 8, "color": "0.4"}
    ax1.text(0.01, 1.0, "chance", **kw)
    ax1.set_yscale("log")
    st.cap_loss_axis(ax1, loss)
    st.plain_log_y(ax1)
    ax1.set_ylabel("normalized_loss (final / baseline)")
    ax2.set_ylabel("fraction of cells solved (accuracy >= 0.99)")
    ax2.set_ylim(-0.03, 1.03)
    for ax in (ax1, ax2):
        st.log_ticks(ax, loss["seq_len"])
        ax.set_xlabel("seq_len")
        ax.grid(True, which="both", alpha=0.3)
    ax2.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    pooled = "pooled over w_rec_scale; " + an.seed_note(cells)
    note = "; ".join(x for x in (an.lr_note(cells), pooled) if x)
    fig.suptitle(f"What each remedy learns as sequences grow ({note})", fontsize=10)
    return fig


def plot_steps_to_solve(tables) -> Figure | None:
    """Success rate and steps to solve against seq_len, a line per remedy (Pascanu et al.'s
    fig. 7; Hochreiter and Schmidhuber's sequences until solved)."""
    c, rate = an.steps_to_solve(an.frame(tables, "cells"))
    if c.empty:
        return None
    fig = st.figure(11, 4.2)
    ax1, ax2 = fig.subplots(1, 2, sharex=True)
    seq = sorted(c["seq_len"].unique())
    jitter = {rem: i for i, rem in enumerate(an.remedy_order(c["remedy"]))}
    spread = 1.0 + 0.012 * (len(jitter) - 1)  # remedies side by side on the log seq_len axis
    budget = int(c["train_steps"].max())
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
    ax1.set_ylabel("success rate (runs that reached accuracy 0.99)")
    ax1.set_ylim(-0.03, 1.03)
    ax2.axhline(budget, color="0.5", ls=":", lw=1)
    ax2.text(0.01, budget, "budget", transform=ax2.get_yaxis_transform(), va="bottom", fontsize=8)
    ax2.set_yscale("log")
    st.plain_log_y(ax2)
    ax2.set_ylabel("steps to solve (x: unsolved, at its last step)")
    for ax in (ax1, ax2):
        st.log_ticks(ax, seq)
        if len(seq) == 1:  # one length: the remedies side by side around it, not edge to edge
            ax.set_xlim(seq[0] / 1.4, seq[0] * 1.4)
        ax.set_xlabel("seq_len")
        ax.grid(True, which="both", alpha=0.3)
    ax2.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    batches = "/".join(str(b) for b in sorted(c["batch"].unique()))
    n_diverged = int((c["status"] == "diverged").sum())
    title = "Success rate and steps to solve against sequence length "
    title += f"(sequences = steps x batch {batches}; {an.seed_note(c, band=False)})"
    if n_diverged:
        title += f"\n{n_diverged} diverged runs count as unsolved, not drawn on the right"
    fig.suptitle(title, fontsize=10)
    return fig


def plot_training_curves(tables) -> Figure | None:
    cells = an.trained_cells(an.frame(tables, "cells"))
    t = an.training_curves(tables)
    if t.empty:
        return None
    scales = sorted(t["w_rec_scale"].unique())
    fig, axes = st.panels(len(scales), 3.8, 3.0, 1.8)
    agg = an.median_band(t, ["remedy", "w_rec_scale", "step"], "y")
    clip = an.mostly_clipped(t)
    for ax, s in zip(axes, scales, strict=False):
        for rem in an.remedy_order(t["remedy"]):
            d = agg[(agg["remedy"] == rem) & (agg["w_rec_scale"] == s)]
            if d.empty:
                continue
            col = st.remedy_colour(rem)
            ax.plot(d["step"], d["median"], color=col, lw=1.2, label=rem)
            if an.n_seeds(cells) > 1:
                ax.fill_between(d["step"], d["lo"], d["hi"], color=col, alpha=0.12, lw=0)
            k = clip[(clip["remedy"] == rem) & (clip["w_rec_scale"] == s)]
            if len(k):
                y = d.set_index("step")["median"].reindex(k["step"]).to_numpy() * 0.8
                ax.scatter(k["step"], y, marker="|", color=col, s=30, lw=1)
        ax.axhline(1.0, color="0.5", ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_title(f"w_rec_scale {s:g}", fontsize=10)
        ax.grid(True, alpha=0.3)
    top = float(t["y"].max())
    cut = f"loss above {st.LOSS_CAP:g} x baseline cut off (largest {top:.1e})"
    cut = cut if top > st.LOSS_CAP else ""
    if cut:  # a blown-up run (1e30) would squash every other curve to a line at 1
        axes[0].set_ylim(max(float(t["y"].min()) / 1.5, st.LOSS_CAP / 1e6), st.LOSS_CAP)  # shared y
    for ax in axes[: len(scales)]:
        st.plain_log_y(ax)  # once every panel is drawn: the shared limits are final
    st.label_panels(axes, len(scales), "training step", "loss / baseline_loss")
    lines = {}  # one legend for the st.figure, outside the grid, so no column widens for it
    for ax in axes[: len(scales)]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=False):
            lines.setdefault(label, handle)
    fig.legend(lines.values(), lines.keys(), fontsize=7, loc="outside right center")
    note = "; ".join(x for x in (an.lr_note(cells), an.seed_note(cells), cut) if x)
    fig.suptitle(
        f"Training curves at seq_len {t['seq_len'].max()} (| = clipped; {note})", fontsize=10
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


# -- speed ---------------------------------------------------------------------------------
def plot_speed(tables) -> Figure | None:
    cells = an.frame(tables, "cells")
    if cells.empty or not an.has(cells, "init_profile_seconds"):
        return None
    c = an.speed_frame(cells)
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
                label += f" (slope {an.scaling_exponent(d[axis], d['median']):.2f})"
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
    band = an.memory_capacity(cells)
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


def plot_curse_of_memory(tables) -> Figure | None:
    """init_memory_sensitivity against the memory timescale, a colour per remedy, with Zucchet
    and Orvieto's closed forms of the diagonal linear recurrence with and without the gamma
    normalization (rnngrad.core.memory.closed_form) drawn as lines."""
    cells = an.frame(tables, "cells")
    pts = an.curse_of_memory(cells)
    if pts.empty:
        return None
    fig = st.figure(7.2, 4.6)
    ax = fig.subplots()
    finite = pts[np.isfinite(pts["timescale"])]
    lo = min(1.0, float(finite["timescale"].min())) / 1.5 if len(finite) else 0.5
    hi = max(float(finite["timescale"].max()) * 1.5, 20 * lo) if len(finite) else 100.0
    edge = hi  # where the non-decaying cells (tau = inf) are drawn
    tau = np.geomspace(lo, hi, 200)
    lam = np.exp(-1.0 / tau)
    for normalized, ls, what in (
        (False, "-", "h = l h + x"),
        (True, "--", "gamma = sqrt(1 - l^2)"),
    ):
        ax.plot(
            tau,
            memory.closed_form(lam, normalized=normalized),
            color="0.35",
            ls=ls,
            lw=1.2,
            label=f"diagonal linear, {what}: closed form",
        )
    remedies = an.remedy_order(pts["remedy"])
    colours = st.remedy_palette(remedies)
    for rem in remedies:
        d = pts[pts["remedy"] == rem].sort_values("timescale")
        tau_d, y = d["timescale"].to_numpy(float), d["sensitivity"].to_numpy(float)
        inf = ~np.isfinite(tau_d)
        x = np.where(inf, edge, tau_d)
        yerr = np.vstack([y - d["lo"].to_numpy(float), d["hi"].to_numpy(float) - y])
        ax.errorbar(x, y, yerr=yerr, fmt="none", ecolor=colours[rem], elinewidth=1)
        for sel, marker in ((~inf, "o"), (inf, ">")):
            if sel.any():
                ax.plot(
                    x[sel],
                    y[sel],
                    marker,
                    ms=6,
                    color=colours[rem],
                    mec="white",
                    mew=0.5,
                    label=rem + (" (no decay: tau beyond T)" if marker == ">" else ""),
                )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("memory timescale tau (steps; -1 / ln of the Jacobian's per-step decay)")
    ax.set_ylabel("memory_sensitivity at initialization")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8, loc="upper left")
    note = an.seed_note(cells[cells["init_memory_sensitivity"].notna()])
    fig.suptitle(f"The curse of memory: sensitivity to the recurrent weights ({note})", fontsize=10)
    return fig


FIGURES: OrderedDict[str, Callable[[Any], Figure | None]] = OrderedDict(
    [
        ("unrolled", plot_unrolled),
        ("phase_diagram", plot_phase_diagram),
        ("decay_curves", plot_decay_curves),
        ("weight_grad_norm", plot_weight_grad_norm),
        ("theory", plot_theory),
        ("remedy_decay", plot_remedy_decay),
        ("solved_vs_seq_len", plot_solved_vs_seq_len),
        ("steps_to_solve", plot_steps_to_solve),
        ("training_curves", plot_training_curves),
        ("backend_agreement", plot_backend_agreement),
        ("speed", plot_speed),
        ("memory_capacity", plot_memory_capacity),
        ("curse_of_memory", plot_curse_of_memory),
    ]
)
assert list(FIGURES) == list(CAPTIONS), "every st.figure has a caption, in the same order"


def draw(name: str, tables) -> tuple[Figure, bool]:
    """Figure ``name`` and whether it has data (a placeholder when not)."""
    fig = FIGURES[name](tables)
    return (fig, True) if fig is not None else (st.no_data_figure(name), False)


def save_all(tables, outdir: str | Path) -> list[Path]:
    """Draw every st.figure of ``FIGURES`` and write ``<name>.png``, ``.svg`` and ``.pdf`` under
    ``outdir``; returns the paths written."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in FIGURES:
        fig, _ = draw(name, tables)
        for ext in FIGURE_FORMATS:
            path = outdir / f"{name}.{ext}"
            meta = {"Date": None} if ext == "svg" else None
            # atomically, like records: a killed run never leaves a truncated st.figure
            atomic_write(path, partial(fig.savefig, format=ext, dpi=st.DPI, metadata=meta))
            paths.append(path)
    return paths
