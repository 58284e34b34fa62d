"""The expRNN (both backends): W_hh = expm(A) stays orthogonal through training, the gradient
through the matrix exponential against finite differences of scipy's expm, what w_rec_scale
means for it, and the settings it refuses. Its BPTT against autograd and finite differences
runs with every model in test_numpy_backend.py and test_torch_backend.py."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import expm, expm_frechet

from rnngrad.core import metrics
from rnngrad.core.settings import CellSettings
from rnngrad.core.shared import skew
from rnngrad.core.validation import SettingsError
from rnngrad.core.weights import init_params
from rnngrad.numpy_backend import exprnn
from rnngrad.run.loop import train


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_recurrence_stays_orthogonal_through_training(case, backend):
    s, params, _ = case(model="exprnn", backend=backend, optimizer="adam", lr=0.05, train_steps=5)
    out = train(s, params)
    U = out["params"]["log_weight_hh"]
    assert np.max(np.abs(U - params["log_weight_hh"])) > 1e-3  # A moved
    W = metrics.recurrent_block("exprnn", out["params"])
    assert np.max(np.abs(W @ W.T - np.eye(s.hidden))) < 1e-12
    assert np.max(np.abs(W - expm(skew(U)))) == 0


def test_gradient_through_the_exponential_matches_finite_differences():
    """dL/dU of L = <R, expm(A(U))>, as backward forms it (the Frechet derivative of expm at
    A^T in the direction R, then through A = triu(U, 1) - triu(U, 1)^T), entry by entry."""
    rng = np.random.default_rng(0)
    U, R = rng.standard_normal((2, 5, 5))
    eps, fd = 1e-6, np.zeros_like(U)
    for i in np.ndindex(U.shape):
        d = np.zeros_like(U)
        d[i] = eps
        fd[i] = (np.sum(R * expm(skew(U + d))) - np.sum(R * expm(skew(U - d)))) / (2 * eps)
    dA = expm_frechet(skew(U).T, R, compute_expm=False)
    assert np.max(np.abs(np.triu(dA - dA.T, 1) - fd)) < 1e-8 * np.max(np.abs(fd))
    assert np.all(fd[np.tril_indices(5)] == 0)


def test_w_rec_scale_is_the_largest_rotation_angle_over_pi():
    for scale in (0.0, 0.5, 1.0):
        s = CellSettings.from_dict({"model": "exprnn", "w_rec_scale": scale, "hidden": 64})
        params = init_params(s, 2, 1)
        W = expm(skew(np.asarray(params["log_weight_hh"])))
        angles = np.abs(np.angle(np.linalg.eigvals(W)))
        assert np.allclose(np.abs(np.linalg.eigvals(W)), 1.0, atol=1e-12)
        assert angles.max() <= scale * np.pi + 1e-12
        assert angles.max() >= 0.8 * scale * np.pi  # 32 draws of U[-s pi, s pi]


@pytest.mark.parametrize(
    "settings,match",
    [
        ({"model": "exprnn", "nonlinearity": "relu"}, r"nonlinearity: model exprnn takes tanh"),
        ({"model": "rnn", "nonlinearity": "modrelu"}, r"nonlinearity: modrelu .* 'rnn'"),
        (
            {"model": "exprnn", "penalty": {"kind": "l2_wrec", "weight": 1.0}},
            r"penalty.kind: the exprnn's W_hh is orthogonal.*'l2_wrec'",
        ),
    ],
)
def test_settings_that_do_not_fit_are_refused(settings, match):
    with pytest.raises(SettingsError, match=match):
        CellSettings.from_dict(settings)


def test_modrelu_is_their_formula():
    a = np.array([[-2.0, -0.005, 0.0, 0.3, 1.5]])
    b = np.array([0.01, -0.01, 0.01, -0.5, -1.0])
    p = {
        "weight_ih": np.eye(5),
        "log_weight_hh": np.zeros((5, 5)),
        "bias_ih": np.zeros(5),
        "bias_hh": b,
    }
    h, _ = exprnn.forward(p, a[None], nonlinearity="modrelu")
    assert np.array_equal(h[1, 0], np.sign(a[0]) * np.maximum(np.abs(a[0]) + b, 0))


def test_a_non_finite_gradient_is_data(case):
    """An overflowed dL/dW_hh gives a NaN gradient of log_weight_hh (which training records as
    diverged), not scipy's refusal of non-finite input."""
    s, params, batch = case(model="exprnn")
    h, cache = exprnn.forward(params, batch.x, nonlinearity=s.nonlinearity)
    dh = np.zeros_like(h)
    dh[-1] = np.inf
    back = exprnn.backward(params, cache, dh, norms=False)
    g = back["grads"]["log_weight_hh"]  # its strict upper triangle is what A reads
    assert np.isnan(g[np.triu_indices(s.hidden, 1)]).all()
