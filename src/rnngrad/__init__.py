"""rnngrad: a reproducible benchmark suite for vanishing and exploding gradients in RNNs.

The package is split by stage, and imports run one way, down this list:

- :mod:`rnngrad.core`: settings, tasks, weights and random streams, metrics, what both
  backends share, the echo state network's readout, files;
- :mod:`rnngrad.numpy_backend` and :mod:`rnngrad.torch_backend`: the models, peers behind
  :mod:`rnngrad.backends` (the registry that finds them);
- :mod:`rnngrad.run`: one cell (training, evaluation, timing, provenance, its record);
- :mod:`rnngrad.study`: a study's config, plan and status, cost model and tables;
- :mod:`rnngrad.report`: analysis, claims, figures and the HTML report;
- :mod:`rnngrad.bench` and :mod:`rnngrad.cli`: the commands.

``import rnngrad`` imports nothing heavy (no NumPy, pandas, matplotlib or torch). The notebook
API is ``rnngrad.load(study)`` and the modules ``rnngrad.analysis``, ``rnngrad.claims`` and
``rnngrad.figures`` (aliases of :mod:`rnngrad.report`'s, imported on first use).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rnngrad._version import __version__

if TYPE_CHECKING:
    from rnngrad.study.tables import Tables

__all__ = ["__version__", "analysis", "claims", "figures", "load"]

NOTEBOOK_MODULES = {  # rnngrad.<name> for notebooks: the report's modules
    "analysis": "rnngrad.report.analysis",
    "claims": "rnngrad.report.claims",
    "figures": "rnngrad.report.figures",
}


def load(study: str | Sequence[str], root: str | os.PathLike = ".") -> Tables:
    """The tables of a study, or of several concatenated: ``.cells``, ``.profiles`` and
    ``.training``, typed, with a ``study`` column and the data dictionary in ``df.attrs``
    (see :func:`rnngrad.study.tables.load`; pandas is imported here, not by ``import rnngrad``)."""
    from rnngrad.study.tables import load as load_tables

    return load_tables(study, root)


def __getattr__(name: str):
    """``rnngrad.analysis``, ``rnngrad.claims`` and ``rnngrad.figures``, imported on first use."""
    if name in NOTEBOOK_MODULES:
        return importlib.import_module(NOTEBOOK_MODULES[name])
    raise AttributeError(f"module 'rnngrad' has no attribute {name!r}")
