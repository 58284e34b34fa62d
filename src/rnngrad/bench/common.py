"""What the profile bench and the training bench share: their worker processes' start and
environment, and the JSON file each writes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def worker_env(threads: int | None) -> dict[str, str]:
    """The environment of a worker process: this one's, with ``threads`` BLAS and OpenMP
    threads when given."""
    env = dict(os.environ)
    if threads:
        env.update({k: str(threads) for k in THREAD_VARIABLES})
    return env


def start_worker(impl: str) -> None:
    """What every worker does before it times anything: import torch (unless it runs NumPy
    alone) and keep freed memory for reuse, as a cell's process does."""
    if impl != "numpy":
        import torch  # noqa: F401  (imported before any timing)
    from rnngrad.run.timing import keep_freed_memory

    keep_freed_memory()


def write_json(path: str | os.PathLike, options: dict, summary: dict, **data: Any) -> None:
    """One bench's results as JSON: its options, the machine and libraries it ran on, its
    summary, then ``data`` (results or rows); prints where it went."""
    from rnngrad.run.provenance import bench_environment

    doc = {"options": options, "environment": bench_environment(), "summary": summary, **data}
    Path(path).write_text(json.dumps(doc, indent=1))
    print(f"wrote {path}")
