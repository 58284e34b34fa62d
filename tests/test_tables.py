"""Records to typed tables (rnngrad.tables) and back through files and rnngrad.load."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import rnngrad
from rnngrad import tables
from rnngrad.settings import CellSettings

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
    """A record as docs/tables.md describes it, by hand (independent of rnngrad.cell)."""
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
    assert t.training.empty and list(t.training.columns) == list(tables.TRAINING_DTYPES)
    assert t.training.step.dtype == "int64" and t.training.clipped.dtype == "bool"


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


def test_files_round_trip_and_load(tmp_path):
    rs = [record("a", True), record("b", False)]
    paths = []
    for r in rs:
        paths.append(tmp_path / f"{r['cell_id']}.json")
        paths[-1].write_text(json.dumps(r))
    built = tables.build_tables(tables.read_records(paths))
    tables.write_tables(built, tables.tables_dir("s", tmp_path))
    loaded = rnngrad.load("s", root=tmp_path)
    for name in tables.TABLES:
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(built, name))
    csv = pd.read_csv(tables.tables_dir("s", tmp_path) / "cells.csv")
    assert list(csv.columns) == list(built.cells.columns) and len(csv) == 2
    assert not list(tables.tables_dir("s", tmp_path).glob(".*tmp"))


def test_load_without_tables_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="snakemake"):
        rnngrad.load("nothing", root=tmp_path)
