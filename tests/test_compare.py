"""Studies side by side: ``rnngrad compare`` on two small studies gives one report with both."""

from __future__ import annotations

import pytest
from test_figures import make_tables
from test_interactive import TILES, browser, check_requests, decode, open_page, page_tables
from test_report import write_tables

from rnngrad import cli
from rnngrad.report import compare


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """results/adam/ and results/sgd/: one small study, and a copy that learnt less."""
    root = tmp_path_factory.mktemp("root")
    t = make_tables(
        seeds=(0,), seq_lens=(10, 20), scales=(0.5, 2.0), remedies=("none", "clip_norm")
    )
    sgd = t["cells"].assign(normalized_loss=t["cells"]["normalized_loss"] * 3, accuracy=0.1)
    sgd = sgd.assign(solved=False)
    write_tables(t, root / "results" / "adam" / "tables")
    write_tables({**t, "cells": sgd}, root / "results" / "sgd" / "tables")
    return root, t


def test_compare_puts_both_studies_in_one_report(root, capsys):
    root, t = root
    out = root / "reports" / "adam-sgd.html"
    assert cli.main(["compare", "adam", "sgd", "--root", str(root), "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    html = out.read_text()
    data = page_tables(html)
    cells = decode(data["cells"])
    assert cells.columns[0] == "study" and cells["study"].tolist() == ["adam"] * len(t["cells"]) + [
        "sgd"
    ] * len(t["cells"])
    assert cells["cell_id"].tolist() == t["cells"]["cell_id"].tolist() * 2
    assert data["meta"]["axes"][0] == "study" and data["meta"]["values"]["study"] == ["adam", "sgd"]
    sgd = cells[cells["study"] == "sgd"]
    assert sgd["accuracy"].astype(float).eq(0.1).all()
    prof = decode(data["profiles"])
    assert len(prof) == 2 * len(t["profiles"])
    for name in ("adam", "sgd"):
        assert f"<tr><td>{name}</td><td>{len(t['cells'])}</td>" in html
    assert "Published claims, study by study" in html


def test_claims_side_by_side_has_a_column_pair_per_study(root):
    root, t = root
    side = compare.claims_side_by_side({"adam": t, "sgd": t})
    assert list(side.columns)[-4:] == [
        "adam: measured",
        "adam: verdict",
        "sgd: measured",
        "sgd: verdict",
    ]


def test_compare_refuses_one_study_and_missing_tables(root, capsys):
    root, _ = root
    assert cli.main(["compare", "adam", "--root", str(root)]) == 1
    assert "two or more" in capsys.readouterr().err
    assert cli.main(["compare", "adam", "nowhere", "--root", str(root)]) == 1
    assert "nowhere" in capsys.readouterr().err


@pytest.mark.browser
def test_compare_report_in_headless_chromium(root, tmp_path):
    sync_playwright, exe = browser()
    root, t = root
    out = tmp_path / "adam-sgd.html"
    compare.build_compare(
        ["adam", "sgd"], out, {s: root / "results" / s / "tables" for s in ("adam", "sgd")}
    )
    requests: list[str] = []
    with sync_playwright() as pw:
        b, page, errors = open_page(pw, exe, out, requests)
        tiles = page.locator(TILES)
        assert tiles.count() == 2 * (t["cells"]["backend"] == "numpy").sum()  # a row per study
        tiles.last.click()
        page.wait_for_function(
            "document.getElementById('cell-detail').getAttribute('data-shown') !== null"
        )
        assert page.get_attribute("#cell-detail", "data-study") == "sgd"
        page.select_option("#explore-filters select[data-axis='study']", "adam")
        page.wait_for_selector("html[data-interactive='ready']")
        assert page.locator(TILES).count() == (t["cells"]["backend"] == "numpy").sum()
        assert not errors, errors
        b.close()
    check_requests(requests, out)
