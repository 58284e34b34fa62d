"""Figures of a study: each one a function of the tables alone, returning a matplotlib Figure.

``FIGURES`` maps a figure's name to ``plot(tables) -> Figure | None`` (None when the study has
no data for it); ``tables`` is a mapping (or object) with the DataFrames ``cells``, ``profiles``
and ``training`` (docs/tables.md). What a figure draws is derived in
:mod:`rnngrad.report.analysis` (and ``analysis_training``, ``analysis_theory``), and its style
(colours, layout, axes) is :mod:`rnngrad.report.figstyle`. The plots are in
:mod:`~rnngrad.report.fig_gradients`, :mod:`~rnngrad.report.fig_theory` and
:mod:`~rnngrad.report.fig_training`; this module holds the registry, :func:`draw` and
:func:`save_all`.
Every figure draws the median over seeds (and any grid axis not drawn) with the min-max spread
as a band. No plot function touches files: :func:`save_all` writes ``<name>.png``, ``.svg`` and
``.pdf``, and an explanatory placeholder where a function has nothing to draw.

Example
-------
>>> from rnngrad import figures
>>> list(figures.FIGURES)[:3]
['unrolled', 'mean_field', 'phase_diagram']
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from rnngrad.core.files import atomic_write
from rnngrad.report import figstyle as st
from rnngrad.report.captions import CAPTIONS
from rnngrad.report.fig_gradients import (
    plot_backend_agreement,
    plot_decay_curves,
    plot_phase_diagram,
    plot_remedy_decay,
    plot_unrolled,
    plot_weight_grad_norm,
)
from rnngrad.report.fig_theory import (
    plot_curse_of_memory,
    plot_isometry,
    plot_mean_field,
    plot_mean_field_size,
    plot_theory,
    plot_trainability,
)
from rnngrad.report.fig_training import (
    plot_memory_capacity,
    plot_solved_vs_seq_len,
    plot_speed,
    plot_steps_to_solve,
    plot_training_curves,
)
from rnngrad.study.paths import FIGURE_FORMATS

FIGURES: OrderedDict[str, Callable[[Any], Figure | None]] = OrderedDict(
    [
        ("unrolled", plot_unrolled),
        ("mean_field", plot_mean_field),
        ("phase_diagram", plot_phase_diagram),
        ("decay_curves", plot_decay_curves),
        ("weight_grad_norm", plot_weight_grad_norm),
        ("theory", plot_theory),
        ("mean_field_size", plot_mean_field_size),
        ("isometry", plot_isometry),
        ("trainability", plot_trainability),
        ("remedy_decay", plot_remedy_decay),
        ("solved_vs_seq_len", plot_solved_vs_seq_len),
        ("steps_to_solve", plot_steps_to_solve),
        ("training_curves", plot_training_curves),
        ("backend_agreement", plot_backend_agreement),
        ("speed", plot_speed),
        ("memory_capacity", plot_memory_capacity),
        ("curse_of_memory", plot_curse_of_memory),
    ]
)
assert list(FIGURES) == list(CAPTIONS), "every st.figure has a caption, in the same order"


def draw(name: str, tables) -> tuple[Figure, bool]:
    """Figure ``name`` and whether it has data (a placeholder when not)."""
    fig = FIGURES[name](tables)
    return (fig, True) if fig is not None else (st.no_data_figure(name), False)


def save_all(tables, outdir: str | Path) -> list[Path]:
    """Draw every st.figure of ``FIGURES`` and write ``<name>.png``, ``.svg`` and ``.pdf`` under
    ``outdir``; returns the paths written."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in FIGURES:
        fig, has_data = draw(name, tables)
        for ext in FIGURE_FORMATS:
            path = outdir / f"{name}.{ext}"
            meta = {"Date": None} if ext == "svg" else None
            if ext == "png" and not has_data:  # the report reads it: a line, not an image
                meta = {"Description": st.NO_DATA}
            # atomically, like records: a killed run never leaves a truncated st.figure
            atomic_write(path, partial(fig.savefig, format=ext, dpi=st.DPI, metadata=meta))
            paths.append(path)
            # the first format's draw placed the axes: the others keep that layout rather than
            # solve it again (constrained layout was half of the figures' time)
            fig.set_layout_engine("none")
    return paths
