"""A cell's id: its grid values, readable and stable.

The five required axes come first, in the order of :data:`AXES`, then further axes in config
order, each as ``axis=value`` joined by ``/``, numbers in one canonical form (floats by repr,
booleans as true/false), e.g. ``backend=numpy/remedy=none/seq_len=100/w_rec_scale=0.9/seed=0``.

Example
-------
>>> from rnngrad.core.settings import CellSettings
>>> cell_id(CellSettings.from_dict({"seq_len": 100, "w_rec_scale": 0.9}))
'backend=numpy/remedy=none/seq_len=100/w_rec_scale=0.9/seed=0'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rnngrad.core.settings import CellSettings

AXES = ("backend", "remedy", "seq_len", "w_rec_scale", "seed")  # the required axes, in id order


def format_value(value: Any) -> str:
    """A value as it appears in a cell id: floats by repr, booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def id_of(values: Mapping[str, Any], axes: Iterable[str]) -> str:
    """The id of the cell whose settings are ``values``, on the grid axes ``axes``."""
    return "/".join(f"{a}={format_value(values[a])}" for a in axes)


def cell_id(s: CellSettings) -> str:
    """The id of the cell these settings belong to (its axes' values, in id order)."""
    return id_of(s.to_dict(), (*AXES, *s.extra_axes))
