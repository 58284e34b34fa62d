"""One cell of the grid: build, profile at initialization, train, profile again, record.

A cell
1. builds its weights and data from seeded NumPy generators (identical for both backends);
2. measures the full-BPTT gradient profile at initialization (phase ``init``);
3. if ``train_steps > 0``, trains with its remedy and measures the profile again (``trained``);
4. with ``plain_reference_steps > 0``, times plain PyTorch's training at its shape
   (:mod:`rnngrad.run.plain`), the rate its own ``train_steps_per_s`` is read against;
5. returns one record (a JSON-safe dict) that :func:`rnngrad.run.record.write_record` writes
   atomically.

Numerical overflow is a result: status ``exploded`` when the init profile's forward overflowed
(a non-finite loss or states; a gradient beyond float64's range is not an overflow: its log10
norms stay exact), ``diverged`` when training met a non-finite loss or gradient.

Example
-------
>>> from rnngrad.core.settings import CellSettings
>>> s = CellSettings.from_dict({"seq_len": 20, "w_rec_scale": 0.5, "train_steps": 0})
>>> rec = run_cell(s, "demo")
>>> rec["metrics"]["status"], len(rec["profiles"][0]["grad_norm"])
('ok', 20)
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

import numpy as np

from rnngrad import backends
from rnngrad.core import metrics, tasks, theory
from rnngrad.core.logscale import from_log10
from rnngrad.core.memory import memory_sensitivity
from rnngrad.core.settings import CellSettings
from rnngrad.core.weights import cell_batch, data_stream, init_params, spectral_radius
from rnngrad.run import plain
from rnngrad.run.loop import train
from rnngrad.run.provenance import provenance
from rnngrad.run.timing import (
    TIMING_BUDGET,
    TIMING_REPEATS,
    cell_gemm_gflops,
    peak_memory,
    timed,
    useful_flops,
)

log = logging.getLogger("rnngrad.run.cell")


def measure_profile(
    s: CellSettings, params: dict[str, np.ndarray], batch: tasks.Batch, backend=None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The gradient profile (docs/metrics.md) for float64 ``params`` on the probe ``batch``.

    Returns the scalar metrics (unprefixed) and the per-lag profile arrays.
    """
    be = backend or backends.get(s.backend)
    p = be.to_backend(s, params)
    steps = batch.steps
    last = tasks.last_loss_step(batch)  # the profile is that of the last loss step's term
    out, _, profile_seconds = timed(
        lambda: be.loss_and_grads(s, p, last), TIMING_REPEATS, TIMING_BUDGET
    )
    _, peak_bytes = peak_memory(s, lambda: be.loss_and_grads(s, p, last))  # once warm
    log10_grad_norm = metrics.by_lag(out["log10_grad_norm"], steps)
    log10_weight_grad_norm = metrics.by_lag(out["log10_weight_grad_norm"], steps)
    W = metrics.recurrent_block(s.model, params)
    m: dict[str, Any] = {
        **metrics.profile_scalars(s.model, log10_grad_norm),
        "spectral_radius": float("nan") if W is None else spectral_radius(W),
        "spectral_norm": float("nan") if W is None else metrics.spectral_norm(W),
        "probe_loss": out["loss"] if last is batch else be.loss_and_grads(s, p, batch)["loss"],
        "profile_seconds": profile_seconds,
        # speed: useful GFLOP/s (6 B G H^2 T FLOPs) and the pass's peak memory (measure.peak_memory)
        "profile_gflops": useful_flops(s, steps) / profile_seconds / 1e9,
        "profile_peak_mb": peak_bytes / 1e6 if peak_bytes >= 0 else float("nan"),
        "memory_sensitivity": memory_sensitivity(s, be, p, batch),
        "jacobian_decay_rate": float("nan"),
        "lyapunov_max": float("nan"),
        "jacobian_seconds": float("nan"),
    }
    log_jn = sv_median = sv_min = None
    if s.jacobian:

        def jac():
            J = np.asarray(be.step_jacobians(s, p, batch, 0), dtype=np.float64)
            return metrics.jacobian_log10_spectra(J), metrics.lyapunov_max(J)

        (spectra, lyap), _, m["jacobian_seconds"] = timed(jac, TIMING_REPEATS, TIMING_BUDGET)
        log_jn = spectra[:, -1]
        # dynamical isometry: the median and smallest singular value of ds_T/ds_{T-k}
        sv_median = from_log10(np.median(spectra, axis=1))
        sv_min = from_log10(spectra[:, 0])
        m["jacobian_decay_rate"] = metrics.slope(log_jn, log10=True)
        m["lyapunov_max"] = lyap
    # a forward that overflowed (non-finite states) gives a non-finite loss or NaN norms; the
    # log10 norms themselves stay finite at any depth (-inf only for an exact zero)
    finite = bool(np.all(log10_grad_norm < np.inf)) and np.isfinite(out["loss"])
    profile = {
        "lag": list(range(steps)),
        "grad_norm": from_log10(log10_grad_norm).tolist(),
        "jacobian_norm": None if log_jn is None else from_log10(log_jn).tolist(),
        "jacobian_sv_median": None if sv_median is None else sv_median.tolist(),
        "jacobian_sv_min": None if sv_min is None else sv_min.tolist(),
        "weight_grad_norm": from_log10(log10_weight_grad_norm).tolist(),
        "log10_grad_norm": log10_grad_norm.tolist(),
        "log10_jacobian_norm": None if log_jn is None else log_jn.tolist(),
        "log10_weight_grad_norm": log10_weight_grad_norm.tolist(),
    }
    m["finite"] = bool(finite)
    return m, profile


def run_cell(
    s: CellSettings,
    cell_id: str,
    checkpoint: str | None = None,
    checkpoint_every: float | None = None,
) -> dict[str, Any]:
    """Run one cell and return its record (see the module docstring); ``checkpoint`` and
    ``checkpoint_every`` as in :func:`rnngrad.run.loop.train`."""
    t_start = time.perf_counter()
    log.info("cell %s: %s", cell_id, json.dumps(s.to_dict(), sort_keys=True))
    be = backends.get(s.backend)
    spec = tasks.spec(s.task, s.seq_len, s.hidden)
    params = init_params(s, spec.n_in, spec.n_out)
    probe = cell_batch(s, data_stream(s, "probe"))
    # the mean field's statistics and prediction at initialization (rnngrad.core.theory)
    record_metrics: dict[str, Any] = theory.cell_mean_field(s, params, probe.x)
    profiles = []

    m, prof = measure_profile(s, params, probe, be)
    status = "ok" if m.pop("finite") else "exploded"
    record_metrics.update({f"init_{k}": v for k, v in m.items()})
    profiles.append({"phase": "init", **prof})
    log.info(
        "init profile: decay_rate %.4g, log10_grad_ratio %.4g, %.3g s",
        m["decay_rate"],
        m["log10_grad_ratio"],
        m["profile_seconds"],
    )

    training = None
    if s.train_steps > 0:
        result = train(s, params, checkpoint=checkpoint, checkpoint_every=checkpoint_every)
        training = {k: list(v) for k, v in result["curve"].items()}
        record_metrics.update(result["metrics"])
        if result["status"] == "diverged" and status == "ok":
            # an init profile that overflowed stays "exploded" (diverged_at says more)
            status = "diverged"
        trained = result["params"]
        if all(np.all(np.isfinite(v)) for v in trained.values()):
            m, prof = measure_profile(s, trained, probe, be)
            m.pop("finite")
            record_metrics.update({f"trained_{k}": v for k, v in m.items()})
            profiles.append({"phase": "trained", **prof})
        log.info(
            "trained %d of %d steps: status %s, final_loss %s",
            result["metrics"]["steps_trained"],
            s.train_steps,
            result["status"],
            result["metrics"].get("final_loss"),
        )
    if s.plain_reference_steps > 0 and plain.supported(s):
        rate = plain.plain_train_steps_per_s(s, s.plain_reference_steps)
        ratio = record_metrics.get("train_steps_per_s", float("nan")) / rate
        record_metrics.update(plain_train_steps_per_s=rate, train_vs_plain=ratio)
        log.info("plain PyTorch at this shape: %.4g steps/s (this cell %.3gx)", rate, ratio)
    record_metrics["status"] = status
    # the machine's limit for this cell's step GEMM (B, H) x (H, G H), measured in this job
    record_metrics["gemm_gflops"] = cell_gemm_gflops(s)
    record_metrics["runtime_s"] = time.perf_counter() - t_start
    record_metrics["overhead_s"] = _process_seconds() - record_metrics["runtime_s"]
    return {
        "cell_id": cell_id,
        "settings": s.to_dict(),
        "steps": probe.steps,
        "metrics": record_metrics,
        "profiles": profiles,
        "training": training,
        "provenance": provenance(s),
    }


def _process_seconds() -> float:
    """Wall time since this process started (interpreter start-up and imports included).

    From the kernel's start time in clock ticks since boot (10 ms steps): psutil's create_time
    adds the boot time, which /proc/stat gives in whole seconds, so it ran up to 1 s over.
    """
    try:
        with open("/proc/self/stat") as f:
            start_ticks = int(f.read().rpartition(")")[2].split()[19])  # field 22, starttime
        return time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, AttributeError):  # not Linux
        import psutil  # a Snakemake dependency

        return time.time() - psutil.Process().create_time()
