"""Measuring a pass: its time, its useful FLOPs, the machine's GEMM rate and its peak memory.

Used by the cell runner (:mod:`rnngrad.run.cell`, the speed metrics of every cell) and by
``rnngrad bench``; what each measured quantity means is in docs/metrics.md.

Example
-------
>>> out = timed(lambda: sum(range(1000)), repeats=3)
>>> out.result, out.best <= out.median
(499500, True)
"""

from __future__ import annotations

import ctypes
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from rnngrad.core.settings import CellSettings
from rnngrad.core.weights import gates

TIMING_BUDGET = 1.0  # a cell's timed repeats stop once they took this many seconds ...
TIMING_REPEATS = 5  # ... or after this many
GEMM_SECONDS = 0.3  # timing budget of one GEMM throughput measurement
GEMM_WINDOWS = 5  # ... split into windows; the fastest counts
CELL_GEMM_SECONDS = 0.03  # the same in a cell, where it adds to the cell's time


# glibc's malloc hands a freed block of more than 128 KB back to the kernel (its dynamic mmap
# threshold rises to the largest block freed so far, and the heap is trimmed when its free top
# passes twice that); a training step allocates and frees such arrays by the dozen, and every
# fresh page of them faults in again on the next step: 625 minor faults a step for the NumPy lstm
# at H = 32, B = 20, T = 100 in float32 (a quarter of its time), 40 for plain PyTorch's, whose
# step at H = 50, B = 128 ran 1.9x faster without them (docs/performance.md).
MMAP_THRESHOLD = 32 * 1024 * 1024  # blocks below this come from the heap (glibc's largest)
TRIM_THRESHOLD = 512 * 1024 * 1024  # the heap keeps up to this much freed memory at its top
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters (malloc.h)


def keep_freed_memory() -> bool:
    """Make glibc's malloc keep freed blocks of up to :data:`MMAP_THRESHOLD` for reuse instead of
    returning them to the kernel (mallopt, process-wide). Called once by every process rnngrad
    starts that trains or times (the CLI and the bench workers). Returns False where there is no
    glibc (macOS, musl), which changes nothing else."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(
        libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )


class Timed(NamedTuple):
    result: Any  # the warm-up's result
    best: float  # seconds of the fastest timed run
    median: float  # median seconds of the timed runs


def timed(fn: Callable[[], Any], repeats: int, budget: float | None = None) -> Timed:
    """Run ``fn`` once as a warm-up, then time it ``repeats`` times, or, with a ``budget`` in
    seconds, until the timed runs add up to the budget (at most ``repeats``, at least one).

    The best is what a comparison on a shared machine uses (others' load only adds time); a
    cell records the median (``timed(fn, TIMING_REPEATS, TIMING_BUDGET).median``).
    """
    result = fn()
    times: list[float] = []
    while len(times) < repeats and (budget is None or not times or sum(times) < budget):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return Timed(result, min(times), statistics.median(times))


def useful_flops(s: CellSettings, steps: int | None = None) -> float:
    """The profile's useful FLOPs, 6 B G H^2 T: the forward's and the backward's recurrent GEMMs
    and dL/dW_hh (the input projections and the norms are not counted)."""
    return 6.0 * s.batch * gates(s.model) * s.layers * s.hidden**2 * (steps or s.steps)


def gemm_gflops(
    m: int,
    k: int,
    n: int,
    dtype: str = "float64",
    library: str = "numpy",
    device: str = "cpu",
    seconds: float = GEMM_SECONDS,
) -> float:
    """GEMM throughput (GFLOP/s) of (m, k) x (k, n) products, repeated for ``seconds`` after a
    warm-up (the best of GEMM_WINDOWS windows), in NumPy or torch (on ``device``): the rate a
    step's GEMMs could reach at best."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(shape).astype(dtype) for shape in ((m, k), (k, n)))
    c = np.empty((m, n), dtype=dtype)
    sync = None
    if library == "torch":
        import torch

        a, b, c = (torch.as_tensor(v, device=device) for v in (a, b, c))
        sync = torch.cuda.synchronize if device == "cuda" else None
        mm = lambda: torch.matmul(a, b, out=c)  # noqa: E731
    else:
        mm = lambda: np.matmul(a, b, out=c)  # noqa: E731
    mm()
    best = 0.0
    for _ in range(GEMM_WINDOWS):  # the best window: others' load on shared cores only slows
        calls, t0 = 0, time.perf_counter()
        while True:  # batches of calls, so the clock's own cost stays out of small products
            for _ in range(16):
                mm()
            calls += 16
            if sync:
                sync()
            elapsed = time.perf_counter() - t0
            if elapsed >= seconds / GEMM_WINDOWS:
                best = max(best, 2.0 * m * k * n * calls / elapsed / 1e9)
                break
    return best


def cell_gemm_gflops(s: CellSettings) -> float:
    """The GEMM throughput of a cell's step, (B, H) x (H, G H), in its backend's library, dtype
    and device, timed for CELL_GEMM_SECONDS: the limit its profile_gflops is compared with."""
    torch_cell = s.backend == "torch"
    return gemm_gflops(
        s.batch,
        s.hidden,
        gates(s.model) * s.hidden,
        s.dtype,
        library=s.backend,
        device=s.device if torch_cell else "cpu",
        seconds=CELL_GEMM_SECONDS,
    )


def traced_peak(fn: Callable[[], Any]) -> tuple[Any, int]:
    """``fn()`` and the peak bytes NumPy (and Python) allocated during it, by tracemalloc."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = fn()
        return result, tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise OSError(f"/proc/self/status: no {key}")


def rss_peak(fn: Callable[[], Any]) -> tuple[Any, int]:
    """``fn()`` and the rise of the process's peak resident set during it over the resident set
    before it (bytes): freed heap is handed back first (``malloc_trim``) and the peak reset
    (``/proc/self/clear_refs``), so libraries NumPy cannot trace (torch) are measured too.
    Linux only; -1 where the peak cannot be reset."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current resident set
        before = _status_kb("VmRSS")
    except OSError:
        return fn(), -1
    result = fn()
    return result, 1024 * (_status_kb("VmHWM") - before)


def peak_memory(s: CellSettings, fn: Callable[[], Any]) -> tuple[Any, int]:
    """``fn()`` and the peak bytes it allocated, measured as :func:`memory_method` says."""
    if s.backend == "numpy":
        return traced_peak(fn)
    if s.device == "cuda":
        import torch

        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        result = fn()
        torch.cuda.synchronize()
        return result, torch.cuda.max_memory_allocated() - base
    return rss_peak(fn)


def memory_method(s: CellSettings) -> str:
    """How :func:`peak_memory` measures a cell's backend."""
    if s.backend == "numpy":
        return "tracemalloc"
    return "torch.cuda.max_memory_allocated" if s.device == "cuda" else "peak RSS delta"
