"""Studies side by side: one self-contained report over several studies' tables.

The studies' tables are stacked with a ``study`` column (:func:`combine`); the interactive charts
of the report (rnngrad.report.charts) draw them with a row of facets per study and a study selector,
and the published claims each study's tables speak to are shown side by side
(:func:`claims_side_by_side`).

Example
-------
>>> from rnngrad.report.compare import build_compare
>>> build_compare(["adam", "sgd"], "reports/adam-sgd.html")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from rnngrad.core.files import atomic_write
from rnngrad.report import analysis, charts, claims, page
from rnngrad.study.paths import TABLES_DIR, fill
from rnngrad.study.tables import TABLES, read_tables


def combine(by_study: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """The tables of several studies (name -> tables) as one set, each row with its study's name
    in a first column ``study``; a study's cells keep their ids."""
    if len(by_study) < 2:
        raise ValueError(f"compare needs two or more different studies, got {list(by_study)}")
    out = {}
    for name in TABLES:
        parts = [analysis.frame(t, name).assign(study=s) for s, t in by_study.items()]
        parts = [p[["study", *[c for c in p.columns if c != "study"]]] for p in parts]
        out[name] = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return out


def claims_side_by_side(by_study: Mapping[str, Any]) -> pd.DataFrame:
    """A row per published claim that any of the studies speaks to: the claim, its source and
    published value, then per study the measured value and the verdict (empty where that
    study's tables do not speak to it)."""
    keys = ["claim_id", "claim", "source", "where", "published_value"]
    merged = None
    for s, t in by_study.items():
        e = claims.evaluate(t)[[*keys, "measured_value", "verdict"]]
        e = e.rename(columns={"measured_value": f"{s}: measured", "verdict": f"{s}: verdict"})
        merged = e if merged is None else merged.merge(e, on=keys, how="outer", sort=False)
    return merged.fillna("") if merged is not None else pd.DataFrame(columns=keys)


def study_rows(by_study: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per study: its cells, their statuses, total cell run time and grid."""
    rows = []
    for s, t in by_study.items():
        f = page.findings(t)
        rows.append(
            {
                "study": s,
                "n_cells": f["n_cells"],
                "status": ", ".join(f"{v} {k}" for k, v in f.get("status", {}).items()),
                "runtime_s": page._fmt(f.get("runtime_s", float("nan"))),
                "grid": f.get("grid", []),
                "code_hashes": ", ".join(f.get("code_hashes", [])),
            }
        )
    return rows


def build_compare(
    studies: list[str], out_html: str | Path, tables_dirs: Mapping[str, str | Path] | None = None
) -> Path:
    """Write the report over ``studies`` to ``out_html``.

    Parameters
    ----------
    studies : study names, in the order shown (two or more).
    out_html : the file to write.
    tables_dirs : study -> its tables folder; default ``results/<study>/tables``.
    """
    if len(set(studies)) != len(studies):
        raise ValueError(f"a study is named twice: {studies}")
    default = {s: fill(TABLES_DIR, study=s) for s in studies}
    dirs = {s: Path((tables_dirs or {}).get(s, default[s])) for s in studies}
    missing = [str(d) for d in dirs.values() if not (d / "cells.parquet").exists()]
    if missing:
        raise FileNotFoundError(f"no tables at {', '.join(missing)} (run those studies first)")
    by_study = {s: read_tables(d) for s, d in dirs.items()}
    combined = combine(by_study)
    side = claims_side_by_side(by_study)
    env = Environment(
        loader=PackageLoader("rnngrad.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    name = " vs ".join(studies)
    html = env.get_template("compare.html.j2").render(
        study=name,
        studies=study_rows(by_study),
        claims_header=list(side.columns),
        claims_rows=side.to_numpy().tolist(),
        interactive=charts.page_parts(combined),
        built=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )
    out = Path(out_html)
    atomic_write(out, lambda tmp: tmp.write_text(html, encoding="utf-8"))
    return out
