"""Figures of a study: each one a function of the tables alone, returning a matplotlib Figure.

``FIGURES`` maps a figure's name to ``plot(tables) -> Figure | None`` (None when the study has
no data for it); ``tables`` is a mapping (or object) with the DataFrames ``cells``, ``profiles``
and ``training`` of DESIGN.md. No plot function touches files: :func:`save_all` writes
``<name>.png``, ``.svg`` and ``.pdf``, and an explanatory placeholder where a function has nothing
to draw, so every expected output exists.

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

matplotlib.use("Agg")  # figures are files; never open a window
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, Rectangle

from rnngrad.captions import CAPTIONS

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
)
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
BACKEND_ORDER = ("numpy", "torch")
BACKEND_MARKERS = {"numpy": "o", "torch": "s"}
DIVERGING = "RdBu_r"  # log10 ratio < 0 (vanishing) blue, > 0 (exploding) red
GAMMA = {"tanh": 1.0, "relu": 1.0, "linear": 1.0, "sigmoid": 0.25}  # bound on |f'| (Pascanu)
AGREE_RTOL, AGREE_ATOL = 1e-8, 1e-12  # DESIGN.md's backend agreement (float64)
AGREEMENT_METRICS = ("log10_grad_ratio", "decay_rate", "jacobian_decay_rate", "lyapunov_max")
MAX_DIAGRAM_NODES = 16  # the unrolled diagram shows at most this many states
REGIME_LOG10 = 1.0  # |log10 grad ratio| above this: the diagram calls a cell vanishing/exploding
LOSS_CAP = 100.0  # normalized_loss axes stop here: a blown-up cell (1e30) would squash the rest
NO_DATA = "no data for this figure in this study"


# -- shared helpers ------------------------------------------------------------------------
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


def remedy_colour(name: str) -> str:
    """The fixed colour of a remedy; unknown names get a stable extra colour."""
    if name in REMEDY_COLOURS:
        return REMEDY_COLOURS[name]
    return EXTRA_COLOURS[sum(map(ord, name)) % len(EXTRA_COLOURS)]


def n_seeds(cells: pd.DataFrame) -> int:
    return int(cells["seed"].nunique()) if "seed" in cells else 1


def seed_note(cells: pd.DataFrame, band: bool = True) -> str:
    """How a figure aggregates seeds, said on every figure that aggregates."""
    n = n_seeds(cells)
    if n <= 1:
        return "one seed: no spread over seeds"
    return f"median over {n} seeds" + ("; band: min to max" if band else "")


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _grid(n: int, ncols_max: int = 4) -> tuple[int, int]:
    ncols = min(n, ncols_max)
    return math.ceil(n / ncols), ncols


def no_data_figure(name: str, why: str = "") -> Figure:
    """A valid placeholder saying that the study has nothing to draw for ``name``."""
    fig = _figure(6, 1.6)
    ax = fig.subplots()
    ax.set_axis_off()
    ax.text(
        0.5,
        0.5,
        f"{name}: {NO_DATA}" + (f"\n({why})" if why else ""),
        ha="center",
        va="center",
        fontsize=11,
        wrap=True,
    )
    return fig


def _fmt(v: float) -> str:
    return f"{v:g}"


def _log10(x) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.log10(np.asarray(x, dtype=np.float64))


def _median_band(df: pd.DataFrame, by: list[str], value: str) -> pd.DataFrame:
    """Median, min and max of ``value`` per group ``by`` (NaN-aware; inf kept)."""
    g = df.groupby(by, observed=True, sort=True)[value]
    return g.agg(median="median", lo="min", hi="max").reset_index()


def first_backend(cells: pd.DataFrame) -> str:
    """The backend a single-backend figure draws: NumPy (the hand-written reference) if present."""
    return ordered(cells["backend"], BACKEND_ORDER)[0]


def _profiles_at_longest(tables, phase: str = "init") -> tuple[pd.DataFrame, pd.DataFrame]:
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


# -- the unrolled network --------------------------------------------------------------------
REGIMES = ("vanishing", "stable", "exploding")


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


def plot_unrolled(tables) -> Figure | None:
    cells, prof = frame(tables, "cells"), frame(tables, "profiles")
    if cells.empty or prof.empty:
        return None
    picks = pick_regimes(cells)
    if not picks:
        return None
    series = []
    for label, row in picks:
        p = prof[(prof["cell_id"] == row["cell_id"]) & (prof["phase"] == "init")].sort_values("lag")
        rel = _log10(p["grad_norm"].to_numpy()) - _log10(p["grad_norm"].to_numpy()[:1])
        series.append((label, row, rel))
    finite = np.concatenate([s[2][np.isfinite(s[2])] for s in series] + [np.zeros(1)])
    vmax = max(1.0, float(np.max(np.abs(finite))))
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-vmax, vmax=vmax)
    cmap = matplotlib.colormaps[DIVERGING]
    fig = _figure(12, 2.1 * len(series) + 0.4)
    axes = np.atleast_1d(fig.subplots(len(series), 1))
    for ax, (label, row, rel) in zip(axes, series, strict=False):
        _draw_unrolled(ax, rel, cmap, norm, vmax)
        nl = f" ({row['nonlinearity']})" if "nonlinearity" in row else ""
        ax.set_title(
            f"{label}: remedy {row['remedy']}{nl}, {row['backend']}, seq_len {row['seq_len']}, "
            f"w_rec_scale {_fmt(row['w_rec_scale'])}, log10 grad ratio "
            f"{row['init_log10_grad_ratio']:.3g}",
            fontsize=10,
            loc="left",
        )
    sm = matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(
        sm,
        ax=list(axes),
        shrink=0.8,
        pad=0.01,
        label="log10(grad_norm at step t / grad_norm at step T)",
    )
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
            ax.add_patch(
                FancyArrowPatch(
                    (x, -0.85), (x, -r), arrowstyle="-|>", mutation_scale=8, color="0.6", lw=0.8
                )
            )
    for i in range(1, len(xs)):
        ax.add_patch(
            FancyArrowPatch(
                (xs[i - 1] + r, 0),
                (xs[i] - r, 0),
                arrowstyle="-|>",
                mutation_scale=8,
                color="0.6",
                lw=0.8,
            )
        )
        gap = ts[i] - ts[i - 1] > 1
        if gap:
            ax.text((xs[i - 1] + xs[i]) / 2, -0.16, "...", ha="center", fontsize=8, color="0.4")
    ax.add_patch(Rectangle((xs[-1] - 0.25, 0.85), 0.5, 0.4, fc="0.92", ec="0.5", zorder=3))
    ax.text(xs[-1], 1.05, "L", ha="center", va="center", fontsize=8, zorder=4)
    ax.add_patch(
        FancyArrowPatch(
            (xs[-1], r), (xs[-1], 0.85), arrowstyle="-|>", mutation_scale=8, color="0.6", lw=0.8
        )
    )
    # backward arrows h_{t'} -> h_t above the chain, coloured by dL/dh_t's measured norm
    for i in range(len(xs) - 1, 0, -1):
        t = ts[i - 1] if ts[i - 1] > 0 else 1  # h_0's arrow shows the earliest measured step
        v = rel[T - t]
        bad = not np.isfinite(v)
        colour = (
            cmap(1.0) if bad and (np.isnan(v) or v > 0) else cmap(norm(np.clip(v, -vmax, vmax)))
        )
        width = 0.4 + 5.0 * (np.clip(v, -vmax, vmax) + vmax) / (2 * vmax) if not bad else 5.4
        ax.add_patch(
            FancyArrowPatch(
                (xs[i] - 0.1, r),
                (xs[i - 1] + 0.1, r),
                connectionstyle="arc3,rad=0.5",
                arrowstyle="-|>",
                mutation_scale=6 + 2 * width,
                color=colour,
                lw=width,
                ls="--" if bad else "-",
                zorder=2,
            )
        )
    ax.set_xlim(-0.6, xs[-1] + 0.8)
    ax.set_ylim(-1.4, 1.4)
    ax.set_aspect("equal")
    ax.set_axis_off()


# -- phase diagrams ------------------------------------------------------------------------
def plot_phase_diagram(tables) -> Figure | None:
    cells = frame(tables, "cells")
    if cells.empty or "init_log10_grad_ratio" not in cells:
        return None
    remedies = remedy_order(cells["remedy"])
    backends = ordered(cells["backend"], BACKEND_ORDER)
    c = cells.assign(remedy=cells["remedy"].astype(str))
    agg = (
        c.groupby(["backend", "remedy", "seq_len", "w_rec_scale"], observed=True)[
            "init_log10_grad_ratio"
        ]
        .median()
        .reset_index()
    )
    finite = agg["init_log10_grad_ratio"][np.isfinite(agg["init_log10_grad_ratio"])]
    vmax = max(1.0, float(finite.abs().quantile(0.98))) if len(finite) else 1.0
    seq = sorted(c["seq_len"].unique())
    scales = sorted(c["w_rec_scale"].unique())
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
                sns.heatmap(
                    shown,
                    ax=ax,
                    cmap=DIVERGING,
                    vmin=-vmax,
                    vmax=vmax,
                    center=0.0,
                    annot=labels if annotate else False,
                    fmt="",
                    annot_kws={"fontsize": 7},
                    cbar=False,
                    linewidths=0.5,
                    linecolor="white",
                )
            ax.set_title(f"{rem} | {b}", fontsize=9)
            ax.set_xlabel("seq_len" if i == len(backends) - 1 else "")
            ax.set_ylabel("w_rec_scale" if j == 0 else "")
    sm = matplotlib.cm.ScalarMappable(norm=TwoSlopeNorm(0.0, -vmax, vmax), cmap=DIVERGING)
    fig.colorbar(
        sm, ax=axes.ravel().tolist(), shrink=0.8, label="init log10(grad_norm[T-1] / grad_norm[0])"
    )
    fig.suptitle(
        "Where gradients vanish (blue) or explode (red) at initialization "
        f"({seed_note(cells, band=False)})",
        fontsize=10,
    )
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
    cells, p = _profiles_at_longest(tables)
    if p.empty or value not in p or not p[value].notna().any():
        return None
    p = p.assign(remedy=p["remedy"].astype(str))
    if relative:
        first = p[p["lag"] == 0].set_index("cell_id")[value]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            p = p.assign(y=p[value] / p["cell_id"].map(first).to_numpy())
    else:
        p = p.assign(y=p[value])
    p = p[np.isfinite(p["y"]) & (p["y"] > 0)]  # a log axis: zeros and overflow are not drawn
    if p.empty:
        return None
    remedies = remedy_order(p["remedy"])
    scales = sorted(p["w_rec_scale"].unique())
    colours = _scale_colours(scales)
    nrows, ncols = _grid(len(remedies))
    fig = _figure(3.6 * ncols + 1.5, 2.9 * nrows + 0.6)
    axes = np.atleast_1d(
        fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)
    ).ravel()
    agg = _median_band(p, ["remedy", "w_rec_scale", "lag"], "y")
    for ax, rem in zip(axes, remedies, strict=False):
        for s in scales:
            d = agg[(agg["remedy"] == rem) & (agg["w_rec_scale"] == s)]
            if d.empty:
                continue
            ax.plot(d["lag"], d["median"], color=colours[s], lw=1.4, label=_fmt(s))
            if n_seeds(cells) > 1:
                ax.fill_between(d["lag"], d["lo"], d["hi"], color=colours[s], alpha=0.2, lw=0)
        k2 = (
            cells.loc[cells["remedy"].astype(str) == rem, "truncate_k2"]
            if "truncate_k2" in cells
            else []
        )
        k2 = pd.Series(k2).dropna()
        if len(k2):
            ax.axvline(float(k2.iloc[0]), color=remedy_colour("truncated_bptt"), ls="--", lw=1.2)
            ax.text(
                float(k2.iloc[0]),
                0.02,
                f" k2={int(k2.iloc[0])}",
                transform=ax.get_xaxis_transform(),
                fontsize=8,
                color="0.2",
            )
        ax.set_yscale("log")
        ax.set_title(rem, fontsize=10, color=remedy_colour(rem))
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes[len(remedies) :]:
        ax.set_axis_off()
    for ax in axes[(nrows - 1) * ncols :]:
        ax.set_xlabel("lag k = T - t (steps back from the loss)")
    for ax in axes[::ncols]:
        ax.set_ylabel(ylabel)
    axes[0].legend(title="w_rec_scale", fontsize=7, title_fontsize=8)
    seq_len = int(cells["seq_len"].max())
    fig.suptitle(
        f"{title}: seq_len {seq_len}, backend {first_backend(cells)}, initialization "
        f"({seed_note(cells)})",
        fontsize=10,
    )
    return fig


def plot_decay_curves(tables) -> Figure | None:
    return _plot_by_lag(
        tables,
        "grad_norm",
        "grad_norm[k] / grad_norm[0]",
        "Gradient norm against lag",
        relative=True,
    )


def plot_weight_grad_norm(tables) -> Figure | None:
    return _plot_by_lag(
        tables,
        "weight_grad_norm",
        "||step term of dL/dW_rec||",
        "What each step contributes to dL/dW_rec",
        relative=False,
    )


# -- theory against measurement ------------------------------------------------------------
def plot_theory(tables) -> Figure | None:
    cells = frame(tables, "cells")
    need = {"init_decay_rate", "init_spectral_norm", "init_spectral_radius"}
    if cells.empty or not need <= set(cells):
        return None
    c = cells[cells["model"].isin(["rnn", "esn"])] if "model" in cells else cells
    if "leak" in c:
        c = c[c["leak"] == 1.0]  # the bound is for the plain update h_t = f(W h_{t-1} + ...)
    c = c[np.isfinite(c["init_decay_rate"])]
    if c.empty:
        return None
    keys = ["remedy", "nonlinearity", "seq_len", "w_rec_scale"]
    keys = [k for k in keys if k in c]
    agg = (
        c.groupby(keys, observed=True)[
            ["init_decay_rate", "init_spectral_norm", "init_spectral_radius"]
        ]
        .median()
        .reset_index()
    )
    agg["remedy"] = agg["remedy"].astype(str)
    nls = ordered(agg["nonlinearity"], tuple(GAMMA)) if "nonlinearity" in agg else ["tanh"]
    markers = dict(zip(nls, "osD^v", strict=False))
    fig = _figure(11, 4.6)
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    x1 = _log10(agg["init_spectral_norm"])
    x2 = _log10(agg["init_spectral_radius"])
    for rem in remedy_order(agg["remedy"]):
        for nl in nls:
            m = (agg["remedy"] == rem) & (agg.get("nonlinearity", "tanh") == nl)
            if not m.any():
                continue
            kw = {
                "color": remedy_colour(rem),
                "marker": markers.get(nl, "o"),
                "s": 22,
                "alpha": 0.8,
                "edgecolor": "none",
            }
            ax1.scatter(x1[m], agg.loc[m, "init_decay_rate"], label=f"{rem} ({nl})", **kw)
            ax2.scatter(x2[m], agg.loc[m, "init_decay_rate"], **kw)
    xs = np.linspace(
        min(np.nanmin(x1), np.nanmin(x2), -0.5), max(np.nanmax(x1), np.nanmax(x2), 0.5), 50
    )
    for g in sorted({GAMMA.get(nl, 1.0) for nl in nls}, reverse=True):
        ax1.plot(
            xs,
            xs + np.log10(g),
            color="0.3",
            ls="--",
            lw=1.2,
            label=f"bound log10({'' if g == 1 else '1/4 * '}sigma_max)",
        )
    ax2.plot(xs, xs, color="0.3", ls=":", lw=1.4, label="linear RNN, W = s Q: log10 s (exact)")
    ax1.set_xlabel("log10 spectral_norm of W_rec (sigma_max)")
    ax2.set_xlabel("log10 spectral_radius of W_rec (s)")
    ax1.set_ylabel("init decay_rate (log10 factor per step)")
    for ax in (ax1, ax2):
        ax.axhline(0, color="0.8", lw=0.8)
        ax.grid(True, alpha=0.3)
    ax1.legend(fontsize=7, loc="upper left")
    ax2.legend(fontsize=7, loc="upper left")
    fig.suptitle(
        "Measured decay against the spectrum of W_rec "
        f"(rnn/esn cells; {seed_note(cells, band=False)})",
        fontsize=10,
    )
    return fig


# -- remedies and training -----------------------------------------------------------------
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


def lr_note(cells: pd.DataFrame) -> str:
    if "lr" in cells and cells["lr"].nunique() > 1:
        return "each remedy at its best lr per seq_len"
    return ""


def plot_remedy_decay(tables) -> Figure | None:
    cells = frame(tables, "cells")
    if cells.empty or "trained_decay_rate" not in cells:
        return None
    c = cells[np.isfinite(cells["init_decay_rate"]) & np.isfinite(cells["trained_decay_rate"])]
    if c.empty:
        return None
    c = c.assign(remedy=c["remedy"].astype(str))
    seq = sorted(c["seq_len"].unique())
    fig = _figure(min(4 * len(seq), 16) + 1.5, 4.2)
    axes = np.atleast_1d(fig.subplots(1, len(seq), sharex=True, sharey=True, squeeze=False)).ravel()
    agg = (
        c.groupby(["remedy", "seq_len", "w_rec_scale"], observed=True)[
            ["init_decay_rate", "trained_decay_rate"]
        ]
        .median()
        .reset_index()
    )
    lo = float(min(agg["init_decay_rate"].min(), agg["trained_decay_rate"].min()))
    hi = float(max(agg["init_decay_rate"].max(), agg["trained_decay_rate"].max()))
    for ax, L in zip(axes, seq, strict=False):
        ax.plot([lo, hi], [lo, hi], color="0.5", ls=":", lw=1)
        for rem in remedy_order(agg["remedy"]):
            d = agg[(agg["remedy"] == rem) & (agg["seq_len"] == L)]
            ax.scatter(
                d["init_decay_rate"],
                d["trained_decay_rate"],
                color=remedy_colour(rem),
                s=26,
                label=rem,
                alpha=0.85,
            )
        ax.set_title(f"seq_len {L}", fontsize=10)
        ax.set_xlabel("decay_rate at initialization")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("decay_rate after training")
    axes[-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(
        "decay_rate before and after training "
        f"(a point per w_rec_scale; {seed_note(cells, band=False)})",
        fontsize=10,
    )
    return fig


def plot_solved_vs_seq_len(tables) -> Figure | None:
    cells = trained_cells(frame(tables, "cells"))
    if cells.empty:
        return None
    c = best_lr(
        cells.assign(remedy=cells["remedy"].astype(str), solved=cells["solved"].astype(float))
    )
    fig = _figure(11, 4.2)
    ax1, ax2 = fig.subplots(1, 2, sharex=True)
    loss = _median_band(c, ["remedy", "seq_len"], "normalized_loss")
    rate = c.groupby(["remedy", "seq_len"], observed=True)["solved"].mean().reset_index()
    for rem in remedy_order(c["remedy"]):
        col = remedy_colour(rem)
        d = loss[loss["remedy"] == rem]
        ax1.plot(d["seq_len"], d["median"], "-o", color=col, ms=4, label=rem)
        ax1.fill_between(d["seq_len"], d["lo"], d["hi"], color=col, alpha=0.12, lw=0)
        d = rate[rate["remedy"] == rem]
        ax2.plot(d["seq_len"], d["solved"], "-o", color=col, ms=4, label=rem)
    ax1.axhline(1.0, color="0.5", ls=":", lw=1)
    ax1.text(
        0.01,
        1.0,
        "chance",
        transform=ax1.get_yaxis_transform(),
        va="bottom",
        fontsize=8,
        color="0.4",
    )  # x in axes units: the log seq_len axis set below moves the limits
    ax1.set_yscale("log")
    _cap_loss_axis(ax1, loss)
    _plain_log_y(ax1)
    ax1.set_ylabel("normalized_loss (final / baseline)")
    ax2.set_ylabel("fraction of cells solved (accuracy >= 0.99)")
    ax2.set_ylim(-0.03, 1.03)
    for ax in (ax1, ax2):
        _log_ticks(ax, c["seq_len"])
        ax.set_xlabel("seq_len")
        ax.grid(True, which="both", alpha=0.3)
    ax2.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    note = "; ".join(
        x for x in (lr_note(cells), "pooled over w_rec_scale; " + seed_note(cells)) if x
    )
    fig.suptitle(f"What each remedy learns as sequences grow ({note})", fontsize=10)
    return fig


def plot_steps_to_solve(tables) -> Figure | None:
    """Success rate and steps to solve against seq_len, a line per remedy (Pascanu et al.'s
    fig. 7; Hochreiter and Schmidhuber's sequences until solved)."""
    cells = trained_cells(frame(tables, "cells"))
    if cells.empty or "steps_to_solve" not in cells:
        return None
    c = cells.assign(
        remedy=cells["remedy"].astype(str),
        solved=succeeded(cells).astype(float),
        to_solve=cells["steps_to_solve"].astype("Float64").astype(float),
    )
    fig = _figure(11, 4.2)
    ax1, ax2 = fig.subplots(1, 2, sharex=True)
    rate = c.groupby(["remedy", "seq_len"], observed=True)["solved"].mean().reset_index()
    seq = sorted(c["seq_len"].unique())
    jitter = {rem: i for i, rem in enumerate(remedy_order(c["remedy"]))}
    spread = 1.0 + 0.012 * (len(jitter) - 1)  # remedies side by side on the log seq_len axis
    budget = int(c["train_steps"].max())
    for rem in remedy_order(c["remedy"]):
        col = remedy_colour(rem)
        shift = spread ** (jitter[rem] - (len(jitter) - 1) / 2)
        d = rate[rate["remedy"] == rem]
        ax1.plot(d["seq_len"] * shift, d["solved"], "-o", color=col, ms=5, label=rem)
        runs = c[c["remedy"] == rem]
        done = runs[runs["to_solve"].notna()]
        med = done.groupby("seq_len")["to_solve"].median()
        ax2.plot(med.index * shift, med.to_numpy(), "-o", color=col, ms=5, label=rem)
        ax2.scatter(done["seq_len"] * shift, done["to_solve"], color=col, s=12, alpha=0.5)
        never = runs[runs["to_solve"].isna() & (runs["status"] != "diverged")]
        ax2.scatter(
            never["seq_len"] * shift,
            never["steps_trained"].astype(float) if "steps_trained" in never else budget,
            marker="x",
            color=col,
            s=22,
            alpha=0.8,
        )
    ax1.set_ylabel("success rate (runs that reached accuracy 0.99)")
    ax1.set_ylim(-0.03, 1.03)
    ax2.axhline(budget, color="0.5", ls=":", lw=1)
    ax2.text(0.01, budget, "budget", transform=ax2.get_yaxis_transform(), va="bottom", fontsize=8)
    ax2.set_yscale("log")
    _plain_log_y(ax2)
    ax2.set_ylabel("steps to solve (x: unsolved, at its last step)")
    for ax in (ax1, ax2):
        _log_ticks(ax, seq)
        ax.set_xlabel("seq_len")
        ax.grid(True, which="both", alpha=0.3)
    ax2.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    batches = "/".join(str(b) for b in sorted(c["batch"].unique()))
    n_diverged = int((c["status"] == "diverged").sum())
    fig.suptitle(
        "Success rate and steps to solve against sequence length "
        f"(sequences = steps x batch {batches}; {seed_note(cells, band=False)})"
        + (
            f"\n{n_diverged} diverged runs count as unsolved, not drawn on the right"
            if n_diverged
            else ""
        ),
        fontsize=10,
    )
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
        ax.scatter(
            d["seq_len"],
            np.full(len(d), LOSS_CAP),
            marker="^",
            s=40,
            clip_on=False,
            color=remedy_colour(str(rem)),
            edgecolor="white",
            lw=0.5,
            zorder=5,
        )
    ax.set_title(
        f"\u25b2 values above {LOSS_CAP:g} cut off (largest {loss['hi'].max():.1e})",
        fontsize=8,
        loc="right",
        color="0.3",
    )


def plot_training_curves(tables) -> Figure | None:
    cells, tr = trained_cells(frame(tables, "cells")), frame(tables, "training")
    if cells.empty or tr.empty:
        return None
    c = best_lr(
        cells.assign(remedy=cells["remedy"].astype(str), solved=cells["solved"].astype(float))
    )
    c = c[c["seq_len"] == c["seq_len"].max()]
    t = tr.merge(c[["cell_id", "remedy", "w_rec_scale", "baseline_loss"]], on="cell_id")
    if t.empty:
        return None
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t = t.assign(y=t["loss"] / t["baseline_loss"], clipped=t["clipped"].astype(float))
    t = t[np.isfinite(t["y"]) & (t["y"] > 0)]
    scales = sorted(t["w_rec_scale"].unique())
    nrows, ncols = _grid(len(scales))
    fig = _figure(3.8 * ncols + 1.8, 3.0 * nrows + 0.6)
    axes = np.atleast_1d(
        fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)
    ).ravel()
    agg = _median_band(t, ["remedy", "w_rec_scale", "step"], "y")
    clip = (
        t.groupby(["remedy", "w_rec_scale", "step"], observed=True)["clipped"].mean().reset_index()
    )
    for ax, s in zip(axes, scales, strict=False):
        for rem in remedy_order(t["remedy"]):
            d = agg[(agg["remedy"] == rem) & (agg["w_rec_scale"] == s)]
            if d.empty:
                continue
            col = remedy_colour(rem)
            ax.plot(d["step"], d["median"], color=col, lw=1.2, label=rem)
            if n_seeds(cells) > 1:
                ax.fill_between(d["step"], d["lo"], d["hi"], color=col, alpha=0.12, lw=0)
            k = clip[
                (clip["remedy"] == rem) & (clip["w_rec_scale"] == s) & (clip["clipped"] >= 0.5)
            ]
            if len(k):
                y = d.set_index("step")["median"].reindex(k["step"]).to_numpy() * 0.8
                ax.scatter(k["step"], y, marker="|", color=col, s=30, lw=1)
        ax.axhline(1.0, color="0.5", ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_title(f"w_rec_scale {_fmt(s)}", fontsize=10)
        ax.grid(True, alpha=0.3)
    top = float(t["y"].max())
    cut = (
        f"loss above {LOSS_CAP:g} x baseline cut off (largest {top:.1e})" if top > LOSS_CAP else ""
    )
    if cut:  # a blown-up run (1e30) would squash every other curve to a line at 1
        axes[0].set_ylim(max(float(t["y"].min()) / 1.5, LOSS_CAP / 1e6), LOSS_CAP)  # shared y
    for ax in axes[: len(scales)]:
        _plain_log_y(ax)  # once every panel is drawn: the shared limits are final
    for ax in axes[len(scales) :]:
        ax.set_axis_off()
    for ax in axes[(nrows - 1) * ncols :]:
        ax.set_xlabel("training step")
    for ax in axes[::ncols]:
        ax.set_ylabel("loss / baseline_loss")
    lines = {}  # one legend for the figure, outside the grid, so no column widens for it
    for ax in axes[: len(scales)]:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=False):
            lines.setdefault(label, handle)
    fig.legend(lines.values(), lines.keys(), fontsize=7, loc="outside right center")
    note = "; ".join(x for x in (lr_note(cells), seed_note(cells), cut) if x)
    fig.suptitle(
        f"Training curves at seq_len {int(c['seq_len'].max())} (| = clipped; {note})", fontsize=10
    )
    return fig


# -- backend agreement -----------------------------------------------------------------------
def _rel_diff(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Relative difference |a - b| / max(|a|, |b|) and whether it is within DESIGN's tolerance.
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
    the largest relative difference over DESIGN.md's quantities and the verdict
    ``agree`` | ``disagree`` | ``chaotic`` (lyapunov_max > 0)."""
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
            rels[m], oks[m] = _rel_diff(a[col], b[col])
    if not prof.empty:
        p = prof[prof["phase"] == "init"][["cell_id", "lag", "grad_norm"]]
        pa = p.merge(a[["cell_id"]].reset_index(), on="cell_id")
        pb = p.merge(b[["cell_id"]].reset_index(), on="cell_id")
        pp = pa.merge(pb, on=["pair", "lag"], suffixes=("_a", "_b"))
        r, ok = _rel_diff(pp["grad_norm_a"], pp["grad_norm_b"])
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


VERDICT_COLOURS = {"agree": "#009E73", "disagree": "#D55E00", "chaotic": "#56B4E9"}


def plot_backend_agreement(tables) -> Figure | None:
    ag = backend_agreement(tables)
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
            ax.scatter(
                x[m], y[m], s=18, color=VERDICT_COLOURS[v], alpha=0.8, label=f"{v} ({int(m.sum())})"
            )
    ax.axhline(AGREE_RTOL, color="0.3", ls="--", lw=1)
    ax.text(ax.get_xlim()[0], AGREE_RTOL, " tolerance 1e-8", va="bottom", fontsize=8)
    ax.axvline(0, color="0.6", ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("lyapunov_max at initialization (natural log per step)")
    ax.set_ylabel("largest relative difference numpy vs torch")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.suptitle(
        f"Backend agreement over {len(ag)} float64 pairs (exact matches at {floor:g})", fontsize=10
    )
    return fig


# -- speed ---------------------------------------------------------------------------------
def _has(cells: pd.DataFrame, column: str) -> bool:
    return column in cells and cells[column].notna().any()


def plot_speed(tables) -> Figure | None:
    cells = frame(tables, "cells")
    if cells.empty or not _has(cells, "init_profile_seconds"):
        return None
    c = cells[cells["init_profile_seconds"] > 0].copy()
    machine = _has(c, "init_profile_gflops") and _has(c, "gemm_gflops")
    memory = _has(c, "init_profile_peak_mb")
    fig = _figure(13, 8.0 if machine or memory else 4.0)
    axes = fig.subplots(2 if machine or memory else 1, 3, squeeze=False)
    backends = ordered(c["backend"], BACKEND_ORDER)

    def lines(ax, axis: str, value: str, ylabel: str, log_y: bool = True, fit: bool = False):
        for b in backends:
            d = _median_band(c[c["backend"] == b].dropna(subset=[value]), [axis], value)
            if d.empty:
                continue
            label = b
            if fit and len(d) > 1:  # the scaling exponent of the median time in seq_len
                label += (
                    f" (slope {np.polyfit(np.log10(d[axis]), np.log10(d['median']), 1)[0]:.2f})"
                )
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

    lines(
        axes[0, 0],
        "seq_len",
        "init_profile_seconds",
        "profile_seconds (median; band min-max)",
        fit=True,
    )
    lines(axes[0, 1], "hidden", "init_profile_seconds", "profile_seconds (median; band min-max)")
    ax = axes[0, 2]
    if _has(cells, "overhead_s"):
        data = [
            cells.loc[cells["backend"] == b, "overhead_s"].dropna().to_numpy() for b in backends
        ]
        ax.boxplot(data, tick_labels=backends)
        ax.set_ylabel("overhead_s per cell (outside the cell)")
        ax.grid(True, axis="y", alpha=0.3)
    else:
        ax.set_axis_off()
    if machine or memory:
        itemsize = np.where(c["dtype"].astype(str) == "float32", 4, 8) if "dtype" in c else 8
        c["gemm_share"] = 100 * c["init_profile_gflops"] / c["gemm_gflops"] if machine else np.nan
        # one (T, B, H) state array of the cell's dtype, in MB
        state_mb = (c["steps"] + 1) * c["batch"] * c["hidden"] * itemsize / 1e6
        c["peak_arrays"] = c["init_profile_peak_mb"] / state_mb if memory else np.nan
        if machine:
            lines(
                axes[1, 0],
                "hidden",
                "gemm_share",
                "achieved GFLOP/s, % of this machine's GEMM rate",
                log_y=False,
            )
            axes[1, 0].axhline(100, color="0.5", ls=":", lw=1)
            if c["gemm_share"].max() > 200:  # a call-bound step GEMM (B = 1) makes the rate tiny
                axes[1, 0].set_ylim(0, 200)
                axes[1, 0].set_title(
                    f"above 200% cut off (largest {c['gemm_share'].max():.0f}%)", fontsize=9
                )
        else:
            axes[1, 0].set_axis_off()
        if memory:
            lines(axes[1, 1], "seq_len", "peak_arrays", "peak memory / one (T, B, H) state array")
        else:
            axes[1, 1].set_axis_off()
        axes[1, 2].set_axis_off()
        axes[1, 2].text(
            0,
            0.5,
            "GEMM rate: measured in each cell's job at its step shape\n"
            "(B, H) x (H, G H), same library, dtype and device.\n"
            "Useful FLOPs: 6 B G H^2 T a profile.\n"
            "Peak memory: tracemalloc (NumPy), peak RSS rise\n"
            "(torch on CPU), CUDA peak (cuda).",
            fontsize=8,
            va="center",
        )
    fig.suptitle("Speed of the forward + full BPTT pass, per backend (all cells)", fontsize=10)
    return fig


def plot_memory_capacity(tables) -> Figure | None:
    cells = frame(tables, "cells")
    if cells.empty or "memory_capacity" not in cells or cells["memory_capacity"].notna().sum() == 0:
        return None
    c = cells[cells["memory_capacity"].notna()].copy()
    c["mc_per_unit"] = c["memory_capacity"] / c["hidden"]
    c["reservoir"] = c["nonlinearity"].astype(str) + ", " + c["init"].astype(str) + " init"
    band = _median_band(c, ["reservoir", "w_rec_scale"], "mc_per_unit")
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
    fig.suptitle(f"Short-term memory capacity of echo state networks ({seed_note(c)})", fontsize=10)
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
