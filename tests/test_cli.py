"""The rnngrad console script (rnngrad.cli), run as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from test_pipeline import REPO, workflow_copy

from rnngrad.cell import run_cell, write_record
from rnngrad.config import load_study

SMALL = {
    "study": "small",
    "grid": {
        "backend": ["numpy"],
        "seq_len": [10],
        "w_rec_scale": [0.9, 1.1],
        "remedy": ["none"],
        "seed": [0],
    },
    "defaults": {"hidden": 4, "batch": 4, "train_steps": 0},
}


def rnngrad(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(["rnngrad", *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture
def small(tmp_path):
    root = workflow_copy(tmp_path)
    (root / "config" / "studies" / "small.yaml").write_text(yaml.safe_dump(SMALL))
    return root


def test_numpy_cell_imports_neither_torch_nor_pandas():
    code = (
        "import sys; from rnngrad.cli import main; "
        "assert main(['cell', 'seq_len=10', 'hidden=4', 'train_steps=0']) == 0; "
        "print(json.dumps(sorted(m for m in ('torch', 'pandas', 'matplotlib') "
        "if m in sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert '"status": "ok"' in out.stdout


def test_grid_lists_the_study_cells(small):
    out = rnngrad("grid", "--configfile", "config/studies/small.yaml", cwd=small)
    ids = out.stdout.split()
    assert ids == [
        "backend=numpy/remedy=none/seq_len=10/w_rec_scale=0.9/seed=0",
        "backend=numpy/remedy=none/seq_len=10/w_rec_scale=1.1/seed=0",
    ]


def test_plan_counts_new_cells_and_tables_needs_every_record(small):
    study = load_study([small / "config/studies/small.yaml"], root=small)
    first = next(iter(study.cells.values()))
    write_record(run_cell(first.settings, first.cell_id), study.record_path(first.cell_id, small))
    out = rnngrad("plan", "--configfile", "config/studies/small.yaml", "--cores", "2", cwd=small)
    assert out.returncode == 0
    assert "2 cells, 1 new, 0 stale, 1 done" in out.stdout and out.stdout.count("\nnew ") == 1

    out = rnngrad("tables", "--configfile", "config/studies/small.yaml", cwd=small)
    assert out.returncode == 1 and "new: no record" in out.stderr


def test_tables_from_the_study_records(small):
    study = load_study([small / "config/studies/small.yaml"], root=small)
    for cell in study.cells.values():
        write_record(run_cell(cell.settings, cell.cell_id), study.record_path(cell.cell_id, small))
    out = rnngrad("tables", "--configfile", "config/studies/small.yaml", cwd=small)
    assert out.returncode == 0, out.stderr
    cells = pd.read_parquet(small / "results/small/tables/cells.parquet")
    assert list(cells.cell_id) == list(study.cells)
    rec = json.loads(study.record_path(cells.cell_id[0], small).read_text())
    assert cells.init_decay_rate[0] == rec["metrics"]["init_decay_rate"]


def test_validate_reports_the_study():
    out = rnngrad("validate", "--root", str(REPO))
    assert out.returncode == 0 and "study 'default'" in out.stdout


def test_help_lists_every_command():
    out = rnngrad("--help")
    for command in ("cell", "validate", "grid", "plan", "tables", "figures", "report", "bench"):
        assert command in out.stdout
