"""The cost model: monotone in size, sane bounds, and checked against measured time and memory."""

import itertools
import json
import os
import subprocess
import sys

import pytest

from rnngrad.core.settings import CellSettings
from rnngrad.core.tasks import EVAL_CHUNK
from rnngrad.run.timing import useful_flops
from rnngrad.study.resources import (
    ELEM_SECONDS,
    GEMM_RATE,
    STEP_SECONDS,
    cell_memory_mb,
    cell_resources,
    pass_seconds,
)


def cell(**kw):
    return CellSettings.from_dict(
        {"backend": "numpy", "seq_len": 100, "hidden": 32, "batch": 32, "train_steps": 100, **kw}
    )


@pytest.mark.parametrize(
    "key, values",
    [
        ("seq_len", [10, 100, 1000, 10000]),
        ("hidden", [8, 32, 128, 512]),
        ("batch", [1, 32, 128, 1024]),
        ("train_steps", [0, 10, 100, 1000]),
    ],
)
def test_monotone_in_size(key, values):
    rs = [cell_resources(cell(**{key: v})) for v in values]
    for small, big in itertools.pairwise(rs):
        assert small["estimated_seconds"] < big["estimated_seconds"]
        for k in ("runtime", "mem_mb", "cpus_per_task"):
            assert small[k] <= big[k], (key, k, small, big)


@pytest.mark.parametrize(
    "cheap, costly",
    [
        ({"jacobian": False}, {"jacobian": True}),
        ({"backend": "numpy"}, {"backend": "torch"}),
        ({"dtype": "float32"}, {"dtype": "float64"}),
        ({"model": "rnn"}, {"model": "gru"}),
        ({"model": "gru"}, {"model": "lstm"}),
        ({}, {"penalty": {"kind": "pascanu", "weight": 2.0}}),
    ],
)
def test_costlier_settings_cost_more(cheap, costly):
    a, b = cell_resources(cell(**cheap)), cell_resources(cell(**costly))
    assert a["estimated_seconds"] < b["estimated_seconds"]
    assert a["mem_mb"] <= b["mem_mb"]


def test_sane_bounds():
    tiny = cell_resources(cell(seq_len=10, train_steps=0))
    assert set(tiny) == {"runtime", "mem_mb", "cpus_per_task", "estimated_seconds"}
    assert all(isinstance(tiny[k], int) for k in ("runtime", "mem_mb", "cpus_per_task"))
    assert isinstance(tiny["estimated_seconds"], float)
    assert 0.1 < tiny["estimated_seconds"] < 5  # a process start, a few tiny passes
    assert 1 <= tiny["runtime"] <= 5
    assert 300 <= tiny["mem_mb"] <= 1000
    assert tiny["cpus_per_task"] == 1
    huge = cell_resources(cell(seq_len=10000, hidden=256, batch=128, train_steps=1000))
    assert huge["runtime"] * 60 >= 3 * huge["estimated_seconds"]  # the margin holds
    assert huge["estimated_seconds"] > 3600  # 1000 passes of 0.8 s (the baseline's table)
    assert huge["cpus_per_task"] == 2


def test_a_diagonal_recurrence_asks_for_one_core():
    # same size as a dense rnn that asks for two: the indrnn's and the lru's steps are elementwise
    dense = cell_resources(cell(seq_len=100, hidden=128, train_steps=100))
    assert dense["cpus_per_task"] == 2
    for model, extra in (
        ("indrnn", {"layers": 2, "nonlinearity": "relu"}),
        ("lru", {"nonlinearity": "linear"}),
    ):
        diag = cell_resources(cell(seq_len=100, hidden=128, train_steps=100, model=model, **extra))
        assert diag["cpus_per_task"] == 1, model


def test_memory_of_a_big_cell_covers_its_arrays():
    # H=256, B=128, T=10000: one (T, B, H) float64 array is 2.6 GB; the numpy backend peaks at
    # 2.0 such arrays, torch autograd at 6.5 (performance-baseline.md); evaluation keeps the
    # states of one chunk of sequences; the Jacobians are two (T, H, H) float64 arrays
    T, B, H = 10000, 128, 256
    array_mb = (T + 1) * B * H * 8 / 1e6
    numpy_cell = cell(seq_len=T, hidden=H, batch=B, train_steps=0, jacobian=False)
    assert cell_resources(numpy_cell)["mem_mb"] >= 2.0 * array_mb + 300
    torch_cell = numpy_cell.replace(backend="torch")
    assert cell_resources(torch_cell)["mem_mb"] >= 6.5 * array_mb + 500
    trained = cell(seq_len=T, hidden=H, batch=1, jacobian=False)
    assert cell_resources(trained)["mem_mb"] >= (T + 1) * EVAL_CHUNK * H * 8 / 1e6
    jac = cell(seq_len=T, hidden=H, batch=1, train_steps=0)
    assert cell_resources(jac)["mem_mb"] >= 2 * T * H * H * 8 / 1e6


MEASURE = """
import json, sys, time
import numpy as np
from rnngrad import numpy_backend as nb
from rnngrad.core.weights import data_stream, init_params
from rnngrad.core.settings import CellSettings
from rnngrad.core.tasks import make_batch, spec
s = CellSettings.from_dict(json.loads(sys.argv[1]))
sp = spec(s.task, s.seq_len, s.hidden)
p = nb.to_backend(s, init_params(s, sp.n_in, sp.n_out))
b = make_batch(s.task, s.seq_len, s.batch, data_stream(s, "probe"))
times = []
for _ in range(4):
    t = time.perf_counter()
    nb.loss_and_grads(s, p, b)
    times.append(time.perf_counter() - t)
nb.step_jacobians(s, p, b)
# VmHWM, not getrusage's ru_maxrss: Linux keeps ru_maxrss across fork and exec, so a child of a
# big pytest process would report its parent's peak
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"seconds": min(times[1:]), "peak_mb": int(hwm.split()[1]) * 1024 / 1e6}))
"""


def measure(s):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}  # as calibrated
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, json.dumps(s.to_dict())],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


@pytest.mark.parametrize(
    "size",
    [
        {"seq_len": 2000, "hidden": 16, "batch": 8},  # call-bound
        {"seq_len": 300, "hidden": 128, "batch": 64, "dtype": "float32"},  # GEMM-bound
    ],
)
def test_pass_memory_matches_a_measurement_and_its_time_counts_the_work(size):
    """Memory is measured; time is not asserted (it depends on the CPU: subnormal floats cost
    13x on some Intel Xeons). The estimate instead counts the profile's work: T steps of
    G gate-sized calls and elementwise passes and the FLOPs of rnngrad.run.timing.useful_flops,
    each at the reference machine's rate. `rnngrad bench` reports measured seconds."""
    s = cell(**size, train_steps=0)
    assert measure(s)["peak_mb"] <= cell_memory_mb(s)
    B, H, T = s.batch, s.hidden, s.steps
    gemm = (useful_flops(s) + 4 * B * B * H * T) / GEMM_RATE[s.dtype]
    per_step = STEP_SECONDS["numpy"] + ELEM_SECONDS[s.dtype] * B * H
    assert pass_seconds(s) == pytest.approx(gemm + T * per_step, rel=1e-12)
    assert pass_seconds(s.replace(seq_len=2 * s.seq_len)) == pytest.approx(
        pass_seconds(s) * (2 * s.seq_len) / s.seq_len, rel=1e-12
    )


def test_memory_of_a_long_profile_matches_a_measurement():
    s = cell(seq_len=3000, hidden=128, batch=64, train_steps=0, jacobian=False)
    got = measure(s)
    arrays_mb = (s.steps + 1) * s.batch * s.hidden * 8 / 1e6  # 197 MB; numpy peaks at 2 of them
    assert got["peak_mb"] > arrays_mb  # the measurement sees the states at all
    assert got["peak_mb"] <= cell_memory_mb(s) <= got["peak_mb"] + arrays_mb + 300
