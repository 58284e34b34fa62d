"""The report's interactive charts: Vega-Lite specs and the page's data, built from the tables.

The specs (built with altair) name their data (``cells``, ``decay``) instead of holding it. The
page carries the tables once, as compact column-wise JSON, gzip-compressed (:func:`page_data`);
its script (``templates/interactive.js``) turns them into rows, fills the named data, filters them
by the grid-axis selectors, shows a cell's gradient profile and training curve on click, and
writes the tables back out as CSV downloads. The Vega, Vega-Lite and vega-embed JavaScript is
vl-convert-python's bundle, inlined (:func:`javascript_bundle`): the page loads nothing from the
network.

Large studies keep every cell and a downsampled profile and training curve per cell: at most
about ``PROFILE_ROWS`` profile rows and ``TRAINING_ROWS`` training rows in all (the page says so).

Example
-------
>>> from rnngrad.interactive import chart_specs, page_data
>>> specs = chart_specs(tables)  # doctest: +SKIP
>>> data = page_data(tables)  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import math
from typing import Any

import altair as alt
import matplotlib.colors as mcolors
import numpy as np
import pandas as pd

from rnngrad import analysis, figstyle

PROFILE_ROWS = 200_000  # profile rows kept in the page, all cells together (large studies)
TRAINING_ROWS = 100_000  # training rows kept in the page
MIN_POINTS = 16  # a downsampled profile or training curve keeps at least this many points
SIG_DIGITS = 4  # significant digits of the profile and training values in the page
REQUIRED_AXES = ("backend", "remedy", "seq_len", "w_rec_scale", "seed")
# axes the charts lay out themselves; the others start at their first value, so that a
# phase-diagram tile is one cell
ALL_BY_DEFAULT = ("study", "remedy", "seq_len", "w_rec_scale")
SETTING_AXES = (  # settings that may be further grid axes (scalar keys of the config's defaults)
    "model",
    "nonlinearity",
    "init",
    "input_scale",
    "hidden",
    "dtype",
    "device",
    "task",
    "batch",
    "train_steps",
    "optimizer",
    "lr",
    "jacobian",
    "leak",
    "ridge",
    "eval_every",
    "stop_when_solved",
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


# -- the page's data ----------------------------------------------------------------------------
def grid_axes(cells: pd.DataFrame) -> list[str]:
    """The axes a reader filters by: ``study`` (in a comparison), the five required axes, and
    every further setting that varies within one remedy (a grid axis, not a remedy's override)."""
    axes = ["study"] if "study" in cells else []
    axes += [a for a in REQUIRED_AXES if a in cells]
    if "remedy" in cells and len(cells):
        by = ["study", "remedy"] if "study" in cells else ["remedy"]
        groups = cells.groupby(by, observed=True)
        axes += [
            c for c in SETTING_AXES if c in cells and (groups[c].nunique(dropna=False) > 1).any()
        ]
    return axes


def axis_values(cells: pd.DataFrame, axis: str) -> list:
    """An axis's values in the report's fixed order (remedies and backends as the figures)."""
    values = cells[axis].dropna()
    if axis == "remedy":
        return analysis.remedy_order(values)
    if axis == "backend":
        return analysis.ordered(values, analysis.BACKEND_ORDER)
    if axis == "study":
        return list(dict.fromkeys(values.astype(str)))  # the order given
    return sorted(values.unique().tolist(), key=lambda v: (isinstance(v, str), v))


def _numbers(s: pd.Series, digits: int | None) -> list[str]:
    """Numbers as JSON text: exact (``repr``) or to ``digits`` significant digits, whole ones
    as integers, ``1e999`` for inf (JavaScript parses it as Infinity), null for NaN or NA."""
    if pd.api.types.is_bool_dtype(s):
        return ["null" if _missing(v) else "true" if v else "false" for v in s.astype(object)]
    a = s.to_numpy(dtype=float, na_value=np.nan)
    fmt = repr if digits is None else f"{{:.{digits}g}}".format
    out = np.array([fmt(v) for v in a.tolist()], dtype=object)
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(a) & (a == np.round(a)) & (np.abs(a) < 1e15)
    out[whole] = [str(v) for v in a[whole].astype(np.int64).tolist()]
    out[np.isnan(a)] = "null"
    out[a == np.inf] = "1e999"
    out[a == -np.inf] = "-1e999"
    return out.tolist()


def _column(s: pd.Series, digits: int | None) -> str:
    """One column as JSON text: a constant, a dictionary of strings with codes, or a list."""
    if s.nunique(dropna=False) <= 1 and len(s) > 1:
        return '{"const":' + _value(s.iloc[:1], digits) + "}"
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        return "[" + ",".join(_numbers(s, digits)) + "]"
    codes, uniques = pd.factorize(s.astype(object), use_na_sentinel=True)
    if len(uniques) * 2 < len(s):
        return (
            '{"dict":'
            + json.dumps([str(u) for u in uniques])
            + ',"codes":['
            + ",".join(map(str, codes))
            + "]}"
        )
    return json.dumps([None if _missing(v) else str(v) for v in s.astype(object)])


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def _value(one: pd.Series, digits: int | None) -> str:
    """The value of a one-row column as JSON text."""
    v = one.iloc[0]
    if _missing(v):
        return "null"
    if pd.api.types.is_bool_dtype(one) or pd.api.types.is_numeric_dtype(one):
        return _numbers(one, digits)[0]
    return json.dumps(str(v))


def _table(df: pd.DataFrame, digits: int | None) -> str:
    """A table as JSON text: its number of rows and its columns, in order."""
    cols = ",".join(json.dumps(str(c)) + ":" + _column(df[c], digits) for c in df.columns)
    return '{"n":' + str(len(df)) + ',"columns":{' + cols + "}}"


def _keep(n: int, m: int) -> np.ndarray:
    """At most ``m`` of the positions 0..n-1: the ends, half evenly spaced, half log-spaced (short
    lags, where a profile changes fastest, stay dense)."""
    if n <= m:
        return np.arange(n)
    lin = np.linspace(0, n - 1, m // 2)
    log = np.geomspace(1, n, m - m // 2) - 1
    return np.unique(np.concatenate([lin, log, [0, n - 1]]).round().astype(int))


def downsample(groups: np.ndarray, order: np.ndarray, budget: int) -> np.ndarray:
    """Positions of the rows to keep of a long table whose rows belong to ``groups`` (one cell's
    profile or curve each; -1: a row to drop) and are ordered within a group by ``order``: every
    group cut to the same number of points so that all together stay near ``budget`` rows.
    The positions come sorted by group, then order."""
    idx = np.flatnonzero(groups >= 0)
    idx = idx[np.lexsort((order[idx], groups[idx]))]
    if len(idx) <= budget:
        return idx
    g = groups[idx]
    starts = np.r_[0, np.flatnonzero(np.diff(g)) + 1]
    sizes = np.diff(np.r_[starts, len(g)])
    per = max(MIN_POINTS, budget // len(starts))
    pos = np.arange(len(g)) - np.repeat(starts, sizes)
    size = np.repeat(sizes, sizes)
    keep = np.zeros(len(g), bool)
    for n in np.unique(sizes):
        keep |= (size == n) & np.isin(pos, _keep(int(n), per))
    return idx[keep]


def _cell_rows(long: pd.DataFrame, cells: pd.DataFrame) -> np.ndarray:
    """Per row of a long table, its cell's (and study's) row number in ``cells``; -1 if none."""
    ids = pd.Index(cells["cell_id"].astype(str).unique())
    if "study" in cells and "study" in long:
        studies = pd.Index(cells["study"].astype(str).unique())
        s_cells = studies.get_indexer(cells["study"].astype(str))
        s_long = studies.get_indexer(long["study"].astype(str))
    else:
        studies = pd.Index([""])
        s_cells, s_long = np.zeros(len(cells), int), np.zeros(len(long), int)
    row_of = np.full((len(studies), len(ids)), -1)
    row_of[s_cells, ids.get_indexer(cells["cell_id"].astype(str))] = np.arange(len(cells))
    i_long = ids.get_indexer(long["cell_id"].astype(str))
    return np.where((s_long >= 0) & (i_long >= 0), row_of[s_long, i_long], -1)


def _long_table(long: pd.DataFrame, cells: pd.DataFrame, order: str, budget: int) -> pd.DataFrame:
    """A long table for the page: its cell (and study) replaced by the cell's row number
    ``cell``, downsampled per cell (and phase) to about ``budget`` rows."""
    if long.empty or cells.empty:
        return pd.DataFrame(columns=["cell"])
    rows = _cell_rows(long, cells)
    groups = rows
    if "phase" in long:
        phase, names = pd.factorize(long["phase"])
        groups = np.where(rows >= 0, rows * len(names) + phase, -1)
    keep = downsample(groups, long[order].to_numpy(), budget)
    small = long.iloc[keep].drop(columns=[c for c in ("study", "cell_id") if c in long])
    return pd.concat([pd.DataFrame({"cell": rows[keep]}, index=small.index), small], axis=1)


def page_data(tables: Any) -> tuple[str, dict[str, dict[str, int]]]:
    """The page's data, JSON gzip-compressed in base64 (the browser unpacks it with its own
    DecompressionStream): the cells table whole (exact values), the profiles and training
    curves (``SIG_DIGITS`` significant digits, downsampled past ``PROFILE_ROWS`` and
    ``TRAINING_ROWS`` rows), and what the selectors offer; and per long table the rows kept of
    all (``{"rows": kept, "of": all}``)."""
    cells = analysis.frame(tables, "cells").reset_index(drop=True)
    parts, kept = {}, {}
    parts["cells"] = _table(cells, None)
    for name, order, budget in (
        ("profiles", "lag", PROFILE_ROWS),
        ("training", "step", TRAINING_ROWS),
    ):
        long = analysis.frame(tables, name)
        small = _long_table(long, cells, order, budget)
        kept[name] = {"rows": len(small), "of": len(long)}
        parts[name] = _table(small, SIG_DIGITS)
    axes = grid_axes(cells)
    values = {a: axis_values(cells, a) for a in axes}
    meta = {
        "axes": axes,
        "values": values,
        "defaults": {
            a: "all" if a in ALL_BY_DEFAULT or len(values[a]) <= 1 else values[a][0] for a in axes
        },
    }
    text = (
        '{"meta":'
        + json.dumps(meta, default=_json_default)
        + "".join(f',"{k}":{v}' for k, v in parts.items())
        + "}"
    )
    packed = base64.b64encode(gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0))
    return packed.decode("ascii"), kept


def _json_default(v: Any) -> Any:
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return str(v)


def script_safe(text: str) -> str:
    """JSON text that cannot close its ``<script>`` element (``<`` only occurs in strings)."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@functools.lru_cache(maxsize=1)
def javascript_bundle() -> str:
    """Vega, Vega-Lite (altair's version) and vega-embed in one script that defines
    ``window.vegaEmbed``; its top-level names stay in a function scope."""
    import vl_convert

    version = alt.SCHEMA_VERSION.lstrip("v").rsplit(".", 1)[0]
    js = vl_convert.javascript_bundle(vl_version=version)
    if "</script" in js.lower():
        raise ValueError("the Vega bundle contains '</script' and cannot be inlined")
    return "(function () {\n" + js + "\n})();"


# -- the charts ---------------------------------------------------------------------------------
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
    r = cells["init_decay_rate"].to_numpy(float)
    finite = np.abs(r[np.isfinite(r)])
    vmax = max(0.05, float(np.quantile(finite, 0.98))) if len(finite) else 0.5
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
    t = analysis.trained_cells(cells) if not cells.empty else cells
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
        "specs": script_safe(json.dumps(specs, default=_json_default)),
        "data": data,
        "bundle": javascript_bundle(),
        "charts": [{"name": c["name"], "title": c["title"]} for c in charts],
        "kept": kept,
    }
