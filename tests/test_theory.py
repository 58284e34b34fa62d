"""The mean field against closed forms, SciPy's adaptive quadrature, Monte Carlo and a wide
network simulated step by step."""

import math

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from rnngrad.core import theory
from rnngrad.core.settings import CellSettings
from rnngrad.run.cell import run_cell


@pytest.mark.parametrize("sigma_w", [0.3, 0.9, 1.0, 1.4, 2.5])
@pytest.mark.parametrize("sigma_u", [0.0, 0.6])
def test_closed_forms_of_linear_and_relu_units(sigma_w, sigma_u):
    sigma_b = 0.2
    c = sigma_u**2 + sigma_b**2
    assert theory.chi("linear", sigma_w, sigma_u, sigma_b) == pytest.approx(sigma_w**2, abs=1e-10)
    assert theory.chi("relu", sigma_w, sigma_u, sigma_b) == pytest.approx(sigma_w**2 / 2, abs=1e-10)
    q_lin = c / (1 - sigma_w**2) if sigma_w < 1 else math.inf
    q_relu = c / (1 - sigma_w**2 / 2) if sigma_w**2 < 2 else math.inf
    assert theory.q_star("linear", sigma_w, sigma_u, sigma_b) == pytest.approx(q_lin, abs=1e-10)
    assert theory.q_star("relu", sigma_w, sigma_u, sigma_b) == pytest.approx(q_relu, abs=1e-10)
    assert theory.decay_rate(sigma_w**2) == pytest.approx(math.log10(sigma_w), abs=1e-12)


@pytest.mark.parametrize("nonlinearity", ["tanh", "sigmoid"])
@pytest.mark.parametrize(
    ("q", "tol"), [(0.01, 1e-10), (0.5, 1e-10), (3.0, 1e-10), (10.0, 1e-10), (40.0, 1e-6)]
)
def test_quadrature_against_scipy_quad(nonlinearity, q, tol):
    phi = np.tanh if nonlinearity == "tanh" else (lambda a: 1 / (1 + np.exp(-a)))

    def dphi(a):
        return 1 - np.tanh(a) ** 2 if nonlinearity == "tanh" else phi(a) * (1 - phi(a))

    def mean(f):
        g = lambda z: f(math.sqrt(q) * z) * stats.norm.pdf(z)  # noqa: E731
        return integrate.quad(g, -40, 40, epsabs=1e-14, epsrel=1e-14, limit=500, points=[0])[0]

    assert theory.phi_moment(nonlinearity, q) == pytest.approx(mean(lambda a: phi(a) ** 2), abs=tol)
    assert theory.derivative_moment(nonlinearity, q) == pytest.approx(
        mean(lambda a: dphi(a) ** 2), abs=tol
    )


def test_moments_against_monte_carlo():
    z = np.random.default_rng(0).standard_normal(1_000_000)
    for nl, f in [("tanh", lambda a: np.tanh(a) ** 2), ("relu", lambda a: np.maximum(a, 0) ** 2)]:
        sample = f(math.sqrt(0.8) * z)
        se = sample.std() / math.sqrt(len(z))
        assert abs(theory.phi_moment(nl, 0.8) - sample.mean()) < 5 * se


@pytest.mark.parametrize("nonlinearity", ["tanh", "sigmoid"])
@pytest.mark.parametrize("sigma_w", [0.5, 1.0, 1.6, 3.0])
def test_q_star_is_the_stable_fixed_point(nonlinearity, sigma_w):
    sigma_u, sigma_b = 0.6, 0.1
    q = theory.q_star(nonlinearity, sigma_w, sigma_u, sigma_b)

    def step(v):
        return sigma_w**2 * theory.phi_moment(nonlinearity, v) + sigma_u**2 + sigma_b**2

    assert step(q) == pytest.approx(q, abs=1e-12)
    # iterating the map from far above and far below ends there
    for start in (1e-3, 10.0):
        v = start
        for _ in range(2000):
            v = step(v)
        assert v == pytest.approx(q, abs=1e-9)


def test_tanh_without_input():
    # q = 0 is the fixed point below sigma_w = 1, and unstable above it
    assert theory.q_star("tanh", 0.9, 0.0, 0.0) == 0.0
    assert theory.chi("tanh", 0.9, 0.0, 0.0) == pytest.approx(0.81, abs=1e-12)
    q = theory.q_star("tanh", 1.5, 0.0, 0.0)
    assert q > 0.1 and 1.5**2 * theory.phi_moment("tanh", q) == pytest.approx(q, abs=1e-12)


def test_depth_scale():
    assert theory.depth_scale(math.exp(-0.25)) == pytest.approx(4.0)
    assert theory.depth_scale(math.exp(0.5)) == pytest.approx(2.0)
    assert theory.depth_scale(1.0) == math.inf


@pytest.mark.parametrize("sigma_w", [0.8, 1.3])
def test_wide_tanh_network_follows_the_mean_field(sigma_w):
    """A tanh RNN of N = 1000 units, orthogonal W = sigma_w Q and gaussian inputs: the
    pre-activations' variance settles at q* and a gradient's squared norm shrinks by chi a step."""
    rng = np.random.default_rng(1)
    N, B, T, sigma_u = 1000, 8, 60, 0.7
    Q, _ = np.linalg.qr(rng.standard_normal((N, N)))
    W = sigma_w * Q
    h = np.zeros((B, N))
    a_all = []
    for _ in range(T):
        a = h @ W.T + sigma_u * rng.standard_normal((B, N))
        h = np.tanh(a)
        a_all.append(a)
    q = theory.q_star("tanh", sigma_w, sigma_u, 0.0)
    assert np.mean(np.stack(a_all[20:]) ** 2) == pytest.approx(q, rel=0.02)
    g = rng.standard_normal((B, N))
    log_norms = [np.log(np.sum(g**2))]
    for a in reversed(a_all[20:]):
        g = (g * (1 - np.tanh(a) ** 2)) @ W  # dL/dh_{t-1} = W^T diag(phi'(a_t)) dL/dh_t
        log_norms.append(np.log(np.sum(g**2)))
    per_step = np.polyfit(np.arange(len(log_norms)), log_norms, 1)[0]
    assert per_step == pytest.approx(math.log(theory.chi("tanh", sigma_w, sigma_u, 0.0)), abs=0.01)


def _independent_chi(nonlinearity, sigma_w, sigma_u, sigma_b):
    """chi by SciPy's adaptive quadrature and fixed-point solver (tanh only)."""

    def mean(f, q):
        return integrate.quad(lambda z: f(math.sqrt(q) * z) * stats.norm.pdf(z), -40, 40)[0]

    c = sigma_u**2 + sigma_b**2
    q = optimize.brentq(
        lambda v: sigma_w**2 * mean(lambda a: np.tanh(a) ** 2, v) + c - v, c, sigma_w**2 + c
    )
    return sigma_w**2 * mean(lambda a: (1 - np.tanh(a) ** 2) ** 2, q)


@pytest.mark.parametrize("init", ["orthogonal", "gaussian"])
def test_cell_columns_hold_the_mean_field_of_their_own_statistics(init):
    s = CellSettings.from_dict(
        {"seq_len": 20, "w_rec_scale": 1.2, "train_steps": 0, "init": init, "jacobian": False}
    )
    m = run_cell(s, "demo")["metrics"]
    want = _independent_chi("tanh", m["sigma_w"], m["sigma_u"], m["sigma_b"])
    assert m["mf_chi"] == pytest.approx(want, abs=1e-6)
    assert m["mf_stationary_decay_rate"] == pytest.approx(0.5 * math.log10(want), abs=1e-6)
    # the prediction along the probe's own inputs is a different number, near the stationary
    assert m["mf_decay_rate"] == pytest.approx(m["mf_stationary_decay_rate"], abs=0.05)
    if init == "orthogonal":
        assert m["sigma_w"] == pytest.approx(1.2, abs=1e-12)


def test_sigma_u_is_the_rms_of_the_input_contribution():
    rng = np.random.default_rng(2)
    U = rng.standard_normal((16, 3))
    x = rng.uniform(0, 1, size=(30, 5, 3))
    assert theory.sigma_u_of(U, x) == pytest.approx(math.sqrt(np.mean((x @ U.T) ** 2)), 1e-12)


def test_no_mean_field_for_gated_models_and_identity_init():
    for over in ({"model": "lstm"}, {"init": "identity", "nonlinearity": "relu"}):
        s = CellSettings.from_dict({"seq_len": 10, "train_steps": 0, "jacobian": False, **over})
        m = run_cell(s, "demo")["metrics"]
        assert all(m[c] is None for c in theory.MEAN_FIELD_COLUMNS)


@pytest.mark.parametrize("sigma_w", [0.5, 1.0, 1.7])
def test_path_of_linear_units_is_sigma_w_a_step_whatever_the_inputs(sigma_w):
    """Linear units: chi_t = sigma_w^2 at every step, so the batch's norm falls by exactly
    log10 sigma_w a lag, however the inputs vary."""
    u = np.random.default_rng(3).uniform(0, 2, size=(40, 5))
    logs = theory.path_log10_norms("linear", sigma_w, 0.3, u)
    np.testing.assert_allclose(logs, np.arange(40) * math.log10(sigma_w), atol=1e-12)


@pytest.mark.parametrize("nonlinearity", ["tanh", "sigmoid"])
def test_path_with_steady_inputs_is_the_stationary_mean_field(nonlinearity):
    """Inputs of the same variance every step: far from h_0 (where q_t has settled at q*), a
    lag multiplies the norm by sqrt(chi(q*)), the stationary prediction."""
    sigma_w, sigma_u, sigma_b = 1.3, 0.6, 0.2
    u = np.full((300, 2), sigma_u**2)
    logs = theory.path_log10_norms(nonlinearity, sigma_w, sigma_b, u)
    step = np.diff(logs[:200])  # lags 0..199: steps 300 down to 101
    want = theory.decay_rate(theory.chi(nonlinearity, sigma_w, sigma_u, sigma_b))
    np.testing.assert_allclose(step, want, atol=1e-9)


def test_wide_tanh_network_on_two_channel_inputs_follows_the_path_not_the_stationary():
    """A tanh rnn of N = 1500 units, orthogonal W = 0.7 Q, inputs of the adding task's two
    channels (a value in [0, 1], a sparse marker): each step's input variance u_t differs, and
    the measured per-lag decay of a batch's gradient norm follows the mean field along those
    inputs; the stationary chi(q*) of their average second moment predicts a faster decay."""
    rng = np.random.default_rng(4)
    N, B, T, sigma_w = 1500, 16, 60, 0.7
    W = sigma_w * np.linalg.qr(rng.standard_normal((N, N)))[0]
    U = rng.standard_normal((N, 2))
    x = np.zeros((T, B, 2))
    x[..., 0] = rng.uniform(0, 1, size=(T, B))
    x[rng.integers(0, T, size=B), np.arange(B), 1] = 1.0
    h, pre = np.zeros((B, N)), []
    for t in range(T):
        a = h @ W.T + x[t] @ U.T
        h = np.tanh(a)
        pre.append(a)
    g = rng.standard_normal((B, N))
    logs = [0.5 * np.log10(np.sum(g**2))]
    for a in reversed(pre[1:]):
        g = (g * (1 - np.tanh(a) ** 2)) @ W
        logs.append(0.5 * np.log10(np.sum(g**2)))
    measured = np.polyfit(np.arange(T), logs, 1)[0]
    u = theory.input_variances(U, x)
    path = np.polyfit(np.arange(T), theory.path_log10_norms("tanh", sigma_w, 0.0, u), 1)[0]
    stationary = theory.decay_rate(theory.chi("tanh", sigma_w, theory.sigma_u_of(U, x), 0.0))
    assert abs(measured - path) < 0.005
    assert abs(measured - stationary) > 2 * abs(measured - path)


@pytest.mark.parametrize("nonlinearity", ["tanh", "sigmoid"])
def test_splined_moments_equal_the_quadrature(nonlinearity):
    q = np.concatenate([[0.0], np.geomspace(1e-10, 2e6, 400)])
    e2, d2 = theory.moments(nonlinearity, q)
    want_e2 = [theory.phi_moment(nonlinearity, v) for v in q]
    want_d2 = [theory.derivative_moment(nonlinearity, v) for v in q]
    np.testing.assert_allclose(e2, want_e2, rtol=0, atol=1e-9)
    np.testing.assert_allclose(d2, want_d2, rtol=0, atol=1e-9)
