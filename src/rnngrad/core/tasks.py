"""Long-range tasks, drawn by seeded NumPy generators, identical for both backends.

Every task yields a :class:`Batch`: inputs ``x`` of shape (T, B, I), the steps where a linear
readout ``y_t = W_out h_t + b_out`` is scored, the targets there, and how the per-step losses add
up. The loss of a batch is

    L = scale * sum_{t in loss_steps} mean_b loss_t(b),

with ``loss_t`` the mean squared error over outputs (``kind='mse'``) or the cross-entropy of the
softmax of the outputs (``kind='xent'``). Steps count from 1: state h_t (index t of the (T+1, B, H)
state array) is read at step t.

Example
-------
>>> import numpy as np
>>> b = make_batch("adding", 50, 4, np.random.default_rng(0))
>>> b.x.shape, b.loss_steps.tolist(), b.kind
((50, 4, 2), [50], 'mse')
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

COPY_SYMBOLS = 8  # symbols to copy are drawn from 8 (Arjovsky et al. 2016)
COPY_LENGTH = 10  # the copied string has 10 symbols
ADDING_TOLERANCE = 0.16  # |error| < 0.16 on the sum = H&S's 0.04 on 0.5 + sum/4
EVAL_SEQUENCES = 1000  # fresh sequences for a trained cell's final metrics (at least 1000)
EVAL_CHUNK = 50  # evaluation sequences a forward: bounds memory, and fixes the draw order
DIGITS_STEPS = 64


@dataclass(frozen=True)
class Batch:
    x: np.ndarray  # (T, B, I) float64 inputs
    targets: np.ndarray  # mse: (L, B, O) float64; xent: (L, B) int64 class indices
    loss_steps: np.ndarray  # (L,) int64, the scored steps, each in 1..T
    kind: str  # "mse" | "xent"
    scale: float  # the per-step losses are summed and multiplied by this
    n_out: int  # readout size O

    @property
    def steps(self) -> int:
        return self.x.shape[0]

    @property
    def batch(self) -> int:
        return self.x.shape[1]


@dataclass(frozen=True)
class TaskSpec:
    n_in: int  # input size I
    n_out: int  # readout size O
    min_seq_len: int  # shortest seq_len that defines the task


def task_steps(task: str, seq_len: int) -> int:
    """The actual sequence length ``steps`` that the network reads for a task's ``seq_len``."""
    if task == "copy":
        return seq_len + 2 * COPY_LENGTH
    if task == "digits":
        return DIGITS_STEPS
    return seq_len


def memory_delays(seq_len: int, hidden: int) -> int:
    """Number K of delay readouts of the memory task: up to 2H (past the bound MC <= H), and
    at most half the sequence so every readout sees a full delay line."""
    return max(1, min(2 * hidden, seq_len // 2))


def spec(task: str, seq_len: int = 100, hidden: int = 32) -> TaskSpec:
    """Input size, readout size and minimum length of a task."""
    if task == "adding":
        return TaskSpec(2, 1, 2)
    if task == "copy":
        return TaskSpec(COPY_SYMBOLS + 2, COPY_SYMBOLS, 1)
    if task == "temporal_order":
        return TaskSpec(6, 4, 10)
    if task == "digits":
        return TaskSpec(1, 10, 1)
    if task == "memory":
        return TaskSpec(1, memory_delays(seq_len, hidden), 4)
    raise ValueError(f"task: unknown task {task!r}")


def min_seq_len(task: str) -> int:
    return spec(task).min_seq_len


def baseline_loss(task: str, seq_len: int) -> float:
    """Loss of the best memoryless predictor, the task's chance level (closed form)."""
    if task == "adding":
        return 1.0 / 6.0  # Var(U1 + U2) for U ~ U[0, 1]: predict the mean 1
    if task == "copy":
        return COPY_LENGTH * math.log(COPY_SYMBOLS) / task_steps("copy", seq_len)
    if task == "temporal_order":
        return math.log(4.0)
    if task == "digits":
        return math.log(10.0)
    if task == "memory":
        return 1.0 / 12.0  # Var(u) for u ~ U[-0.5, 0.5]
    raise ValueError(f"task: unknown task {task!r}")


def make_batch(
    task: str, seq_len: int, batch: int, rng: np.random.Generator, hidden: int = 32
) -> Batch:
    """Draw ``batch`` sequences of a task from ``rng`` (deterministic per generator state)."""
    if task == "adding":
        return _adding(seq_len, batch, rng)
    if task == "copy":
        return _copy(seq_len, batch, rng)
    if task == "temporal_order":
        return _temporal_order(seq_len, batch, rng)
    if task == "digits":
        return _digits(batch, rng)
    if task == "memory":
        return _memory(seq_len, batch, rng, memory_delays(seq_len, hidden))
    raise ValueError(f"task: unknown task {task!r}")


def _adding(T: int, B: int, rng: np.random.Generator) -> Batch:
    values = rng.uniform(0.0, 1.0, size=(T, B))
    half = T // 2
    first = rng.integers(0, half, size=B)  # one marker in each half
    second = rng.integers(half, T, size=B)
    markers = np.zeros((T, B))
    cols = np.arange(B)
    markers[first, cols] = 1.0
    markers[second, cols] = 1.0
    x = np.stack([values, markers], axis=-1)
    target = values[first, cols] + values[second, cols]
    return Batch(x, target.reshape(1, B, 1), np.array([T]), "mse", 1.0, 1)


def _copy(T: int, B: int, rng: np.random.Generator) -> Batch:
    steps = T + 2 * COPY_LENGTH
    blank, delim = COPY_SYMBOLS, COPY_SYMBOLS + 1
    symbols = rng.integers(0, COPY_SYMBOLS, size=(COPY_LENGTH, B))
    seq = np.full((steps, B), blank)
    seq[:COPY_LENGTH] = symbols
    seq[T + COPY_LENGTH - 1] = delim  # the delimiter ends the T blanks; 10 blanks follow
    x = np.eye(COPY_SYMBOLS + 2)[seq]
    loss_steps = np.arange(steps - COPY_LENGTH + 1, steps + 1)
    return Batch(x, symbols.astype(np.int64), loss_steps, "xent", 1.0 / steps, COPY_SYMBOLS)


def _temporal_order(T: int, B: int, rng: np.random.Generator) -> Batch:
    # Pascanu et al.'s generator: relevant symbols 0/1 at [0.1T, 0.2T) and [0.5T, 0.6T),
    # distractors 2..5 elsewhere, class = v0 + 2 v1
    w = int(T * 0.1)
    p0 = rng.integers(0, w, size=B) + w
    v0 = rng.integers(0, 2, size=B)
    p1 = rng.integers(0, w, size=B) + int(T * 0.5)
    v1 = rng.integers(0, 2, size=B)
    seq = rng.integers(0, 4, size=(T, B)) + 2
    cols = np.arange(B)
    seq[p0, cols] = v0
    seq[p1, cols] = v1
    x = np.eye(6)[seq]
    target = (v0 + 2 * v1).astype(np.int64)
    return Batch(x, target.reshape(1, B), np.array([T]), "xent", 1.0, 4)


@lru_cache(maxsize=1)
def _digits_data() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError("task 'digits' needs scikit-learn: pip install 'rnngrad[digits]'") from e
    d = load_digits()
    return d.data / 16.0, d.target.astype(np.int64)


def _digits(B: int, rng: np.random.Generator) -> Batch:
    images, labels = _digits_data()
    idx = rng.integers(0, len(labels), size=B)
    x = images[idx].T[:, :, None]  # (64, B, 1): one pixel a step
    return Batch(x, labels[idx].reshape(1, B), np.array([DIGITS_STEPS]), "xent", 1.0, 10)


def _memory(T: int, B: int, rng: np.random.Generator, K: int) -> Batch:
    u = rng.uniform(-0.5, 0.5, size=(T, B))
    loss_steps = np.arange(K + 1, T + 1)  # every readout has a full delay line
    # target of delay k at step t is u(t - k), steps counted from 1 (u(t) is x[t - 1])
    targets = np.stack([u[loss_steps - 1 - k] for k in range(1, K + 1)], axis=-1)
    return Batch(u[:, :, None], targets, loss_steps, "mse", 1.0 / len(loss_steps), K)


def last_loss_step(batch: Batch) -> Batch:
    """The batch scored at its last loss step alone, with the same ``scale``: its loss is the
    last step's term of the task loss. The gradient profile is measured on it, so the linear
    oracle grad_norm[k] = s^k grad_norm[0] holds on every task (copy and memory score several
    steps; their summed terms would mix lags)."""
    if len(batch.loss_steps) == 1:
        return batch
    return replace(batch, targets=batch.targets[-1:], loss_steps=batch.loss_steps[-1:])


def accuracy(task: str, outputs: np.ndarray, batch: Batch) -> float:
    """Fraction of sequences correct; ``outputs`` (L, B, O) are the readouts at ``loss_steps``."""
    if task == "adding":
        return float(
            np.mean(np.abs(outputs[-1, :, 0] - batch.targets[-1, :, 0]) < ADDING_TOLERANCE)
        )
    if task == "copy":
        return float(np.mean(np.all(outputs.argmax(-1) == batch.targets, axis=0)))
    if task in ("temporal_order", "digits"):
        return float(np.mean(outputs[-1].argmax(-1) == batch.targets[-1]))
    if task == "memory":
        return float("nan")  # the memory task is scored by memory_capacity
    raise ValueError(f"task: unknown task {task!r}")


def memory_capacity(outputs: np.ndarray, batch: Batch) -> float:
    """Jaeger's MC: sum over delays k of the squared correlation of u(t - k) and readout k."""
    y = outputs.reshape(-1, outputs.shape[-1])
    u = batch.targets.reshape(-1, batch.targets.shape[-1])
    mc = 0.0
    for k in range(u.shape[1]):
        c = np.corrcoef(y[:, k], u[:, k])[0, 1]
        mc += 0.0 if not np.isfinite(c) else c * c
    return float(mc)
