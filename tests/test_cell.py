"""The cell: determinism, pairing, records and statuses (its command line: test_cli.py)."""

import json

from rnngrad.core.settings import CellSettings
from rnngrad.run.cell import run_cell
from rnngrad.run.record import read_record, write_record


def _cell(**kw):
    s = CellSettings.from_dict({"seq_len": 25, "hidden": 12, "batch": 6, "train_steps": 0, **kw})
    return run_cell(s, "test")


def test_bitwise_reproducible():
    a, b = _cell(w_rec_scale=1.2), _cell(w_rec_scale=1.2)
    assert a["profiles"] == b["profiles"]
    keep = [
        k
        for k in a["metrics"]
        if "seconds" not in k
        and "gflops" not in k  # measured speeds
        and "peak_mb" not in k  # and memory, which depends on what the process held before
        and k not in ("runtime_s", "overhead_s")
    ]
    assert {k: a["metrics"][k] for k in keep} == {k: b["metrics"][k] for k in keep}


def test_record_is_complete_and_json_round_trips(tmp_path):
    rec = _cell()
    path = tmp_path / "a" / "cell.json"
    write_record(rec, path)
    assert read_record(path) == json.loads(json.dumps(rec))
    assert list(path.parent.iterdir()) == [path]  # no temporary file left behind
    assert rec["steps"] == 25 and rec["profiles"][0]["phase"] == "init"
    for key in (
        "rnngrad_version",
        "code_hash",
        "numpy_version",
        "torch_version",
        "git_commit",
        "settings_hash",
        "host",
    ):
        assert key in rec["provenance"]
    for key in (
        "init_decay_rate",
        "init_jacobian_decay_rate",
        "init_log10_grad_ratio",
        "init_horizon",
        "init_lyapunov_max",
        "init_spectral_radius",
        "init_spectral_norm",
        "init_memory_sensitivity",
        "init_profile_seconds",
        "init_jacobian_seconds",
        "status",
        "runtime_s",
    ):
        assert key in rec["metrics"], key


def test_exploded_status_is_data_not_a_crash():
    rec = _cell(nonlinearity="linear", init="orthogonal", w_rec_scale=50.0, seq_len=400)
    assert rec["metrics"]["status"] == "exploded"


def test_exploded_stays_exploded_when_training_then_diverges():
    rec = _cell(
        nonlinearity="linear", init="orthogonal", w_rec_scale=50.0, seq_len=400, train_steps=3
    )
    assert rec["metrics"]["status"] == "exploded"  # the init profile overflowed
    assert rec["metrics"]["diverged_at"] == 1  # and training met it at once
