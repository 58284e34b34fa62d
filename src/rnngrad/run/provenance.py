"""Where a result came from: the code, the checkout, the settings and the machine.

Every cell record carries :func:`provenance`; the cells table has one column per name in
:data:`PROVENANCE` (see docs/tables.md), and the report lists their values. ``rnngrad bench``
saves :func:`environment` with its results.

Example
-------
>>> from rnngrad.core.settings import CellSettings
>>> sorted(provenance(CellSettings())) == sorted(PROVENANCE)
True
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import subprocess
import time
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from rnngrad._version import __version__
from rnngrad.core import registry
from rnngrad.core.settings import CellSettings

PACKAGE_ROOT = Path(__file__).parents[1]  # src/rnngrad: the sources that code_hash reads

# the provenance columns of the cells table, in column order
PROVENANCE = (
    "rnngrad_version",
    "code_hash",
    "numpy_version",
    "torch_version",
    "git_commit",
    "settings_hash",
    "plugin_sources",
    "host",
    "python_version",
)


@lru_cache(maxsize=1)
def code_hash() -> str:
    """SHA-256 (first 16 hex digits) of the package's Python sources, in path order."""
    root = PACKAGE_ROOT
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


@lru_cache(maxsize=1)
def git_commit() -> str:
    """HEAD of the checkout that holds the package, or "" outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "-C", str(PACKAGE_ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def settings_hash(s: CellSettings) -> str:
    """SHA-256 (first 16 hex digits) of the resolved settings as sorted JSON, without
    ``extra_axes`` (which names axes, and changes no result) and without the settings of
    :data:`~rnngrad.core.settings.HASHED_WHEN_SET` that hold their default."""
    d = s.canonical()
    d.pop("extra_axes")
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)  # reads metadata only: never imports torch
    except metadata.PackageNotFoundError:
        return ""


def environment() -> dict[str, str]:
    """The code and machine part of the provenance: every :data:`PROVENANCE` name but
    ``settings_hash``."""
    return {
        "rnngrad_version": __version__,
        "code_hash": code_hash(),
        "numpy_version": np.__version__,
        "torch_version": _version("torch"),
        "git_commit": git_commit(),
        "host": socket.gethostname(),
        "python_version": platform.python_version(),
    }


@lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo; else the platform's processor string):
    timings differ between CPUs of one machine type (subnormal numbers cost an Intel Xeon
    13x, an AMD EPYC little; docs/performance.md)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def bench_environment() -> dict[str, Any]:
    """What a benchmark's ``--json`` states of where it ran: :func:`environment`, the CPU
    model and count, the load average (1, 5, 15 min) and the local time."""
    return {
        **environment(),
        "cpu_model": cpu_model(),
        "cpus": os.cpu_count(),
        "load": list(os.getloadavg()),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def plugin_sources(s: CellSettings) -> str:
    """The files of the plugins a cell uses as this process loaded them, ``path@sha256`` each
    (the whole hash), space-separated; "" for a cell of built-ins."""
    out = []
    for e in s.plugins:
        kind, name, _, _ = registry.parse(e)
        p = registry.get(kind, name)
        out.append(f"{p.path}@{p.sha256}" if p is not None else e.partition("=")[2])
    return " ".join(out)


def provenance(s: CellSettings) -> dict[str, str]:
    """A cell record's provenance: one value per name of :data:`PROVENANCE`."""
    env = {**environment(), "settings_hash": settings_hash(s), "plugin_sources": plugin_sources(s)}
    return {k: env[k] for k in PROVENANCE}
