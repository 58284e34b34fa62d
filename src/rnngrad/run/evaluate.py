"""Evaluation of a trained cell and the solved criterion.

The periodic evaluations (``eval_every``) score the weights on a fixed held-out set of
HELDOUT_SEQUENCES sequences from ``data_stream(s, "heldout")``, drawn once, the same at every
evaluation and in both backends. The final metrics are on EVAL_SEQUENCES fresh sequences of
``data_stream(s, "eval")``, a set that decided nothing during training.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnngrad.core import tasks
from rnngrad.core.settings import CellSettings
from rnngrad.core.tasks import EVAL_CHUNK, EVAL_SEQUENCES, Batch
from rnngrad.core.weights import cell_batch, data_stream

HELDOUT_SEQUENCES = 300  # the fixed held-out set of the periodic evaluations (eval_every)
SOLVED_ACCURACY = 0.99  # accuracy at which a task counts as solved
ACCURACY_ROUNDING = 1e-9  # an accuracy is a mean of chunks' fractions: 0.99 may sum to 0.98999..


def is_solved(accuracy: float) -> bool:
    """accuracy >= SOLVED_ACCURACY, up to the rounding of a mean of fractions."""
    return bool(accuracy >= SOLVED_ACCURACY - ACCURACY_ROUNDING)


def first_solved(curve: dict) -> int | None:
    """The first step whose held-out accuracy reached SOLVED_ACCURACY, or None."""
    for step, acc in zip(curve["step"], curve["eval_accuracy"], strict=True):
        if acc is not None and is_solved(acc):
            return step
    return None


def heldout_set(s: CellSettings) -> list[Batch]:
    """The fixed held-out set of the periodic evaluations: HELDOUT_SEQUENCES sequences of
    ``data_stream(s, "heldout")`` in chunks of EVAL_CHUNK."""
    rng = data_stream(s, "heldout")
    return [cell_batch(s, rng, EVAL_CHUNK) for _ in range(HELDOUT_SEQUENCES // EVAL_CHUNK)]


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
    """Final metrics on EVAL_SEQUENCES fresh sequences of ``data_stream(s, "eval")``, in chunks
    of EVAL_CHUNK; the loss and accuracy are means over equal chunks, and the memory capacity is
    the mean of the chunks' (each of EVAL_CHUNK x (T - K) samples a delay)."""
    rng = data_stream(s, "eval")
    batches = (cell_batch(s, rng, EVAL_CHUNK) for _ in range(EVAL_SEQUENCES // EVAL_CHUNK))
    scores = score(s, bk, p, batches)
    baseline = tasks.baseline_loss(s.task, s.seq_len)
    with np.errstate(over="ignore", invalid="ignore"):
        out = {
            "final_loss": scores["loss"],
            "accuracy": scores["accuracy"],
            "baseline_loss": baseline,
            "normalized_loss": scores["loss"] / baseline,
            "solved": is_solved(scores["accuracy"]),
        }
    if s.task == "memory":
        out["memory_capacity"] = scores["memory_capacity"]
    return out
