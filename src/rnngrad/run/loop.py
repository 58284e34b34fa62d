"""The training loop of a cell, in either backend, and its truncation schedule.

:func:`train` is the one code path for both backends: batches, the update schedule, the loop and
the records live here; clipping and the optimizers in :mod:`rnngrad.run.optim`, evaluation in
:mod:`rnngrad.run.evaluate`, checkpoints in :mod:`rnngrad.run.checkpoint`, the echo state
network's closed-form fit in :mod:`rnngrad.core.esn`. The gradient of the objective with its
remedies lives in each backend's training module (hand-written in NumPy, autograd in PyTorch),
found through :mod:`rnngrad.backends`, as ``run`` (forward only) and ``gradient``.

Truncated BPTT(k1, k2) (Williams and Peng 1990)
    Candidate update steps are k1, 2 k1, ... and the last step T; an update fires at a candidate
    u when a loss step lies in (u', u], u' the previous candidate: the losses since the last
    update (so with a loss at the last step only there is one update per batch). The forward runs
    on from where it stopped, segment by segment, with the weights as they are after each update.
    At an update u, with p the previous update (0 at the start) and c = max(u - k2, 0), the state
    s_c of that forward is held constant, the window of steps (c, u] is run again from s_c with the
    current weights, and the gradient of the losses at steps in (max(p, c), u] is taken by full
    BPTT through the window. Every weight in the backward is thus the current one. Where the
    window lies in the current segment (k2 <= u - p, e.g. one update per batch) its states are
    the forward's own and the gradient is full BPTT cut k2 steps back; where it reaches into
    earlier segments (k2 > k1), those steps are recomputed with the current weights rather than
    replayed with the weights they ran with. Losses more than k2 steps back from u (k2 < k1)
    reach no weight, and an update whose window holds no loss is skipped. Without truncation
    there is one update per batch through the whole sequence.

Records
    One curve entry per training step (batch): ``loss`` is the batch loss as the forward met it
    (each segment with its weights), ``param_grad_norm`` the largest global gradient norm of the
    step's updates before clipping, ``clipped`` whether clipping fired in any of them and
    ``penalty`` the sum of their penalty values (unweighted: the objective is
    L + weight * penalty). ``clip_fraction`` is the fraction of steps with ``clipped``.
    A non-finite loss, gradient or penalty stops training before that update: status
    ``diverged``, ``diverged_at`` the step, and the weights are the last finite ones.

Periodic evaluation and early stopping
    With ``eval_every = N >= 1`` the weights after steps N, 2N, ... are scored on a fixed
    held-out set of ``heldout_sequences`` sequences from ``data_stream(s, "heldout")`` (drawn once,
    the same at every evaluation and in both backends); ``eval_loss`` and ``eval_accuracy`` hold
    the scores on those steps and None on the others. ``steps_to_solve`` is the first evaluated
    step whose held-out accuracy is >= SOLVED_ACCURACY (None when none is) and
    ``sequences_to_solve`` that times the batch (Hochreiter and Schmidhuber's measure). With
    ``stop_when_solved`` training ends at the first evaluation whose held-out accuracy is >=
    ``stop_accuracy`` (0.99 by default: that step; the reproduction studies stop at 0.995, a
    margin that lets the fresh set confirm the run); ``train_steps`` is then the budget and
    ``steps_trained`` says how many steps ran. The final metrics are always on
    ``eval_sequences`` fresh sequences of ``data_stream(s, "eval")``, a set that did not decide
    stopping: ``solved`` (accuracy >= 0.99 there) is the run's verdict, and a run stopped at its
    first held-out 297 of 300 may well miss it.

Progress
    Every PROGRESS_EVERY seconds of training, a line to the ``rnngrad.run.loop`` logger: step,
    batch loss, the last held-out accuracy, steps/s and the time left (at most, when stopping
    early).

Echo state network
    The reservoir stays fixed; the readout is fitted in closed form
    (:func:`rnngrad.core.esn.fit`) on the states at the loss steps of ``train_steps`` batches of
    training sequences. Nothing is iterated, so the curve is empty.

Example
-------
>>> from rnngrad.core.settings import CellSettings
>>> from rnngrad.core.weights import init_params
>>> s = CellSettings.from_dict({"seq_len": 10, "hidden": 8, "train_steps": 3})
>>> out = train(s, init_params(s, 2, 1))
>>> out["status"], out["curve"]["step"]
('ok', [1, 2, 3])
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from rnngrad import backends
from rnngrad.core import esn
from rnngrad.core.settings import CellSettings
from rnngrad.core.shared import constrain
from rnngrad.core.tasks import Batch
from rnngrad.core.weights import cell_batch, data_stream
from rnngrad.run import checkpoint as ckpt
from rnngrad.run.checkpoint import CURVE
from rnngrad.run.evaluate import evaluate, first_solved, heldout_set, is_solved, score
from rnngrad.run.optim import clip, global_norm, init_optimizer, optimizer_step, transform

log = logging.getLogger("rnngrad.run.loop")

PROGRESS_EVERY = 5.0  # seconds of training between progress lines in the log


def train(
    s: CellSettings,
    params: dict[str, np.ndarray],
    checkpoint: str | None = None,
    *,
    checkpoint_every: float | None = None,
) -> dict[str, Any]:
    """Train a cell's model on its task with its remedy, then evaluate it.

    Parameters
    ----------
    s : the cell's settings (``train_steps`` steps, a fresh batch of ``data_stream(s, "train")``
        a step).
    params : float64 NumPy weights, PyTorch names; left unchanged.
    checkpoint : an npz path: resumed from when present, saved to every ``checkpoint_every``
        seconds of training, removed when training ends (gradient training only: the ESN's
        closed-form fit is not checkpointed). One that cannot be read, or that other settings
        or other code saved, is discarded with a warning and training starts over.
    checkpoint_every : seconds between saves; default
        :func:`rnngrad.run.checkpoint.checkpoint_interval`.

    Returns
    -------
    dict with ``params`` (trained, float64 NumPy), ``curve`` (equal-length lists ``step``,
    ``loss``, ``param_grad_norm``, ``clipped``, ``penalty``), ``metrics`` (``final_loss``,
    ``accuracy``, ``baseline_loss``, ``normalized_loss``, ``solved``, ``clip_fraction``,
    ``max_grad_norm``, ``diverged_at``, ``train_seconds``, ``steps_trained``,
    ``train_steps_per_s``, ``steps_to_solve``, ``sequences_to_solve``, and ``memory_capacity``
    for the memory task) and ``status`` ("ok" or "diverged").
    """
    be, bk = backends.get(s.backend), backends.training(s.backend)
    if checkpoint_every is None:
        checkpoint_every = ckpt.checkpoint_interval()
    if s.model == "esn":
        t_start = time.perf_counter()
        p, diverged_at = esn.fit(s, be, params)
        curve = {k: [] for k in CURVE}
        seconds = time.perf_counter() - t_start
    else:
        p, curve, diverged_at, seconds = _descend(s, be, bk, params, checkpoint, checkpoint_every)
    metrics = evaluate(s, bk, p)
    grad_norms = np.asarray(curve["param_grad_norm"], dtype=np.float64)
    grad_norms = grad_norms[~np.isnan(grad_norms)]  # nan: a step stopped before its gradient
    steps_to_solve = first_solved(curve)
    n_steps = len(curve["step"])
    metrics.update(
        {
            "clip_fraction": float(np.mean(curve["clipped"])) if curve["clipped"] else 0.0,
            "max_grad_norm": float(np.max(grad_norms)) if grad_norms.size else float("nan"),
            "diverged_at": diverged_at,
            "train_seconds": seconds,
            "steps_trained": n_steps,
            "train_steps_per_s": n_steps / seconds if n_steps and seconds > 0 else float("nan"),
            "steps_to_solve": steps_to_solve,
            "sequences_to_solve": None if steps_to_solve is None else steps_to_solve * s.batch,
        }
    )
    return {
        "params": {k: np.asarray(be.from_backend(v), dtype=np.float64) for k, v in p.items()},
        "curve": curve,
        "metrics": metrics,
        "status": "ok" if diverged_at is None else "diverged",
    }


def _descend(s, be, bk, params, checkpoint, checkpoint_every):
    """The gradient-descent loop; returns backend weights, curve, diverged_at and the seconds
    of training (those before a resumed checkpoint included)."""
    t_start = time.perf_counter()
    p = be.to_backend(s, params)
    opt = init_optimizer(s, p)
    rng = data_stream(s, "train")
    curve: dict[str, list] = {k: [] for k in CURVE}
    prior = 0.0
    if checkpoint is not None and os.path.exists(checkpoint) and ckpt.same_settings(checkpoint, s):
        p, opt, curve, prior = ckpt.load(checkpoint, s, be, rng)
    heldout = heldout_set(s) if s.eval_every >= 1 else []
    diverged_at = None
    solved = first_solved(curve, s.stop_accuracy) is not None  # stopping's level
    first = len(curve["step"]) + 1
    last_save = last_log = time.perf_counter()
    for step in range(first, s.train_steps + 1):
        if solved and s.stop_when_solved:
            break
        batch = cell_batch(s, rng)
        p, record, finite = train_step(s, bk, p, opt, batch)
        if finite and heldout and step % s.eval_every == 0:
            scores = score(s, bk, p, heldout)
            record["eval_loss"], record["eval_accuracy"] = scores["loss"], scores["accuracy"]
            solved = solved or is_solved(scores["accuracy"], s.stop_accuracy)
        curve["step"].append(step)
        for k in CURVE[1:]:
            curve[k].append(record.get(k))
        if not finite:
            diverged_at = step
            break
        now = time.perf_counter()
        if now - last_log >= PROGRESS_EVERY:
            _progress(s, curve, step - first + 1, now - t_start, solved)
            last_log = now
        if checkpoint is not None and now - last_save >= checkpoint_every:
            ckpt.save(checkpoint, s, be, p, opt, curve, rng, prior + now - t_start)
            last_save = time.perf_counter()
    if checkpoint is not None:
        Path(checkpoint).unlink(missing_ok=True)
    return p, curve, diverged_at, prior + time.perf_counter() - t_start


def _progress(s: CellSettings, curve: dict, done: int, seconds: float, solved: bool) -> None:
    """One progress line: step, batch loss, last held-out accuracy, steps/s, time left."""
    rate = done / seconds
    step = curve["step"][-1]
    evaluated = [a for a in curve["eval_accuracy"] if a is not None]
    last_eval = f"{evaluated[-1]:.3f}" if evaluated else "-"
    left = (s.train_steps - step) / rate
    eta = "0 s (solved)" if solved and s.stop_when_solved else f"{left:.0f} s"
    if s.stop_when_solved and not solved:
        eta = f"<= {eta}"
    log.info(
        "step %d/%d: loss %.4g, held-out accuracy %s, %.1f steps/s, ETA %s",
        step,
        s.train_steps,
        curve["loss"][-1],
        last_eval,
        rate,
        eta,
    )


def update_schedule(s: CellSettings, batch: Batch) -> list[tuple[int, int]]:
    """The updates of one batch as (u, c): update after step u, window of steps (c, u]."""
    T = batch.steps
    if s.truncate is None:
        return [(T, 0)]
    k1, k2 = s.truncate.k1, s.truncate.k2
    candidates = [*list(range(k1, T, k1)), T]
    out, prev = [], 0
    for u in candidates:
        if np.any((batch.loss_steps > prev) & (batch.loss_steps <= u)):
            out.append((u, max(u - k2, 0)))
        prev = u
    return out


def window(batch: Batch, t0: int, t1: int, scored_from: int | None = None) -> Batch:
    """Steps (t0, t1] of a batch, scored at its loss steps in (scored_from, t1] (default t0),
    renumbered from 1; the scale is kept, so the windows' losses add up to the batch loss."""
    lo = t0 if scored_from is None else scored_from
    keep = (batch.loss_steps > lo) & (batch.loss_steps <= t1)
    return dataclasses.replace(
        batch, x=batch.x[t0:t1], targets=batch.targets[keep], loss_steps=batch.loss_steps[keep] - t0
    )


def train_step(s: CellSettings, bk, p: dict, opt: dict, batch: Batch) -> tuple[dict, dict, bool]:
    """All updates of one batch (see the module docstring); returns the weights, the step's
    curve record and whether everything stayed finite."""
    record = {"loss": 0.0, "param_grad_norm": 0.0, "clipped": False, "penalty": 0.0}
    if s.truncate is None:
        loss, grads, value = bk.gradient(s, p, batch)
        record["loss"] = loss
        return _update(s, p, opt, grads, value, record, np.isfinite(loss))
    schedule = update_schedule(s, batch)
    starts = {c for _, c in schedule}
    saved = {0: None}  # the forward's state at each window start (None: zeros)
    prev, state = 0, None
    for u, c in schedule:
        loss, _, carry = bk.run(s, p, window(batch, prev, u), state)
        record["loss"] += loss
        for t in starts:
            if prev < t <= u:
                saved[t] = carry(t - prev)
        state = carry(u - prev)
        win = window(batch, c, u, scored_from=max(prev, c))
        prev = u
        if not np.isfinite(loss):
            record["param_grad_norm"] = float("nan")  # no gradient was taken
            return p, record, False
        if win.loss_steps.size == 0:
            continue
        _, grads, value = bk.gradient(s, p, win, saved[c])
        p, record, finite = _update(s, p, opt, grads, value, record, True)
        if not finite:
            return p, record, False
    return p, record, True


def _update(s, p, opt, grads, value, record, finite):
    """Transform (a plugin remedy's), record, clip and apply one update unless something is
    non-finite."""
    if s.gradient_transform and finite and np.isfinite(value) and np.isfinite(global_norm(grads)):
        grads = transform(s, grads, opt)
    norm = global_norm(grads)
    record["param_grad_norm"] = max(record["param_grad_norm"], norm)
    record["penalty"] += value
    if not (finite and np.isfinite(norm) and np.isfinite(value)):
        if not np.isfinite(norm):
            record["param_grad_norm"] = norm
        return p, record, False
    grads, clipped = clip(s, grads, norm)
    record["clipped"] = record["clipped"] or clipped
    return constrain(s, optimizer_step(s, p, grads, opt)), record, True
