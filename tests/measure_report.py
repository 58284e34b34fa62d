"""Size and speed of a large study's report, measured on synthetic tables (docs/page.md).

A cluster-sized study cannot run here, so its tables are made from a small real study's: every
cell of the large study's grid copies the real cell nearest to it (same backend and remedy where
the real study has it, else ``none``; nearest seq_len and w_rec_scale), with its gradient profile
regrown to the large cell's length from the real cell's decay rate, its training curve stretched
to the large study's steps, and seeded noise per seed. Then the figures and the report are built
and the report is opened in headless Chromium: the wall time to the page's load event, to its
charts being interactive (the page's own ``data-interactive-ms``), of a selector change and of a
click on a phase-diagram tile.

Usage::

    python tests/measure_report.py --template results/default/tables \\
        --configfile config/studies/large.yaml --out /tmp/large
    python tests/measure_report.py --time reports/default.html   # time a report as it is
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from test_interactive import TILES
from test_report import CHROMIUM_FLAGS

from rnngrad.report import figures, page
from rnngrad.study.config import load_study
from rnngrad.study.tables import read_tables


def synthetic_tables(template, study, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Tables of every cell of ``study`` made from the real ``template`` tables (module doc)."""
    rng = np.random.default_rng(seed)
    real = template.cells.set_index("cell_id")
    rows = []
    for cell_id, cell in study.cells.items():
        s = cell.settings
        pool = real[real["backend"] == s.backend]
        pool = pool[pool["remedy"] == (s.remedy if s.remedy in set(pool["remedy"]) else "none")]
        pick = pool.iloc[
            np.lexsort(
                (
                    np.abs(np.log(pool["w_rec_scale"] / s.w_rec_scale)),
                    np.abs(np.log(pool["seq_len"] / s.seq_len)),
                )
            )[0]
        ]
        row = pick.to_dict()
        noise = rng.normal(0, 0.02)
        for phase in ("init", "trained"):
            rate = row[f"{phase}_decay_rate"] * (1 + noise)
            row[f"{phase}_decay_rate"] = rate
            row[f"{phase}_log10_grad_ratio"] = rate * (s.seq_len - 1)
        row.update(
            template_id=pick.name,
            cell_id=cell_id,
            backend=s.backend,
            remedy=s.remedy,
            seq_len=s.seq_len,
            w_rec_scale=s.w_rec_scale,
            seed=s.seed,
            steps=s.seq_len,
            hidden=s.hidden,
            train_steps=s.train_steps,
            accuracy=float(np.clip(row["accuracy"] + rng.normal(0, 0.05), 0, 1)),
        )
        row["solved"] = row["accuracy"] >= 0.99
        rows.append(row)
    cells = pd.DataFrame(rows)
    profiles, training = [], []
    for phase in ("init", "trained"):
        steps = cells["steps"].to_numpy()
        lag = np.concatenate([np.arange(n) for n in steps])
        rate = np.repeat(cells[f"{phase}_decay_rate"].to_numpy(float), steps)
        wiggle = rng.normal(0, 0.05, len(lag))
        g = 10.0 ** np.clip(rate * lag + wiggle, -300, 300)
        profiles.append(
            pd.DataFrame(
                {
                    "cell_id": np.repeat(cells["cell_id"].to_numpy(), steps),
                    "phase": phase,
                    "lag": lag,
                    "grad_norm": g,
                    "jacobian_norm": g * 1.3,
                    "weight_grad_norm": g * 0.7,
                }
            )
        )
    curves = template.training.groupby("cell_id")
    for cid, tid, n in cells[["cell_id", "template_id", "train_steps"]].itertuples(index=False):
        if tid not in curves.groups:
            continue
        c = curves.get_group(tid)
        x = np.linspace(0, len(c) - 1, n)
        loss = np.interp(x, np.arange(len(c)), c["loss"].to_numpy(float))
        training.append(
            pd.DataFrame(
                {
                    "cell_id": cid,
                    "step": np.arange(n),
                    "loss": loss * np.exp(rng.normal(0, 0.05, n)),
                    "param_grad_norm": np.interp(
                        x, np.arange(len(c)), c["param_grad_norm"].to_numpy(float)
                    ),
                    "clipped": False,
                    "penalty": 0.0,
                }
            )
        )
    return {
        "cells": cells.drop(columns="template_id"),
        "profiles": pd.concat(profiles, ignore_index=True),
        "training": pd.concat(training, ignore_index=True),
    }


def in_chromium(html: Path, exe: str = "/usr/bin/chromium") -> dict[str, float]:
    """Seconds to the load event and to interactive, of a selector change and of a tile click."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS)
        page = b.new_page(viewport={"width": 1500, "height": 1100})
        t0 = time.perf_counter()
        page.goto(html.as_uri(), wait_until="load", timeout=300_000)
        loaded = time.perf_counter() - t0
        page.wait_for_selector("html[data-interactive='ready']", timeout=300_000)
        ready = time.perf_counter() - t0
        script_ms = float(page.get_attribute("html", "data-interactive-ms"))
        t1 = time.perf_counter()
        page.select_option("#explore-filters select[data-axis='backend']", "all")
        page.wait_for_selector("html[data-interactive='ready']", timeout=300_000)
        select = time.perf_counter() - t1
        t2 = time.perf_counter()
        page.locator(TILES).first.click()
        page.wait_for_function(
            "document.getElementById('cell-detail').getAttribute('data-shown') !== null"
        )
        click = time.perf_counter() - t2
        heap = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : 0")
        b.close()
    return {
        "load_event_s": loaded,
        "interactive_s": ready,
        "script_to_interactive_s": script_ms / 1000,
        "selector_change_s": select,
        "tile_click_s": click,
        "js_heap_mb": heap / 1e6,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--template", help="a real study's tables folder")
    ap.add_argument("--configfile", help="the large study's config")
    ap.add_argument("--out", help="folder for the tables, figures and report")
    ap.add_argument("--skip-figures", action="store_true", help="keep figures already drawn")
    ap.add_argument("--time", metavar="HTML", help="only time this report in Chromium")
    args = ap.parse_args()
    if args.time:
        html = Path(args.time).resolve()
        print(json.dumps({"report_mb": html.stat().st_size / 1e6, **in_chromium(html)}, indent=1))
        return
    if not (args.template and args.configfile and args.out):
        ap.error("--template, --configfile and --out are needed (or --time HTML)")
    out = Path(args.out)
    study = load_study([args.configfile])
    t0 = time.perf_counter()
    tables = synthetic_tables(read_tables(args.template), study)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.to_parquet(out / "tables" / f"{name}.parquet")
    sizes = {f"{k}_rows": len(v) for k, v in tables.items()}
    timings = {"synthesize_s": time.perf_counter() - t0}
    if not args.skip_figures:
        t0 = time.perf_counter()
        figures.save_all(read_tables(out / "tables"), out / "figures")
        timings["figures_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    html = page.build_report(study.name, out / "tables", out / "figures", out / "page.html")
    timings["report_s"] = time.perf_counter() - t0
    pngs = sum(p.stat().st_size for p in (out / "figures").glob("*.png"))
    result = {
        **sizes,
        "report_mb": html.stat().st_size / 1e6,
        "png_mb": pngs / 1e6,
        **timings,
        **in_chromium(html),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
