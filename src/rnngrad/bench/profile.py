"""``rnngrad bench``: how fast the two backends are, side by side, against this machine's limit.

One run times, each library in its own subprocess and after a warm-up, the gradient profile (one
forward pass, full BPTT and the per-step norms ||dL/dh_t|| and ||step t's term of dL/dW_hh||) of
a tanh RNN on the adding task in three implementations on the same weights and data:

- ``numpy``: our NumPy backend (:func:`rnngrad.numpy_backend.loss_and_grads`);
- ``torch``: our PyTorch backend (:func:`rnngrad.torch_backend.loss_and_grads`);
- ``nn.RNN``: ``torch.nn.RNN`` with a probe that exposes dL/dh_t: the input projection enters as
  the input, with ``weight_ih = I``, so its .grad is dL/da_t and dL/dh_{t-1} = direct_{t-1} +
  dL/da_t W_hh (one batched GEMM); the same work, the reference the targets are stated against.

Beside it, both backends' profiles at a vanishing and a non-vanishing scale (w_rec_scale 0.5
and 1.5, ``VANISHING_SCALES``) in both dtypes: the backward carries dL/dh_t with a log-scale
(:mod:`rnngrad.core.logscale`), so a vanishing profile computes on normal numbers and costs what the
other one costs (subnormal arithmetic costs an Intel Xeon 13x). The report names the CPU.

It also measures NumPy's GEMM throughput at the recurrence's shape (B, H) x (H, H), the log-log
slope of time in T, the peak memory of one profile in units of one (T, B, H) state array (NumPy:
``tracemalloc``, exact for NumPy's buffers; torch: the rise of the process's peak resident set
over its resident set before the pass, after ``malloc_trim``, with the peak reset through
``/proc/self/clear_refs``), and the time of the exact all-lag ``jacobian_norm``.

Example
-------
::

    rnngrad bench                     # H=128, B=32, T=1000, float32; about a minute
    rnngrad bench --quick             # small sizes, a few seconds
    rnngrad bench --hidden 256 --batch 128 --json bench.json
    rnngrad bench --train --threads 1 # training steps/s against plain PyTorch (rnngrad.bench.train)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable

import numpy as np

from rnngrad.bench import train
from rnngrad.bench.common import start_worker, worker_env, write_json
from rnngrad.bench.summary import IMPLS, VANISHING_SCALES, measured, summarize, table
from rnngrad.core import metrics
from rnngrad.core.settings import CellSettings
from rnngrad.core.tasks import spec
from rnngrad.core.weights import cell_batch, data_stream, init_params
from rnngrad.run.timing import (
    gemm_gflops,
    memory_method,
    peak_memory,
    timed,
    useful_flops,
)


# -- what is measured ---------------------------------------------------------------------------
def settings(
    backend: str = "numpy",
    model: str = "rnn",
    hidden: int = 128,
    batch: int = 32,
    seq_len: int = 1000,
    dtype: str = "float32",
    **kw,
) -> CellSettings:
    """The settings of a benchmark profile: a tanh model at w_rec_scale 1 on the adding task."""
    return CellSettings.from_dict(
        {
            "backend": backend,
            "model": model,
            "hidden": hidden,
            "batch": batch,
            "seq_len": seq_len,
            "dtype": dtype,
            "w_rec_scale": 1.0,
            "train_steps": 0,
            "jacobian": False,
            **kw,
        }
    )


def _case(s: CellSettings):
    sp = spec(s.task, s.seq_len, s.hidden)
    return init_params(s, sp.n_in, sp.n_out), cell_batch(s, data_stream(s, "probe"))


def profile_fn(impl: str, s: CellSettings) -> Callable[[], dict]:
    """A function running one gradient profile of ``impl`` on the benchmark case of ``s``; it
    returns at least ``loss`` and ``grad_norm`` (T+1,)."""
    params, batch = _case(s)
    if impl == "nn_rnn":
        return _nn_rnn_probe(s, params, batch)
    from rnngrad import backends

    be = backends.get(impl)
    p = be.to_backend(s, params)
    return lambda: be.loss_and_grads(s, p, batch)


def _nn_rnn_probe(s: CellSettings, params: dict, batch) -> Callable[[], dict]:
    """torch.nn.RNN with the input projection as its input (weight_ih = I), so that every
    dL/dh_t can be read (an nn.RNN output's .grad is only the readout's direct term)."""
    import torch
    import torch.nn.functional as F

    from rnngrad import backends
    from rnngrad.core.shared import step_term_norms

    tb = backends.get("torch")
    readout = tb.readout

    if s.model != "rnn":
        raise ValueError(f"model: nn.RNN runs the rnn only (value {s.model!r})")
    H, dtype = s.hidden, getattr(torch, s.dtype)
    rnn = torch.nn.RNN(H, H, nonlinearity=s.nonlinearity, dtype=dtype, device=tb.device(s))
    p = {k: tb.tensor(s, v).requires_grad_() for k, v in params.items()}
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.eye(H, dtype=dtype))
        rnn.bias_ih_l0.zero_()
        rnn.weight_hh_l0.copy_(p["weight_hh"])
        rnn.bias_hh_l0.copy_(p["bias_hh"])
    rnn.weight_ih_l0.requires_grad_(False)
    rnn.bias_ih_l0.requires_grad_(False)
    x = tb.tensor(s, batch.x)

    def run() -> dict:
        for v in [*p.values(), *rnn.parameters()]:
            v.grad = None
        u = F.linear(x, p["weight_ih"], p["bias_ih"])  # a_t's input part, the probe's input
        u.retain_grad()
        h0 = x.new_zeros(1, x.shape[1], H)
        out, _ = rnn(u, h0)
        h = torch.cat([h0, out])  # (T+1, B, H), h_0 first
        h.retain_grad()
        loss, y = readout.loss(p, h, batch)
        loss.backward()
        with torch.no_grad():
            da, W = u.grad, rnn.weight_hh_l0  # dL/da_t (T, B, H)
            dh = h.grad.clone()  # the readout's direct term, then through W_hh
            dh[:-1] += da @ W
            grad_norm = torch.linalg.vector_norm(dh, dim=(1, 2))
            # step t's term of dL/dW_hh is da_t^T h_{t-1}: its norm by the Gram trick
            weight_grad_norm = step_term_norms(da, h[:-1])
        return {
            "loss": loss.item(),
            "outputs": tb.from_backend(y),
            "grad_norm": tb.from_backend(grad_norm).astype(np.float64),
            "weight_grad_norm": tb.from_backend(weight_grad_norm).astype(np.float64),
            "grads": {
                "weight_hh": tb.from_backend(rnn.weight_hh_l0.grad),
                "weight_ih": tb.from_backend(p["weight_ih"].grad),
            },
        }

    return run


# -- the worker: one library in its own process --------------------------------------------------
def run_job(impl: str, job: dict, repeats: int = 5) -> dict:
    """One measurement of ``impl`` (in this process); ``job["kind"]`` is time, memory, gemm or
    jacobian, with the sizes as further keys."""
    kind = job["kind"]
    keys = ("model", "hidden", "batch", "seq_len", "dtype", "w_rec_scale")
    sizes = {k: job[k] for k in keys if k in job}
    if kind == "gemm":
        return {"gflops": gemm_gflops(job["m"], job["k"], job["n"], job["dtype"])}
    if kind == "jacobian":
        from rnngrad import backends

        numpy_backend = backends.get("numpy")

        s = settings(**sizes)
        params, batch = _case(s)
        p = numpy_backend.to_backend(s, params)
        J, t_jac, _ = timed(lambda: numpy_backend.step_jacobians(s, p, batch, 0), repeats)
        J = J.astype(np.float64)
        _, t_norm, _ = timed(lambda: metrics.jacobian_log10_norms(J), repeats)
        _, t_lyap, _ = timed(lambda: metrics.lyapunov_max(J), repeats)
        return {"step_jacobians_s": t_jac, "jacobian_norm_s": t_norm, "lyapunov_s": t_lyap}
    s = settings(backend="numpy" if impl == "numpy" else "torch", **sizes)
    fn = profile_fn(impl, s)
    state_bytes = s.steps * s.batch * s.hidden * np.dtype(s.dtype).itemsize
    if kind == "memory":
        profile_fn(impl, settings(backend=s.backend, **{**sizes, "seq_len": 20}))()  # warm
        _, peak = peak_memory(s, fn)
        return {
            "peak_bytes": peak,
            "state_bytes": state_bytes,
            "method": memory_method(s),
            "state_arrays": peak / state_bytes if peak >= 0 else float("nan"),
        }
    out, seconds, median = timed(fn, repeats)
    result = {
        "seconds": seconds,
        "median_seconds": median,
        "gflops": useful_flops(s) / seconds / 1e9,
    }
    if "log10_grad_norm" in out:  # what the profile measured: finite in either dtype
        by_lag = metrics.by_lag(out["log10_grad_norm"], s.steps)
        result["log10_grad_ratio"] = metrics.log10_grad_ratio(by_lag)
    return result


def _worker(impl: str, jobs: list[dict], repeats: int) -> int:
    start_worker(impl)
    json.dump([{**job, "impl": impl, **run_job(impl, job, repeats)} for job in jobs], sys.stdout)
    return 0


def run_worker(
    impl: str, jobs: list[dict], repeats: int = 5, threads: int | None = None
) -> list[dict]:
    """Run ``jobs`` for ``impl`` in a fresh Python process (with ``threads`` BLAS and OpenMP
    threads when given), each timed ``repeats`` times after a warm-up; their results."""
    if not jobs:
        return []
    cmd = [
        sys.executable,
        "-m",
        "rnngrad.bench.profile",
        "--worker",
        impl,
        "--jobs",
        json.dumps(jobs),
        "--repeats",
        str(repeats),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=worker_env(threads))
    if proc.returncode != 0:
        raise RuntimeError(
            f"rnngrad bench: the {impl} worker failed (exit {proc.returncode}):\n"
            f"{proc.stderr.strip()}"
        )
    return json.loads(proc.stdout)


# -- the plan and the table ----------------------------------------------------------------------
def plan(args) -> dict[str, list[dict]]:
    """The jobs of each implementation for the command-line options ``args``."""
    H, B, T, dt = args.hidden, args.batch, args.seq_len, args.dtype
    main = {"model": "rnn", "hidden": H, "batch": B, "seq_len": T, "dtype": dt}
    eff = {"model": "rnn", "hidden": args.eff_hidden, "batch": args.eff_batch, "seq_len": T}
    mem = {"hidden": H, "batch": B, "seq_len": T, "dtype": dt}
    jobs: dict[str, list[dict]] = {impl: [] for impl in IMPLS}
    for impl in IMPLS:
        jobs[impl].append({"kind": "time", "role": "main", **main})
    for impl in ("numpy", "torch"):
        jobs[impl].append({"kind": "time", "role": "scaling", **main, "seq_len": args.long_seq_len})
        for model in ("rnn", "lstm", "gru"):
            jobs[impl].append({"kind": "memory", "role": "memory", "model": model, **mem})
    jobs["nn_rnn"].append({"kind": "memory", "role": "memory", "model": "rnn", **mem})
    for impl in ("numpy", "torch"):
        for d in ("float32", "float64"):
            for w in VANISHING_SCALES:
                job = {"kind": "time", "role": "vanishing", **main, "dtype": d, "w_rec_scale": w}
                jobs[impl].append(job)
    dtypes = [dt] if args.quick else ["float32", "float64"]
    for d in dtypes:
        jobs["numpy"].append({"kind": "time", "role": "efficiency", **eff, "dtype": d})
    for d in ("float32", "float64"):
        for m, n in sorted({(B, H), (args.eff_batch, args.eff_hidden)}):
            jobs["numpy"].append(
                {"kind": "gemm", "role": "gemm", "m": m, "k": n, "n": n, "dtype": d}
            )
    jobs["numpy"].append(
        {
            "kind": "jacobian",
            "role": "jacobian",
            "model": "rnn",
            "hidden": args.jac_hidden,
            "batch": 1,
            "seq_len": args.jac_seq_len,
            "dtype": "float64",
        }
    )
    return jobs


def main(argv: list[str] | None = None) -> int:
    """``rnngrad bench [options]``: time the backends against torch.nn.RNN and the GEMM rate."""
    ap = argparse.ArgumentParser(
        prog="rnngrad bench", description=main.__doc__.splitlines()[0], allow_abbrev=False
    )
    ap.add_argument("--hidden", type=int, default=128, help="H (default 128)")
    ap.add_argument("--batch", type=int, default=32, help="B (default 32)")
    ap.add_argument("--seq-len", type=int, default=1000, help="T (default 1000)")
    ap.add_argument(
        "--long-seq-len",
        type=int,
        default=10000,
        help="the second T of the slope in T (default 10000)",
    )
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument(
        "--eff-hidden", type=int, default=256, help="H of the GEMM-efficiency profile (default 256)"
    )
    ap.add_argument(
        "--eff-batch", type=int, default=128, help="B of the GEMM-efficiency profile (default 128)"
    )
    ap.add_argument("--jac-hidden", type=int, default=128, help="H of the jacobian_norm timing")
    ap.add_argument("--jac-seq-len", type=int, default=1000, help="T of the jacobian_norm timing")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="small sizes (H=32 B=8 T=100, T=1000 for the slope, 64x32 for the "
        "efficiency, H=32 T=200 for jacobian_norm), 3 repeats: a check that it "
        "runs",
    )
    ap.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="timed runs after the warm-up; the best is reported (default 5)",
    )
    ap.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="BLAS and OpenMP threads of every library (default: theirs; 1 gives "
        "steadier figures on a shared machine)",
    )
    ap.add_argument("--json", metavar="PATH", help="also save the results as JSON here")
    ap.add_argument(
        "--train",
        action="store_true",
        help="time training steps/s of numpy, the torch backend and plain PyTorch instead "
        "(rnn, lstm, gru; float32, float64; H 32, 50, 128; B 20, 128; T 100; one thread and "
        "the default unless --threads); --quick: tiny sizes",
    )
    ap.add_argument(
        "--steps",
        type=int,
        default=10,
        help="--train: training steps per timed round (default 10)",
    )
    ap.add_argument("--worker", choices=IMPLS, help=argparse.SUPPRESS)
    ap.add_argument("--jobs", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return _worker(args.worker, json.loads(args.jobs), args.repeats)
    if args.quick:
        args.hidden, args.batch, args.seq_len, args.long_seq_len = 32, 8, 100, 1000
        args.eff_hidden, args.eff_batch, args.jac_hidden, args.jac_seq_len = 64, 32, 32, 200
        args.repeats = min(args.repeats, 3)
    for name in (
        "hidden",
        "batch",
        "seq_len",
        "long_seq_len",
        "eff_hidden",
        "eff_batch",
        "jac_hidden",
        "jac_seq_len",
        "repeats",
        "threads",
        "steps",
    ):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            ap.error(
                f"--{name.replace('_', '-')}: must be at least 1 (value {getattr(args, name)})"
            )
    if args.train:
        return train.run(args)
    results = []
    for impl, jobs in plan(args).items():
        results += run_worker(impl, jobs, args.repeats, args.threads)
        for r in results[-len(jobs) :]:  # as each implementation's worker finishes
            print(f"measured {measured(r)}", flush=True)
    summary = summarize(results, args)
    print(table(results, summary, args))
    if args.json:
        options = {k: v for k, v in vars(args).items() if k not in ("worker", "jobs", "json")}
        write_json(args.json, options, summary, results=results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
