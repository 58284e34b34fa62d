"""rnngrad: a reproducible benchmark suite for vanishing and exploding gradients in RNNs."""
from __future__ import annotations

__version__ = "0.1.0"
