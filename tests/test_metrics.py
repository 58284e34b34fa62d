"""Metrics against exact answers: the linear orthogonal oracle and Pascanu et al.'s bounds."""

import numpy as np
import pytest

import rnngrad.numpy_backend as nb
from rnngrad.core import metrics
from rnngrad.core.settings import CellSettings
from rnngrad.core.tasks import last_loss_step, make_batch, spec
from rnngrad.core.weights import cell_batch, data_stream, init_params
from rnngrad.run.cell import measure_profile


def _profile(edit=None, **kw):
    """A cell's settings, weights and measured profile; ``edit(params)`` changes the weights."""
    s = CellSettings.from_dict({"train_steps": 0, "hidden": 16, "batch": 8, **kw})
    sp = spec(s.task, s.seq_len, s.hidden)
    params = init_params(s, sp.n_in, sp.n_out)
    if edit is not None:
        edit(params)
    batch = cell_batch(s, data_stream(s, "probe"))
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


BACKENDS = ["numpy", "torch"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("scale", [0.5, 1.0, 1.5])
def test_lyapunov_irnn_is_ln_scale(backend, scale):
    # IRNN: J_t = s diag(relu'(a_t)), so J_T...J_1 = s^T diag(1_A) with A the units on at every
    # step, and the finite-time estimate from q_0 is exactly ln s + (1/T) ln ||q_0 on A||: ln s
    # less at most (1/T) ln(1 / max_{i in A} |q_0[i]|), set by the start direction's share of A
    s, params, (m, _) = _profile(
        backend=backend, init="identity", nonlinearity="relu", w_rec_scale=scale, seq_len=40
    )
    batch = cell_batch(s, data_stream(s, "probe"))
    h, _ = nb.forward(s, params, batch.x[:, :1])
    alive = np.all(h[1:, 0] > 0, axis=0)  # (H,) on at every step t = 1..T
    assert alive.any()
    q0 = metrics.lyapunov_start(s.hidden)
    T = batch.steps
    assert m["lyapunov_max"] == pytest.approx(
        np.log(scale) + np.log(np.linalg.norm(q0[alive])) / T, abs=1e-12
    )
    assert np.log(scale) + np.log(np.abs(q0[alive]).max()) / T <= m["lyapunov_max"] <= np.log(scale)
    assert (m["lyapunov_max"] > 0) == (scale > 1)  # backend_agreement's chaotic class


@pytest.mark.parametrize("backend", BACKENDS)
def test_lyapunov_dead_relu_is_minus_inf(backend):
    def kill(params):
        params["bias_ih"] -= 100.0  # every pre-activation negative: every unit off at every step

    _, _, (m, prof) = _profile(
        kill, backend=backend, init="identity", nonlinearity="relu", seq_len=20
    )
    assert m["lyapunov_max"] == -np.inf
    assert np.all(np.array(prof["jacobian_norm"])[1:] == 0.0)


def test_lyapunov_survives_a_coordinate_that_dies():
    # e_1 is annihilated at step 1 (the old start gave 0/0 = NaN); the seeded start is not
    T, S = 30, 6
    D = np.diag([0.0] + [2.0] * (S - 1))
    q0 = metrics.lyapunov_start(S)
    got = metrics.lyapunov_max(np.repeat(D[None], T, axis=0))
    assert got == pytest.approx(np.log(2.0) + np.log(np.linalg.norm(q0[1:])) / T, abs=1e-12)
    assert metrics.lyapunov_max(np.zeros((T, S, S))) == -np.inf


def test_lyapunov_handles_huge_jacobians():
    J = np.repeat((1e300 * np.eye(3))[None], 5, axis=0)  # ||J q|| overflows before the log
    assert metrics.lyapunov_max(J) == pytest.approx(300 * np.log(10.0), rel=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("scale", [0.8, 1.0, 1.25])
def test_linear_orthogonal_oracle_on_copy(backend, scale):
    # copy scores the last 10 steps; the profile is that of the last step's term (DESIGN's oracle)
    s, params, (m, prof) = _profile(
        backend=backend,
        task="copy",
        nonlinearity="linear",
        init="orthogonal",
        w_rec_scale=scale,
        seq_len=33,
    )
    g = np.array(prof["grad_norm"])
    k = np.arange(len(g))
    np.testing.assert_allclose(g, scale**k * g[0], rtol=1e-10)
    assert m["decay_rate"] == pytest.approx(np.log10(scale), abs=1e-12)
    assert m["log10_grad_ratio"] == pytest.approx((len(g) - 1) * np.log10(scale), abs=1e-10)
    batch = cell_batch(s, data_stream(s, "probe"))
    full = nb.loss_and_grads(s, params, batch)["loss"]  # probe_loss stays the whole copy loss
    assert m["probe_loss"] == pytest.approx(full, rel=1e-12)
    assert full > 2 * nb.loss_and_grads(s, params, last_loss_step(batch))["loss"]


def test_last_loss_step_keeps_the_last_term():
    b = make_batch("copy", 5, 3, np.random.default_rng(0))
    last = last_loss_step(b)
    assert last.loss_steps.tolist() == [b.steps] and last.scale == b.scale
    np.testing.assert_array_equal(last.targets, b.targets[-1:])
    one = make_batch("adding", 5, 3, np.random.default_rng(0))
    assert last_loss_step(one) is one


@pytest.mark.parametrize("backend", BACKENDS)
def test_lstm_profile_from_lag_1(backend):
    # W_hh = 0 and no input to the forget gate: dL/dh_t = 0 for t < T, and
    # dL/dc_{T-k} = f^(k-1) dL/dc_{T-1} with f = sigmoid(1), so from lag 1 on the profile is
    # exactly geometric; lag 0 is ||dL/dh_T|| alone (dL/dc_T = 0), not comparable.
    def freeze(params):
        H = params["weight_hh"].shape[1]
        params["weight_hh"][:] = 0.0
        params["weight_ih"][H : 2 * H] = 0.0

    _, _, (m, prof) = _profile(freeze, backend=backend, model="lstm", seq_len=30)
    g = np.array(prof["grad_norm"])
    f = 1.0 / (1.0 + np.exp(-1.0))
    k = np.arange(1, len(g))
    np.testing.assert_allclose(g[1:], f ** (k - 1) * g[1], rtol=1e-10)
    assert abs(np.log10(g[1] / g[0])) > 0.05  # lag 0 would bend the slope
    assert m["decay_rate"] == pytest.approx(np.log10(f), abs=1e-12)
    assert m["log10_grad_ratio"] == pytest.approx((len(g) - 2) * np.log10(f), abs=1e-10)
    assert m["horizon"] == 1 + int(np.ceil(3 / -np.log10(f)))  # first f^(k-1) < 1e-3
