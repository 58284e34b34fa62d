"""Figures of theory against measurement: the gradient bound, mean field at initialization and
its finite-size gap, dynamical isometry, trainability against depth scales and the curse of
memory (plot functions of :data:`rnngrad.report.figures.FIGURES`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from rnngrad.core import memory
from rnngrad.report import analysis as an
from rnngrad.report import analysis_theory as an_theory
from rnngrad.report import analysis_training as an_training
from rnngrad.report import figstyle as st

ISOMETRY_FLOOR = 1e-8  # singular values below this fraction of the largest are rounding


# -- theory against measurement ------------------------------------------------------------
def plot_theory(tables) -> Figure | None:
    cells = an.frame(tables, "cells")
    agg = an_theory.theory_points(cells)
    if agg.empty:
        return None
    nls = an.ordered(agg["nonlinearity"], tuple(an.GAMMA)) if "nonlinearity" in agg else ["tanh"]
    markers = dict(zip(nls, "osD^v", strict=False))
    fig = st.figure(11, 4.6)
    ax1, ax2 = fig.subplots(1, 2, sharey=True)
    x1 = an.log10(agg["init_spectral_norm"])
    x2 = agg["mf_decay_rate"] if "mf_decay_rate" in agg else pd.Series(np.nan, agg.index)
    for rem in an.remedy_order(agg["remedy"]):
        for nl in nls:
            m = (agg["remedy"] == rem) & (agg.get("nonlinearity", "tanh") == nl)
            if not m.any():
                continue
            kw = {"color": st.remedy_colour(rem), "marker": markers.get(nl, "o"), "s": 22}
            kw.update(alpha=0.8, edgecolor="none")
            ax1.scatter(x1[m], agg.loc[m, "init_decay_rate"], label=f"{rem} ({nl})", **kw)
            ax2.scatter(x2[m], agg.loc[m, "init_decay_rate"], **kw)
    lo, hi = min(np.nanmin(x1), -0.5), max(np.nanmax(x1), 0.5)
    xs = np.linspace(lo, hi, 50)
    for g in sorted({an.GAMMA.get(nl, 1.0) for nl in nls}, reverse=True):
        label = f"bound log10({'' if g == 1 else '1/4 * '}sigma_max)"
        ax1.plot(xs, xs + np.log10(g), color="0.3", ls="--", lw=1.2, label=label)
    if x2.notna().any():
        both = pd.concat([x2, agg["init_decay_rate"]])
        both = both[np.isfinite(both)]
        d = np.array([both.min(), both.max()])
        label = "mean field: log10(chi) / 2\n(linear, W = s Q: exact)"
        ax2.plot(d, d, color="0.3", ls=":", lw=1.4, label=label)
        ax2.legend(fontsize=7, loc="upper left")
    else:
        ax2.text(
            0.5,
            0.5,
            "no mean-field columns in these tables",
            ha="center",
            transform=ax2.transAxes,
            fontsize=9,
            color="0.4",
        )
    ax1.set_xlabel("log10 spectral_norm of W_rec (sigma_max)")
    ax2.set_xlabel("mean field's decay_rate (mf_decay_rate)")
    ax1.set_ylabel("init decay_rate (log10 factor per step)")
    for ax in (ax1, ax2):
        ax.axhline(0, color="0.8", lw=0.8)
        ax.grid(True, alpha=0.3)
    ax1.legend(fontsize=7, loc="upper left")
    note = an.seed_note(cells, band=False)
    fig.suptitle(
        f"Measured decay against the spectrum of W_rec and against the mean field "
        f"(rnn/esn cells; {note})",
        fontsize=10,
    )
    return fig


def plot_mean_field(tables) -> Figure | None:
    """Measured init decay_rate against w_rec_scale with the mean field's curve through it and
    its chi = 1 marked, a panel per distinct condition at initialization (the centrepiece)."""
    cells = an.frame(tables, "cells")
    agg, panels = an_theory.decay_panels(cells)
    stats = an_theory.mean_field_statistics(cells)
    if agg.empty or stats.empty:
        return None
    panels = [(c, b) for c, b in panels if c in set(stats["condition"])]
    if not panels:
        return None
    seq = sorted(agg["seq_len"].unique())
    colours = st.length_colours(seq)
    scales = agg["w_rec_scale"].to_numpy(float)
    edges = np.array([an_theory.mean_field_boundary(r) for _, r in stats.iterrows()])
    top = scales.max() * 1.25
    if np.isfinite(edges).any():  # reach chi = 1 where it lies a little beyond the grid
        top = max(top, min(np.nanmax(edges) * 1.08, 3 * scales.max()))
    xs = np.linspace(max(scales.min() * 0.8, 1e-3), top, 120)
    fig, axes = st.panels(len(panels), 3.5, 3.0, 1.9)
    multi = cells["backend"].nunique() > 1
    for ax, (cond, b) in zip(axes, panels, strict=False):
        d = agg[(agg["condition"] == cond) & (agg["backend"] == b)]
        for L in seq:
            m = d[d["seq_len"] == L]
            col = colours[L]
            med = m["median"].to_numpy()  # arrays: matplotlib takes float() of a 1-row Series
            err = [med - m["lo"].to_numpy(), m["hi"].to_numpy() - med]
            ax.errorbar(
                m["w_rec_scale"].to_numpy(),
                med,
                yerr=err,
                fmt="o",
                ms=4,
                color=col,
                capsize=2,
                lw=1,
                label=f"measured, T = {L}",
            )
            row = stats[(stats["condition"] == cond) & (stats["seq_len"] == L)]
            if row.empty:
                continue
            ax.plot(
                xs,
                an_theory.mean_field_curve(row.iloc[0], xs),
                color=col,
                lw=1.3,
                label=f"mean field, T = {L}",
            )
            edge = an_theory.mean_field_boundary(row.iloc[0])
            if xs[0] <= edge <= xs[-1]:
                ax.axvline(edge, color=col, ls="--", lw=1.1, label=f"chi = 1, T = {L}")
        ax.axhline(0, color="0.6", lw=0.8)
        ax.set_title(st.panel_title(cond, b, multi), fontsize=8)
        ax.grid(True, alpha=0.3)
    scaling = set(cells.get("w_rec_scaling", pd.Series(["radius"])).dropna())
    what = {"radius": "spectral radius", "sigma_w": "sigma_w"}
    xlabel = "w_rec_scale (" + " or ".join(what.get(s, s) for s in sorted(scaling)) + ")"
    st.label_panels(axes, len(panels), xlabel, "init decay_rate (log10 a step)")
    handles = [
        Line2D([], [], color=colours[L], marker="o", ms=4, lw=1.3, label=f"T = {L}") for L in seq
    ]
    handles += [
        Line2D([], [], color="0.3", marker="o", ls="none", ms=4, label="measured"),
        Line2D([], [], color="0.3", lw=1.3, label="mean field"),
        Line2D([], [], color="0.3", ls="--", lw=1.1, label="chi = 1"),
    ]
    fig.legend(handles=handles, loc="outside right upper", fontsize=7)
    note = an.seed_note(cells)
    fig.suptitle(
        "Mean field against measurement at initialization: dots measured (bars: min to max "
        f"over seeds),\nlines log10(chi) / 2 from the cells' own sigma_w, sigma_u, sigma_b; "
        f"dashed: chi = 1 ({note})",
        fontsize=10,
    )
    return fig


def plot_mean_field_size(tables) -> Figure | None:
    """|measured - mean field| against the number of units, a panel per nonlinearity and
    init, a line per w_rec_scale (the finite-size study)."""
    gaps = an_theory.mean_field_gaps(an.frame(tables, "cells"))
    if gaps.empty or "hidden" not in gaps or gaps["hidden"].nunique() < 3:
        return None
    gaps = gaps.assign(condition=an_theory.init_conditions(gaps.drop(columns="hidden")))
    conds = an_theory.condition_order(gaps["condition"])
    scales = sorted(gaps["w_rec_scale"].unique())
    colours = st.scale_colours(scales)
    fig, axes = st.panels(len(conds), 3.4, 3.0, 1.5)
    floor = 1e-4  # a gap of exactly 0 (the linear oracle) is drawn here on the log axis
    agg = an.median_band(
        gaps.assign(gap=gaps["gap"].clip(lower=floor)),
        ["condition", "w_rec_scale", "hidden"],
        "gap",
    )
    Ns = np.array(sorted(gaps["hidden"].unique()), dtype=float)
    for ax, cond in zip(axes, conds, strict=False):
        for s in scales:
            d = agg[(agg["condition"] == cond) & (agg["w_rec_scale"] == s)]
            if d.empty:
                continue
            ax.plot(d["hidden"], d["median"], "-o", ms=3, color=colours[s], label=f"{s:g}")
            ax.fill_between(d["hidden"], d["lo"], d["hi"], color=colours[s], alpha=0.15, lw=0)
        top = agg.loc[agg["condition"] == cond, "median"].max()
        ax.plot(Ns, top * np.sqrt(Ns[0] / Ns), color="0.4", ls=":", lw=1.2, label="1/sqrt(N)")
        ax.axhline(0.02, color="0.5", ls="--", lw=0.9)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(cond, fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
    st.label_panels(axes, len(conds), "hidden units N", "|init decay_rate - mf_decay_rate|")
    axes[0].legend(title="w_rec_scale", fontsize=7, title_fontsize=8)
    fig.suptitle(
        "How far the measured decay lies from the mean field as the network grows "
        f"(dashed: 0.02 a step; {an.seed_note(gaps)}, over seq_len)",
        fontsize=10,
    )
    return fig


def plot_isometry(tables) -> Figure | None:
    """The spread of the singular values of ds_T/ds_{T-k} against lag, at the scale nearest
    chi = 1, a panel per condition (dynamical isometry, Pennington et al. 2017)."""
    p = an_theory.isometry_profiles(tables)
    if p.empty:
        return None
    conds = an_theory.condition_order(p["condition"])
    fig, axes = st.panels(len(conds), 3.4, 3.0, 1.6)
    for ax, cond in zip(axes, conds, strict=False):
        d = p[p["condition"] == cond].sort_values("lag")
        # below 1e-8 of the largest a singular value is rounding (metrics.jacobian_log10_spectra)
        d = d.assign(
            jacobian_sv_min=d["jacobian_sv_min"].where(
                d["jacobian_sv_min"] >= ISOMETRY_FLOOR * d["jacobian_norm"]
            )
        )
        col = st.remedy_colour(cond.split(", ")[0].split(" (")[0])
        ax.fill_between(
            d["lag"],
            d["jacobian_sv_min"],
            d["jacobian_norm"],
            color=col,
            alpha=0.2,
            lw=0,
            label="smallest to largest",
        )
        ax.plot(d["lag"], d["jacobian_norm"], color=col, lw=1.0)
        ax.plot(d["lag"], d["jacobian_sv_min"], color=col, lw=1.0)
        ax.plot(d["lag"], d["jacobian_sv_median"], color=col, lw=1.8, ls="--", label="median")
        ax.axhline(1.0, color="0.4", ls=":", lw=1)
        ax.set_yscale("log")
        first = d.iloc[0]
        ax.set_title(
            f"{cond}\n{first['init']} W, w_rec_scale {first['w_rec_scale']:g}, "
            f"chi {first['mf_chi_median']:.2f}",
            fontsize=8,
        )
        ax.grid(True, which="major", alpha=0.3)
    st.label_panels(axes, len(conds), "lag k", "singular values of ds_T/ds_{T-k}")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(
        "Dynamical isometry: singular values of ds_T/ds_{T-k} at init, at the scale nearest "
        "chi = 1\n(first probe sequence, median over seeds; smallest shown down to 1e-8 of the "
        "largest)",
        fontsize=10,
    )
    return fig


def plot_trainability(tables) -> Figure | None:
    """Training success against seq_len in units of the mean field's depth scale."""
    c = an_theory.trainability(an.frame(tables, "cells"))
    if c.empty:
        return None
    fig = st.figure(11, 4.2)
    ax1, ax2 = fig.subplots(1, 2, sharex=True)
    for rem in an.remedy_order(c["remedy"]):
        d = c[c["remedy"] == rem]
        col = st.remedy_colour(rem)
        ok = d["success"] > 0
        ax1.scatter(
            d.loc[ok, "depths"],
            d.loc[ok, "normalized_loss"],
            color=col,
            s=22,
            label=f"{rem}, solved",
        )
        ax1.scatter(
            d.loc[~ok, "depths"],
            d.loc[~ok, "normalized_loss"],
            facecolor="none",
            edgecolor=col,
            s=22,
            label=f"{rem}, not solved",
        )
    edges = np.geomspace(c["depths"].min() * 0.999, c["depths"].max() * 1.001, 9)
    bins = pd.cut(c["depths"], edges, include_lowest=True)
    rate = c.groupby(bins, observed=True).agg(
        x=("depths", "median"), y=("success", "mean"), n=("success", "size")
    )
    ax2.plot(rate["x"], rate["y"], "-o", color="0.2", ms=4)
    for _, r in rate.iterrows():
        ax2.annotate(
            f"{int(r['n'])}",
            (r["x"], r["y"]),
            textcoords="offset points",
            xytext=(0, 5),
            fontsize=7,
            ha="center",
            color="0.4",
        )
    ax1.set_yscale("log")
    st.plain_log_y(ax1)
    ax1.axhline(1.0, color="0.5", ls=":", lw=1)
    ax1.set_ylabel("normalized_loss (final / baseline)")
    ax2.set_ylabel("fraction of runs solved (n runs per bin)")
    ax2.set_ylim(-0.03, 1.03)
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.axvline(1.0, color="0.6", ls="--", lw=1)
        ax.set_xlabel("steps / mf_depth_scale (sequence length in depth scales)")
        ax.grid(True, which="both", alpha=0.3)
    handles = [
        Line2D([], [], color=st.remedy_colour(r), marker="o", ls="none", label=r)
        for r in an.remedy_order(c["remedy"])
    ]
    handles += [
        Line2D([], [], color="0.3", marker="o", ls="none", label="solved"),
        Line2D(
            [],
            [],
            markeredgecolor="0.3",
            markerfacecolor="none",
            marker="o",
            ls="none",
            label="not solved",
        ),
    ]
    fig.legend(handles=handles, loc="outside right upper", fontsize=7)
    fig.suptitle(
        "Trainability against the mean field's depth scale: trained rnn cells with random "
        f"W_rec ({an.seed_note(c, band=False)}; {an_training.lr_note(c) or 'one lr'})",
        fontsize=10,
    )
    return fig


# -- the curse of memory ----------------------------------------------------------------------
def plot_curse_of_memory(tables) -> Figure | None:
    """init_memory_sensitivity against the memory timescale, a colour per remedy, with Zucchet
    and Orvieto's closed forms of the diagonal linear recurrence with and without the gamma
    normalization (rnngrad.core.memory.closed_form) drawn as lines."""
    cells = an.frame(tables, "cells")
    pts = an_theory.curse_of_memory(cells)
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
