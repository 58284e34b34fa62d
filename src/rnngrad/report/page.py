"""The HTML report of a study: one self-contained file built from the tables alone.

Figures are embedded as base64 PNG (the saved ones under ``figures_dir``, redrawn from the tables
where missing), tables inline, and a small inline script sorts and filters the cells table; the
interactive charts, their data and the Vega JavaScript are inlined too (rnngrad.report.charts): the
page opens offline and loads nothing from the network. Every user string (study, remedy and
setting names) goes through Jinja2's autoescaping.

Example
-------
>>> from rnngrad.report.page import build_report
>>> build_report("default", "results/default/tables", "results/default/figures",
...              "reports/default.html")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
import math
import platform
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from jinja2 import Environment, PackageLoader, select_autoescape

from rnngrad.core.cellid import AXES
from rnngrad.core.files import atomic_write
from rnngrad.report import (
    analysis,
    analysis_theory,
    analysis_training,
    charts,
    claims,
    figstyle,
    figures,
)
from rnngrad.report.images import figure_png
from rnngrad.report.remedies import plugin_list, remedy_notes
from rnngrad.run.provenance import PROVENANCE
from rnngrad.study.columns import describe_column
from rnngrad.study.tables import TABLES, read_tables

MAX_LISTED_VALUES = 10  # distinct values of a provenance column listed (settings_hash: per cell)
MAX_LISTED_PAIRS = 50  # non-agreeing backend pairs listed by name (disagreeing first)
LEARNS_BELOW = 0.5  # median normalized_loss below this: the summary says the remedy learns


# -- data ---------------------------------------------------------------------------------------
def methods_table(cells: pd.DataFrame) -> pd.DataFrame:
    """How each remedy's rows were trained and what they reached: method (in the papers'
    words), optimizer, lr, batch, budget, early stopping, runs, solved and the median steps to
    solve (those two per task, "adding 4/6", where the study has several); a row per remedy
    (fixed order), empty when nothing trained."""
    t = analysis_training.trained_cells(cells)
    if t.empty:
        return pd.DataFrame()
    t = t.assign(method=claims.method(t), remedy=t["remedy"].astype(str))

    def values(col: str, d: pd.DataFrame) -> str:
        if col not in d:
            return ""
        return "/".join(_fmt(v) for v in sorted(d[col].dropna().unique(), key=str)) or "-"

    rows = []
    for rem in analysis.remedy_order(t["remedy"]):
        d = t[t["remedy"] == rem]
        fitted = bool((d["method"] == "ESN").all())  # a closed-form readout: no optimizer
        stop = d["stop_when_solved"].fillna(False).astype(bool) if "stop_when_solved" in d else None
        every = values("eval_every", d)
        stopping = (
            f"at the first solved evaluation (every {every} steps)"
            if stop is not None and stop.all()
            else "no (fixed budget)"
        )
        if fitted:
            stopping = "- (fitted once)"
        solved, median_to_solve = [], []  # a task each where the study has several
        for task in analysis.tasks_in(t):
            dt = analysis.of_task(d, task)
            to_solve = (
                dt["steps_to_solve"].astype("Float64").dropna()
                if "steps_to_solve" in dt
                else pd.Series(dtype=float)
            )
            k = int(analysis.succeeded(dt).sum())
            m = _fmt(float(to_solve.median())) if len(to_solve) else ""
            solved.append(f"{task} {k}/{len(dt)}" if task else k)
            median_to_solve.append(f"{task} {m}" if task and m else m)
        rows.append(
            {
                "remedy": rem,
                "method": values("method", d),
                "optimizer": "ridge readout" if fitted else values("optimizer", d),
                "lr": "-" if fitted else values("lr", d),
                "batch": values("batch", d),
                "budget (steps)": values("train_steps", d),
                "early stopping": stopping,
                "runs": len(d),
                "solved": solved[0] if len(solved) == 1 else ", ".join(solved),
                "steps to solve (median)": ", ".join(x for x in median_to_solve if x),
            }
        )
    return pd.DataFrame(rows)


def learning_rows(table: pd.DataFrame) -> list[dict[str, Any]]:
    """:func:`rnngrad.report.analysis_training.learning_table` as rows of the summary: each value
    at 3 significant digits with its class, ``learns`` below ``LEARNS_BELOW``, ``beats`` below
    chance (1)."""

    def cell(v: float) -> dict[str, str]:
        cls = "learns" if v < LEARNS_BELOW else "beats" if v < 1.0 else ""
        return {"text": "" if np.isnan(v) else f"{v:.3g}", "cls": cls}

    return [
        {
            "remedy": rem,
            "colour": figstyle.remedy_colour(rem),
            "values": [cell(float(v)) for v in row],
        }
        for rem, row in table.iterrows()
    ]


def findings(tables) -> dict[str, Any]:
    """Numbers and sentences of the summary, computed from the tables."""
    cells = analysis.frame(tables, "cells")
    f: dict[str, Any] = {"n_cells": len(cells)}
    if cells.empty:
        return f
    f["runtime_s"] = float(cells["runtime_s"].sum()) if "runtime_s" in cells else float("nan")
    f["status"] = cells["status"].value_counts().to_dict() if "status" in cells else {}
    axes = [a for a in AXES if a in cells]
    axes += [
        c
        for c in ("lr", "hidden", "model", "nonlinearity", "init", "task", "dtype")
        if c in cells and cells[c].nunique() > 1 and c not in axes
    ]
    f["grid"] = [(a, ", ".join(_fmt(v) for v in _sorted_values(cells, a))) for a in axes]
    f["seeds"] = analysis.n_seeds(cells)
    f["seed_note"] = analysis.seed_note(cells)
    hashes = (
        sorted(cells["code_hash"].dropna().astype(str).unique()) if "code_hash" in cells else []
    )
    f["code_hashes"] = hashes
    f["crossings"] = analysis_theory.zero_crossings(cells)
    f["solved"] = analysis_training.solved_at_longest(cells)
    f["learning"] = analysis_training.learning_table(cells)
    f["methods"] = methods_table(cells)
    f["training_speed"] = analysis_training.training_speed(cells)
    won = f["solved"][f["solved"]["solved_rate"] > 0]
    f["winners"] = [  # "lru (copy)" where the study has several tasks
        f"{r.remedy} ({r.task})" if "task" in won else r.remedy for r in won.itertuples()
    ]
    f["ref_backend"] = analysis.first_backend(cells)
    f["lr_note"] = analysis_training.lr_note(analysis_training.trained_cells(cells))
    ag = analysis.backend_agreement(tables)
    f["agreement"] = ag
    f["agreement_counts"] = ag["verdict"].value_counts().to_dict() if len(ag) else {}
    return f


def _sorted_values(cells: pd.DataFrame, col: str) -> list:
    if col == "remedy":
        return analysis.remedy_order(cells[col])
    if col == "backend":
        return analysis.ordered(cells[col], analysis.BACKEND_ORDER)
    return sorted(cells[col].dropna().unique(), key=lambda v: (isinstance(v, str), v))


def _fmt(v: Any) -> str:
    """A table value as short text: 4 significant digits, inf/nan spelt out, empty for None."""
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (float, np.floating)):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:.4g}"
    return str(v)


def _distinct(values: pd.Series) -> str:
    """A provenance column's values, or how many there are where each cell has its own."""
    seen = sorted(values.dropna().astype(str).unique())
    if len(seen) > MAX_LISTED_VALUES:
        return f"{len(seen)} distinct values (see the cells table)"
    return ", ".join(seen) or "(empty)"


def cells_view(cells: pd.DataFrame) -> tuple[list[str], list[list[str]], list[tuple[str, str]]]:
    """Header, formatted rows and the columns left out because every cell has the same value
    (shown once above the table: it keeps a study of thousands of cells small)."""
    if cells.empty:
        return [], [], []
    constant = [c for c in cells.columns if c != "cell_id" and cells[c].nunique(dropna=False) <= 1]
    shown = [c for c in cells.columns if c not in constant]
    text = cells[shown].astype(object).map(_fmt)
    return shown, text.to_numpy().tolist(), [(c, _fmt(cells[c].iloc[0])) for c in constant]


SECTIONS = (  # (id, title, figures in it)
    ("unrolled", "The network unrolled through time", ("unrolled",)),
    ("phase", "Where gradients vanish or explode", ("mean_field", "phase_diagram")),
    ("profiles", "Gradient profiles", ("decay_curves", "weight_grad_norm")),
    (
        "theory",
        "Theory against measurement",
        ("theory", "mean_field_size", "isometry", "trainability"),
    ),
    (
        "remedies",
        "Remedies and training",
        ("remedy_decay", "solved_vs_seq_len", "steps_to_solve", "training_curves"),
    ),
    ("memory", "Echo state networks: memory capacity", ("memory_capacity",)),
    ("curse", "The curse of memory", ("curse_of_memory",)),
    ("published", "Published against measured", ()),
    ("agreement", "Backend agreement", ("backend_agreement",)),
    ("speed", "Speed", ("speed",)),
)


def build_report(
    study: str,
    tables_dir: str | Path,
    figures_dir: str | Path | None,
    out_html: str | Path,
    config: dict | None = None,
) -> Path:
    """Write the study's report, one self-contained HTML file, to ``out_html``.

    Parameters
    ----------
    study : the study's name (shown, escaped).
    tables_dir : folder with ``cells.parquet``, ``profiles.parquet``, ``training.parquet``.
    figures_dir : folder with the saved ``<name>.png`` figures; missing ones are redrawn.
    out_html : the file to write.
    config : the study's config, shown in the provenance section.
    """
    tables = read_tables(tables_dir)
    cells = analysis.frame(tables, "cells")
    fdir = None if figures_dir is None else Path(figures_dir)
    f = findings(tables)
    header, rows, constant = cells_view(cells)
    remedies = analysis.remedy_order(cells["remedy"]) if "remedy" in cells else []
    notes = remedy_notes(remedies, config or {})
    plugins = plugin_list(config or {})
    config = {k: v for k, v in (config or {}).items() if k != "plugin_notes"}
    sections = []
    for sid, title, names in SECTIONS:
        figs = [
            {"name": n, "png": png, "drawn": drawn, "caption": figures.CAPTIONS[n]}
            for n in names
            for png, drawn in [figure_png(n, tables, fdir)]
        ]
        sections.append({"id": sid, "title": title, "figures": figs})
    dictionary = [
        {"table": t, "column": c, "unit": describe_column(c)[0], "meaning": describe_column(c)[1]}
        for t in TABLES
        for c in analysis.frame(tables, t).columns
    ]
    learning = f.get("learning", pd.DataFrame())
    ag = f.get("agreement", pd.DataFrame())
    listed = (
        ag[ag["verdict"] != "agree"].sort_values("verdict", ascending=False).head(MAX_LISTED_PAIRS)
        if len(ag)
        else ag
    )
    prov = [(c, _distinct(cells[c])) for c in PROVENANCE if c in cells]
    published = [
        {
            **r,
            "n_runs": None if pd.isna(r["n_runs"]) else int(r["n_runs"]),
            "interval": (
                ""
                if pd.isna(r["interval_low"])
                else f"{r['interval_low']:.2f}-{r['interval_high']:.2f}"
            ),
            "colour": analysis.VERDICT_COLOURS[r["verdict"]],
        }
        for r in claims.evaluate(tables, config).to_dict("records")
    ]
    env = Environment(
        loader=PackageLoader("rnngrad.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    html = env.get_template("report.html.j2").render(
        study=study,
        f=f,
        sections=sections,
        header=header,
        rows=rows,
        constant=constant,
        remedy_notes=notes,
        plugins=plugins,
        dictionary=dictionary,
        provenance=prov,
        published=published,
        agreement=[{k: _fmt(v) for k, v in r.items()} for r in listed.to_dict("records")],
        n_pairs=len(ag),
        config=yaml.safe_dump(config, sort_keys=False) if config else "",
        crossings=f.get("crossings", pd.DataFrame()).to_dict("records"),
        learning=learning_rows(learning),
        learning_by_task=isinstance(learning.columns, pd.MultiIndex),
        learning_headers=[
            f"{c[0]}, seq_len {c[1]}" if isinstance(c, tuple) else f"seq_len {c}"
            for c in learning.columns
        ],
        learns_below=LEARNS_BELOW,
        solved=[
            {k: _fmt(v) for k, v in r.items()}
            for r in f.get("solved", pd.DataFrame()).to_dict("records")
        ],
        methods=[
            {k: _fmt(v) for k, v in r.items()}
            for r in f.get("methods", pd.DataFrame()).to_dict("records")
        ],
        methods_header=list(f.get("methods", pd.DataFrame()).columns),
        training_speed=[
            {k: _fmt(v) for k, v in r.items()}
            for r in f.get("training_speed", pd.DataFrame()).to_dict("records")
        ],
        training_speed_header=list(f.get("training_speed", pd.DataFrame()).columns),
        fmt=_fmt,
        interactive=charts.page_parts(tables),
        built=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        builder_host=platform.node(),
    )
    out = Path(out_html)
    atomic_write(out, lambda tmp: tmp.write_text(html, encoding="utf-8"))
    return out
