"""One cell of the grid: build, profile at initialization, train, profile again, record.

A cell
1. builds its weights and data from seeded NumPy generators (identical for both backends);
2. measures the full-BPTT gradient profile at initialization (phase ``init``);
3. if ``train_steps > 0``, trains with its remedy and measures the profile again (``trained``);
4. returns one record (a JSON-safe dict) that :func:`write_record` writes atomically.

Numerical overflow is a result: status ``exploded`` when the init profile is not finite,
``diverged`` when training met a non-finite loss or gradient.

Example
-------
>>> from rnngrad.settings import CellSettings
>>> s = CellSettings.from_dict({"seq_len": 20, "w_rec_scale": 0.5, "train_steps": 0})
>>> rec = run_cell(s, "demo")
>>> rec["metrics"]["status"], len(rec["profiles"][0]["grad_norm"])
('ok', 20)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from rnngrad import metrics, tasks
from rnngrad.files import atomic_write
from rnngrad.init import data_stream, init_params, spectral_radius
from rnngrad.measure import (
    TIMING_BUDGET,
    TIMING_REPEATS,
    cell_gemm_gflops,
    peak_memory,
    timed,
    useful_flops,
)
from rnngrad.provenance import provenance
from rnngrad.settings import CellSettings, SettingsError
from rnngrad.training import backend_module, train

log = logging.getLogger("rnngrad.cell")


def measure_profile(
    s: CellSettings, params: dict[str, np.ndarray], batch: tasks.Batch, backend=None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The gradient profile (docs/metrics.md) for float64 ``params`` on the probe ``batch``.

    Returns the scalar metrics (unprefixed) and the per-lag profile arrays.
    """
    be = backend or backend_module(s)
    p = be.to_backend(s, params)
    steps = batch.steps
    out, _, profile_seconds = timed(
        lambda: be.loss_and_grads(s, p, batch), TIMING_REPEATS, TIMING_BUDGET
    )
    _, peak_bytes = peak_memory(s, lambda: be.loss_and_grads(s, p, batch))  # once warm
    grad_norm = metrics.by_lag(out["grad_norm"], steps)
    weight_grad_norm = metrics.by_lag(out["weight_grad_norm"], steps)
    W = metrics.recurrent_block(s.model, params["weight_hh"])
    m: dict[str, Any] = {
        "decay_rate": metrics.decay_rate(grad_norm),
        "log10_grad_ratio": metrics.log10_grad_ratio(grad_norm),
        "horizon": metrics.horizon(grad_norm),
        "spectral_radius": spectral_radius(W),
        "spectral_norm": metrics.spectral_norm(W),
        "probe_loss": out["loss"],
        "profile_seconds": profile_seconds,
        # speed: useful GFLOP/s (6 B G H^2 T FLOPs) and the pass's peak memory (measure.peak_memory)
        "profile_gflops": useful_flops(s, steps) / profile_seconds / 1e9,
        "profile_peak_mb": peak_bytes / 1e6 if peak_bytes >= 0 else float("nan"),
        "jacobian_decay_rate": float("nan"),
        "lyapunov_max": float("nan"),
        "jacobian_seconds": float("nan"),
    }
    jacobian_norm = None
    if s.jacobian:

        def jac():
            J = np.asarray(be.step_jacobians(s, p, batch, 0), dtype=np.float64)
            return metrics.jacobian_log10_norms(J), metrics.lyapunov_max(J)

        (log_jn, lyap), _, m["jacobian_seconds"] = timed(jac, TIMING_REPEATS, TIMING_BUDGET)
        with np.errstate(over="ignore", under="ignore"):
            jacobian_norm = np.power(10.0, log_jn)
        m["jacobian_decay_rate"] = metrics.slope(log_jn, log10=True)
        m["lyapunov_max"] = lyap
    finite = np.all(np.isfinite(grad_norm)) and np.isfinite(out["loss"])
    profile = {
        "lag": list(range(steps)),
        "grad_norm": grad_norm.tolist(),
        "jacobian_norm": None if jacobian_norm is None else jacobian_norm.tolist(),
        "weight_grad_norm": weight_grad_norm.tolist(),
    }
    m["finite"] = bool(finite)
    return m, profile


def run_cell(s: CellSettings, cell_id: str, checkpoint: str | None = None) -> dict[str, Any]:
    """Run one cell and return its record (see the module docstring)."""
    t_start = time.perf_counter()
    log.info("cell %s: %s", cell_id, json.dumps(s.to_dict(), sort_keys=True))
    be = backend_module(s)
    spec = tasks.spec(s.task, s.seq_len, s.hidden)
    params = init_params(s, spec.n_in, spec.n_out)
    probe = tasks.make_batch(s.task, s.seq_len, s.batch, data_stream(s, "probe"), s.hidden)
    record_metrics: dict[str, Any] = {}
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
        result = train(s, params, checkpoint=checkpoint)
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
            "trained %d steps: status %s, final_loss %s",
            s.train_steps,
            result["status"],
            result["metrics"].get("final_loss"),
        )
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


def write_record(record: dict[str, Any], path: str | os.PathLike) -> None:
    """Write a record as JSON atomically (a temporary file in the same folder, then rename)."""
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(record)))


def read_record(path: str | os.PathLike) -> dict[str, Any]:
    with open(path) as f:
        return json.load(f)


def parse_assignments(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` words to a settings mapping; values are YAML (``clip={kind: norm,
    threshold: 1}``), dotted keys build nested ones (``clip.threshold=0.5``)."""
    import yaml

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise SettingsError(f"{pair!r}: expected key=value")
        try:
            value = yaml.safe_load(raw) if raw else None
        except yaml.YAMLError as e:
            raise SettingsError(f"{key}: not a valid YAML value (value {raw!r})") from e
        head, _, sub = key.partition(".")
        if sub:
            nested = out.setdefault(head, {})
            if not isinstance(nested, dict):
                raise SettingsError(f"{key}: {head} is already set to {nested!r}")
            nested[sub] = value
        else:
            out[key] = value
    return out


def main(argv: list[str] | None = None) -> int:
    """``rnngrad cell key=value ...``: run one cell and print its metrics as JSON.

    The pipeline calls ``rnngrad cell --settings-json JSON --cell-id ID --out PATH --log PATH``.
    """
    ap = argparse.ArgumentParser(prog="rnngrad cell", description=main.__doc__.splitlines()[0])
    ap.add_argument(
        "assignments",
        nargs="*",
        metavar="key=value",
        help="settings (the config's defaults keys and grid axes, docs/config.md), e.g. "
        "seq_len=100 w_rec_scale=1.1 clip.kind=norm clip.threshold=1",
    )
    ap.add_argument("--settings-json", help="the cell's resolved settings as JSON")
    ap.add_argument("--cell-id", default="cli", help="the cell's id (default: cli)")
    ap.add_argument("--out", help="write the record (JSON) here, atomically")
    ap.add_argument("--log", help="append the cell's log here")
    ap.add_argument("--checkpoint", help="training checkpoint file (resumed if present)")
    ap.add_argument("--profile", action="store_true", help="print the profiles too")
    args = ap.parse_args(argv)

    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if args.log:
        Path(args.log).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(args.log, mode="w"))
    logging.basicConfig(
        level=logging.INFO,
        handlers=handlers,
        force=True,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        values = json.loads(args.settings_json) if args.settings_json else {}
        if not isinstance(values, dict):
            raise SettingsError(f"--settings-json: must be a JSON object (value {values!r})")
        values.update(parse_assignments(args.assignments))
        s = CellSettings.from_dict(values)
    except (SettingsError, json.JSONDecodeError) as e:
        log.error("bad settings: %s", e)
        print(f"rnngrad cell: {e}", file=sys.stderr)
        return 2
    try:
        record = run_cell(s, args.cell_id, checkpoint=args.checkpoint)
    except Exception:
        log.exception("cell %s failed", args.cell_id)
        raise
    if args.out:
        write_record(record, args.out)
        log.info("wrote %s", args.out)
    else:
        shown = {"cell_id": record["cell_id"], "steps": record["steps"], **record["metrics"]}
        if args.profile:
            shown["profiles"] = record["profiles"]
        print(json.dumps(shown, indent=2))
    return 0
