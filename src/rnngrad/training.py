"""Training a cell with its remedy, in either backend, and its evaluation.

:func:`train` is the one code path for both backends: batches, the update schedule, the loop,
the records, the evaluation and the checkpoints live here; the gradient of the objective with its
remedies lives in ``rnngrad.<backend>_backend.train`` (hand-written in NumPy, autograd in
PyTorch) as ``run`` (forward only) and ``gradient``. Clipping and the optimizers are written
once, here, in operations that NumPy arrays and torch tensors share, so both backends apply
the same formulas: PyTorch's (``torch.optim.SGD``, with ``momentum=0.9`` for momentum, and
``torch.optim.Adam`` with its defaults), with the optimizer state under PyTorch's names.

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
    held-out set of HELDOUT_SEQUENCES sequences from ``data_stream(s, "heldout")`` (drawn once,
    the same at every evaluation and in both backends); ``eval_loss`` and ``eval_accuracy`` hold
    the scores on those steps and None on the others. ``steps_to_solve`` is the first evaluated
    step whose held-out accuracy is >= SOLVED_ACCURACY (None when none is) and
    ``sequences_to_solve`` that times the batch (Hochreiter and Schmidhuber's measure). With
    ``stop_when_solved`` training ends at that step; ``train_steps`` is then the budget and
    ``steps_trained`` says how many steps ran. The final metrics are always on EVAL_SEQUENCES
    fresh sequences of ``data_stream(s, "eval")``, so ``solved`` may differ from the held-out
    verdict by a sequence or two.

Progress
    Every PROGRESS_EVERY seconds of training, a line to the ``rnngrad.training`` logger: step,
    batch loss, the last held-out accuracy, steps/s and the time left (at most, when stopping
    early).

Echo state network
    The reservoir stays fixed; the readout is fitted in closed form (:mod:`rnngrad.esn`) on the
    states at the loss steps of ``train_steps`` batches of training sequences. Nothing is
    iterated, so the curve is empty.

Example
-------
>>> from rnngrad.settings import CellSettings
>>> from rnngrad.init import init_params
>>> s = CellSettings.from_dict({"seq_len": 10, "hidden": 8, "train_steps": 3})
>>> out = train(s, init_params(s, 2, 1))
>>> out["status"], out["curve"]["step"]
('ok', [1, 2, 3])
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from rnngrad import esn, tasks
from rnngrad.files import atomic_write
from rnngrad.init import data_stream
from rnngrad.models import constrain
from rnngrad.provenance import code_hash, settings_hash
from rnngrad.settings import CellSettings
from rnngrad.tasks import EVAL_CHUNK, EVAL_SEQUENCES, Batch

log = logging.getLogger("rnngrad.training")

HELDOUT_SEQUENCES = 300  # the fixed held-out set of the periodic evaluations (eval_every)
SOLVED_ACCURACY = 0.99  # accuracy at which a task counts as solved
ACCURACY_ROUNDING = 1e-9  # an accuracy is a mean of chunks' fractions: 0.99 may sum to 0.98999..
CHECKPOINT_EVERY = 60.0  # seconds of training between checkpoint saves, unless set otherwise
CHECKPOINT_EVERY_ENV = "RNNGRAD_CHECKPOINT_EVERY"  # the interval from the environment (tests)
PROGRESS_EVERY = 5.0  # seconds of training between progress lines in the log
CURVE = ("step", "loss", "param_grad_norm", "clipped", "penalty", "eval_loss", "eval_accuracy")
EVAL_CURVE = ("eval_loss", "eval_accuracy")  # None on steps without a periodic evaluation
MOMENTUM = 0.9  # heavy ball, as torch.optim.SGD(momentum=0.9)
BETAS = (0.9, 0.999)  # torch.optim.Adam's defaults
EPS = 1e-8


def backend_module(s: CellSettings):
    """The backend package of a cell (torch is imported only for torch cells)."""
    return importlib.import_module(f"rnngrad.{s.backend}_backend")


def backend_modules(s: CellSettings):
    """The backend package of a cell and its training module (torch only for torch cells)."""
    be = backend_module(s)
    return be, importlib.import_module(f"{be.__name__}.train")


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
    checkpoint_every : seconds between saves; default :func:`checkpoint_interval`.

    Returns
    -------
    dict with ``params`` (trained, float64 NumPy), ``curve`` (equal-length lists ``step``,
    ``loss``, ``param_grad_norm``, ``clipped``, ``penalty``), ``metrics`` (``final_loss``,
    ``accuracy``, ``baseline_loss``, ``normalized_loss``, ``solved``, ``clip_fraction``,
    ``max_grad_norm``, ``diverged_at``, ``train_seconds``, ``steps_trained``,
    ``train_steps_per_s``, ``steps_to_solve``, ``sequences_to_solve``, and ``memory_capacity``
    for the memory task) and ``status`` ("ok" or "diverged").
    """
    be, bk = backend_modules(s)
    if checkpoint_every is None:
        checkpoint_every = checkpoint_interval()
    if s.model == "esn":
        t_start = time.perf_counter()
        p, diverged_at = _fit_esn(s, be, params)
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
    if checkpoint is not None and os.path.exists(checkpoint) and _same_settings(checkpoint, s):
        p, opt, curve, prior = _load(checkpoint, s, be, rng)
    heldout = heldout_set(s) if s.eval_every >= 1 else []
    diverged_at = None
    solved = first_solved(curve) is not None
    first = len(curve["step"]) + 1
    last_save = last_log = time.perf_counter()
    for step in range(first, s.train_steps + 1):
        if solved and s.stop_when_solved:
            break
        batch = tasks.make_batch(s.task, s.seq_len, s.batch, rng, s.hidden)
        p, record, finite = train_step(s, bk, p, opt, batch)
        if finite and heldout and step % s.eval_every == 0:
            scores = score(s, bk, p, heldout)
            record["eval_loss"], record["eval_accuracy"] = scores["loss"], scores["accuracy"]
            solved = solved or is_solved(scores["accuracy"])
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
            _save(checkpoint, s, be, p, opt, curve, rng, prior + now - t_start)
            last_save = time.perf_counter()
    if checkpoint is not None:
        Path(checkpoint).unlink(missing_ok=True)
    return p, curve, diverged_at, prior + time.perf_counter() - t_start


def checkpoint_interval() -> float:
    """Seconds between checkpoint saves: ``$RNNGRAD_CHECKPOINT_EVERY`` when set, else
    CHECKPOINT_EVERY. Not a cell setting (it changes no result, so it must not rerun cells);
    ``rnngrad cell --checkpoint-every`` and the config's ``checkpoint_every`` override it."""
    raw = os.environ.get(CHECKPOINT_EVERY_ENV)
    if raw is None:
        return CHECKPOINT_EVERY
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise ValueError(
            f"${CHECKPOINT_EVERY_ENV}: must be a number of seconds >= 0 (value {raw!r})"
        )
    return seconds


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


def is_solved(accuracy: float) -> bool:
    """accuracy >= SOLVED_ACCURACY, up to the rounding of a mean of fractions."""
    return bool(accuracy >= SOLVED_ACCURACY - ACCURACY_ROUNDING)


def first_solved(curve: dict) -> int | None:
    """The first step whose held-out accuracy reached SOLVED_ACCURACY, or None."""
    for step, acc in zip(curve["step"], curve["eval_accuracy"], strict=True):
        if acc is not None and is_solved(acc):
            return step
    return None


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
    """Record, clip and apply one update unless something is non-finite."""
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


# -- clipping and optimizers: NumPy arrays and torch tensors alike --------------------------
def global_norm(grads: dict) -> float:
    """sqrt of the sum of squares of every gradient component (inf or nan when they are)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(sum(float((g * g).sum()) for g in grads.values())) ** 0.5


def clip(s: CellSettings, grads: dict, norm: float) -> tuple[dict, bool]:
    """Clipping by global norm (Pascanu et al. 2013, Algorithm 1: if ||g|| > threshold,
    g <- threshold g / ||g||) or by value (each component to [-threshold, threshold]).
    Returns the gradients and whether clipping changed them."""
    c = s.clip
    if c is None:
        return grads, False
    if c.kind == "norm":
        if norm <= c.threshold:
            return grads, False
        scale = c.threshold / norm
        return {k: g * scale for k, g in grads.items()}, True
    clipped = any(bool((abs(g) > c.threshold).any()) for g in grads.values())
    return {k: g.clip(-c.threshold, c.threshold) for k, g in grads.items()}, clipped


def init_optimizer(s: CellSettings, params: dict) -> dict:
    """Optimizer state (PyTorch's names): ``step``, and per weight ``momentum_buffer`` (sgd with
    momentum) or ``exp_avg`` and ``exp_avg_sq`` (adam), each made from the first gradient."""
    state: dict[str, Any] = {"step": 0}
    if s.optimizer == "adam":
        state.update(exp_avg={}, exp_avg_sq={})
    elif s.optimizer == "momentum":
        state["momentum_buffer"] = {}
    return state


def optimizer_step(s: CellSettings, params: dict, grads: dict, state: dict) -> dict:
    """One update; returns new weights (the old ones stay intact) and updates ``state``.

    sgd: p <- p - lr g. momentum: b <- g at the first step, else 0.9 b + g; p <- p - lr b.
    adam: m <- m + (1 - beta1)(g - m); v <- beta2 v + (1 - beta2) g^2 (m = v = 0 before the
    first step); p <- p - (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
    """
    state["step"] += 1
    lr, new = s.lr, {}
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        if s.optimizer == "sgd":
            for k, p in params.items():
                new[k] = p - lr * grads[k]
        elif s.optimizer == "momentum":
            buf = state["momentum_buffer"]
            for k, p in params.items():
                # nothing is changed in place, so the first buffer may be the gradient itself
                buf[k] = grads[k] if k not in buf else MOMENTUM * buf[k] + grads[k]
                new[k] = p - lr * buf[k]
        else:
            b1, b2 = BETAS
            t = state["step"]
            step_size = lr / (1 - b1**t)
            root_bc2 = (1 - b2**t) ** 0.5  # Python floats keep float32 weights float32
            m, v = state["exp_avg"], state["exp_avg_sq"]
            if not isinstance(next(iter(params.values())), np.ndarray):
                return _adam_torch(params, grads, m, v, step_size, root_bc2)
            for k, p in params.items():
                g = grads[k]
                m[k] = (1 - b1) * g if k not in m else m[k] + (1 - b1) * (g - m[k])
                v[k] = (1 - b2) * g * g if k not in v else b2 * v[k] + (1 - b2) * g * g
                new[k] = p - step_size * m[k] / (v[k] ** 0.5 / root_bc2 + EPS)
    return new


def _adam_torch(params: dict, grads: dict, m: dict, v: dict, step_size: float, root_bc2: float):
    """:func:`optimizer_step`'s Adam on torch tensors, all weights at once (torch's multi-tensor
    ``_foreach`` ops, as torch.optim.Adam(foreach=True)): seven calls in place of a dozen per
    weight, the same arithmetic; the moments are updated in place, the weights are new."""
    import torch

    b1, b2 = BETAS
    keys = list(params)
    g = [grads[k] for k in keys]
    if keys[0] not in m:
        m.update(zip(keys, torch._foreach_mul(g, 1 - b1), strict=True))
        v.update(zip(keys, torch._foreach_mul(torch._foreach_mul(g, g), 1 - b2), strict=True))
    else:
        torch._foreach_lerp_([m[k] for k in keys], g, 1 - b1)  # m + (1 - b1)(g - m)
        vs = [v[k] for k in keys]
        torch._foreach_mul_(vs, b2)
        torch._foreach_addcmul_(vs, g, g, value=1 - b2)
    denom = torch._foreach_sqrt([v[k] for k in keys])
    torch._foreach_div_(denom, root_bc2)
    torch._foreach_add_(denom, EPS)
    new = torch._foreach_addcdiv([params[k] for k in keys], [m[k] for k in keys], denom, -step_size)
    return dict(zip(keys, new, strict=True))


def heldout_set(s: CellSettings) -> list[Batch]:
    """The fixed held-out set of the periodic evaluations: HELDOUT_SEQUENCES sequences of
    ``data_stream(s, "heldout")`` in chunks of EVAL_CHUNK."""
    rng = data_stream(s, "heldout")
    return [
        tasks.make_batch(s.task, s.seq_len, EVAL_CHUNK, rng, s.hidden)
        for _ in range(HELDOUT_SEQUENCES // EVAL_CHUNK)
    ]


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
    batches = (
        tasks.make_batch(s.task, s.seq_len, EVAL_CHUNK, rng, s.hidden)
        for _ in range(EVAL_SEQUENCES // EVAL_CHUNK)
    )
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


def _fit_esn(s: CellSettings, be, params: dict) -> tuple[dict, int | None]:
    """Ridge readout on the reservoir states of ``train_steps`` training batches; returns the
    backend weights and the step whose states were first non-finite (None when all were)."""
    H = params["weight_hh"].shape[1]
    n_out = params["weight_out"].shape[0]
    p = be.to_backend(s, params)
    rng = data_stream(s, "train")
    normal = esn.NormalEquations(H, n_out)
    for step in range(1, s.train_steps + 1):
        batch = tasks.make_batch(s.task, s.seq_len, s.batch, rng, s.hidden)
        h, _ = be.forward(s, p, batch.x)
        states = np.asarray(be.from_backend(h), dtype=np.float64)[batch.loss_steps]
        if not np.all(np.isfinite(states)):
            return p, step
        normal.add(states, esn.targets(batch))
    W_out, b_out = normal.solve(s.ridge)
    return {**p, **be.to_backend(s, {"weight_out": W_out, "bias_out": b_out})}, None


# -- checkpoints --------------------------------------------------------------------------
CHECKPOINT_KEYS = ("settings", "code_hash", "opt_step", "rng", "seconds")


def _same_settings(path: str, s: CellSettings) -> bool:
    """Whether the checkpoint at ``path`` can be resumed: whole (every array reads back, so a
    truncated, empty or bit-flipped file fails its zip checksums here), saved by a cell of
    these very settings and by this very code (else the record would claim the new code_hash
    for steps the old code ran). Otherwise it is deleted with a warning naming the file and
    why, and training starts over; a resume is logged too."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        missing = [k for k in (*CHECKPOINT_KEYS, *(f"curve/{k}" for k in CURVE)) if k not in arrays]
        if missing:
            why = f"is incomplete or older (no {', '.join(missing)})"
        elif str(arrays["settings"]) != settings_hash(s):
            why = "was saved by other settings"
        elif str(arrays["code_hash"]) != code_hash():
            why = f"was saved by code {arrays['code_hash']}, this is {code_hash()}"
        else:
            log.info("checkpoint %s: resuming after step %d", path, len(arrays["curve/step"]))
            return True
    except Exception as e:  # zipfile, zlib, numpy and OS errors alike: the file is unusable
        why = f"cannot be read ({type(e).__name__}: {e})"
    log.warning("checkpoint %s %s: discarded, training starts over", path, why)
    Path(path).unlink(missing_ok=True)
    return False


def _save(
    path: str,
    s: CellSettings,
    be,
    p: dict,
    opt: dict,
    curve: dict,
    rng: np.random.Generator,
    seconds: float,
) -> None:
    """Settings, weights, optimizer state, curve, data stream and time so far, as one npz
    (no pickle), written atomically."""
    arrays: dict[str, np.ndarray] = {f"param/{k}": be.from_backend(v) for k, v in p.items()}
    arrays["settings"] = np.array(settings_hash(s))
    arrays["code_hash"] = np.array(code_hash())
    for name, value in opt.items():
        if isinstance(value, dict):
            for k, v in value.items():
                arrays[f"opt/{name}/{k}"] = be.from_backend(v)
    arrays["opt_step"] = np.array(opt["step"])
    for k in CURVE:
        if k in EVAL_CURVE:  # None (no evaluation at that step) is stored as nan
            values = [np.nan if v is None else v for v in curve[k]]
            arrays[f"curve/{k}"] = np.asarray(values, dtype=np.float64)
        else:
            arrays[f"curve/{k}"] = np.asarray(curve[k], dtype=bool if k == "clipped" else None)
    arrays["rng"] = np.array(json.dumps(rng.bit_generator.state))
    arrays["seconds"] = np.array(seconds)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would add ".npz" to a name
            np.savez(f, **arrays)

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, write)
    log.info("checkpoint %s: saved after step %d", path, len(curve["step"]))


def _load(path: str, s: CellSettings, be, rng: np.random.Generator):
    """Inverse of :func:`_save`; sets ``rng``'s state and returns weights, optimizer state,
    curve and seconds."""
    with np.load(path, allow_pickle=False) as z:
        p = be.to_backend(s, {k[6:]: z[k] for k in z.files if k.startswith("param/")})
        opt: dict[str, Any] = {"step": int(z["opt_step"])}
        for name, value in init_optimizer(s, p).items():
            if isinstance(value, dict):
                prefix = f"opt/{name}/"
                opt[name] = be.to_backend(
                    s, {k[len(prefix) :]: z[k] for k in z.files if k.startswith(prefix)}
                )
        curve = {k: z[f"curve/{k}"].tolist() for k in CURVE}
        for k in EVAL_CURVE:
            curve[k] = [None if np.isnan(v) else v for v in curve[k]]
        rng.bit_generator.state = json.loads(str(z["rng"]))
        return p, opt, curve, float(z["seconds"])
