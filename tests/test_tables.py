"""Records to typed tables (rnngrad.study.tables) and back through files and rnngrad.load."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import rnngrad
from rnngrad.core.cellid import cell_id
from rnngrad.core.settings import CellSettings
from rnngrad.run.provenance import settings_hash
from rnngrad.study import columns, tables

PROVENANCE = {
    "rnngrad_version": "0.1.0",
    "code_hash": "abc",
    "numpy_version": "2",
    "torch_version": "",
    "git_commit": "",
    "settings_hash": "h",
    "host": "vm",
}


def record(cell_id: str, trained: bool, **settings) -> dict:
    """A record as docs/tables.md describes it, by hand (independent of rnngrad.run.cell)."""
    s = CellSettings.from_dict({"seq_len": 4, "train_steps": 3 if trained else 0, **settings})
    steps = s.seq_len
    phases = ["init", "trained"] if trained else ["init"]
    metrics = {}
    for p in phases:
        metrics.update(
            {
                f"{p}_decay_rate": -0.1,
                f"{p}_log10_grad_ratio": -0.3,
                f"{p}_horizon": steps,
                f"{p}_lyapunov_max": float("inf"),
            }
        )
    if trained:
        metrics.update(
            {
                "final_loss": 0.1,
                "accuracy": 0.5,
                "solved": False,
                "diverged_at": None,
                "clip_fraction": 1.0,
            }
        )
    metrics.update({"status": "ok", "runtime_s": 0.2})
    return {
        "cell_id": cell_id,
        "settings": s.to_dict(),
        "steps": steps,
        "metrics": metrics,
        "profiles": [
            {
                "phase": p,
                "lag": list(range(steps)),
                "grad_norm": [10.0**-k for k in range(steps)],
                "jacobian_norm": None if p == "trained" else [1.0] * steps,
                "weight_grad_norm": [float(k) for k in range(steps)],
            }
            for p in phases
        ],
        "training": {
            "step": [1, 2, 3],
            "loss": [0.3, 0.2, float("nan")],
            "param_grad_norm": [1.0, 2.0, 3.0],
            "clipped": [True, False, True],
            "penalty": [None, None, None],
            "eval_loss": [None, 0.1, None],
            "eval_accuracy": [None, 0.5, None],
        }
        if trained
        else None,
        "provenance": PROVENANCE,
    }


def test_cells_are_typed_when_no_cell_trained():
    t = tables.build_tables([record("a", False), record("b", False, w_rec_scale=2)])
    c = t.cells
    assert list(c.cell_id) == ["a", "b"]
    assert list(c.columns[:7]) == [
        "cell_id",
        "backend",
        "remedy",
        "seq_len",
        "w_rec_scale",
        "seed",
        "steps",
    ]
    assert c.trained_decay_rate.dtype == "float64" and c.trained_decay_rate.isna().all()
    assert c.final_loss.dtype == "float64" and c.solved.dtype == "boolean"
    assert c.init_horizon.dtype == "Int64" and c.diverged_at.dtype == "Int64"
    assert c.seq_len.dtype == "int64" and c.w_rec_scale.dtype == "float64"
    assert c.jacobian.dtype == "bool" and c.clip_kind.isna().all()
    assert c.truncate_k1.dtype == "Int64"
    assert math.isinf(c.init_lyapunov_max[0])  # overflow is data
    assert set(tables.PROVENANCE) <= set(c.columns)
    assert t.training.empty and list(t.training.columns) == list(columns.TRAINING_DTYPES)
    assert t.training.step.dtype == "int64" and t.training.clipped.dtype == "bool"
    assert t.training.eval_accuracy.dtype == "float64"
    assert c.steps_to_solve.dtype == "Int64" and c.steps_to_solve.isna().all()
    assert c.sequences_to_solve.dtype == "Int64" and c.train_steps_per_s.dtype == "float64"


def test_nested_settings_and_training_metrics_flatten():
    r = record("c", True, clip={"kind": "norm", "threshold": 0.5}, truncate={"k1": 1, "k2": 3})
    c = tables.build_tables([r]).cells.iloc[0]
    assert (c.clip_kind, c.clip_threshold, c.truncate_k1, c.truncate_k2) == ("norm", 0.5, 1, 3)
    assert c.trained_decay_rate == -0.1 and bool(c.solved) is False and pd.isna(c.diverged_at)


def test_long_tables_hold_every_lag_and_step():
    rs = [record("a", True), record("b", False, seq_len=6)]
    t = tables.build_tables(rs)
    assert len(t.profiles) == 4 + 4 + 6
    a = t.profiles[(t.profiles.cell_id == "a") & (t.profiles.phase == "init")]
    np.testing.assert_array_equal(a.grad_norm, [1.0, 0.1, 0.01, 0.001])
    assert t.profiles[t.profiles.phase == "trained"].jacobian_norm.isna().all()
    assert list(t.training.step) == [1, 2, 3] and t.training.penalty.isna().all()
    assert np.isnan(t.training.loss.iloc[2])
    np.testing.assert_array_equal(t.training.eval_accuracy, [np.nan, 0.5, np.nan])


def test_extra_axes_come_after_the_required_ones():
    s = {"extra_axes": ["hidden"], "hidden": 8}
    c = tables.build_tables([record("a", False, **s)]).cells
    assert list(c.columns[1:8]) == [
        "backend",
        "remedy",
        "seq_len",
        "w_rec_scale",
        "seed",
        "hidden",
        "steps",
    ]


def test_repeated_cell_is_refused():
    with pytest.raises(tables.RecordError, match="'a'"):
        tables.build_tables([record("a", False), record("a", False)])


def test_corrupt_record_is_named(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"cell_id": ')
    with pytest.raises(tables.RecordError, match=r"x.json"):
        tables.read_records([p])


def consistent(r: dict) -> dict:
    """The record under the id and settings hash its settings give (as rnngrad.run.cell writes)."""
    s = CellSettings.from_dict(r["settings"])
    return {
        **r,
        "cell_id": cell_id(s),
        "provenance": {**PROVENANCE, "settings_hash": settings_hash(s)},
    }


def test_files_round_trip_and_load(tmp_path):
    rs = [consistent(record("a", True)), consistent(record("b", False, seq_len=6))]
    paths = []
    for i, r in enumerate(rs):
        paths.append(tmp_path / f"{i}.json")
        paths[-1].write_text(json.dumps(r))
    built = tables.build_tables(tables.read_records(paths))
    tables.write_tables(built, tables.tables_dir("s", tmp_path))
    loaded = rnngrad.load("s", root=tmp_path)
    for name in tables.TABLES:
        frame = getattr(loaded, name)
        assert list(frame["study"]) == ["s"] * len(frame)
        pd.testing.assert_frame_equal(frame.drop(columns="study"), getattr(built, name))
    csv = pd.read_csv(tables.tables_dir("s", tmp_path) / "cells.csv")
    assert list(csv.columns) == list(built.cells.columns) and len(csv) == 2
    assert not list(tables.tables_dir("s", tmp_path).glob(".*tmp"))


def test_load_without_tables_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="snakemake"):
        rnngrad.load("nothing", root=tmp_path)


def test_load_concatenates_studies_typed_and_annotated(tmp_path):
    for study, rs in (
        ("s1", [record("a", True)]),
        ("s2", [record("a", False), record("b", False)]),
    ):
        tables.write_tables(tables.build_tables(rs), tables.tables_dir(study, tmp_path))
    t = rnngrad.load(["s2", "s1"], root=tmp_path)
    cells = t.cells
    assert list(cells["study"]) == ["s2", "s2", "s1"] and list(cells.cell_id) == ["a", "b", "a"]
    assert list(cells["study"].cat.categories) == ["s2", "s1"]  # the order given
    assert cells["init_horizon"].dtype == "Int64" and cells["seq_len"].dtype == "int64"
    assert cells["solved"].dtype == "boolean"
    assert math.isnan(cells.loc[0, "trained_decay_rate"]) and cells.loc[2, "trained_decay_rate"] < 0
    assert len(t.training) == 3 and set(t.training["study"]) == {"s1"}  # s1's a trained 3 steps
    col = cells.attrs["columns"]
    assert cells.attrs["studies"] == ["s2", "s1"]
    assert col["init_decay_rate"]["unit"] == "log10 per step"
    assert "after training" in col["trained_decay_rate"]["meaning"]
    assert col["init_horizon"]["dtype"] == "Int64"
    assert set(col) == set(cells.columns)
    assert t.profiles.attrs["columns"]["lag"]["unit"] == "steps"
    with pytest.raises(ValueError, match="named twice"):
        rnngrad.load(["s1", "s1"], root=tmp_path)


def test_import_rnngrad_is_light():
    code = (
        "import sys, rnngrad; "
        "print(sorted(m for m in ('numpy', 'pandas', 'matplotlib', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("text", ["{}", "[]", "null", '{"cell_id": "x"}', "3"])
def test_json_that_is_not_a_record_is_named(tmp_path, text):
    p = tmp_path / "odd.json"
    p.write_text(text)
    with pytest.raises(tables.RecordError, match=r"odd\.json: valid JSON but not a cell record"):
        tables.read_records([p])


def test_relabelled_record_is_refused(tmp_path):
    """A record of seq_len 10 relabelled with the id of the seq_len 20 cell (issue: a row
    `seq_len=20` whose seq_len column said 10), or copied under that cell's file name."""
    r10 = consistent(record("x", False, seq_len=10))
    r20 = consistent(record("x", False, seq_len=20))
    cells = tmp_path / "results" / "s" / "cells"
    relabelled = cells / f"{r20['cell_id']}.json"
    relabelled.parent.mkdir(parents=True)
    relabelled.write_text(json.dumps({**r10, "cell_id": r20["cell_id"]}))
    with pytest.raises(tables.RecordError, match=r"its settings are those of cell .*seq_len=10"):
        tables.read_records([relabelled])
    relabelled.write_text(json.dumps(r10))  # whole, but in the other cell's file
    with pytest.raises(tables.RecordError, match="not of the cell its name says"):
        tables.read_records([relabelled])
    relabelled.write_text(json.dumps(r20))
    assert tables.read_records([relabelled])[0]["steps"] == 20


def test_record_whose_settings_were_edited_is_refused(tmp_path):
    r = consistent(record("x", False))
    r["settings"]["hidden"] = 12  # hidden is no axis: the id stays, the hash does not
    p = tmp_path / "r.json"
    p.write_text(json.dumps(r))
    with pytest.raises(tables.RecordError, match=r"r\.json: the record's settings_hash"):
        tables.read_records([p])
