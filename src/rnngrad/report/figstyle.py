"""The house style of the figures, shared by :mod:`rnngrad.report.figures`, the report and its
interactive section: one fixed colour per remedy, the diverging map of log10 ratios, figure and
panel layout, axis formats, the unrolled chain's drawing primitives and the saved formats.

Colours are Okabe-Ito first, then Paul Tol's muted scheme: distinguishable with any
colour-vision deficiency. Log10 ratios use a diverging map centred at 0: blue where gradients
vanish, red where they explode. Figures are :class:`matplotlib.figure.Figure` objects made
without pyplot, so nothing here chooses a matplotlib backend.

Example
-------
>>> from rnngrad import figstyle
>>> figstyle.remedy_colour("lstm")
'#332288'
"""

from __future__ import annotations

import math
import zlib

import matplotlib
import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, Rectangle

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
    "exprnn": "#CC6677",
    "antisymmetric": "#88CCEE",
    "indrnn": "#661100",
    "lru": "#117733",
}
# a remedy without a fixed colour (one a study's config defines, a plugin's) gets one of these,
# chosen by its name alone: the same in every figure and study, and none a built-in's
EXTRA_COLOURS = (
    "#888888",
    "#6699CC",
    "#DDCC77",
    "#AA4466",
    "#004488",
    "#997700",
    "#EE99AA",
    "#994455",
)
BACKEND_MARKERS = {"numpy": "o", "torch": "s"}
DIVERGING = "RdBu_r"  # log10 ratio < 0 (vanishing) blue, > 0 (exploding) red
MAX_DIAGRAM_NODES = 16  # the unrolled diagram shows at most this many states
LOSS_CAP = 100.0  # normalized_loss axes stop here: a blown-up cell (1e30) would squash the rest
NO_DATA = "no data for this figure in this study"
DPI = 110


# -- colours ---------------------------------------------------------------------------------
def remedy_colour(name: str) -> str:
    """The fixed colour of a remedy; other names (a config's, a plugin's) get a stable extra
    colour, by a CRC-32 of the name (stable across processes, unlike hash())."""
    if name in REMEDY_COLOURS:
        return REMEDY_COLOURS[name]
    return EXTRA_COLOURS[zlib.crc32(name.encode()) % len(EXTRA_COLOURS)]


def remedy_palette(names) -> dict[str, str]:
    """Colours of several remedies drawn together: the fixed ones, and for names without one
    the extra colours in turn (distinct while there are enough of them, unlike
    :func:`remedy_colour`'s stable choice)."""
    spare = iter([c for c in EXTRA_COLOURS if c not in REMEDY_COLOURS.values()] * len(names))
    return {n: REMEDY_COLOURS[n] if n in REMEDY_COLOURS else next(spare) for n in names}


def scale_colours(scales) -> dict:
    """Scales below 1 blue, above 1 red, 1 grey: the same reading as the phase diagram (the
    map's pale middle is skipped so every line stays visible on white)."""
    logs = np.log10(np.asarray(scales, dtype=float).clip(1e-12))
    vmax = max(float(np.max(np.abs(logs))), 1e-6)
    cmap = matplotlib.colormaps[DIVERGING]
    return {
        s: "0.35" if lg == 0 else cmap(0.5 + np.sign(lg) * (0.2 + 0.3 * abs(lg) / vmax))
        for s, lg in zip(scales, logs, strict=False)
    }


def length_colours(values) -> dict:
    """A colour per sequence length, short to long along viridis (its pale end skipped)."""
    cmap = matplotlib.colormaps["viridis"]
    n = max(len(values) - 1, 1)
    return {v: cmap(0.1 + 0.7 * i / n) for i, v in enumerate(values)}


# -- layout ----------------------------------------------------------------------------------
def figure(width: float, height: float) -> Figure:
    """An empty figure of ``width`` x ``height`` inches with constrained layout."""
    return Figure(figsize=(width, height), layout="constrained")


def panels(n: int, width: float, height: float, extra: float) -> tuple[Figure, np.ndarray]:
    """A figure of ``n`` panels sharing both axes, at most 4 a row, each ``width`` x ``height``
    inches (``extra`` inches more for a legend); the panels as a flat array."""
    ncols = min(n, 4)
    nrows = math.ceil(n / ncols)
    fig = figure(width * ncols + extra, height * nrows + 0.6)
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False)
    return fig, axes.ravel()


def label_panels(axes: np.ndarray, n: int, xlabel: str, ylabel: str) -> None:
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
    fig = figure(6, 1.6)
    ax = fig.subplots()
    ax.set_axis_off()
    text = f"{name}: {NO_DATA}" + (f"\n({why})" if why else "")
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=11, wrap=True)
    return fig


# -- axes ------------------------------------------------------------------------------------
def log_ticks(ax, values) -> None:
    """A log x axis ticked at the study's own values, written as plain numbers."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(sorted(set(values))))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())


def plain_log_y(ax) -> None:
    """Log y axis labels as plain numbers (0.5, 2) rather than 5x10^-1 on short ranges."""
    plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
    lo, hi = ax.get_ylim()
    ax.yaxis.set_major_formatter(plain)
    # within two decades the major ticks alone leave the axis nearly unlabelled: label minors
    ax.yaxis.set_minor_formatter(plain if hi < 100 * lo else matplotlib.ticker.NullFormatter())


def cap_loss_axis(ax, loss: pd.DataFrame) -> None:
    """Stop a log normalized_loss axis at ``LOSS_CAP`` when the band (``lo``, ``median``,
    ``hi`` by ``remedy`` and ``seq_len``) goes beyond it, and mark with a triangle on the top
    edge each remedy and seq_len whose values were cut off."""
    over = loss[~(loss["hi"] <= LOSS_CAP)]  # inf and nan (overflow) are cut off too
    if over.empty:
        return
    shown = loss[["lo", "median"]].to_numpy(dtype=float).ravel()
    shown = shown[np.isfinite(shown) & (shown > 0) & (shown <= LOSS_CAP)]
    ax.set_ylim(float(shown.min()) / 1.5 if len(shown) else LOSS_CAP / 1e3, LOSS_CAP)
    kw = {"marker": "^", "s": 40, "clip_on": False, "edgecolor": "white", "lw": 0.5, "zorder": 5}
    for rem, d in over.groupby("remedy", sort=False):
        ax.scatter(d["seq_len"], np.full(len(d), LOSS_CAP), color=remedy_colour(str(rem)), **kw)
    title = f"\u25b2 values above {LOSS_CAP:g} cut off (largest {loss['hi'].max():.1e})"
    ax.set_title(title, fontsize=8, loc="right", color="0.3")


# -- the unrolled chain ----------------------------------------------------------------------
def arrow(ax, start, end, **kw) -> None:
    """A grey arrow of the unrolled diagram (``kw`` overrides its style)."""
    style = {"arrowstyle": "-|>", "mutation_scale": 8, "color": "0.6", "lw": 0.8, **kw}
    ax.add_patch(FancyArrowPatch(start, end, **style))


def draw_chain(ax, rel: np.ndarray, cmap, norm, vmax: float) -> None:
    """One chain x_t -> h_t -> ... -> h_T -> L with backward arrows coloured and sized by
    ``rel`` (log10 of grad_norm relative to the last step, by lag)."""
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
            arrow(ax, (x, -0.85), (x, -r))
    for i in range(1, len(xs)):
        arrow(ax, (xs[i - 1] + r, 0), (xs[i] - r, 0))
        if ts[i] - ts[i - 1] > 1:
            ax.text((xs[i - 1] + xs[i]) / 2, -0.16, "...", ha="center", fontsize=8, color="0.4")
    ax.add_patch(Rectangle((xs[-1] - 0.25, 0.85), 0.5, 0.4, fc="0.92", ec="0.5", zorder=3))
    ax.text(xs[-1], 1.05, "L", ha="center", va="center", fontsize=8, zorder=4)
    arrow(ax, (xs[-1], r), (xs[-1], 0.85))
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
        arrow(ax, (xs[i] - 0.1, r), (xs[i - 1] + 0.1, r), **style)
    ax.set_xlim(-0.6, xs[-1] + 0.8)
    ax.set_ylim(-1.4, 1.4)
    ax.set_aspect("equal")
    ax.set_axis_off()


def panel_title(condition: str, backend: str, multi_backend: bool) -> str:
    """A panel's title: its condition (wrapped after two remedies), and its backend where the
    study has two."""
    parts = condition.split(", ")
    lines = [", ".join(parts[i : i + 2]) for i in range(0, len(parts), 2)]
    return "\n".join(lines) + (f" | {backend}" if multi_backend else "")
