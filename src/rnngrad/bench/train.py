"""``rnngrad bench --train``: training steps per second of the two backends against plain PyTorch.

A training step is what a cell's training loop does once: a batch's forward, full BPTT, the
global gradient norm and an Adam update (:func:`rnngrad.run.loop.train_step`, no remedy), on the
adding task. Three implementations train from the same weights on the same batches:

- ``numpy``: our NumPy backend;
- ``torch``: our PyTorch backend (torch.nn's fused modules, see :mod:`rnngrad.torch_backend.train`);
- ``plain``: ``torch.nn.RNN`` (tanh), ``LSTM`` or ``GRU``, an ``nn.Linear`` readout at the loss
  steps, the mean squared error and ``torch.optim.Adam``: what one would write by hand
  (:func:`rnngrad.run.plain.plain_step`, the reference a cell times too).

Each implementation runs in its own Python process (started once per thread setting, with the
BLAS and OpenMP threads set). A shape is measured by all three at once: each builds its step
and runs a warm-up round, then the three take turns, one timed round of ``--steps`` training
steps each, ``--repeats`` times, so that a slow spell of a shared machine falls on all three
alike. The best round's rate counts, the median beside it. Each row is printed as soon as it
is measured.

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

from rnngrad.bench.common import start_worker, worker_env, write_json

IMPLS = ("numpy", "torch", "plain")
MODELS = ("rnn", "lstm", "gru")
DTYPES = ("float32", "float64")
HIDDEN = (32, 50, 128)
BATCH = (20, 128)
SEQ_LEN = 100
QUICK = {"hidden": (8,), "batch": (4,), "seq_len": 20, "steps": 2, "repeats": 2}
TARGET = 1.0  # both backends at >= 1.0x plain PyTorch's steps/s


def _settings(job: dict):
    from rnngrad.core.settings import CellSettings

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
    through :data:`rnngrad.run.plain.BATCHES` batches."""
    from rnngrad import backends
    from rnngrad.run import loop, optim, plain

    s = _settings(job)
    params, batches = plain.case(s)
    if job["impl"] == "plain":
        return plain.plain_step(s, params, batches)
    count = itertools.count()
    be, bk = backends.for_cell(s)
    state = {"p": be.to_backend(s, params)}
    opt = optim.init_optimizer(s, state["p"])

    def step() -> None:
        state["p"], _, _ = loop.train_step(
            s, bk, state["p"], opt, batches[next(count) % len(batches)]
        )

    return step


def timed_round(step, steps: int) -> float:
    """Steps per second of ``steps`` calls of ``step``."""
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - t0)


def rates_summary(rates: list[float]) -> dict:
    """The best and the median of a job's timed rounds."""
    return {"steps_per_s": max(rates), "median_steps_per_s": statistics.median(rates)}


def _worker(impl: str) -> int:
    """Serve one job at a time from stdin: a job's line builds its step and runs the warm-up
    round, then each line ``round`` times one round and writes its steps/s to stdout."""
    from rnngrad.run import loop  # noqa: F401  (the training code, imported before any timing)

    start_worker(impl)
    print("ready", flush=True)
    step, steps = None, 0
    for line in sys.stdin:
        if line.strip() == "round":
            print(json.dumps(timed_round(step, steps)), flush=True)
            continue
        job = json.loads(line)
        step, steps = step_fn({**job, "impl": impl}), job["steps"]
        timed_round(step, steps)  # the warm-up
        print("ready", flush=True)
    return 0


class Worker:
    """One implementation's process, fed one job at a time."""

    def __init__(self, impl: str, threads: int | None):
        env = worker_env(threads)
        cmd = [sys.executable, "-m", "rnngrad.bench.train", "--worker", impl]
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

    def _send(self, line: str) -> str:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self._read()

    def setup(self, job: dict) -> None:
        """Build the job's step and run its warm-up round."""
        self._send(json.dumps(job))

    def round(self) -> float:
        """Steps per second of one timed round of the current job."""
        return json.loads(self._send("round"))

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def measure(workers: list[Worker], job: dict) -> dict:
    """Each worker's best and median steps/s on ``job``: after every worker's warm-up, the
    timed rounds take turns, one round of each worker at a time (the first to go rotating), so
    that a slow spell of a shared machine falls on all of them alike."""
    for w in workers:
        w.setup(job)
    rates = {w.impl: [] for w in workers}
    for r in range(job["repeats"]):
        for w in workers[r % len(workers) :] + workers[: r % len(workers)]:
            rates[w.impl].append(w.round())
    return {impl: rates_summary(v) for impl, v in rates.items()}


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
    """Measure and print the grid of ``args`` (from :func:`rnngrad.bench.profile.main`)."""
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
                row = {**job, "threads": threads, **measure(workers, job)}
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
        options = {k: getattr(args, k) for k in ("quick", "threads", "steps", "repeats")}
        write_json(args.json, options, summary, rows=rows)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        sys.exit(_worker(sys.argv[2]))
    sys.exit("rnngrad.bench.train runs as `rnngrad bench --train`")
