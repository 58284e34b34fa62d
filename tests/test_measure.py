"""Measuring a pass: the timing helper, useful FLOPs, peak memory (rnngrad.run.timing)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from rnngrad.bench import profile
from rnngrad.run import timing


def test_timed_runs_a_warm_up_then_repeats():
    calls = []
    out = timing.timed(lambda: calls.append(1) or len(calls), repeats=4)
    assert out.result == 1 and len(calls) == 5  # the warm-up's result; 4 timed runs
    assert 0 <= out.best <= out.median


def test_timed_stops_at_its_budget_after_one_run_at_least():
    calls = []
    timing.timed(lambda: calls.append(1), repeats=5, budget=0.0)
    assert len(calls) == 2  # warm-up and one timed run: the budget was spent at once
    calls.clear()
    timing.timed(lambda: calls.append(1), repeats=3, budget=1e9)
    assert len(calls) == 4  # the repeats bound it first


def test_useful_flops_is_6BGH2T():
    s = profile.settings(model="gru", hidden=8, batch=3, seq_len=10)
    assert timing.useful_flops(s) == 6 * 3 * 3 * 8**2 * s.steps


@pytest.mark.parametrize("measure", [timing.traced_peak, timing.rss_peak])
def test_peak_measures_see_an_allocation_of_known_size(measure):
    n = 40_000_000  # bytes, touched so they are resident

    def alloc():
        a = np.ones(n // 8)
        return float(a[-1])

    result, peak = measure(alloc)
    assert result == 1.0
    # the kernel counts resident pages in per-thread batches: a few hundred kB either way
    assert 0.98 * n <= peak <= n + 8_000_000


FAULTS = """
import resource, sys
import numpy as np
from rnngrad.run import timing

kept = sys.argv[1] == "keep" and timing.keep_freed_memory()


def step():  # a training step's pattern: arrays of 1 to 4 MB written, then freed
    arrays = [np.ones(n * 32768) for n in (4, 12, 2, 8, 16)]
    del arrays


for _ in range(5):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 20
result, peak = timing.rss_peak(lambda: float(np.ones(2_500_000)[-1]))  # 20 MB, under the threshold
print(kept, faults, peak)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_keep_freed_memory_stops_the_page_faults_of_reallocated_arrays():
    def run(mode):
        out = subprocess.run(
            [sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, check=True
        )
        kept, faults, peak = out.stdout.split()
        return kept == "True", float(faults), int(peak)

    pages = (4 + 12 + 2 + 8 + 16) * 32768 * 8 // 4096  # written a step
    _, faults_default, _ = run("default")
    kept, faults_kept, peak = run("keep")
    if not kept:
        pytest.skip("no glibc mallopt here")
    assert faults_default > 0.25 * pages  # glibc hands most of them back to the kernel ...
    assert faults_kept < 0.01 * pages  # ... and keeps them with keep_freed_memory
    assert 0.98 * 20_000_000 <= peak <= 28_000_000  # rss_peak still sees a heap allocation
