"""The summary of ``rnngrad bench``'s profile timings (:mod:`rnngrad.bench.profile`): the
headline ratios, whether each of the issue's targets is met, and the plain-text report with the
vanishing-against-stable table."""

from __future__ import annotations

import math
import os

import numpy as np

from rnngrad.run.provenance import cpu_model

IMPLS = ("numpy", "torch", "nn_rnn")
LABELS = {"numpy": "numpy (ours)", "torch": "torch (ours)", "nn_rnn": "nn.RNN + probe"}
# the targets (ratios measured side by side in one run)
TARGET_NUMPY_RATIO, TARGET_TORCH_RATIO = 0.5, 1.0  # of nn.RNN's time
TARGET_EFFICIENCY = 0.6  # of the GEMM throughput, numpy at H=256, B=128
TARGET_SLOPE = (0.9, 1.1)  # log-log slope of numpy's time in T
TARGET_MEMORY = 1.5  # state arrays beyond the weights, numpy rnn profile
TARGET_JACOBIAN_SECONDS = 1.0  # all-lag jacobian_norm at H=128, T=1000
TARGET_VANISHING = 1.2  # float32 profile at w_rec_scale 0.5 against 1.5, at most
VANISHING_SCALES = (0.5, 1.5)  # a vanishing and a non-vanishing tanh profile


def _one(results: list[dict], **match) -> dict | None:
    for r in results:
        if all(r.get(k) == v for k, v in match.items()):
            return r
    return None


def summarize(results: list[dict], args) -> dict:
    """The headline figures and whether each target is met, from the jobs' results."""
    t = {impl: _one(results, role="main", impl=impl)["seconds"] for impl in IMPLS}
    gemm = {(r["m"], r["k"], r["dtype"]): r["gflops"] for r in results if r["role"] == "gemm"}
    slopes = {}
    for impl in ("numpy", "torch"):
        long = _one(results, role="scaling", impl=impl)["seconds"]
        slopes[impl] = math.log(long / t[impl]) / math.log(args.long_seq_len / args.seq_len)
    eff = {}
    for r in results:
        if r["role"] == "efficiency":
            rate = gemm[(r["batch"], r["hidden"], r["dtype"])]
            eff[r["dtype"]] = r["gflops"] / rate
    mem = _one(results, role="memory", impl="numpy", model="rnn")["state_arrays"]
    jac = _one(results, role="jacobian")["jacobian_norm_s"]
    low, high = VANISHING_SCALES
    vanishing = {}
    for impl in ("numpy", "torch"):
        for d in ("float32", "float64"):
            a = _one(results, role="vanishing", impl=impl, dtype=d, w_rec_scale=low)["seconds"]
            b = _one(results, role="vanishing", impl=impl, dtype=d, w_rec_scale=high)["seconds"]
            vanishing[f"{impl} {d}"] = a / b
    out = {
        "numpy_vs_nn_rnn": t["numpy"] / t["nn_rnn"],
        "torch_vs_nn_rnn": t["torch"] / t["nn_rnn"],
        "numpy_gemm_fraction": eff,
        "slope_in_T": slopes,
        "numpy_rnn_state_arrays": mem,
        "jacobian_norm_s": jac,
        "vanishing_vs_stable": vanishing,
    }
    e = eff.get(args.dtype, next(iter(eff.values())))
    out["targets"] = {
        f"numpy <= {TARGET_NUMPY_RATIO}x nn.RNN": out["numpy_vs_nn_rnn"] <= TARGET_NUMPY_RATIO,
        f"torch <= {TARGET_TORCH_RATIO}x nn.RNN": out["torch_vs_nn_rnn"] <= TARGET_TORCH_RATIO,
        f"numpy >= {TARGET_EFFICIENCY:.0%} of GEMM rate ({args.dtype})": e >= TARGET_EFFICIENCY,
        f"numpy slope in T within {TARGET_SLOPE}": TARGET_SLOPE[0]
        <= slopes["numpy"]
        <= TARGET_SLOPE[1],
        f"numpy rnn memory <= {TARGET_MEMORY} state arrays": mem <= TARGET_MEMORY,
        f"all-lag jacobian_norm <= {TARGET_JACOBIAN_SECONDS} s": jac <= TARGET_JACOBIAN_SECONDS,
    }
    for impl in ("numpy", "torch"):
        out["targets"][f"{impl} float32 at w_rec_scale {low} <= {TARGET_VANISHING}x at {high}"] = (
            vanishing[f"{impl} float32"] <= TARGET_VANISHING
        )
    return out


def table(results: list[dict], summary: dict, args) -> str:
    """The results as a plain-text report."""
    H, B, T, dt = args.hidden, args.batch, args.seq_len, args.dtype
    threads = f"{args.threads} threads" if args.threads else "default threads"
    lines = [
        f"rnngrad bench: tanh RNN, adding task, H={H} B={B} T={T} {dt}; "
        f"{os.cpu_count()} CPUs ({threads}), load {os.getloadavg()[0]:.1f}",
        f"CPU: {cpu_model()}",
    ]
    gemm = {(r["m"], r["k"], r["dtype"]): r["gflops"] for r in results if r["role"] == "gemm"}
    ref = _one(results, role="main", impl="nn_rnn")["seconds"]
    lines += [
        "",
        f"profile: forward + full BPTT + per-step norms (best of {args.repeats} after a "
        "warm-up; median beside it)",
        f"  {'implementation':<16}{'seconds':>10}{'median':>10}{'vs nn.RNN':>11}"
        f"{'GFLOP/s':>9}{'of GEMM':>9}",
    ]
    for impl in IMPLS:
        r = _one(results, role="main", impl=impl)
        frac = r["gflops"] / gemm[(B, H, dt)]
        lines.append(
            f"  {LABELS[impl]:<16}{r['seconds']:>10.4f}{r['median_seconds']:>10.4f}"
            f"{r['seconds'] / ref:>10.2f}x"
            f"{r['gflops']:>9.1f}{frac:>9.0%}"
        )
    lines += [
        "",
        "GEMM throughput, NumPy (m, k) x (k, n), GFLOP/s",
        f"  {'m x k x n':<16}{'float32':>10}{'float64':>10}",
    ]
    for m, k in sorted({(m, k) for m, k, _ in gemm}):
        lines.append(
            f"  {f'{m}x{k}x{k}':<16}{gemm[(m, k, 'float32')]:>10.1f}"
            f"{gemm[(m, k, 'float64')]:>10.1f}"
        )
    lines += [
        "",
        f"NumPy profile at H={args.eff_hidden} B={args.eff_batch} T={T}",
        f"  {'dtype':<16}{'seconds':>10}{'GFLOP/s':>9}{'of GEMM':>9}",
    ]
    for r in results:
        if r["role"] == "efficiency":
            frac = r["gflops"] / gemm[(r["batch"], r["hidden"], r["dtype"])]
            lines.append(f"  {r['dtype']:<16}{r['seconds']:>10.4f}{r['gflops']:>9.1f}{frac:>9.0%}")
    Tl = args.long_seq_len
    lines += [
        "",
        f"scaling in T ({dt}, H={H}, B={B})",
        f"  {'implementation':<16}{f'T={T}':>10}{f'T={Tl}':>10}{'slope':>8}",
    ]
    for impl in ("numpy", "torch"):
        a = _one(results, role="main", impl=impl)["seconds"]
        b = _one(results, role="scaling", impl=impl)["seconds"]
        lines.append(f"  {LABELS[impl]:<16}{a:>10.4f}{b:>10.4f}{summary['slope_in_T'][impl]:>8.2f}")
    low, high = VANISHING_SCALES
    lines += [
        "",
        f"vanishing and not: the profile at w_rec_scale {low} and {high} (H={H}, B={B}, T={T}),"
        " seconds",
        f"  {'implementation':<16}{'dtype':>9}{f'w={low}':>10}{f'w={high}':>10}{'ratio':>8}"
        f"{'log10_grad_ratio at each':>26}",
    ]
    for impl in ("numpy", "torch"):
        for d in ("float32", "float64"):
            a, b = (
                _one(results, role="vanishing", impl=impl, dtype=d, w_rec_scale=w)
                for w in VANISHING_SCALES
            )
            lines.append(
                f"  {LABELS[impl]:<16}{d:>9}{a['seconds']:>10.4f}{b['seconds']:>10.4f}"
                f"{a['seconds'] / b['seconds']:>7.2f}x"
                f"{a['log10_grad_ratio']:>13.3f}{b['log10_grad_ratio']:>13.3f}"
            )
    state_mb = T * B * H * np.dtype(dt).itemsize / 1e6
    lines += [
        "",
        f"peak memory of one profile, in (T, B, H) state arrays of {state_mb:.1f} MB "
        "(numpy: tracemalloc; torch: peak RSS delta)",
        f"  {'model':<16}" + "".join(f"{LABELS[i]:>16}" for i in IMPLS),
    ]
    for model in ("rnn", "lstm", "gru"):
        cells = []
        for impl in IMPLS:
            r = _one(results, role="memory", impl=impl, model=model)
            cells.append(f"{r['state_arrays']:>16.2f}" if r else f"{'':>16}")
        lines.append(f"  {model:<16}" + "".join(cells))
    j = _one(results, role="jacobian")
    lines += [
        "",
        f"exact jacobian_norm, all lags, H={args.jac_hidden} T={args.jac_seq_len} "
        f"(float64): {j['jacobian_norm_s']:.3f} s; step_jacobians "
        f"{j['step_jacobians_s']:.3f} s, lyapunov_max {j['lyapunov_s']:.3f} s",
        "",
        "targets (measured, not asserted)",
    ]
    for name, met in summary["targets"].items():
        lines.append(f"  {'met    ' if met else 'NOT met'}  {name}")
    lines.append(
        f"  numpy/nn.RNN {summary['numpy_vs_nn_rnn']:.2f}x, torch/nn.RNN "
        f"{summary['torch_vs_nn_rnn']:.2f}x"
    )
    return "\n".join(lines)


def measured(r: dict) -> str:
    """One job's result as one line."""
    sizes = " ".join(
        f"{k}={r[k]}" for k in ("model", "hidden", "batch", "seq_len", "dtype") if k in r
    )
    figures = ", ".join(
        f"{k} {v:.4g}" for k, v in r.items() if isinstance(v, float) and k not in ("seq_len",)
    )
    return f"{LABELS.get(r['impl'], r['impl'])} {r['role']} {sizes}: {figures}"
