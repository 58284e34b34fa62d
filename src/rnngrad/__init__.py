"""rnngrad: a reproducible benchmark suite for vanishing and exploding gradients in RNNs.

``import rnngrad`` imports nothing heavy (no NumPy, pandas, matplotlib or torch).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rnngrad.tables import Tables

__version__ = "0.1.0"


def load(study: str | Sequence[str], root: str | os.PathLike = ".") -> Tables:
    """The tables of a study, or of several concatenated: ``.cells``, ``.profiles`` and
    ``.training``, typed, with a ``study`` column and the data dictionary in ``df.attrs``
    (see :func:`rnngrad.tables.load`; pandas is imported here, not by ``import rnngrad``)."""
    from rnngrad.tables import load as load_tables

    return load_tables(study, root)
