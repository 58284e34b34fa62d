"""``rnngrad bench --train``: training steps per second of the two backends against plain PyTorch.

A training step is what a cell's training loop does once: a batch's forward, full BPTT, the
global gradient norm and an Adam update (:func:`rnngrad.training.train_step`, no remedy), on the
adding task. Three implementations train from the same weights on the same batches:

- ``numpy``: our NumPy backend;
- ``torch``: our PyTorch backend (torch.nn's fused modules, see :mod:`rnngrad.torch_backend.train`);
- ``plain``: ``torch.nn.RNN`` (tanh), ``LSTM`` or ``GRU``, an ``nn.Linear`` readout at the loss
  steps, the mean squared error and ``torch.optim.Adam``: what one would write by hand
  (:func:`rnngrad.reference.plain_step`, the reference a cell times too).

Each implementation runs in its own Python process (started once per thread setting, with the
BLAS and OpenMP threads set), and the three measure each shape back to back, so that the load
of a shared machine falls on all three alike. A measurement is ``--repeats`` timed rounds of
``--steps`` training steps after a warm-up round; the best round's rate counts, the median
beside it. Each row is printed as soon as it is measured.

Example
-------
::

    rnngrad bench --train --threads 1        # the full grid, one thread; some minutes
    rnngrad bench --train --quick --json t.json
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

IMPLS = ("numpy", "torch", "plain")
MODELS = ("rnn", "lstm", "gru")
DTYPES = ("float32", "float64")
HIDDEN = (32, 50, 128)
BATCH = (20, 128)
SEQ_LEN = 100
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
QUICK = {"hidden": (8,), "batch": (4,), "seq_len": 20, "steps": 2, "repeats": 2}
TARGET = 1.0  # both backends at >= 1.0x plain PyTorch's steps/s


def _settings(job: dict):
    from rnngrad.settings import CellSettings

    return CellSettings.from_dict(
        {
            "backend": "numpy" if job["impl"] == "numpy" else "torch",
            "model": job["model"],
            "dtype": job["dtype"],
            "hidden": job["hidden"],
            "batch": job["batch"],
            "seq_len": job["seq_len"],
            "task": "adding",
            "optimizer": "adam",
            "lr": 1e-3,
        }
    )


def step_fn(job: dict):
    """A function running one training step of ``job["impl"]`` on the job's shape, cycling
    through :data:`rnngrad.reference.BATCHES` batches."""
    from rnngrad import reference, training

    s = _settings(job)
    params, batches = reference.case(s)
    if job["impl"] == "plain":
        return reference.plain_step(s, params, batches)
    count = itertools.count()
    be, bk = training.backend_modules(s)
    state = {"p": be.to_backend(s, params)}
    opt = training.init_optimizer(s, state["p"])

    def step() -> None:
        state["p"], _, _ = training.train_step(
            s, bk, state["p"], opt, batches[next(count) % len(batches)]
        )

    return step


def measure(job: dict) -> dict:
    """Steps per second of one job: the best and the median of ``repeats`` rounds."""
    step = step_fn(job)
    rates = []
    for i in range(job["repeats"] + 1):
        t0 = time.perf_counter()
        for _ in range(job["steps"]):
            step()
        if i:  # the first round warms up
            rates.append(job["steps"] / (time.perf_counter() - t0))
    return {"steps_per_s": max(rates), "median_steps_per_s": statistics.median(rates)}


def _worker(impl: str) -> int:
    """Read one job a line from stdin, write its result a line to stdout."""
    if impl != "numpy":
        import torch  # noqa: F401  (imported before any timing)
    from rnngrad import training  # noqa: F401
    from rnngrad.measure import keep_freed_memory

    keep_freed_memory()  # in all three workers alike, as in a cell's process
    print("ready", flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        print(json.dumps(measure({**job, "impl": impl})), flush=True)
    return 0


class Worker:
    """One implementation's process, fed one job at a time."""

    def __init__(self, impl: str, threads: int | None):
        env = dict(os.environ)
        if threads:
            env.update({k: str(threads) for k in THREAD_VARIABLES})
        cmd = [sys.executable, "-m", "rnngrad.train_bench", "--worker", impl]
        self.impl = impl
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self._read()  # "ready": started one after the other, not importing during a timing

    def _read(self) -> str:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            raise RuntimeError(
                f"rnngrad bench --train: the {self.impl} worker failed "
                f"(exit {self.proc.returncode}):\n{self.proc.stderr.read().strip()}"
            )
        return line

    def run(self, job: dict) -> dict:
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        return json.loads(self._read())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def plan(quick: bool, steps: int, repeats: int) -> list[dict]:
    """The shapes to measure: every model and dtype at every H and B (or the quick sizes)."""
    hidden, batch, seq_len = (
        (QUICK["hidden"], QUICK["batch"], QUICK["seq_len"]) if quick else (HIDDEN, BATCH, SEQ_LEN)
    )
    steps, repeats = (QUICK["steps"], QUICK["repeats"]) if quick else (steps, repeats)
    return [
        {
            "model": m,
            "dtype": d,
            "hidden": H,
            "batch": B,
            "seq_len": seq_len,
            "steps": steps,
            "repeats": repeats,
        }
        for m, d, H, B in itertools.product(MODELS, DTYPES, hidden, batch)
    ]


HEADER = (
    f"  {'threads':<8}{'model':<6}{'dtype':<9}{'H':>4}{'B':>5}"
    + "".join(f"{impl:>15}" for impl in IMPLS)
    + f"{'numpy/plain':>13}{'torch/plain':>13}"
)


def row_line(row: dict) -> str:
    rates = "".join(
        f"{row[impl]['steps_per_s']:>7.1f} ({row[impl]['median_steps_per_s']:>5.1f})"
        for impl in IMPLS
    )
    return (
        f"  {row['threads'] or 'default':<8}{row['model']:<6}{row['dtype']:<9}"
        f"{row['hidden']:>4}{row['batch']:>5}{rates}"
        f"{row['numpy_vs_plain']:>12.2f}x{row['torch_vs_plain']:>12.2f}x"
    )


def summarize(rows: list[dict]) -> dict:
    """The smallest ratio of each backend to plain PyTorch, and whether the targets are met."""
    out = {f"min_{k}": min(r[k] for r in rows) for k in ("numpy_vs_plain", "torch_vs_plain")}
    out["targets"] = {
        f"{k.split('_')[0]} >= {TARGET}x plain in every row": out[f"min_{k}"] >= TARGET
        for k in ("numpy_vs_plain", "torch_vs_plain")
    }
    return out


def run(args) -> int:
    """Measure and print the grid of ``args`` (from :func:`rnngrad.bench.main`)."""
    thread_settings = [args.threads] if args.threads else [1, None]
    jobs = plan(args.quick, args.steps, args.repeats)
    print(
        f"rnngrad bench --train: training steps/s (forward, full BPTT, global norm, Adam), "
        f"adding task, T={jobs[0]['seq_len']}; best of {jobs[0]['repeats']} rounds of "
        f"{jobs[0]['steps']} steps, median in brackets; {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    print(HEADER, flush=True)
    rows = []
    for threads in thread_settings:
        workers = [Worker(impl, threads) for impl in IMPLS]
        try:
            for job in jobs:
                row = {**job, "threads": threads}
                for w in workers:
                    row[w.impl] = w.run(job)
                for impl in ("numpy", "torch"):
                    row[f"{impl}_vs_plain"] = row[impl]["steps_per_s"] / row["plain"]["steps_per_s"]
                rows.append(row)
                print(row_line(row), flush=True)
        finally:
            for w in workers:
                w.close()
    summary = summarize(rows)
    print("targets (measured, not asserted)")
    for name, met in summary["targets"].items():
        print(f"  {'met    ' if met else 'NOT met'}  {name}")
    if args.json:
        from rnngrad.provenance import bench_environment

        Path(args.json).write_text(
            json.dumps(
                {
                    "options": {
                        k: getattr(args, k) for k in ("quick", "threads", "steps", "repeats")
                    },
                    "environment": bench_environment(),
                    "summary": summary,
                    "rows": rows,
                },
                indent=1,
            )
        )
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        sys.exit(_worker(sys.argv[2]))
    sys.exit("rnngrad.train_bench runs as `rnngrad bench --train`")
