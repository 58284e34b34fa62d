"""Tasks: shapes, determinism, and baselines against their closed forms."""

import math

import numpy as np
import pytest

from rnngrad.core import tasks
from rnngrad.core.choices import TASKS


def _rng(seed=0):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("task", TASKS)
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
    # H&S's 0.04 on 0.5 + (X1 + X2)/4 with X = 2U - 1 is 0.08 on U1 + U2
    b = tasks.make_batch("adding", 10, 4, _rng())
    out = b.targets.copy()
    out[0, :2, 0] += 0.07
    out[0, 2:, 0] += 0.09
    assert tasks.accuracy("adding", out, b) == 0.5


def test_error_of_0_1_on_the_sum_is_wrong_for_hs_and_right_for_pascanu():
    # the same sequences, U = (X + 1)/2, scored in each paper's units: an error of 0.1 on
    # U1 + U2 is 0.05 on H&S's 0.5 + (X1 + X2)/4 = (U1 + U2)/2 and on Pascanu's (U1 + U2)/2
    for task in ("adding_hs", "adding_pascanu"):
        b = tasks.make_batch(task, 100, 200, _rng())
        out = b.targets + 0.1 / 2  # 0.1 on U1 + U2 in the target's units (half the sum)
        right = tasks.correct(task, out, b)
        assert right.all() if task == "adding_pascanu" else not right.any()
    # Pascanu's code: an error only when the squared error exceeds 0.04 (|error| > 0.2)
    b = tasks.make_batch("adding_pascanu", 100, 2, _rng())
    out = b.targets + np.array([0.19, 0.21]).reshape(1, 2, 1)
    assert tasks.correct("adding_pascanu", out, b).tolist() == [True, False]


def test_adding_hs_layout():
    T, B = 100, 3000
    rng = _rng(5)
    lengths = set()
    for _ in range(60):
        b = tasks.make_batch("adding_hs", T, 50, rng)
        lengths.add(b.steps)
        x, m = b.x[:, :, 0], b.x[:, :, 1]
        assert b.loss_steps.tolist() == [b.steps]
        assert np.all((x >= -1) & (x <= 1))
        marked = m == 1
        assert np.all(marked.sum(0) == 2)
        pos = np.sort(np.argwhere(marked.T)[:, 1].reshape(-1, 2), axis=1)
        assert np.all(pos[:, 0] < 10) and np.all(pos[:, 1] < T // 2)
        # -1 at the first and final pair unless marked
        assert np.all(m[-1] == -1) and np.all((m[0] == -1) | (m[0] == 1))
        np.testing.assert_allclose(0.5 + (x * marked).sum(0) / 4, b.targets[0, :, 0])
    assert lengths <= set(range(100, 111)) and len(lengths) > 5
    big = tasks.make_batch("adding_hs", T, B * 50, _rng(1))
    y = big.targets[0, :, 0]
    # X1 = 0 when the first pair is marked: variance (0.9/3 + 1/3)/16, not 2/3/16 (5% apart)
    assert np.mean((y - 0.5) ** 2) == pytest.approx(tasks.baseline_loss("adding_hs", T), rel=0.02)


def test_adding_pascanu_layout():
    rng = _rng(2)
    for _ in range(40):
        b = tasks.make_batch("adding_pascanu", 100, 50, rng)
        steps = b.steps
        assert 100 <= steps < 110
        m = b.x[:, :, 1]
        pos = np.sort(np.argwhere(m.T == 1)[:, 1].reshape(-1, 2), axis=1)
        assert np.all(pos[:, 0] < int(0.1 * steps))
        assert np.all((pos[:, 1] >= int(0.1 * steps)) & (pos[:, 1] < int(0.5 * steps)))
        np.testing.assert_allclose((b.x[:, :, 0] * m).sum(0) / 2, b.targets[0, :, 0])


def test_temporal_order_hs_layout_and_criterion():
    T = 100
    b = tasks.make_batch("temporal_order_hs", T, 500, _rng())
    seq = b.x.argmax(-1)
    assert 100 <= b.steps <= 110
    assert np.all(seq[0] == 6) and np.all(seq[-1] == 7)  # E first, trigger B last
    relevant = seq < 2
    pos = [np.flatnonzero(relevant[:, i]) + 1 for i in range(500)]  # steps from 1
    assert all(10 <= p[0] <= 20 and 50 <= p[1] <= 60 for p in pos)
    cls = np.array([2 * seq[p[0] - 1, i] + seq[p[1] - 1, i] for i, p in enumerate(pos)])
    assert np.array_equal(cls, b.targets[0])
    # every output's |error| below 0.3: the right class's probability above 0.7
    logits = np.zeros((1, 500, 4))
    logits[0, np.arange(500), b.targets[0]] = np.log(0.69 / 0.31 * 3)  # p = 0.69
    assert tasks.accuracy("temporal_order_hs", logits, b) == 0.0
    logits[0, np.arange(500), b.targets[0]] = np.log(0.71 / 0.29 * 3)  # p = 0.71
    assert tasks.accuracy("temporal_order_hs", logits, b) == 1.0


@pytest.mark.parametrize("task", ["adding", "adding_hs", "adding_pascanu"])
def test_short_memory_baseline(task):
    # the best predictor knowing only the most recently marked value, by simulation
    rng = _rng(7)
    errors, scored = [], []
    for _ in range(400):
        b = tasks.make_batch(task, 40, 500, rng)
        x, m = b.x[:, :, 0], b.x[:, :, 1]
        last = (m == 1).shape[0] - 1 - np.argmax((m == 1)[::-1], axis=0)
        recent = x[last, np.arange(b.batch)]
        y = b.targets[0, :, 0]
        if task == "adding":
            guess = recent + 0.5
        elif task == "adding_pascanu":
            guess = (recent + 0.5) / 2
        else:
            guess = 0.5 + recent / 4
        errors.append(y - guess)
        scored.append(tasks.correct(task, guess.reshape(1, -1, 1), b))
    e = np.concatenate(errors)
    assert np.mean(e**2) == pytest.approx(tasks.short_memory_loss(task, 40), rel=0.02)
    assert np.mean(np.concatenate(scored)) == pytest.approx(
        tasks.short_memory_accuracy(task), abs=0.01
    )
    assert tasks.short_memory_loss("adding", 40) / tasks.baseline_loss("adding", 40) == 0.5


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
