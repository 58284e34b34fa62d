"""Tasks: shapes, determinism, and baselines against their closed forms."""

import math

import numpy as np
import pytest

from rnngrad.core import tasks


def _rng(seed=0):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("task", ["adding", "copy", "temporal_order", "digits", "memory"])
def test_deterministic_per_seed(task):
    a = tasks.make_batch(task, 40, 8, _rng(3))
    b = tasks.make_batch(task, 40, 8, _rng(3))
    assert np.array_equal(a.x, b.x) and np.array_equal(a.targets, b.targets)
    c = tasks.make_batch(task, 40, 8, _rng(4))
    assert not np.array_equal(a.targets, c.targets)


@pytest.mark.parametrize(
    "task,T,steps",
    [("adding", 50, 50), ("copy", 50, 70), ("temporal_order", 50, 50), ("digits", 64, 64)],
)
def test_steps(task, T, steps):
    b = tasks.make_batch(task, T, 4, _rng())
    assert b.steps == steps == tasks.task_steps(task, T)
    assert b.x.shape[2] == tasks.spec(task).n_in
    assert np.all((b.loss_steps >= 1) & (b.loss_steps <= steps))


def test_adding_baseline_is_one_sixth():
    b = tasks.make_batch("adding", 20, 200_000, _rng())
    y = b.targets[0, :, 0]
    mse_of_mean = np.mean((y - 1.0) ** 2)  # best constant predictor: E[U1 + U2] = 1
    assert mse_of_mean == pytest.approx(tasks.baseline_loss("adding", 20), abs=3 * 0.0007)
    assert tasks.baseline_loss("adding", 20) == 1 / 6
    # one marker in each half, and the target is the sum of the marked values
    m = b.x[:, :, 1]
    assert np.all(m[:10].sum(0) == 1) and np.all(m[10:].sum(0) == 1)
    np.testing.assert_allclose((b.x[:, :, 0] * m).sum(0), y)


def test_copy_layout_and_baseline():
    T = 30
    b = tasks.make_batch("copy", T, 5, _rng())
    seq = b.x.argmax(-1)  # (T + 20, B)
    assert np.array_equal(seq[:10], b.targets)  # the 10 symbols to copy come first
    assert np.all(seq[10 : T + 9] == 8) and np.all(seq[T + 9] == 9) and np.all(seq[T + 10 :] == 8)
    # memoryless strategy: uniform over the 8 symbols at the 10 scored steps
    uniform = np.zeros((10, 5, 8))
    from rnngrad.numpy_backend.readout import loss_forward_backward

    h = np.zeros((T + 21, 5, 1))
    h[b.loss_steps] = 1.0
    params = {"weight_out": np.zeros((8, 1)), "bias_out": np.zeros(8)}
    loss = loss_forward_backward(params, h, b)["loss"]
    assert loss == pytest.approx(10 * math.log(8) / (T + 20), rel=1e-12)
    assert tasks.baseline_loss("copy", T) == pytest.approx(10 * math.log(8) / (T + 20))
    assert tasks.accuracy("copy", uniform, b) == 0.0


def test_temporal_order_markers():
    T = 100
    b = tasks.make_batch("temporal_order", T, 500, _rng())
    seq = b.x.argmax(-1)
    relevant = seq < 2
    assert np.all(relevant.sum(0) == 2)
    pos = [np.flatnonzero(relevant[:, i]) for i in range(500)]
    assert all(10 <= p[0] < 20 and 50 <= p[1] < 60 for p in pos)
    cls = np.array([seq[p[0], i] + 2 * seq[p[1], i] for i, p in enumerate(pos)])
    assert np.array_equal(cls, b.targets[0])
    assert set(np.unique(cls)) == {0, 1, 2, 3}


def test_adding_accuracy_tolerance():
    b = tasks.make_batch("adding", 10, 4, _rng())
    out = b.targets.copy()
    out[0, :2, 0] += 0.15
    out[0, 2:, 0] += 0.17
    assert tasks.accuracy("adding", out, b) == 0.5


def test_memory_capacity_of_perfect_readout_is_K():
    b = tasks.make_batch("memory", 60, 50, _rng(), hidden=8)
    K = b.n_out
    assert K == 16
    assert tasks.memory_capacity(b.targets, b) == pytest.approx(K)
    assert (
        tasks.memory_capacity(
            np.zeros_like(b.targets) + _rng(1).standard_normal(b.targets.shape), b
        )
        < 0.5
    )
