"""The rnngrad console script (rnngrad.cli), run as a user runs it."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from test_pipeline import REPO, workflow_copy

import rnngrad as rnngrad_pkg
from rnngrad import cli
from rnngrad.cli import BAD_INPUT, CRASH, OK, USAGE, main, parse_assignments
from rnngrad.core.choices import CHOICES
from rnngrad.core.settings import NESTED, CellSettings
from rnngrad.run.cell import run_cell
from rnngrad.run.record import write_record
from rnngrad.study.config import load_study

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


# -- the command line itself ----------------------------------------------------------------
def _no_constants(token):
    raise ValueError(f"not strict JSON: {token}")


def test_parse_assignments():
    got = parse_assignments(
        [
            "seq_len=100",
            "clip.kind=norm",
            "clip.threshold=0.5",
            "jacobian=false",
            "penalty={kind: l2_wrec, weight: 0.001}",
        ]
    )
    assert got == {
        "seq_len": 100,
        "clip": {"kind": "norm", "threshold": 0.5},
        "jacobian": False,
        "penalty": {"kind": "l2_wrec", "weight": 0.001},
    }


def test_cell_prints_strict_json_with_null_for_nan(capsys):
    assert main(["cell", "seq_len=20", "train_steps=0", "hidden=8", "jacobian=false"]) == 0
    out = json.loads(capsys.readouterr().out, parse_constant=_no_constants)
    assert out["status"] == "ok" and out["steps"] == 20
    assert out["init_jacobian_decay_rate"] is None  # NaN in the record: not measured


@pytest.mark.parametrize(
    ("words", "named"),
    [
        (["hidden=-3"], "hidden: must be >= 1 (value -3)"),
        (["clip={kind: norm"], "{kind: norm"),
        (["--settings-json", "[1, 2]"], "--settings-json: must be a JSON object"),
        (["--settings-json", "{"], "--settings-json"),
        (["colour=red"], "colour: unknown setting (value 'red')"),
    ],
)
def test_bad_settings_exit_1_with_one_line(capsys, words, named):
    assert main(["cell", "train_steps=0", *words]) == BAD_INPUT == 1
    err = capsys.readouterr().err
    assert named in err and err.count("\n") == 1 and err.startswith("rnngrad cell: ")


def test_log_appends(tmp_path, capsys):
    log = tmp_path / "logs" / "c.log"
    log.parent.mkdir()
    log.write_text("an earlier attempt\n")
    out = tmp_path / "c.json"
    words = ["cell", "seq_len=10", "hidden=4", "train_steps=0", "--log", str(log)]
    assert main([*words, "--out", str(out)]) == 0
    assert main([*words, "hidden=0"]) == 1
    text = log.read_text()
    assert text.startswith("an earlier attempt\n") and f"wrote {out}" in text
    assert text.rstrip().endswith("rnngrad cell: hidden: must be >= 1 (value 0)")


def test_cell_help_lists_every_setting_from_the_dataclasses():
    text = rnngrad("cell", "--help").stdout
    rows = {line.split()[0]: line for line in text.splitlines() if line.startswith("  ")}
    nested = NESTED
    defaults = CellSettings().to_dict()
    for f in dataclasses.fields(CellSettings):
        if f.name in ("extra_axes", "plugins"):  # filled in by a config, not listed
            continue
        keys = [(f.name, f, defaults[f.name])]
        if f.name in nested:
            sub = dataclasses.asdict(nested[f.name]())
            keys += [
                (f"{f.name}.{g.name}", g, sub[g.name]) for g in dataclasses.fields(nested[f.name])
            ]
        for key, field, default in keys:
            row = rows[key]
            words = row.split()
            assert words[1] == (field.type if "." in key or f.name not in nested else "mapping")
            assert json.dumps(default) in row or str(default) in row
            for choice in CHOICES.get(key, ()):
                assert choice in row
            flat = " ".join(text.split())
            assert field.metadata.get("help", "") in flat
            if field.metadata.get("unit") not in (None, *cli.TYPE_UNITS):
                assert f"[{field.metadata['unit']}]" in flat


def test_version_and_python_m():
    out = rnngrad("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"rnngrad {rnngrad_pkg.__version__}"
    out = subprocess.run(
        [sys.executable, "-m", "rnngrad", "--help"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("usage: rnngrad ")
    for markup in ("``", "::", ":mod:", ":func:"):  # plain text, no RST
        assert markup not in out.stdout


def test_no_abbreviations():
    ap = cli.parser()
    assert not ap.allow_abbrev
    commands = ap._subparsers._group_actions[0].choices
    assert all(not p.allow_abbrev for p in commands.values())
    out = rnngrad("plan", "--config", "hidden=16", "--root", str(REPO))
    assert out.returncode == USAGE == 2 and "unrecognized arguments: --config" in out.stderr
    out = rnngrad("bench", "--quic")  # bench parses its own options
    assert out.returncode == 2 and "--quic" in out.stderr


def test_exit_codes(tmp_path, monkeypatch, capsys):
    assert rnngrad("no-such-command").returncode == USAGE
    # outside a workflow checkout: a study file alone, or a clear error
    out = rnngrad("validate", cwd=tmp_path)
    assert out.returncode == BAD_INPUT and "--configfile" in out.stderr
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(SMALL))
    out = rnngrad("validate", "--configfile", "s.yaml", cwd=tmp_path)
    assert out.returncode == OK and "study 'small', 2 cells" in out.stdout
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**SMALL, "defaults": {"hidden": 0}}))
    out = rnngrad("validate", "--configfile", "bad.yaml", cwd=tmp_path)
    assert out.returncode == BAD_INPUT and "defaults.hidden" in out.stderr

    def crash(args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli, "cmd_grid", crash)
    assert main(["grid", "--configfile", str(tmp_path / "s.yaml")]) == CRASH == 3
    assert "RuntimeError: a bug" in capsys.readouterr().err


def test_a_cell_that_crashes_exits_3_with_its_traceback_in_the_log(tmp_path, monkeypatch):
    import rnngrad.run.cell

    def crash(*args, **kwargs):
        raise RuntimeError("a bug in the cell")

    monkeypatch.setattr(rnngrad.run.cell, "run_cell", crash)
    log = tmp_path / "c.log"
    assert main(["cell", "train_steps=0", "--log", str(log)]) == CRASH
    assert "RuntimeError: a bug in the cell" in log.read_text()


def test_key_value_words_read_yaml_12_floats():
    assert parse_assignments(["ridge=1e-6", "lr=5E-3", "seed=7", "remedy=1e3x"]) == {
        "ridge": 1e-6,
        "lr": 0.005,
        "seed": 7,
        "remedy": "1e3x",
    }


def test_cli_clip_kind_without_threshold_is_refused(capsys):
    assert main(["cell", "clip.kind=norm", "train_steps=0"]) == BAD_INPUT
    assert "clip.threshold: required key is missing" in capsys.readouterr().err


def test_cli_checkpoint_interval_option(tmp_path):
    log = tmp_path / "cell.log"
    ckpt = tmp_path / "c.npz"
    args = ["cell", "seq_len=10", "hidden=4", "train_steps=3", "--log", str(log), "--checkpoint"]
    assert main([*args, str(ckpt), "--checkpoint-every", "0"]) == OK
    assert f"checkpoint {ckpt}: saved after step 3" in log.read_text()
    assert not ckpt.exists()  # removed when training ends
