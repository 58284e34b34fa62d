"""Long-range tasks, drawn by seeded NumPy generators, identical for both backends.

Every task yields a :class:`Batch`: inputs ``x`` of shape (T, B, I), the steps where a linear
readout ``y_t = W_out h_t + b_out`` is scored, the targets there, and how the per-step losses add
up. The loss of a batch is

    L = scale * sum_{t in loss_steps} mean_b loss_t(b),

with ``loss_t`` the mean squared error over outputs (``kind='mse'``) or the cross-entropy of the
softmax of the outputs (``kind='xent'``). Steps count from 1: state h_t (index t of the (T+1, B, H)
state array) is read at step t.

Tasks as their papers define them, each with that paper's success criterion (docs/metrics.md):

- ``adding``: the fixed-length variant (Arjovsky et al. 2016; Le et al. 2015): values U[0, 1],
  one marker in each half, target U1 + U2; those papers report MSE. Its accuracy uses
  Hochreiter and Schmidhuber's tolerance in these units: |error| < 0.08 on U1 + U2.
- ``adding_hs``: Hochreiter and Schmidhuber 1997, experiment 4: values in [-1, 1], lengths T to
  T + T/10, first marker among the first ten steps, second among the first T/2 - 1 unmarked
  ones, marker -1 at the first and last step, target 0.5 + (X1 + X2)/4, correct when
  |error| < 0.04.
- ``adding_pascanu``: pascanur/trainingRNNs ``addition.py``: lengths in [T, 1.1 T), markers in
  [0, 0.1 l) and [0.1 l, 0.5 l), target (U1 + U2)/2; an error when the squared error exceeds
  0.04 (``RNN.py``).
- ``temporal_order``: pascanur/trainingRNNs ``tempOrder.py``; correct when the argmax is the class.
- ``temporal_order_hs``: Hochreiter and Schmidhuber 1997, experiment 6a: start symbol E,
  trigger B at the end, lengths T to T + T/10, X or Y at t1 in [0.1 T, 0.2 T] and t2 in
  [0.5 T, 0.6 T]; correct when every output's absolute error is below 0.3.

Variable-length tasks draw one length per batch (as Pascanu's code does): every sequence of a
batch has the same length, so ``loss_steps`` stays one array for the batch, and both backends
read the batch unchanged. Hochreiter and Schmidhuber train one sequence at a time, where this
is their draw exactly.

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

from rnngrad.core import registry
from rnngrad.core.choices import TASKS as TASK_NAMES

COPY_SYMBOLS = 8  # symbols to copy are drawn from 8 (Arjovsky et al. 2016)
COPY_LENGTH = 10  # the copied string has 10 symbols
# |error| < 0.08 on U1 + U2: H&S's 0.04 on 0.5 + (X1 + X2)/4 with X = 2U - 1 (0.16 would be
# their tolerance on X1 + X2, twice as lenient on U1 + U2)
ADDING_TOLERANCE = 0.08
HS_ADDING_TOLERANCE = 0.04  # H&S 1997, experiment 4: correct when |error| < 0.04
PASCANU_SQUARED_ERROR = 0.04  # trainingRNNs RNN.py: an error when (t - y)^2 > 0.04
HS_ORDER_TOLERANCE = 0.3  # H&S 1997, experiment 6a: every output's |error| below 0.3
EVAL_CHUNK = 50  # evaluation sequences a forward: bounds memory, and fixes the draw order
HS_FIRST_MARKERS = 10  # H&S 1997: the first marker is one of the first ten pairs
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


VARIABLE_LENGTH = ("adding_hs", "adding_pascanu", "temporal_order_hs")


def task_steps(task: str, seq_len: int) -> int:
    """The actual sequence length ``steps`` that the network reads for a task's ``seq_len``
    (the shortest one for the variable-length tasks, whose batches read up to 1.1 seq_len)."""
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
    if (p := registry.obj("task", task)) is not None:
        return TaskSpec(p.n_in, p.n_out, getattr(p, "min_seq_len", 1))
    if task == "adding":
        return TaskSpec(2, 1, 2)
    if task == "adding_hs":
        return TaskSpec(2, 1, 2 * HS_FIRST_MARKERS)  # the second marker before T/2 > 10
    if task == "adding_pascanu":
        return TaskSpec(2, 1, 10)  # 0.1 T >= 1
    if task == "copy":
        return TaskSpec(COPY_SYMBOLS + 2, COPY_SYMBOLS, 1)
    if task == "temporal_order":
        return TaskSpec(6, 4, 10)
    if task == "temporal_order_hs":
        return TaskSpec(8, 4, 20)  # t1 >= 0.1 T >= 2, after the start symbol
    if task == "digits":
        return TaskSpec(1, 10, 1)
    if task == "memory":
        return TaskSpec(1, memory_delays(seq_len, hidden), 4)
    raise ValueError(f"task: unknown task {task!r}")


def min_seq_len(task: str) -> int:
    """The shortest seq_len of a task (1 for a plugin task this process has not loaded)."""
    if registry.obj("task", task) is None and task not in TASK_NAMES:
        return 1
    return spec(task).min_seq_len


def baseline_loss(task: str, seq_len: int) -> float:
    """Loss of the best memoryless predictor, the task's chance level (closed form)."""
    if (p := registry.obj("task", task)) is not None:
        return float(p.baseline_loss(seq_len))
    if task == "adding":
        return 1.0 / 6.0  # Var(U1 + U2) for U ~ U[0, 1]: predict the mean 1
    if task == "adding_hs":
        # Var(X1 + X2) / 16, X ~ U[-1, 1] (variance 1/3) but X1 = 0 when the first step is
        # marked (probability 1/10): (0.9/3 + 1/3) / 16
        return (0.9 / 3.0 + 1.0 / 3.0) / 16.0
    if task == "adding_pascanu":
        return 1.0 / 24.0  # Var((U1 + U2) / 2)
    if task == "copy":
        return COPY_LENGTH * math.log(COPY_SYMBOLS) / task_steps("copy", seq_len)
    if task in ("temporal_order", "temporal_order_hs"):
        return math.log(4.0)
    if task == "digits":
        return math.log(10.0)
    if task == "memory":
        return 1.0 / 12.0  # Var(u) for u ~ U[-0.5, 0.5]
    raise ValueError(f"task: unknown task {task!r}")


def short_memory_loss(task: str, seq_len: int) -> float:
    """Loss of the best predictor that remembers only the most recent marked item (closed form):
    the plateau a network reaches when it bridges the short lag but not the long one. NaN for
    tasks without marked items (digits, memory).

    adding: Var(U1) = 1/12, half the baseline; adding_hs: the earlier marked value is lost, X1
    (zero when the first step is marked) or, when the second marker comes first, X2; over the
    ten places of the first marker both give 0.9/3/16, whatever T; adding_pascanu: Var(U1)/4;
    temporal order: the later symbol is known, the earlier one is a coin: ln 2; copy: the last
    of the ten symbols is known: 9 ln 8 / (T + 20). A plugin task's, where it has one."""
    if (p := registry.obj("task", task)) is not None:
        return float(getattr(p, "short_memory_loss", lambda T: math.nan)(seq_len))
    if task == "adding":
        return 1.0 / 12.0
    if task == "adding_hs":
        return 0.9 / 3.0 / 16.0
    if task == "adding_pascanu":
        return 1.0 / 48.0
    if task in ("temporal_order", "temporal_order_hs"):
        return math.log(2.0)
    if task == "copy":
        return (COPY_LENGTH - 1) * math.log(COPY_SYMBOLS) / task_steps("copy", seq_len)
    if task in ("digits", "memory"):
        return float("nan")
    raise ValueError(f"task: unknown task {task!r}")


def short_memory_accuracy(task: str) -> float:
    """Accuracy of that predictor under the task's criterion (NaN where it has none).

    adding: P(|U1 - 1/2| < 0.08) = 0.16; adding_hs: the lost value is 0 with probability 0.1,
    else P(|X|/4 < 0.04) = 0.16: 0.1 + 0.9 * 0.16; adding_pascanu: P(((U1 - 1/2)/2)^2 <= 0.04)
    = 0.8; temporal_order: 0.5 (argmax of a coin); temporal_order_hs: 0 (probability 1/2 on two
    classes is an error of 0.5 > 0.3); copy: 8^-9."""
    if (p := registry.obj("task", task)) is not None:
        return float(getattr(p, "short_memory_accuracy", math.nan))
    table = {
        "adding": 2.0 * ADDING_TOLERANCE,
        "adding_hs": 0.1 + 0.9 * 4.0 * HS_ADDING_TOLERANCE,
        "adding_pascanu": 4.0 * math.sqrt(PASCANU_SQUARED_ERROR),
        "temporal_order": 0.5,
        "temporal_order_hs": 0.0,
        "copy": float(COPY_SYMBOLS) ** -(COPY_LENGTH - 1),
        "digits": float("nan"),
        "memory": float("nan"),
    }
    if task not in table:
        raise ValueError(f"task: unknown task {task!r}")
    return table[task]


def make_batch(
    task: str, seq_len: int, batch: int, rng: np.random.Generator, hidden: int = 32
) -> Batch:
    """Draw ``batch`` sequences of a task from ``rng`` (deterministic per generator state)."""
    if (p := registry.obj("task", task)) is not None:
        return p.make_batch(seq_len, batch, rng)
    if task == "adding":
        return _adding(seq_len, batch, rng)
    if task == "adding_hs":
        return _adding_hs(seq_len, batch, rng)
    if task == "adding_pascanu":
        return _adding_pascanu(seq_len, batch, rng)
    if task == "copy":
        return _copy(seq_len, batch, rng)
    if task == "temporal_order":
        return _temporal_order(seq_len, batch, rng)
    if task == "temporal_order_hs":
        return _temporal_order_hs(seq_len, batch, rng)
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


def _hs_length(T: int, rng: np.random.Generator) -> int:
    """H&S 1997: a random integer between T and T + T/10 (both included)."""
    return int(rng.integers(T, T + T // 10 + 1))


def _adding_hs(T: int, B: int, rng: np.random.Generator) -> Batch:
    # Hochreiter and Schmidhuber 1997, section 5.4 (experiment 4)
    steps = _hs_length(T, rng)
    values = rng.uniform(-1.0, 1.0, size=(steps, B))
    cols = np.arange(B)
    first = rng.integers(0, HS_FIRST_MARKERS, size=B)
    # one of the first T/2 - 1 still unmarked pairs: [0, T/2) without the first marker
    r = rng.integers(0, T // 2 - 1, size=B)
    second = r + (r >= first)
    markers = np.zeros((steps, B))
    markers[0] = markers[-1] = -1.0  # the first and final pair, unless marked
    markers[first, cols] = 1.0
    markers[second, cols] = 1.0
    values[0, first == 0] = 0.0  # "X1 is set to zero" when the first pair is marked
    x = np.stack([values, markers], axis=-1)
    target = 0.5 + (values[first, cols] + values[second, cols]) / 4.0
    return Batch(x, target.reshape(1, B, 1), np.array([steps]), "mse", 1.0, 1)


def _adding_pascanu(T: int, B: int, rng: np.random.Generator) -> Batch:
    # pascanur/trainingRNNs addition.py, AddTask.generate: one length l a batch
    steps = T + int(rng.integers(int(T * 0.1)))
    p0 = rng.integers(int(steps * 0.1), size=B)
    p1 = rng.integers(int(steps * 0.4), size=B) + int(steps * 0.1)
    values = rng.uniform(0.0, 1.0, size=(steps, B))
    cols = np.arange(B)
    markers = np.zeros((steps, B))
    markers[p0, cols] = 1.0
    markers[p1, cols] = 1.0
    x = np.stack([values, markers], axis=-1)
    target = (values[p0, cols] + values[p1, cols]) / 2.0
    return Batch(x, target.reshape(1, B, 1), np.array([steps]), "mse", 1.0, 1)


def _temporal_order_hs(T: int, B: int, rng: np.random.Generator) -> Batch:
    # Hochreiter and Schmidhuber 1997, section 5.6, task 6a. Symbols: 0 = X, 1 = Y, 2..5 =
    # a..d, 6 = E (start), 7 = B (trigger); class XX, XY, YX, YY = 2 v1 + v2 (Q, R, S, U)
    steps = _hs_length(T, rng)
    t1 = rng.integers(int(T * 0.1), int(T * 0.2) + 1, size=B)  # steps counted from 1
    t2 = rng.integers(int(T * 0.5), int(T * 0.6) + 1, size=B)
    v1 = rng.integers(0, 2, size=B)
    v2 = rng.integers(0, 2, size=B)
    seq = rng.integers(2, 6, size=(steps, B))
    cols = np.arange(B)
    seq[0], seq[-1] = 6, 7
    seq[t1 - 1, cols] = v1
    seq[t2 - 1, cols] = v2
    x = np.eye(8)[seq]
    target = (2 * v1 + v2).astype(np.int64)
    return Batch(x, target.reshape(1, B), np.array([steps]), "xent", 1.0, 4)


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
    """Fraction of sequences correct; ``outputs`` (L, B, O) are the readouts at ``loss_steps``.
    NaN for the memory task (scored by :func:`memory_capacity`)."""
    if task == "memory":
        return float("nan")
    return float(np.mean(correct(task, outputs, batch)))


def correct(task: str, outputs: np.ndarray, batch: Batch) -> np.ndarray:
    """(B,) bool: which sequences the task's criterion counts correct (see the module
    docstring)."""
    if (p := registry.obj("task", task)) is not None:
        return np.asarray(p.correct(outputs, batch), dtype=bool)
    if task in ("adding", "adding_hs", "adding_pascanu"):
        error = outputs[-1, :, 0] - batch.targets[-1, :, 0]
        if task == "adding_pascanu":
            return ~(error**2 > PASCANU_SQUARED_ERROR)  # RNN.py counts (t - y)^2 > .04
        return np.abs(error) < (ADDING_TOLERANCE if task == "adding" else HS_ADDING_TOLERANCE)
    if task == "copy":
        return np.all(outputs.argmax(-1) == batch.targets, axis=0)
    if task == "temporal_order_hs":
        z = outputs[-1] - outputs[-1].max(-1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(-1, keepdims=True)  # the readout's softmax
        onehot = np.eye(p.shape[-1])[batch.targets[-1]]
        return np.all(np.abs(p - onehot) < HS_ORDER_TOLERANCE, axis=-1)
    if task in ("temporal_order", "digits"):
        return outputs[-1].argmax(-1) == batch.targets[-1]

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
