"""Evaluation of a trained cell and the solved criterion.

The periodic evaluations (``eval_every``) score the weights on a fixed held-out set of
``heldout_sequences`` sequences from ``data_stream(s, "heldout")``, drawn once, the same at every
evaluation and in both backends. The final metrics are on ``eval_sequences`` fresh sequences of
``data_stream(s, "eval")``, a set that decided nothing during training: ``solved`` (accuracy
>= 0.99 there) is the run's verdict, with the accuracy's 95% Wilson interval, and a run stopped
at its first held-out 297 of 300 may well miss it (the first crossing of 0.99 on a small set
is biased upwards), which is why the reproduction studies hold out thousands.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnngrad.core import tasks
from rnngrad.core.settings import CellSettings
from rnngrad.core.tasks import EVAL_CHUNK, Batch
from rnngrad.core.weights import cell_batch, data_stream
from rnngrad.run.intervals import wilson

SOLVED_ACCURACY = 0.99  # accuracy at which a task counts as solved
ACCURACY_ROUNDING = 1e-9  # an accuracy is a mean of chunks' fractions: 0.99 may sum to 0.98999..


def is_solved(accuracy: float, level: float = SOLVED_ACCURACY) -> bool:
    """accuracy >= ``level`` (default SOLVED_ACCURACY), up to the rounding of a mean of
    fractions."""
    return bool(accuracy >= level - ACCURACY_ROUNDING)


def first_solved(curve: dict, level: float = SOLVED_ACCURACY) -> int | None:
    """The first step whose held-out accuracy reached ``level`` (up to rounding; default
    SOLVED_ACCURACY), or None."""
    for step, acc in zip(curve["step"], curve["eval_accuracy"], strict=True):
        if acc is not None and is_solved(acc, level):
            return step
    return None


def heldout_set(s: CellSettings) -> list[Batch]:
    """The fixed held-out set of the periodic evaluations: ``s.heldout_sequences`` sequences
    of ``data_stream(s, "heldout")`` in chunks of EVAL_CHUNK (the first 300 are the same for
    any larger set)."""
    rng = data_stream(s, "heldout")
    return [cell_batch(s, rng, EVAL_CHUNK) for _ in range(s.heldout_sequences // EVAL_CHUNK)]


def score(s: CellSettings, bk, p: dict, batches) -> dict[str, float]:
    """Mean loss and accuracy over equal chunks (and ``memory_capacity``, the mean of the
    chunks', for the memory task)."""
    losses, accs, mcs = [], [], []
    with np.errstate(over="ignore", invalid="ignore"):
        for batch in batches:
            loss, outputs, _ = bk.run(s, p, batch)
            losses.append(loss)
            accs.append(tasks.accuracy(s.task, outputs, batch))
            if s.task == "memory":
                mcs.append(tasks.memory_capacity(outputs, batch))
        out = {"loss": float(np.mean(losses)), "accuracy": float(np.mean(accs))}
    if s.task == "memory":
        out["memory_capacity"] = float(np.mean(mcs))
    return out


def evaluate(s: CellSettings, bk, p: dict) -> dict[str, Any]:
    """Final metrics on ``s.eval_sequences`` fresh sequences of ``data_stream(s, "eval")``, in
    chunks of EVAL_CHUNK; the loss and accuracy are means over equal chunks, the accuracy with
    its 95% Wilson interval (``accuracy_low``, ``accuracy_high``), and the memory capacity is the
    mean of the chunks' (each of EVAL_CHUNK x (T - K) samples a delay)."""
    rng = data_stream(s, "eval")
    batches = (cell_batch(s, rng, EVAL_CHUNK) for _ in range(s.eval_sequences // EVAL_CHUNK))
    scores = score(s, bk, p, batches)
    baseline = tasks.baseline_loss(s.task, s.seq_len)
    acc = scores["accuracy"]
    low, high = (
        wilson(round(acc * s.eval_sequences), s.eval_sequences)
        if np.isfinite(acc)
        else (float("nan"), float("nan"))
    )
    with np.errstate(over="ignore", invalid="ignore"):
        out = {
            "final_loss": scores["loss"],
            "accuracy": acc,
            "accuracy_low": low,
            "accuracy_high": high,
            "baseline_loss": baseline,
            "short_memory_loss": tasks.short_memory_loss(s.task, s.seq_len),
            "normalized_loss": scores["loss"] / baseline,
            "solved": is_solved(acc),
        }
    if s.task == "memory":
        out["memory_capacity"] = scores["memory_capacity"]
    return out
