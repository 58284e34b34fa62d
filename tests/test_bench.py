"""rnngrad bench: it runs and reports; its probe and memory measures are checked against
independent answers (the NumPy backend's gradients, allocations of known size). Speed itself is
measured, never asserted."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnngrad import cli
from rnngrad.bench import profile, summary, train
from rnngrad.numpy_backend import loss_and_grads
from rnngrad.run import timing


@pytest.mark.slow
def test_bench_quick_prints_the_table_and_ratios(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert cli.main(["bench", "--quick", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    for label in (
        "numpy (ours)",
        "torch (ours)",
        "nn.RNN + probe",
        "vs nn.RNN",
        "GEMM throughput",
        "slope",
        "peak memory",
        "jacobian_norm",
        "targets",
    ):
        assert label in text
    saved = json.loads(out.read_text())
    s = saved["summary"]
    assert s["numpy_vs_nn_rnn"] > 0 and s["torch_vs_nn_rnn"] > 0
    assert set(s["slope_in_T"]) == {"numpy", "torch"}
    assert {r["impl"] for r in saved["results"]} == set(summary.IMPLS)
    assert all(r["gflops"] > 0 for r in saved["results"] if "gflops" in r)


@pytest.mark.slow
def test_bench_train_quick_prints_rows_and_saves_every_shape(tmp_path, capsys):
    out = tmp_path / "train.json"
    assert cli.main(["bench", "--train", "--quick", "--threads", "1", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "numpy/plain" in text and "targets" in text
    saved = json.loads(out.read_text())
    rows = saved["rows"]
    shapes = {(r["model"], r["dtype"]) for r in rows}
    assert shapes == {(m, d) for m in train.MODELS for d in train.DTYPES}
    for r in rows:
        assert r["threads"] == 1
        for impl in train.IMPLS:
            assert r[impl]["steps_per_s"] >= r[impl]["median_steps_per_s"] > 0
        assert r["numpy_vs_plain"] == r["numpy"]["steps_per_s"] / r["plain"]["steps_per_s"]
    assert set(saved["summary"]["targets"]) == {
        f"{impl} >= {train.TARGET}x plain in every row" for impl in ("numpy", "torch")
    }


def test_nn_rnn_probe_does_the_same_work_as_the_backends():
    s = profile.settings(hidden=16, batch=4, seq_len=30, dtype="float64")
    params, batch = profile._case(s)
    probe = profile.profile_fn("nn_rnn", s)()
    ours = loss_and_grads(s, params, batch)
    assert probe["loss"] == pytest.approx(ours["loss"], rel=1e-12)
    np.testing.assert_allclose(probe["grad_norm"], ours["grad_norm"], rtol=1e-10)
    np.testing.assert_allclose(probe["weight_grad_norm"], ours["weight_grad_norm"], rtol=1e-10)
    for k in ("weight_hh", "weight_ih"):
        np.testing.assert_allclose(probe["grads"][k], ours["grads"][k], rtol=1e-10, atol=1e-14)


def test_numpy_rnn_profile_peaks_below_one_and_a_half_state_arrays():
    # the states h (T+1, B, H) stay (they are returned); everything else is per chunk of steps
    s = profile.settings(hidden=64, batch=16, seq_len=2000, dtype="float64")
    fn = profile.profile_fn("numpy", s)
    fn()  # warm: first-call allocations (imports, caches) are not the profile's
    _, peak = timing.traced_peak(fn)
    state = s.steps * s.batch * s.hidden * 8
    assert 1.0 <= peak / state <= 1.5
