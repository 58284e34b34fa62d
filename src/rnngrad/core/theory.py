"""Mean-field theory of a random recurrent network at initialization (NumPy and SciPy only).

For h_t = phi(a_t), a_t = W h_{t-1} + U x_t + b, with W's entries of variance sigma_w^2 / N, an
input contribution of second moment sigma_u^2 and a bias of second moment sigma_b^2, the
pre-activations are gaussian over the units in the limit of wide networks, with a variance q
that obeys (Poole et al. 2016, eq. 3; Chen, Pennington and Schoenholz 2018, section 3)

    q_{t+1} = sigma_w^2 E[phi(sqrt(q_t) z)^2] + sigma_u^2 + sigma_b^2,      z ~ N(0, 1).

Its stable fixed point is q*. Backpropagated through one step, the squared norm of a gradient
is multiplied on average by (Schoenholz et al. 2017, eq. 5; Pennington, Schoenholz and Ganguli
2017)

    chi = sigma_w^2 E[phi'(sqrt(q*) z)^2],

so the norm's per-step log10 factor is the predicted ``decay_rate`` (1/2) log10 chi, the depth
scale (steps over which the squared norm changes by a factor e) is xi = 1 / |ln chi|, and
chi = 1 divides the ordered phase (gradients vanish) from the chaotic one (they explode).

Along the cell's own inputs
    The stationary q* takes the input's contribution as the same every step. A task with a few
    input channels gives each step its own: x_t's contribution to the pre-activations has the
    variance u_t = x_t^T (U^T U / N) x_t over the units, which on the adding task runs from 0 to
    the marker's full weight. So q_t and chi_t = sigma_w^2 E[phi'(sqrt(q_t) z)^2] vary with the
    step and the sequence, the mean of log chi_t is below log chi(q*) (chi is concave in q
    there), and a batch's gradient norm is carried by its slowest-decaying sequences.
    :func:`path_log10_norms` iterates q_t along the probe batch's own inputs (from h_0 = 0) and
    predicts the batch's log10 norm of dL/dh_{T-k} at every lag k: ``mf_decay_rate`` is its
    slope, the same least-squares slope as the measured decay_rate. The stationary
    (1/2) log10 chi is kept as ``mf_stationary_decay_rate``; on inputs whose u_t does not vary
    the two are equal. Measured on the default inputs (orthogonal tanh, N = 128 and 512, T =
    50, sigma_w 0.5 to 1.5, 3 seeds): the stationary prediction is 0.01-0.03 a step below the
    measured decay, the path's within 0.002-0.009.

Gaussian expectations are taken by Gauss-Hermite quadrature for tanh and sigmoid units and in
closed form for linear and relu units (docs/metrics.md, "Mean field").

Example
-------
>>> round(chi("linear", 0.9, 0.5, 0.0), 12), round(chi("relu", 1.2, 0.5, 0.0), 12)
(0.81, 0.72)
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import expit, roots_hermitenorm

from rnngrad.core.metrics import slope

if TYPE_CHECKING:
    from scipy.interpolate import CubicSpline

QUADRATURE_POINTS = 2000  # Gauss-Hermite nodes: Gaussian means of tanh and sigmoid to 1e-12 for
# q <= 10, 1e-7 at q = 40 (the integrand sharpens as q grows; tests/test_theory.py)
# where the moments of tanh and sigmoid units are splined: fine steps in s = sqrt(q) up to 4,
# geometric ones to 1000 (q = 1e6)
SPLINE_S = np.concatenate([np.linspace(0.0, 4.0, 801), np.geomspace(4.0, 1000.0, 401)[1:]])
BOUNDED = ("tanh", "sigmoid")  # |phi| <= 1: q* <= sigma_w^2 + sigma_u^2 + sigma_b^2
RANDOM_INITS = ("gaussian", "orthogonal", "sparse")  # W_rec's whose entries look random
MEAN_FIELD_COLUMNS = (
    "sigma_w",
    "sigma_u",
    "sigma_b",
    "mf_q",
    "mf_chi",
    "mf_decay_rate",
    "mf_stationary_decay_rate",
    "mf_depth_scale",
)


@lru_cache(maxsize=1)
def _nodes() -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for the standard normal density (the weights sum to 1); built on first
    use (0.3 s), not at import."""
    z, w = roots_hermitenorm(QUADRATURE_POINTS)
    return z, w / math.sqrt(2.0 * math.pi)


def _phi(nonlinearity: str, a: np.ndarray) -> np.ndarray:
    if nonlinearity == "tanh":
        return np.tanh(a)
    if nonlinearity == "sigmoid":
        return expit(a)
    raise ValueError(f"nonlinearity: no quadrature for {nonlinearity!r}")


def _dphi(nonlinearity: str, a: np.ndarray) -> np.ndarray:
    if nonlinearity == "tanh":
        return 1.0 - np.tanh(a) ** 2
    if nonlinearity == "sigmoid":
        y = expit(a)
        return y * (1.0 - y)
    raise ValueError(f"nonlinearity: no quadrature for {nonlinearity!r}")


def gaussian_mean(f, q: float) -> float:
    """E[f(sqrt(q) z)] for z ~ N(0, 1), by Gauss-Hermite quadrature (``f`` takes an array)."""
    z, w = _nodes()
    return float(w @ f(math.sqrt(q) * z))


def _quadrature_moments(nonlinearity: str, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z, w = _nodes()
    a = np.sqrt(q)[..., None] * z
    return _phi(nonlinearity, a) ** 2 @ w, _dphi(nonlinearity, a) ** 2 @ w


@lru_cache(maxsize=4)
def _moment_splines(nonlinearity: str) -> tuple[CubicSpline, CubicSpline]:
    """Cubic splines of E[phi(s z)^2] and E[phi'(s z)^2] in the standard deviation s, from
    quadrature on SPLINE_S (the moments are smooth and even in s; tests/test_theory.py holds
    them to the quadrature to 1e-9)."""
    from scipy.interpolate import CubicSpline  # here: scipy.interpolate costs a start 0.4 s

    e2, d2 = _quadrature_moments(nonlinearity, SPLINE_S**2)
    even = ((1, 0.0), "not-a-knot")  # even in s: no slope at s = 0
    return CubicSpline(SPLINE_S, e2, bc_type=even), CubicSpline(SPLINE_S, d2, bc_type=even)


def moments(nonlinearity: str, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """E[phi(sqrt(q) z)^2] and E[phi'(sqrt(q) z)^2] at every variance of the array ``q``:
    closed forms for linear and relu units; for tanh and sigmoid, splines of the Gauss-Hermite
    quadrature up to sqrt(q) = SPLINE_S[-1], the quadrature itself beyond (a path over T steps
    of B sequences then costs T B spline evaluations, not T B QUADRATURE_POINTS)."""
    q = np.asarray(q, dtype=np.float64)
    if nonlinearity == "linear":
        return q.copy(), np.ones_like(q)
    if nonlinearity == "relu":
        return q / 2.0, np.full_like(q, 0.5)
    if nonlinearity not in BOUNDED:
        raise ValueError(f"nonlinearity: no quadrature for {nonlinearity!r}")
    s = np.sqrt(q)
    e_spline, d_spline = _moment_splines(nonlinearity)
    e2, d2 = e_spline(s), d_spline(s)
    far = ~(s <= SPLINE_S[-1])
    if far.any():
        e2[far], d2[far] = _quadrature_moments(nonlinearity, q[far])
    return e2, d2


def phi_moment(nonlinearity: str, q: float) -> float:
    """E[phi(sqrt(q) z)^2]: the second moment of a unit's output at pre-activation variance q."""
    if nonlinearity == "linear":
        return q
    if nonlinearity == "relu":
        return q / 2.0
    return gaussian_mean(lambda a: _phi(nonlinearity, a) ** 2, q)


def derivative_moment(nonlinearity: str, q: float) -> float:
    """E[phi'(sqrt(q) z)^2] (relu: P(z > 0) = 1/2; linear: 1)."""
    if nonlinearity == "linear":
        return 1.0
    if nonlinearity == "relu":
        return 0.5
    return gaussian_mean(lambda a: _dphi(nonlinearity, a) ** 2, q)


def q_star(nonlinearity: str, sigma_w: float, sigma_u: float, sigma_b: float) -> float:
    """The stable fixed point of q = sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_u^2 + sigma_b^2.

    Closed form for linear (q* = c / (1 - sigma_w^2)) and relu (q* = c / (1 - sigma_w^2 / 2))
    units, with c = sigma_u^2 + sigma_b^2, and ``inf`` where the variance grows without bound
    (sigma_w^2 >= 1, resp. >= 2, with c > 0); for bounded units (tanh, sigmoid) the largest
    root, found by Brent's method between c and sigma_w^2 + c (the map is increasing and below
    sigma_w^2 + c there, so iterating it from any q > 0 ends at that root).
    """
    c = sigma_u**2 + sigma_b**2
    gain = {"linear": 1.0, "relu": 0.5}.get(nonlinearity)
    if gain is not None:
        slope = gain * sigma_w**2
        if c == 0.0:
            return 0.0 if slope <= 1.0 else math.inf
        return c / (1.0 - slope) if slope < 1.0 else math.inf
    if nonlinearity not in BOUNDED:
        raise ValueError(f"nonlinearity: unknown {nonlinearity!r}")

    def gap(q: float) -> float:
        return sigma_w**2 * phi_moment(nonlinearity, q) + c - q

    high = sigma_w**2 + c
    low = c
    if gap(low) <= 0.0:  # c = 0 and tanh with sigma_w <= 1: q = 0 is the only fixed point
        if c > 0.0 or sigma_w <= 1.0:
            return low
        low = 1e-12 * high  # tanh, c = 0, sigma_w > 1: q = 0 is unstable, the root is above it
    if gap(high) >= 0.0:
        return high
    from scipy.optimize import brentq  # here: scipy.optimize costs a cell's start 0.4 s

    return brentq(gap, low, high, xtol=1e-15, rtol=1e-14, maxiter=200)


def chi(nonlinearity: str, sigma_w: float, sigma_u: float, sigma_b: float) -> float:
    """chi = sigma_w^2 E[phi'(sqrt(q*) z)^2]: the mean factor of a squared gradient norm a step."""
    return sigma_w**2 * derivative_moment(
        nonlinearity, q_star(nonlinearity, sigma_w, sigma_u, sigma_b)
    )


def decay_rate(chi_value: float) -> float:
    """The predicted per-step log10 factor of the gradient norm, (1/2) log10 chi."""
    return 0.5 * math.log10(chi_value) if chi_value > 0.0 else -math.inf


def depth_scale(chi_value: float) -> float:
    """xi = 1 / |ln chi|: steps over which the squared gradient norm shrinks (chi < 1) or grows
    (chi > 1) by a factor e; infinite at the boundary chi = 1, 0 where chi = 0."""
    if chi_value <= 0.0:
        return 0.0
    log_chi = math.log(chi_value)
    return math.inf if log_chi == 0.0 else 1.0 / abs(log_chi)


def sigma_w_of(W: np.ndarray) -> float:
    """sigma_w of a recurrent matrix: the RMS of its entries times sqrt(N), ||W||_F / sqrt(N)."""
    return float(np.linalg.norm(W) / math.sqrt(W.shape[0])) if W.size else 0.0


def sigma_u_of(weight_ih: np.ndarray, x: np.ndarray) -> float:
    """sigma_u: the RMS over units, steps and sequences of the input's contribution U x_t to a
    pre-activation, sqrt(tr(U M U^T) / N) with M = E[x x^T] the inputs' second moment (not
    their covariance: a mean input gives each unit a fixed offset U E[x], which adds to the
    pre-activations' spread over units as a bias does)."""
    flat = x.reshape(-1, x.shape[-1])  # (T B, I)
    M = flat.T @ flat / len(flat)
    return math.sqrt(
        max(float(np.einsum("ij,jk,ik->", weight_ih, M, weight_ih)), 0.0) / len(weight_ih)
    )


def input_variances(weight_ih: np.ndarray, x: np.ndarray) -> np.ndarray:
    """u_t for every step and sequence of ``x`` (T, B, I): x_t^T (U^T U / N) x_t, the variance
    over the units of the input's contribution U x_t to the pre-activations at step t."""
    return np.einsum("tbi,ij,tbj->tb", x, weight_ih.T @ weight_ih / len(weight_ih), x)


def path_log10_norms(
    nonlinearity: str, sigma_w: float, sigma_b: float, u: np.ndarray
) -> np.ndarray:
    """The mean field along given inputs: the predicted log10 norm of a batch's dL/dh_{T-k} at
    lag k = 0..T-1, relative to lag 0.

    ``u`` (T, B) are the steps' input variances (:func:`input_variances`). From h_0 = 0,
    q_t = sigma_w^2 E[phi(sqrt(q_{t-1}) z)^2] + u_t + sigma_b^2 per sequence; a step back
    through step t multiplies a sequence's squared norm by chi_t = sigma_w^2
    E[phi'(sqrt(q_t) z)^2]; the batch's squared norm is the sum over its sequences, each
    starting from the same norm.
    """
    T, B = u.shape
    log_chi = np.empty((T, B))
    previous = np.zeros(B)  # E[phi^2] of h_0 = 0
    with np.errstate(divide="ignore"):
        for t in range(T):
            q = sigma_w**2 * previous + u[t] + sigma_b**2
            previous, d = moments(nonlinearity, q)
            log_chi[t] = np.log10(sigma_w**2 * d)
    # lag k: the product of chi over steps T, T-1, ..., T-k+1
    lags = np.vstack([np.zeros((1, B)), np.cumsum(log_chi[:0:-1], axis=0)])
    top = lags.max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        return 0.5 * (top[:, 0] + np.log10(np.mean(10.0 ** (lags - top), axis=1)))


def mean_field(nonlinearity: str, sigma_w: float, sigma_u: float, sigma_b: float) -> dict:
    """q*, chi, the stationary predicted decay_rate and the depth scale of one set of
    statistics."""
    q = q_star(nonlinearity, sigma_w, sigma_u, sigma_b)
    c = chi(nonlinearity, sigma_w, sigma_u, sigma_b)
    return {
        "mf_q": q,
        "mf_chi": c,
        "mf_stationary_decay_rate": decay_rate(c),
        "mf_depth_scale": depth_scale(c),
    }


def applies(model: str, init: str, leak: float) -> bool:
    """Whether the mean field describes a cell: an rnn, or an esn without leak (a leaky update
    keeps part of h_{t-1}, which the recursion above does not), whose W_rec is random
    (gaussian, orthogonal, sparse: an identity W_rec keeps each unit's sign, so its units are
    not a gaussian ensemble). Gated models (lstm, gru) need Gilboa et al. 2019's theory, not
    built here."""
    return model in ("rnn", "esn") and init in RANDOM_INITS and (model == "rnn" or leak == 1.0)


def cell_mean_field(s, params: dict[str, np.ndarray], x: np.ndarray) -> dict[str, float | None]:
    """The mean-field columns of a cell at initialization (:data:`MEAN_FIELD_COLUMNS`).

    ``s`` are the cell's settings, ``params`` its float64 weights, ``x`` (T, B, I) the probe
    batch's inputs, whose second moment gives sigma_u and along which ``mf_decay_rate`` is
    predicted (:func:`path_log10_norms`). Every column is None where the theory does not apply
    (:func:`applies`).
    """
    if not applies(s.model, s.init, s.leak):
        return dict.fromkeys(MEAN_FIELD_COLUMNS)
    bias = params["bias_ih"] + params["bias_hh"]
    stats = {
        "sigma_w": sigma_w_of(params["weight_hh"]),
        "sigma_u": sigma_u_of(params["weight_ih"], x),
        "sigma_b": float(np.sqrt(np.mean(bias**2))) if bias.size else 0.0,
    }
    mf = mean_field(s.nonlinearity, stats["sigma_w"], stats["sigma_u"], stats["sigma_b"])
    u = input_variances(params["weight_ih"], x)
    path = path_log10_norms(s.nonlinearity, stats["sigma_w"], stats["sigma_b"], u)
    return {**stats, **mf, "mf_decay_rate": slope(path, log10=True)}
