"""The report's interactive charts: Vega-Lite specs built with altair from the cells table.

Each spec names its data (``cells``, ``decay``) instead of holding it; the page's script fills
it from the data that :mod:`rnngrad.report.pagedata` puts in the page, filters it by the
grid-axis selectors and shows a cell's gradient profile and training curve on click
(:func:`detail_profile`, :func:`detail_training`). :func:`page_parts` gathers what the
report's template inlines.

Example
-------
>>> from rnngrad.report.charts import chart_specs
>>> specs = chart_specs(tables)  # doctest: +SKIP
"""

from __future__ import annotations

import json
from typing import Any

import altair as alt
import matplotlib.colors as mcolors
import pandas as pd

from rnngrad.report import analysis, analysis_training, figstyle
from rnngrad.report.pagedata import (
    axis_values,
    grid_axes,
    javascript_bundle,
    json_default,
    page_data,
    script_safe,
)

WIDTH = 150  # px of one facet
# facets a row and the width of a solved-against-seq_len panel: with legends on top, every chart
# fits the charts' column beside the cell panel from a 1280 px window up (about 790 px)
FACET_COLUMNS = 3
SOLVED_WIDTH = 160
EMBED_OPTIONS = {  # vega-embed: export buttons only (its editor links would leave the page)
    "actions": {"export": True, "source": False, "compiled": False, "editor": False},
    "tooltip": {"theme": "light"},
}


def _tooltip(cells: pd.DataFrame, value: list[tuple[str, str]]) -> list[alt.Tooltip]:
    """The cell's id, its grid settings and the chart's value(s), full precision."""
    tips = [alt.Tooltip("cell_id:N", title="cell")]
    tips += [alt.Tooltip(f"{a}:N") for a in grid_axes(cells)]
    tips += [alt.Tooltip(f"{c}:Q", format=fmt) for c, fmt in value]
    if "status" in cells:
        tips.append(alt.Tooltip("status:N"))
    return tips


def _remedy_colour(cells: pd.DataFrame) -> alt.Color:
    order = axis_values(cells, "remedy")
    return alt.Color(
        "remedy:N",
        scale=alt.Scale(domain=order, range=[figstyle.remedy_colour(r) for r in order]),
        sort=order,
        legend=alt.Legend(orient="top", columns=4),
    )


def _facet(chart: alt.Chart, cells: pd.DataFrame, column: str, sort: list) -> alt.FacetChart:
    """Facets per ``column``: wrapped, or a row per study in a comparison."""
    if "study" in cells:
        return chart.facet(
            row=alt.Row("study:N", sort=axis_values(cells, "study")),
            column=alt.Column(f"{column}:N", sort=sort),
        )
    return chart.facet(facet=alt.Facet(f"{column}:N", sort=sort), columns=FACET_COLUMNS)


def phase_diagram(cells: pd.DataFrame) -> dict | None:
    """A tile per cell: seq_len across, w_rec_scale up, colour the init decay_rate (the per-step
    log10 factor, comparable across seq_len; clipped as in the seaborn figure), the mean field's
    prediction in the tooltip; backends side by side and seeds stacked inside a tile."""
    if cells.empty or "init_decay_rate" not in cells:
        return None
    vmax = analysis.colour_limit(cells["init_decay_rate"])
    shown = [("init_decay_rate", ".4g")]
    shown += [(c, ".4g") for c in ("mf_decay_rate", "mf_chi") if c in cells]
    chart = (
        alt.Chart(alt.NamedData(name="cells"))
        .transform_calculate(
            shown=f"isValid(datum.init_decay_rate) ? "
            f"clamp(datum.init_decay_rate, {-vmax}, {vmax}) : null"
        )
        .mark_rect(stroke="white", strokeWidth=0.5)
        .encode(
            x=alt.X("seq_len:O", title="seq_len"),
            y=alt.Y("w_rec_scale:O", sort="descending", title="w_rec_scale"),
            xOffset=alt.XOffset("backend:N", sort=axis_values(cells, "backend")),
            yOffset=alt.YOffset("seed:O"),
            color=alt.Color(
                "shown:Q",
                scale=alt.Scale(scheme="redblue", reverse=True, domain=[-vmax, vmax], domainMid=0),
                title="init decay_rate",
                legend=alt.Legend(orient="top"),
            ),
            tooltip=_tooltip(cells, shown),
        )
        .properties(width=WIDTH, height=WIDTH)
    )
    return _facet(chart, cells, "remedy", axis_values(cells, "remedy")).to_dict()


def mean_field(cells: pd.DataFrame) -> dict | None:
    """Measured init decay_rate (points) and the mean field's mf_decay_rate (lines) against
    w_rec_scale, a colour per seq_len, a panel per remedy; cells without a mean field (gated
    models, the identity init) are left out."""
    if cells.empty or "mf_decay_rate" not in cells or cells["mf_decay_rate"].isna().all():
        return None
    base = alt.Chart()
    colour = alt.Color(
        "seq_len:O", scale=alt.Scale(scheme="viridis"), legend=alt.Legend(orient="top")
    )
    x = alt.X("w_rec_scale:Q", title="w_rec_scale")
    points = base.mark_circle(size=36, opacity=0.8).encode(
        x=x,
        y=alt.Y("init_decay_rate:Q", title="init decay_rate (log10 a step)"),
        color=colour,
        tooltip=_tooltip(
            cells, [("init_decay_rate", ".4g"), ("mf_decay_rate", ".4g"), ("mf_chi", ".4g")]
        ),
    )
    lines = base.mark_line(strokeWidth=1.2).encode(
        x=x, y="median(mf_decay_rate):Q", color=colour, detail="backend:N"
    )
    chart = alt.layer(lines, points, data=alt.NamedData(name="cells")).properties(
        width=WIDTH + 30, height=WIDTH
    )
    # filtered before the facets, so that remedies without a mean field get no empty panel
    keep = "isValid(datum.mf_decay_rate) && isFinite(datum.init_decay_rate)"
    facets = _facet(chart, cells, "remedy", axis_values(cells, "remedy"))
    return facets.transform_filter(keep).to_dict()


def decay_curves(cells: pd.DataFrame) -> dict | None:
    """grad_norm[k] / grad_norm[0] against lag k at initialization, a line per cell, coloured
    by w_rec_scale (blue below 1, red above, as the phase diagram)."""
    if cells.empty:
        return None
    scales = axis_values(cells, "w_rec_scale")
    colours = {s: mcolors.to_hex(c) for s, c in figstyle.scale_colours(scales).items()}
    chart = (
        alt.Chart(alt.NamedData(name="decay"))
        .mark_line(strokeWidth=1.2, clip=True)
        .encode(
            x=alt.X("lag:Q", title="lag k = T - t"),
            y=alt.Y("relative:Q", scale=alt.Scale(type="log"), title="grad_norm[k] / grad_norm[0]"),
            color=alt.Color(
                "w_rec_scale:O",
                scale=alt.Scale(domain=scales, range=[colours[s] for s in scales]),
                legend=alt.Legend(orient="top"),
            ),
            detail="cell:N",
            tooltip=_tooltip(cells, [("init_decay_rate", ".4g")]),
        )
        .properties(width=WIDTH + 30, height=WIDTH)
    )
    return _facet(chart, cells, "remedy", axis_values(cells, "remedy")).to_dict()


def remedy_decay(cells: pd.DataFrame) -> dict | None:
    """decay_rate after training against at initialization, a point per cell, per seq_len."""
    if cells.empty or "trained_decay_rate" not in cells or cells["trained_decay_rate"].isna().all():
        return None
    chart = (
        alt.Chart(alt.NamedData(name="cells"))
        .transform_filter("isFinite(datum.init_decay_rate) && isFinite(datum.trained_decay_rate)")
        .mark_point(filled=True, size=40, opacity=0.8)
        .encode(
            x=alt.X("init_decay_rate:Q", title="decay_rate at initialization"),
            y=alt.Y("trained_decay_rate:Q", title="decay_rate after training"),
            color=_remedy_colour(cells),
            shape=alt.Shape("backend:N", sort=axis_values(cells, "backend")),
            tooltip=_tooltip(cells, [("init_decay_rate", ".6g"), ("trained_decay_rate", ".6g")]),
        )
        .properties(width=WIDTH + 30, height=WIDTH + 30)
    )
    return _facet(chart, cells, "seq_len", axis_values(cells, "seq_len")).to_dict()


def solved_vs_seq_len(cells: pd.DataFrame) -> dict | None:
    """Per trained cell its accuracy (and steps_to_solve where recorded) against seq_len, remedies
    side by side; beside it the fraction of cells solved per remedy and seq_len."""
    t = analysis_training.trained_cells(cells) if not cells.empty else cells
    if t.empty or "accuracy" not in t:
        return None
    remedies = axis_values(cells, "remedy")
    base = alt.Chart(alt.NamedData(name="cells")).transform_filter(
        "isValid(datum.accuracy) || datum.status === 'diverged'"
    )
    if "study" not in cells:
        return alt.hconcat(*_solved_panels(base, t, remedies)).to_dict()
    rows = [
        alt.hconcat(
            *_solved_panels(base.transform_filter(alt.datum.study == s), t, remedies)
        ).properties(title=f"study {s}")
        for s in axis_values(cells, "study")
    ]
    return alt.vconcat(*rows).to_dict()


def _solved_panels(base: alt.Chart, t: pd.DataFrame, remedies: list[str]) -> list[alt.Chart]:
    colour = _remedy_colour(t)
    x = alt.X("seq_len:O", title="seq_len")
    panels = [
        base.mark_circle(size=36, opacity=0.8)
        .encode(
            x=x,
            xOffset=alt.XOffset("remedy:N", sort=remedies),
            y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1])),
            color=colour,
            tooltip=_tooltip(t, [("accuracy", ".6g"), ("normalized_loss", ".4g")]),
        )
        .properties(width=SOLVED_WIDTH, height=220, title="accuracy of each cell")
    ]
    if "steps_to_solve" in t and t["steps_to_solve"].notna().any():
        panels.append(
            base.transform_filter("isValid(datum.steps_to_solve)")
            .mark_circle(size=36, opacity=0.8)
            .encode(
                x=x,
                xOffset=alt.XOffset("remedy:N", sort=remedies),
                y=alt.Y("steps_to_solve:Q", scale=alt.Scale(type="log")),
                color=colour,
                tooltip=_tooltip(t, [("steps_to_solve", "d"), ("accuracy", ".6g")]),
            )
            .properties(width=SOLVED_WIDTH, height=220, title="steps to solve (solved cells)")
        )
    panels.append(
        base.transform_calculate(solved_num="datum.solved ? 1 : 0")
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y("mean(solved_num):Q", title="fraction solved", scale=alt.Scale(domain=[0, 1])),
            color=colour,
            tooltip=["remedy:N", "seq_len:O", alt.Tooltip("mean(solved_num):Q", format=".3f")],
        )
        .properties(width=SOLVED_WIDTH, height=220, title="fraction solved (accuracy >= 0.99)")
    )
    return panels


def detail_profile() -> dict:
    """The clicked cell's grad_norm against lag, both phases (data ``detail_profile``)."""
    return (
        alt.Chart(alt.NamedData(name="detail_profile"))
        .transform_filter("datum.grad_norm > 0 && isFinite(datum.grad_norm)")
        .mark_line(point=True)
        .encode(
            x=alt.X("lag:Q", title="lag k"),
            y=alt.Y("grad_norm:Q", scale=alt.Scale(type="log")),
            color=alt.Color("phase:N", sort=["init", "trained"], legend=alt.Legend(orient="top")),
            tooltip=["phase:N", "lag:Q", alt.Tooltip("grad_norm:Q", format=".4g")],
        )
        .properties(width=280, height=180, title="gradient profile")
        .to_dict()
    )


def detail_training() -> dict:
    """The clicked cell's training loss against step (data ``detail_training``)."""
    return (
        alt.Chart(alt.NamedData(name="detail_training"))
        .transform_filter("datum.loss > 0 && isFinite(datum.loss)")
        .mark_line(point=True)
        .encode(
            x=alt.X("step:Q"),
            y=alt.Y("loss:Q", scale=alt.Scale(type="log")),
            tooltip=["step:Q", alt.Tooltip("loss:Q", format=".4g")],
        )
        .properties(width=280, height=180, title="training loss")
        .to_dict()
    )


# (name, title, the spec's data, the value shown for a clicked cell, builder)
CHARTS = (
    ("mean_field", "Mean field against measurement", "cells", "init_decay_rate", mean_field),
    ("phase_diagram", "Phase diagram", "cells", "init_decay_rate", phase_diagram),
    ("decay_curves", "Decay curves", "decay", "init_decay_rate", decay_curves),
    ("remedy_decay", "Remedy decay before and after", "cells", "trained_decay_rate", remedy_decay),
    ("solved_vs_seq_len", "Solved against seq_len", "cells", "accuracy", solved_vs_seq_len),
)


def chart_specs(tables: Any) -> list[dict[str, Any]]:
    """The interactive charts that the study's tables can draw, each as ``name``, ``title``,
    ``data`` (the named data it reads), ``value`` (the column shown for a clicked cell) and
    ``spec`` (Vega-Lite)."""
    cells = analysis.frame(tables, "cells")
    out = []
    for name, title, data, value, build in CHARTS:
        spec = build(cells)
        if spec is not None:
            out.append({"name": name, "title": title, "data": data, "value": value, "spec": spec})
    return out


def page_parts(tables: Any) -> dict[str, Any]:
    """What the report's template (``interactive.html.j2``) inlines: ``specs`` (the charts, the
    detail charts and the embed options, JSON), ``data`` (JSON), ``bundle`` (JavaScript),
    ``charts`` (name and title of each) and ``kept`` (rows kept per long table)."""
    charts = chart_specs(tables)
    detail = {"profile": detail_profile(), "training": detail_training()}
    specs = {"charts": charts, "detail": detail, "embed": EMBED_OPTIONS}
    data, kept = page_data(tables)
    return {
        "specs": script_safe(json.dumps(specs, default=json_default)),
        "data": data,
        "bundle": javascript_bundle(),
        "charts": [{"name": c["name"], "title": c["title"]} for c in charts],
        "kept": kept,
    }
