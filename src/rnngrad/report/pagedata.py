"""The interactive report's data: the tables once, as compact column-wise JSON in the page.

The charts (:mod:`rnngrad.report.charts`) name their data (``cells``, ``decay``) instead of
holding it. The page carries the tables once, as compact column-wise JSON, gzip-compressed
(:func:`page_data`);
its script (``templates/interactive.js``) turns them into rows, fills the named data, filters them
by the grid-axis selectors, shows a cell's gradient profile and training curve on click, and
writes the tables back out as CSV downloads. The Vega, Vega-Lite and vega-embed JavaScript is
vl-convert-python's bundle, inlined (:func:`javascript_bundle`): the page loads nothing from the
network.

Large studies keep every cell and a downsampled profile and training curve per cell: at most
about ``PROFILE_ROWS`` profile rows and ``TRAINING_ROWS`` training rows in all (the page says so).

Example
-------
>>> from rnngrad.report.pagedata import page_data
>>> data, kept = page_data(tables)  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import math
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from rnngrad.core.cellid import AXES
from rnngrad.report import analysis

PROFILE_ROWS = 200_000  # profile rows kept in the page, all cells together (large studies)
TRAINING_ROWS = 100_000  # training rows kept in the page
MIN_POINTS = 16  # a downsampled profile or training curve keeps at least this many points
SIG_DIGITS = 4  # significant digits of the profile and training values in the page
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


# -- the page's data ----------------------------------------------------------------------------
def grid_axes(cells: pd.DataFrame) -> list[str]:
    """The axes a reader filters by: ``study`` (in a comparison), the five required axes, and
    every further setting that varies within one remedy (a grid axis, not a remedy's override)."""
    axes = ["study"] if "study" in cells else []
    axes += [a for a in AXES if a in cells]
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
        + json.dumps(meta, default=json_default)
        + "".join(f',"{k}":{v}' for k, v in parts.items())
        + "}"
    )
    packed = base64.b64encode(gzip.compress(text.encode("utf-8"), compresslevel=6, mtime=0))
    return packed.decode("ascii"), kept


def json_default(v: Any) -> Any:
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
