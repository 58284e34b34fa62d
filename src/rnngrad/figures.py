"""Figures of a study: each one a function of the tables alone, returning a matplotlib Figure.

``FIGURES`` maps a figure's name to ``plot(tables) -> Figure | None`` (None when the study has
no data for it); ``tables`` is a mapping (or object) with the DataFrames ``cells``, ``profiles``
and ``training`` (docs/tables.md). What a figure draws is derived in :mod:`rnngrad.analysis`;
this module holds the plots and their style. No plot function touches files: :func:`save_all`
writes ``<name>.png``, ``.svg`` and ``.pdf``, and an explanatory placeholder where a function has
nothing to draw, so every expected output exists. Figures are :class:`matplotlib.figure.Figure`
objects saved without pyplot, so no matplotlib backend is chosen here.

Conventions shared by every figure: one fixed colour per remedy (Okabe-Ito, then Paul Tol's
colour-blind-safe extras), fixed category orders, the median over seeds (and any further grid
axis not drawn) with the min-max spread as a band, and a diverging map centred at 0 for log10
ratios (blue vanishing, red exploding).

Example
-------
>>> from rnngrad import figures
>>> list(figures.FIGURES)[:3]
['unrolled', 'phase_diagram', 'decay_curves']
"""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.ticker
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, Rectangle

from rnngrad import analysis as an
from rnngrad.captions import CAPTIONS

# Okabe-Ito first, then Paul Tol's muted scheme: distinguishable with any colour-vision deficiency
REMEDY_COLOURS = {
    "none": "#000000",
    "clip_norm": "#E69F00",
    "clip_value": "#882255",
    "truncated_bptt": "#56B4E9",
    "penalty": "#009E73",
    "l2_penalty": "#999933",
    "orthogonal_init": "#0072B2",
    "identity_init": "#D55E00",
    "smart_init": "#CC79A7",
    "esn": "#44AA99",
    "lstm": "#332288",
    "gru": "#AA4499",
}
EXTRA_COLOURS = ("#888888", "#661100", "#6699CC", "#117733", "#DDCC77", "#AA4466")
BACKEND_MARKERS = {"numpy": "o", "torch": "s"}
DIVERGING = "RdBu_r"  # log10 ratio < 0 (vanishing) blue, > 0 (exploding) red
MAX_DIAGRAM_NODES = 16  # the unrolled diagram shows at most this many states
LOSS_CAP = 100.0  # normalized_loss axes stop here: a blown-up cell (1e30) would squash the rest
NO_DATA = "no data for this figure in this study"


# -- shared helpers ------------------------------------------------------------------------
def remedy_colour(name: str) -> str:
    """The fixed colour of a remedy; unknown names get a stable extra colour."""
    if name in REMEDY_COLOURS:
        return REMEDY_COLOURS[name]
    return EXTRA_COLOURS[sum(map(ord, name)) % len(EXTRA_COLOURS)]


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _panels(n: int, width: float, height: float, extra: float) -> tuple[Figure, np.ndarray]:
    """A figure of ``n`` panels sharing both axes, at most 4 a row, each ``width`` x ``height``
    inches (``extra`` inches more for a legend); the panels as a flat array."""
    ncols = min(n, 4)
    nrows = math.ceil(n / ncols)
    fig = _figure(width * ncols + extra, height * nrows + 0.6)
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)
    return fig, axes.ravel()


def _label_panels(axes: np.ndarray, n: int, xlabel: str, ylabel: str) -> None:
    """Hide the unused panels; x labels on the bottom row, y labels on the left column."""
    ncols = axes[0].get_gridspec().ncols
    for ax in axes[n:]:
        ax.set_axis_off()
    for ax in axes[len(axes) - ncols :]:
        ax.set_xlabel(xlabel)
    for ax in axes[::ncols]:
        ax.set_ylabel(ylabel)


def no_data_figure(name: str, why: str = "") -> Figure:
    """A valid placeholder saying that the study has nothing to draw for ``name``."""
    fig = _figure(6, 1.6)
    ax = fig.subplots()
    ax.set_axis_off()
    text = f"{name}: {NO_DATA}" + (f"\n({why})" if why else "")
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=11, wrap=True)
    return fig


def _arrow(ax, start, end, **kw) -> None:
    """A grey arrow of the unrolled diagram (``kw`` overrides its style)."""
    style = {"arrowstyle": "-|>", "mutation_scale": 8, "color": "0.6", "lw": 0.8, **kw}
    ax.add_patch(FancyArrowPatch(start, end, **style))


# -- the unrolled network --------------------------------------------------------------------
def plot_unrolled(tables) -> Figure | None:
    series = an.unrolled_series(tables)
    if not series:
        return None
    finite = np.concatenate([s[2][np.isfinite(s[2])] for s in series] + [np.zeros(1)])
    vmax = max(1.0, float(np.max(np.abs(finite))))
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-vmax, vmax=vmax)
    cmap = matplotlib.colormaps[DIVERGING]
    fig = _figure(12, 2.1 * len(series) + 0.4)
    axes = np.atleast_1d(fig.subplots(len(series), 1))
    for ax, (label, row, rel) in zip(axes, series, strict=False):
        _draw_unrolled(ax, rel, cmap, norm, vmax)
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


def _draw_unrolled(ax, rel: np.ndarray, cmap, norm, vmax: float) -> None:
    """One chain x_t -> h_t -> ... -> h_T -> L with backward arrows from ``rel`` (by lag)."""
    T = len(rel)  # lags 0..T-1 are the states h_T .. h_1
    shown = np.unique(np.round(np.linspace(1, T, min(T, MAX_DIAGRAM_NODES))).astype(int))
    ts = np.concatenate([[0], shown])  # h_0 has no grad_norm of its own: the chain's start
    xs = np.arange(len(ts), dtype=float)
    r = 0.28
    for x, t in zip(xs, ts, strict=False):
        ax.add_patch(Circle((x, 0), r, fc="white", ec="0.2", lw=1.2, zorder=3))
        ax.text(x, 0, f"h{t}", ha="center", va="center", fontsize=8, zorder=4)
        if t > 0:
            ax.add_patch(Rectangle((x - 0.2, -1.25), 0.4, 0.4, fc="0.92", ec="0.5", zorder=3))
            ax.text(x, -1.05, f"x{t}", ha="center", va="center", fontsize=7, zorder=4)
            _arrow(ax, (x, -0.85), (x, -r))
    for i in range(1, len(xs)):
        _arrow(ax, (xs[i - 1] + r, 0), (xs[i] - r, 0))
        if ts[i] - ts[i - 1] > 1:
            ax.text((xs[i - 1] + xs[i]) / 2, -0.16, "...", ha="center", fontsize=8, color="0.4")
    ax.add_patch(Rectangle((xs[-1] - 0.25, 0.85), 0.5, 0.4, fc="0.92", ec="0.5", zorder=3))
    ax.text(xs[-1], 1.05, "L", ha="center", va="center", fontsize=8, zorder=4)
    _arrow(ax, (xs[-1], r), (xs[-1], 0.85))
    # backward arrows h_{t'} -> h_t above the chain, coloured by dL/dh_t's measured norm
    for i in range(len(xs) - 1, 0, -1):
        t = ts[i - 1] if ts[i - 1] > 0 else 1  # h_0's arrow shows the earliest measured step
        v = rel[T - t]
        bad = not np.isfinite(v)
        colour = (
            cmap(1.0) if bad and (np.isnan(v) or v > 0) else cmap(norm(np.clip(v, -vmax, vmax)))
        )
        width = 0.4 + 5.0 * (np.clip(v, -vmax, vmax) + vmax) / (2 * vmax) if not bad else 5.4
        style = {"mutation_scale": 6 + 2 * width, "color": colour, "lw": width, "zorder": 2}
        style.update(connectionstyle="arc3,rad=0.5", ls="--" if bad else "-")
        _arrow(ax, (xs[i] - 0.1, r), (xs[i - 1] + 0.1, r), **style)
    ax.set_xlim(-0.6, xs[-1] + 0.8)
    ax.set_ylim(-1.4, 1.4)
    ax.set_aspect("equal")
    ax.set_axis_off()


# -- phase diagrams ------------------------------------------------------------------------
def plot_phase_diagram(tables) -> Figure | None:
    cells = an.frame(tables, "cells")
    if cells.empty or "init_log10_grad_ratio" not in cells:
        return None
    remedies = an.remedy_order(cells["remedy"])
    backends = an.ordered(cells["backend"], an.BACKEND_ORDER)
    agg = an.phase_grid(cells)
    finite = agg["init_log10_grad_ratio"][np.isfinite(agg["init_log10_grad_ratio"])]
    vmax = max(1.0, float(finite.abs().quantile(0.98))) if len(finite) else 1.0
    seq = sorted(cells["seq_len"].unique())
    scales = sorted(cells["w_rec_scale"].unique())
    annotate = len(seq) * len(scales) <= 80
    fig = _figure(min(3.2 * len(remedies), 22) + 1.2, 2.8 * len(backends) + 0.8)
    axes = np.atleast_2d(
        fig.subplots(len(backends), len(remedies), sharex=True, sharey=True, squeeze=False)
    )
    for i, b in enumerate(backends):
        for j, rem in enumerate(remedies):
            ax = axes[i, j]
            d = agg[(agg["backend"] == b) & (agg["remedy"] == rem)]
            grid = d.pivot(index="w_rec_scale", columns="seq_len", values="init_log10_grad_ratio")
            grid = grid.reindex(index=scales[::-1], columns=seq)
            shown = grid.clip(-vmax, vmax)
            labels = grid.map(
                lambda v: "" if pd.isna(v) else ("inf" if np.isinf(v) else f"{v:.1f}")
            )
            with warnings.catch_warnings():  # seaborn 0.13.2 calls a deprecated cmap.set_bad
                warnings.simplefilter("ignore", PendingDeprecationWarning)
                kw = {"cmap": DIVERGING, "vmin": -vmax, "vmax": vmax, "center": 0.0, "fmt": ""}
                kw.update(annot_kws={"fontsize": 7}, cbar=False, linewidths=0.5, linecolor="white")
                sns.heatmap(shown, ax=ax, annot=labels if annotate else False, **kw)
            ax.set_title(f"{rem} | {b}", fontsize=9)
            ax.set_xlabel("seq_len" if i == len(backends) - 1 else "")
            ax.set_ylabel("w_rec_scale" if j == 0 else "")
    sm = matplotlib.cm.ScalarMappable(norm=TwoSlopeNorm(0.0, -vmax, vmax), cmap=DIVERGING)
    label = "init log10(grad_norm[T-1] / grad_norm[0])"
    fig.colorbar(sm, ax=axes.ravel().tolist(), shrink=0.8, label=label)
    note = an.seed_note(cells, band=False)
    title = f"Where gradients vanish (blue) or explode (red) at initialization ({note})"
    fig.suptitle(title, fontsize=10)
    return fig


# -- profiles against lag ------------------------------------------------------------------
def _scale_colours(scales) -> dict:
    """Scales below 1 blue, above 1 red, 1 grey: the same reading as the phase diagram (the
    map's pale middle is skipped so every line stays visible on white)."""
    logs = np.log10(np.asarray(scales, dtype=float).clip(1e-12))
    vmax = max(float(np.max(np.abs(logs))), 1e-6)
    cmap = matplotlib.colormaps[DIVERGING]
    return {
        s: "0.35" if lg == 0 else cmap(0.5 + np.sign(lg) * (0.2 + 0.3 * abs(lg) / vmax))
        for s, lg in zip(scales, logs, strict=False)
    }


def _log_ticks(ax, values) -> None:
    """A log x axis ticked at the study's own values, written as plain numbers."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(sorted(set(values))))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())


def _plain_log_y(ax) -> None:
    """Log y axis labels as plain numbers (0.5, 2) rather than 5x10^-1 on short ranges."""
    plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
    lo, hi = ax.get_ylim()
    ax.yaxis.set_major_formatter(plain)
    # within two decades the major ticks alone leave the axis nearly unlabelled: label minors
    ax.yaxis.set_minor_formatter(plain if hi < 100 * lo else matplotlib.ticker.NullFormatter())


def _plot_by_lag(tables, value: str, ylabel: str, title: str, relative: bool) -> Figure | None:
    cells, p = an.by_lag(tables, value, relative)
    if p.empty:
        return None
    remedies = an.remedy_order(p["remedy"])
    scales = sorted(p["w_rec_scale"].unique())
    colours = _scale_colours(scales)
    fig, axes = _panels(len(remedies), 3.6, 2.9, 1.5)
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
            ax.axvline(k2, color=remedy_colour("truncated_bptt"), ls="--", lw=1.2)
            kw = {"transform": ax.get_xaxis_transform(), "fontsize": 8, "color": "0.2"}
            ax.text(k2, 0.02, f" k2={k2}", **kw)
        ax.set_yscale("log")
        ax.set_title(rem, fontsize=10, color=remedy_colour(rem))
        ax.grid(True, which="major", alpha=0.3)
    _label_panels(axes, len(remedies), "lag k = T - t (steps back from the loss)", ylabel)
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
    fig = _figure(11, 4.6)
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    x1 = an.log10(agg["init_spectral_norm"])
    x2 = an.log10(agg["init_spectral_radius"])
    for rem in an.remedy_order(agg["remedy"]):
        for nl in nls:
            m = (agg["remedy"] == rem) & (agg.get("nonlinearity", "tanh") == nl)
            if not m.any():
                continue
            kw = {"color": remedy_colour(rem), "marker": markers.get(nl, "o"), "s": 22}
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
    fig = _figure(min(4 * len(seq), 16) + 1.5, 4.2)
    axes = np.atleast_1d(fig.subplots(1, len(seq), sharex=True, sharey=True, squeeze=False)).ravel()
    lo = float(min(agg["init_decay_rate"].min(), agg["trained_decay_rate"].min()))
    hi = float(max(agg["init_decay_rate"].max(), agg["trained_decay_rate"].max()))
    for ax, L in zip(axes, seq, strict=False):
        ax.plot([lo, hi], [lo, hi], color="0.5", ls=":", lw=1)
        for rem in an.remedy_order(agg["remedy"]):
            d = agg[(agg["remedy"] == rem) & (agg["seq_len"] == L)]
            x, y = d["init_decay_rate"], d["trained_decay_rate"]
            ax.scatter(x, y, color=remedy_colour(rem), s=26, label=rem, alpha=0.85)
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
    fig = _figure(11, 4.2)
    ax1, ax2 = fig.subplots(1, 2, sharex=True)
    for rem in an.remedy_order(loss["remedy"]):
        col = remedy_colour(rem)
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
    _cap_loss_axis(ax1, loss)
    _plain_log_y(ax1)
    ax1.set_ylabel("normalized_loss (final / baseline)")
    ax2.set_ylabel("fraction of cells solved (accuracy >= 0.99)")
    ax2.set_ylim(-0.03, 1.03)
    for ax in (ax1, ax2):
        _log_ticks(ax, loss["seq_len"])
        ax.set_xlabel("seq_len")
        ax.grid(True, which="both", alpha=0.3)
    ax2.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    pooled = "pooled over w_rec_scale; " + an.seed_note(cells)
    note = "; ".join(x for x in (an.lr_note(cells), pooled) if x)
    fig.suptitle(f"What each remedy learns as sequences grow ({note})", fontsize=10)
    return fig


def _cap_loss_axis(ax, loss: pd.DataFrame) -> None:
    """Stop a log normalized_loss axis at ``LOSS_CAP`` when the band goes beyond it, and mark
    with a triangle on the top edge each remedy and seq_len whose values were cut off."""
    over = loss[~(loss["hi"] <= LOSS_CAP)]  # inf and nan (overflow) are cut off too
    if over.empty:
        return
    shown = loss[["lo", "median"]].to_numpy(dtype=float).ravel()
    shown = shown[np.isfinite(shown) & (shown > 0) & (shown <= LOSS_CAP)]
    ax.set_ylim(float(shown.min()) / 1.5 if len(shown) else LOSS_CAP / 1e3, LOSS_CAP)
    for rem, d in over.groupby("remedy", sort=False):
        kw = {
            "marker": "^",
            "s": 40,
            "clip_on": False,
            "edgecolor": "white",
            "lw": 0.5,
            "zorder": 5,
        }
        ax.scatter(d["seq_len"], np.full(len(d), LOSS_CAP), color=remedy_colour(str(rem)), **kw)
    title = f"\u25b2 values above {LOSS_CAP:g} cut off (largest {loss['hi'].max():.1e})"
    ax.set_title(title, fontsize=8, loc="right", color="0.3")


def plot_training_curves(tables) -> Figure | None:
    cells = an.trained_cells(an.frame(tables, "cells"))
    t = an.training_curves(tables)
    if t.empty:
        return None
    scales = sorted(t["w_rec_scale"].unique())
    fig, axes = _panels(len(scales), 3.8, 3.0, 1.8)
    keys = ["remedy", "w_rec_scale", "step"]
    agg = an.median_band(t, keys, "y")
    clip = t.groupby(keys, observed=True)["clipped"].mean().reset_index()
    for ax, s in zip(axes, scales, strict=False):
        for rem in an.remedy_order(t["remedy"]):
            d = agg[(agg["remedy"] == rem) & (agg["w_rec_scale"] == s)]
            if d.empty:
                continue
            col = remedy_colour(rem)
            ax.plot(d["step"], d["median"], color=col, lw=1.2, label=rem)
            if an.n_seeds(cells) > 1:
                ax.fill_between(d["step"], d["lo"], d["hi"], color=col, alpha=0.12, lw=0)
            k = clip[
                (clip["remedy"] == rem) & (clip["w_rec_scale"] == s) & (clip["clipped"] >= 0.5)
            ]
            if len(k):
                y = d.set_index("step")["median"].reindex(k["step"]).to_numpy() * 0.8
                ax.scatter(k["step"], y, marker="|", color=col, s=30, lw=1)
        ax.axhline(1.0, color="0.5", ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_title(f"w_rec_scale {s:g}", fontsize=10)
        ax.grid(True, alpha=0.3)
    top = float(t["y"].max())
    cut = f"loss above {LOSS_CAP:g} x baseline cut off (largest {top:.1e})"
    cut = cut if top > LOSS_CAP else ""
    if cut:  # a blown-up run (1e30) would squash every other curve to a line at 1
        axes[0].set_ylim(max(float(t["y"].min()) / 1.5, LOSS_CAP / 1e6), LOSS_CAP)  # shared y
    for ax in axes[: len(scales)]:
        _plain_log_y(ax)  # once every panel is drawn: the shared limits are final
    _label_panels(axes, len(scales), "training step", "loss / baseline_loss")
    lines = {}  # one legend for the figure, outside the grid, so no column widens for it
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
    fig = _figure(9, 4.4)
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
GEMM_SHARE = "achieved GFLOP/s, % of this machine's GEMM rate"
SPEED_NOTE = (
    "GEMM rate: measured in each cell's job at its step shape\n"
    "(B, H) x (H, G H), same library, dtype and device.\n"
    "Useful FLOPs: 6 B G H^2 T a profile.\n"
    "Peak memory: tracemalloc (NumPy), peak RSS rise\n"
    "(torch on CPU), CUDA peak (cuda)."
)


def plot_speed(tables) -> Figure | None:
    cells = an.frame(tables, "cells")
    if cells.empty or not an.has(cells, "init_profile_seconds"):
        return None
    c = an.speed_frame(cells)
    machine, memory = an.has(c, "gemm_share"), an.has(c, "peak_arrays")
    fig = _figure(13, 8.0 if machine or memory else 4.0)
    axes = fig.subplots(2 if machine or memory else 1, 3, squeeze=False)
    backends = an.ordered(c["backend"], an.BACKEND_ORDER)

    def lines(ax, axis: str, value: str, ylabel: str, log_y: bool = True, fit: bool = False):
        for b in backends:
            d = an.median_band(c[c["backend"] == b].dropna(subset=[value]), [axis], value)
            if d.empty:
                continue
            label = b
            if fit and len(d) > 1:  # the scaling exponent of the median time in seq_len
                slope = np.polyfit(np.log10(d[axis]), np.log10(d["median"]), 1)[0]
                label += f" (slope {slope:.2f})"
            (line,) = ax.plot(d[axis], d["median"], marker=BACKEND_MARKERS.get(b, "^"), label=label)
            ax.fill_between(d[axis], d["lo"], d["hi"], color=line.get_color(), alpha=0.15, lw=0)
        _log_ticks(ax, c[axis])
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
            lines(axes[1, 0], "hidden", "gemm_share", GEMM_SHARE, log_y=False)
            axes[1, 0].axhline(100, color="0.5", ls=":", lw=1)
            top = c["gemm_share"].max()
            if top > 200:  # a call-bound step GEMM (B = 1) makes the rate tiny
                axes[1, 0].set_ylim(0, 200)
                axes[1, 0].set_title(f"above 200% cut off (largest {top:.0f}%)", fontsize=9)
        if memory:
            axes[1, 1].set_axis_on()
            lines(axes[1, 1], "seq_len", "peak_arrays", "peak memory / one (T, B, H) state array")
        axes[1, 2].text(0, 0.5, SPEED_NOTE, fontsize=8, va="center")
    fig.suptitle("Speed of the forward + full BPTT pass, per backend (all cells)", fontsize=10)
    return fig


def plot_memory_capacity(tables) -> Figure | None:
    cells = an.frame(tables, "cells")
    if cells.empty or not an.has(cells, "memory_capacity"):
        return None
    band = an.memory_capacity(cells)
    fig = _figure(7.5, 4.2)
    ax = fig.subplots()
    palette = sns.color_palette("colorblind", n_colors=max(band["reservoir"].nunique(), 1))
    for colour, (name, d) in zip(palette, band.groupby("reservoir", sort=True), strict=False):
        ax.plot(d["w_rec_scale"], d["median"], "-o", color=colour, ms=4, label=name)
        ax.fill_between(d["w_rec_scale"], d["lo"], d["hi"], color=colour, alpha=0.15, lw=0)
    ax.axhline(1.0, color="0.3", ls="--", lw=1)
    ax.set_ylim(0, 1.08)
    ax.text(ax.get_xlim()[0], 1.0, " MC = N (Jaeger's bound)", va="bottom", fontsize=8, color="0.3")
    ax.axvline(1.0, color="0.6", ls=":", lw=1)
    ax.set_xlabel("w_rec_scale (spectral radius of the reservoir)")
    ax.set_ylabel("memory capacity / N")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    note = an.seed_note(cells[cells["memory_capacity"].notna()])
    fig.suptitle(f"Short-term memory capacity of echo state networks ({note})", fontsize=10)
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
        ("training_curves", plot_training_curves),
        ("backend_agreement", plot_backend_agreement),
        ("speed", plot_speed),
        ("memory_capacity", plot_memory_capacity),
    ]
)
assert list(FIGURES) == list(CAPTIONS), "every figure has a caption, in the same order"
FORMATS = ("png", "svg", "pdf")
DPI = 110


def draw(name: str, tables) -> tuple[Figure, bool]:
    """Figure ``name`` and whether it has data (a placeholder when not)."""
    fig = FIGURES[name](tables)
    return (fig, True) if fig is not None else (no_data_figure(name), False)


def save_all(tables, outdir: str | Path) -> list[Path]:
    """Draw every figure of ``FIGURES`` and write ``<name>.png``, ``.svg`` and ``.pdf`` under
    ``outdir``; returns the paths written."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in FIGURES:
        fig, _ = draw(name, tables)
        for ext in FORMATS:
            path = outdir / f"{name}.{ext}"
            fig.savefig(path, dpi=DPI, metadata={"Date": None} if ext == "svg" else None)
            paths.append(path)
    return paths
