"""rnngrad: a reproducible benchmark suite for vanishing and exploding gradients in RNNs."""

from __future__ import annotations

__version__ = "0.1.0"


def load(study: str, root: str = "."):
    """The tables of a study as DataFrames: ``.cells``, ``.profiles`` and ``.training``
    (see :mod:`rnngrad.tables`; pandas is imported only here, not by ``import rnngrad``)."""
    from rnngrad.tables import load as load_tables

    return load_tables(study, root)
