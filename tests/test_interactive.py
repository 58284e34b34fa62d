"""The report's interactive charts: the page's data decodes to the tables, and in a real headless
Chromium a clicked phase-diagram tile shows its cell's id and value as cells.csv has them, with
no request leaving the page."""

from __future__ import annotations

import base64
import gzip
import io
import json
import math
import os
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from test_figures import make_tables
from test_report import CHROMIUM_FLAGS, EVIL, write_tables

from rnngrad.core.cellid import AXES
from rnngrad.report import figures, pagedata
from rnngrad.report.page import build_report

PNG = base64.b64decode(  # a 1x1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def decode(table: dict) -> pd.DataFrame:
    """The page's column-wise table as a DataFrame (what the page's script does)."""
    cols = {}
    for name, c in table["columns"].items():
        if isinstance(c, list):
            cols[name] = c
        elif "const" in c:
            cols[name] = [c["const"]] * table["n"]
        else:
            cols[name] = [None if i < 0 else c["dict"][i] for i in c["codes"]]
    return pd.DataFrame(cols)


def page_tables(html: str) -> dict:
    """The data a report page carries, unpacked as its script does."""
    m = re.search(r'<script type="application/octet-stream" id="rnngrad-data"[^>]*>([^<]*)<', html)
    return json.loads(gzip.decompress(base64.b64decode(m.group(1))))


@pytest.fixture(scope="module")
def tables():
    t = make_tables(
        seq_lens=(10, 20), scales=(0.5, 1.0, 2.0), remedies=("none", "clip_norm", "identity_init")
    )
    cells = t["cells"].assign(remedy=t["cells"]["remedy"].replace({"identity_init": EVIL}))
    cells.loc[0, "init_log10_grad_ratio"] = np.inf  # overflow is data: it must survive the page
    return {**t, "cells": cells}


def test_page_data_holds_the_tables_exactly(tables):
    packed, kept = pagedata.page_data(tables)
    assert re.fullmatch(r"[A-Za-z0-9+/=]+", packed)  # cannot close its <script> element
    data = json.loads(gzip.decompress(base64.b64decode(packed)))  # 1e999: inf, as in JavaScript
    cells = decode(data["cells"])
    expected = tables["cells"]
    assert list(cells.columns) == list(expected.columns)
    assert cells["cell_id"].tolist() == expected["cell_id"].tolist()
    assert cells["remedy"].tolist() == expected["remedy"].tolist()
    for col in ("init_log10_grad_ratio", "init_decay_rate", "accuracy", "w_rec_scale"):
        assert cells[col].astype(float).tolist() == expected[col].astype(float).tolist(), col
    assert math.isinf(cells.loc[0, "init_log10_grad_ratio"])
    prof = decode(data["profiles"])
    assert kept["profiles"] == {"rows": len(prof), "of": len(tables["profiles"])}
    ids = expected["cell_id"].to_numpy()[prof["cell"].to_numpy(int)]
    joined = tables["profiles"].set_index(["cell_id", "phase", "lag"])["grad_norm"]
    want = joined.loc[list(zip(ids, prof["phase"], prof["lag"], strict=True))].to_numpy()
    got = prof["grad_norm"].to_numpy(float)
    ok = np.isfinite(want)
    np.testing.assert_allclose(got[ok], want[ok], rtol=10 ** (1 - pagedata.SIG_DIGITS))
    meta = data["meta"]
    assert meta["axes"] == ["backend", "remedy", "seq_len", "w_rec_scale", "seed"]
    assert meta["defaults"]["backend"] == "numpy" and meta["defaults"]["remedy"] == "all"


def test_downsample_keeps_every_cell_and_both_ends():
    groups = np.repeat(np.arange(50), 1000)
    lag = np.tile(np.arange(1000), 50)
    shuffled = np.random.default_rng(0).permutation(len(lag))
    groups[shuffled[:10]] = -1  # rows of no cell
    keep = pagedata.downsample(groups[shuffled], lag[shuffled], budget=2000)
    g, k = groups[shuffled][keep], lag[shuffled][keep]
    assert len(keep) <= 2000 + 2 * 50 and set(g) == set(range(50))
    assert (np.diff(g) >= 0).all() and (np.diff(k)[np.diff(g) == 0] > 0).all()  # sorted
    ends = pd.DataFrame({"g": g, "k": k}).groupby("g")["k"].agg(["min", "max"])
    assert ends["min"].le(1).all() and ends["max"].ge(998).all()
    assert len(pagedata.downsample(groups, lag, budget=10**6)) == len(lag) - 10


def test_grid_axes_are_what_varies_within_a_remedy():
    cells = pd.DataFrame(
        {
            "backend": "numpy",
            "remedy": ["none", "none", "lstm", "lstm"],
            "seq_len": 10,
            "w_rec_scale": 1.0,
            "seed": 0,
            "model": ["rnn", "rnn", "lstm", "lstm"],  # a remedy's override, not an axis
            "lr": [0.1, 0.01, 0.1, 0.01],  # a grid axis
        }
    )
    assert pagedata.grid_axes(cells) == [*AXES, "lr"]


# -- a real browser ------------------------------------------------------------------------------
CHROMIUM = "/usr/bin/chromium"
TILES = "#chart-phase_diagram svg g.mark-rect.role-mark path"  # the data's rects, not the legend's


def browser():
    """Playwright's sync API and Debian's chromium; a clean skip (a failure in CI) without."""
    exe = shutil.which("chromium") or (CHROMIUM if os.path.exists(CHROMIUM) else None)
    why = None if exe else "chromium is not installed (run .ci/install-chromium.sh)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        why = why or "playwright is not installed (pip install -e '.[test]')"
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    return sync_playwright, exe


def open_page(pw, exe, path, requests):
    """The report in a fresh page: every request recorded, none allowed off the page."""
    b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS)
    page = b.new_page(viewport={"width": 1500, "height": 1100})
    page.on("request", lambda r: requests.append(r.url))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("dialog", lambda d: errors.append(f"dialog: {d.message}"))  # an injected alert()
    page.goto(path.as_uri())
    page.wait_for_selector("html[data-interactive]", timeout=60_000)
    assert page.get_attribute("html", "data-interactive") == "ready", errors
    return b, page, errors


def check_requests(requests, path):
    assert requests, "the page made no request at all"
    off = [u for u in requests if not (u == path.as_uri() or u.startswith(("data:", "blob:")))]
    assert not off, off


@pytest.mark.browser
def test_clicked_tile_shows_its_cell_as_cells_csv_has_it(tables, tmp_path):
    sync_playwright, exe = browser()
    tdir = write_tables(tables, tmp_path / "tables")
    tables["cells"].to_csv(tdir / "cells.csv", index=False)
    figs = tmp_path / "figures"  # saved figures stand in: this test is about the charts
    figs.mkdir()
    for name in figures.FIGURES:
        (figs / f"{name}.png").write_bytes(PNG)
    out = build_report("demo", tdir, figs, tmp_path / "demo.html")
    csv = pd.read_csv(tdir / "cells.csv").set_index("cell_id")
    requests: list[str] = []
    with sync_playwright() as pw:
        b, page, errors = open_page(pw, exe, out, requests)
        tiles = page.locator(TILES)
        n_numpy = int((tables["cells"]["backend"] == "numpy").sum() / 2)  # seed 0 of 2
        assert tiles.count() == n_numpy
        shown = []
        for k in (0, tiles.count() - 1):
            tile = tiles.nth(k)
            tile.hover()
            page.wait_for_selector("#vg-tooltip-element.visible", timeout=10_000)
            tip = page.inner_text("#vg-tooltip-element")
            tile.click()
            page.wait_for_function(
                "document.getElementById('cell-detail').getAttribute('data-shown') !== null"
            )
            cell_id = page.get_attribute("#cell-detail", "data-cell-id")
            value = page.get_attribute("#cell-detail", "data-value")
            assert page.get_attribute("#cell-detail", "data-value-column") == (
                "init_log10_grad_ratio"
            )
            assert cell_id in tip
            row = csv.loc[cell_id]
            assert float(value.replace("inf", "Infinity")) == row["init_log10_grad_ratio"]
            assert row["backend"] == "numpy" and row["seed"] == 0  # the selectors' defaults
            assert f"{row['w_rec_scale']:g}" in tip.replace("w_rec_scale", "")
            assert page.locator("#detail-profile svg .mark-line path").count() >= 1
            shown.append(cell_id)
            page.evaluate("document.getElementById('cell-detail').removeAttribute('data-shown')")
        assert shown[0] != shown[1]
        assert csv.loc[shown[0], "remedy"] == "none"  # the first facet, the fixed remedy order
        assert csv.loc[shown[1], "remedy"] == EVIL  # hovered, shown as text: no alert ran

        # a selector filters by a grid axis
        page.select_option("#explore-filters select[data-axis='backend']", "torch")
        page.wait_for_selector("html[data-interactive='ready']")
        page.locator(TILES).first.click()
        page.wait_for_function(
            "document.getElementById('cell-detail').getAttribute('data-shown') !== null"
        )
        assert csv.loc[page.get_attribute("#cell-detail", "data-cell-id"), "backend"] == "torch"

        # the data downloads as CSV: the cells as cells.csv has them, every profile row
        got = pd.read_csv(io.StringIO(page.evaluate("window.rnngrad.csv('cells')")))
        assert got["cell_id"].tolist() == csv.index.tolist()
        np.testing.assert_array_equal(got["init_decay_rate"], csv["init_decay_rate"])
        prof = pd.read_csv(io.StringIO(page.evaluate("window.rnngrad.csv('profiles')")))
        assert len(prof) == len(tables["profiles"]) and set(prof["cell_id"]) <= set(csv.index)
        with page.expect_download() as dl:
            page.click("#explore button[data-table='training']")
        assert dl.value.suggested_filename == "demo-training.csv"
        assert not errors, errors
        keep = os.environ.get("RNNGRAD_SCREENSHOT")  # where to keep a screenshot, to look at
        if keep:
            page.locator("#explore").screenshot(path=keep)
        b.close()
    check_requests(requests, out)
