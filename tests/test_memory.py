"""The curse-of-memory metric against Zucchet and Orvieto's closed form, by Monte Carlo: white
input of unit variance into linear recurrences h_t = lambda h_{t-1} + gamma x_t, run long past
their timescale 1 / (1 - lambda) so that the last state is stationary."""

from __future__ import annotations

import numpy as np
import pytest

import rnngrad.numpy_backend as nb
import rnngrad.torch_backend as tb
from rnngrad.core import memory
from rnngrad.core.settings import CellSettings
from rnngrad.core.tasks import Batch
from rnngrad.core.weights import init_params


def _white(T: int, n: int, width: int, seed: int = 0) -> Batch:
    x = np.random.default_rng(seed).standard_normal((T, n, width))
    return Batch(x, np.zeros((1, n, 1)), np.array([T]), "mse", 1.0, 1)


def _diagonal_linear(lam: float, hidden: int, gamma: float = 1.0):
    """A linear rnn with W_hh = lambda I (identity init) and W_ih = gamma I: H independent
    scalar recurrences, each with its own white input."""
    s = CellSettings.from_dict(
        {"nonlinearity": "linear", "init": "identity", "w_rec_scale": lam, "hidden": hidden}
    )
    p = init_params(s, hidden, 1)
    p["weight_ih"] = gamma * np.eye(hidden)
    return s, p


@pytest.mark.parametrize("lam", [0.5, 0.9])
def test_the_metric_of_a_diagonal_linear_recurrence_is_the_closed_form(lam):
    """A dense W_hh = lambda I (H recurrent parameters a unit) reads the scalar closed form. n
    sequences of H = 8 independent units: each mean of squares has a relative standard error
    of about sqrt(2 / (n H)) = 1.6 % at n = 1000, so 12 % on the squared metric is several
    standard errors."""
    s, p = _diagonal_linear(lam, 8)
    T = int(20 / (1 - lam))  # lambda^T < 1e-8
    got = memory.memory_sensitivity(s, nb, p, _white(T, 1000, 8), n=1000)
    assert got**2 == pytest.approx(memory.closed_form(lam) ** 2, rel=0.12)


def test_units_that_share_one_input_read_the_closed_form_too():
    """W_ih a single column w: every unit is w_i times one scalar recurrence z, so the state is
    rank one and u . h_T = (u . w) z; the metric divides by ||h_T||^2 / H, not by (u . h_T)^2,
    and reads the closed form whatever u and w."""
    lam, H = 0.8, 6
    s, p = _diagonal_linear(lam, H)
    p["weight_ih"] = np.random.default_rng(3).standard_normal((H, 1))
    got = memory.memory_sensitivity(s, nb, p, _white(100, 1000, 1), n=1000)
    assert got**2 == pytest.approx(memory.closed_form(lam) ** 2, rel=0.15)


def test_normalized_closed_form_by_monte_carlo():
    """With the input scaled by gamma = sqrt(1 - l^2): E h^2 = 1, and dh/dl (gamma's own
    derivative included) has E (dh/dl)^2 = 1 / (1 - l^2)^2; central differences in lambda of
    the same white-noise sums."""
    lam, d, T, n = 0.9, 1e-6, 400, 20000
    x = np.random.default_rng(1).standard_normal((n, T))
    k = np.arange(T)[::-1]  # x[:, -1] is the latest input

    def h(lam):
        return np.sqrt(1 - lam**2) * (x * lam**k).sum(axis=1)

    dh = (h(lam + d) - h(lam - d)) / (2 * d)
    ratio = np.mean(dh**2) / np.mean(h(lam) ** 2)
    assert np.mean(h(lam) ** 2) == pytest.approx(1.0, rel=0.05)  # sqrt(2 / n) = 1 %
    assert ratio == pytest.approx(memory.closed_form(lam, normalized=True) ** 2, rel=0.05)
    # the two closed forms differ by the factor 1 + l^2 alone
    normalized = memory.closed_form(lam, normalized=True)
    assert (memory.closed_form(lam) / normalized) ** 2 == pytest.approx(1 + lam**2, rel=1e-12)


@pytest.mark.parametrize(
    "model", [{"model": "rnn"}, {"model": "lstm"}, {"model": "gru"}, {"model": "exprnn"}]
)
def test_the_backends_agree(case, model, rel_err):
    s, params, batch = case(**model)
    a = memory.memory_sensitivity(s, nb, nb.to_backend(s, params), batch)
    b = memory.memory_sensitivity(s, tb, tb.to_backend(s, params), batch)
    assert np.isfinite(a) and a > 0
    assert rel_err(a, b) < 1e-10


def test_sensitivity_grows_with_the_memory_timescale():
    """The curse: at a timescale 10 x longer, the metric is about 10 x larger."""
    values = []
    for lam in (0.9, 0.99):
        s, p = _diagonal_linear(lam, 4)
        values.append(memory.memory_sensitivity(s, nb, p, _white(int(20 / (1 - lam)), 16, 4)))
    assert values[1] / values[0] > 4
