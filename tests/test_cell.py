"""The cell: determinism, pairing, records, and a NumPy cell that never imports torch."""

import json
import subprocess
import sys

from rnngrad.cell import main, parse_assignments, read_record, run_cell, write_record
from rnngrad.settings import CellSettings


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
        "init_profile_seconds",
        "init_jacobian_seconds",
        "status",
        "runtime_s",
    ):
        assert key in rec["metrics"], key


def test_exploded_status_is_data_not_a_crash():
    rec = _cell(nonlinearity="linear", init="orthogonal", w_rec_scale=50.0, seq_len=400)
    assert rec["metrics"]["status"] == "exploded"


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


def test_cli_bad_yaml_value_names_key_and_value(capsys):
    assert main(["clip={kind: norm", "train_steps=0"]) == 2
    err = capsys.readouterr().err
    assert "clip" in err and "{kind: norm" in err


def test_cli_prints_metrics(capsys):
    assert main(["seq_len=20", "train_steps=0", "hidden=8"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "ok" and out["steps"] == 20


def test_cli_bad_setting_is_a_clear_error(capsys):
    assert main(["hidden=-3", "train_steps=0"]) == 2
    assert "hidden" in capsys.readouterr().err


def test_numpy_cell_never_imports_torch(tmp_path):
    code = (
        "import sys; from rnngrad.cell import main; "
        f"main(['seq_len=20', 'train_steps=0', '--out', r'{tmp_path / 'c.json'}']); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_exploded_stays_exploded_when_training_then_diverges():
    rec = _cell(
        nonlinearity="linear", init="orthogonal", w_rec_scale=50.0, seq_len=400, train_steps=3
    )
    assert rec["metrics"]["status"] == "exploded"  # the init profile overflowed
    assert rec["metrics"]["diverged_at"] == 1  # and training met it at once


def test_settings_json_must_be_an_object(capsys):
    assert main(["--settings-json", "[1, 2]"]) == 2
    assert "--settings-json" in capsys.readouterr().err


def test_key_value_words_read_yaml_12_floats():
    assert parse_assignments(["ridge=1e-6", "lr=5E-3", "seed=7", "remedy=1e3x"]) == {
        "ridge": 1e-6,
        "lr": 0.005,
        "seed": 7,
        "remedy": "1e3x",
    }


def test_cli_clip_kind_without_threshold_is_refused(capsys):
    assert main(["clip.kind=norm", "train_steps=0"]) == 2
    assert "clip.threshold: required key is missing" in capsys.readouterr().err


def test_cli_checkpoint_interval_option(tmp_path):
    log = tmp_path / "cell.log"
    ckpt = tmp_path / "c.npz"
    args = ["seq_len=10", "hidden=4", "train_steps=3", "--log", str(log), "--checkpoint"]
    assert main([*args, str(ckpt), "--checkpoint-every", "0"]) == 0
    assert f"checkpoint {ckpt}: saved after step 3" in log.read_text()
    assert not ckpt.exists()  # removed when training ends
