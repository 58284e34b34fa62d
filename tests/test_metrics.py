"""Metrics against exact answers: the linear orthogonal oracle and Pascanu et al.'s bounds."""

import numpy as np
import pytest

from rnngrad import metrics
from rnngrad.cell import measure_profile
from rnngrad.init import data_stream, init_params
from rnngrad.settings import CellSettings
from rnngrad.tasks import make_batch, spec


def _profile(**kw):
    s = CellSettings.from_dict({"train_steps": 0, "hidden": 16, "batch": 8, **kw})
    sp = spec(s.task, s.seq_len, s.hidden)
    params = init_params(s, sp.n_in, sp.n_out)
    batch = make_batch(s.task, s.seq_len, s.batch, data_stream(s, "probe"), s.hidden)
    return s, params, measure_profile(s, params, batch)


@pytest.mark.parametrize("scale", [0.8, 1.0, 1.25])
def test_linear_orthogonal_oracle(scale):
    # h_t = s Q h_{t-1} + U x_t with a loss at the last step: dL/dh_{T-k} = (s Q^T)^k dL/dh_T
    _, _, (m, prof) = _profile(
        nonlinearity="linear", init="orthogonal", w_rec_scale=scale, seq_len=60
    )
    g = np.array(prof["grad_norm"])
    k = np.arange(len(g))
    np.testing.assert_allclose(g, scale**k * g[0], rtol=1e-9)
    np.testing.assert_allclose(prof["jacobian_norm"], scale**k, rtol=1e-9)
    assert m["decay_rate"] == pytest.approx(np.log10(scale), abs=1e-9)
    assert m["jacobian_decay_rate"] == pytest.approx(np.log10(scale), abs=1e-9)
    assert m["lyapunov_max"] == pytest.approx(np.log(scale), abs=1e-9)
    assert m["spectral_radius"] == pytest.approx(scale, rel=1e-9)
    assert m["spectral_norm"] == pytest.approx(scale, rel=1e-9)


@pytest.mark.parametrize("nonlinearity,gamma", [("tanh", 1.0), ("sigmoid", 0.25)])
@pytest.mark.parametrize("scale", [0.9, 1.5, 3.0])
def test_pascanu_bound(nonlinearity, gamma, scale):
    # ||ds_T/ds_{T-k}|| <= (gamma * sigma_max(W_hh))^k  (Pascanu et al. 2013, eq. 7)
    _, params, (_m, prof) = _profile(nonlinearity=nonlinearity, w_rec_scale=scale, seq_len=40)
    sigma = np.linalg.norm(params["weight_hh"], 2)
    k = np.arange(40)
    assert np.all(np.array(prof["jacobian_norm"]) <= (gamma * sigma) ** k * (1 + 1e-12))


def test_jacobian_norms_against_direct_products():
    rng = np.random.default_rng(3)
    J = rng.standard_normal((30, 5, 5)) * 0.4
    want = [0.0]
    P = np.eye(5)
    for k in range(1, 30):
        P = P @ J[30 - k]
        want.append(np.log10(np.linalg.norm(P, 2)))
    np.testing.assert_allclose(metrics.jacobian_log10_norms(J), want, atol=1e-12)


def test_jacobian_norms_do_not_underflow():
    Q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((4, 4)))
    J = np.repeat((0.1 * Q)[None], 2000, axis=0)  # 0.1^1999 is far below float64's range
    out = metrics.jacobian_log10_norms(J)
    np.testing.assert_allclose(out, -np.arange(2000), atol=1e-9)


def test_lyapunov_matches_log_spectral_radius_for_constant_map():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((6, 6)) / 3
    J = np.repeat(A[None], 3000, axis=0)
    rho = np.max(np.abs(np.linalg.eigvals(A)))
    assert metrics.lyapunov_max(J) == pytest.approx(np.log(rho), abs=2e-3)


def test_scalar_metrics_closed_forms():
    g = 10.0 ** (-0.5 * np.arange(12))
    assert metrics.decay_rate(g) == pytest.approx(-0.5)
    assert metrics.log10_grad_ratio(g) == pytest.approx(-5.5)
    assert metrics.horizon(g) == 7  # 10^-3.5 < 1e-3 first at k = 7
    assert metrics.horizon(np.ones(5)) == 5
    with_zero = np.array([1.0, 0.5, 0.0, 0.0])
    assert metrics.horizon(with_zero) == 2
    assert metrics.decay_rate(with_zero) == pytest.approx(np.log10(0.5))  # zeros left out


def test_overflow_is_recorded_not_raised():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _s, _, (m, prof) = _profile(
            nonlinearity="linear", init="orthogonal", w_rec_scale=40.0, seq_len=300
        )
    g = np.array(prof["grad_norm"])
    assert not np.all(np.isfinite(g))  # 40^300 overflows float64
    assert m["finite"] is False
    assert np.isfinite(m["jacobian_decay_rate"])  # the rescaled product stays finite
