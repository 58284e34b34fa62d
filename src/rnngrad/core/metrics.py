"""Gradient-decay metrics of one profile, shared by both backends (plain NumPy).

Profiles are indexed by lag k = steps - t, k = 0..steps-1: ``grad_norm[k] = ||dL/ds_{steps-k}||``.
Backends report per-step arrays (index t); :func:`by_lag` turns them around. The gradient
metrics read the log10 norms (``log10_grad_norm``), which the backends give exactly at any
depth (:mod:`rnngrad.core.logscale`).

Example
-------
>>> import numpy as np
>>> log_g = np.arange(10) * np.log10(0.5)   # halves every step back
>>> round(decay_rate(log_g), 6), horizon(log_g)
(-0.30103, 10)
>>> round(log10_grad_ratio(np.arange(2000) * -0.5), 1)  # 1e-999.5: beyond float64, exact here
-999.5
"""

from __future__ import annotations

import contextlib

import numpy as np

from rnngrad.core import registry
from rnngrad.core.shared import skew

try:  # scikit-learn's dependency; without it BLAS keeps its own thread count
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None

HORIZON_FACTOR = 1e-3  # horizon: first lag where grad_norm falls below 1e-3 of grad_norm[0]
JACOBIAN_CHUNK = 128  # matrices whose spectral norms are taken in one batched call
LYAPUNOV_SEED = 20130201  # seed of lyapunov_max's start direction (any fixed value)


def by_lag(per_step: np.ndarray, steps: int) -> np.ndarray:
    """Values indexed by step t = steps, steps-1, ..., 1 as an array over lag k = 0..steps-1.

    ``per_step`` is indexed by t (length steps+1, index 0 is t=0) or by t-1 (length steps).
    """
    per_step = np.asarray(per_step, dtype=np.float64)
    return per_step[:0:-1] if len(per_step) == steps + 1 else per_step[::-1]


def slope(values: np.ndarray, log10: bool = False) -> float:
    """Least-squares slope of log10(values) against lag over the finite, positive values
    (or of ``values`` themselves when they are already log10)."""
    v = np.asarray(values, dtype=np.float64)
    k = np.arange(len(v), dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = v if log10 else np.log10(v)
    ok = np.isfinite(y)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(k[ok], y[ok], 1)[0])


def decay_rate(log10_grad_norm: np.ndarray) -> float:
    """Per-step log10 factor of the gradient norm: the slope of log10 grad_norm[k] against k
    (from the log10 norms, so at any depth)."""
    return slope(log10_grad_norm, log10=True)


def log10_grad_ratio(log10_grad_norm: np.ndarray) -> float:
    """log10(grad_norm[steps-1] / grad_norm[0]) from the log10 norms: < 0 vanishing, > 0
    exploding."""
    with np.errstate(invalid="ignore"):
        return float(log10_grad_norm[-1] - log10_grad_norm[0])


def horizon(log10_grad_norm: np.ndarray) -> int:
    """Smallest lag k with grad_norm[k] < 1e-3 grad_norm[0] (zeros count), from the log10
    norms; steps if none."""
    with np.errstate(invalid="ignore"):
        below = np.flatnonzero(log10_grad_norm < log10_grad_norm[0] + np.log10(HORIZON_FACTOR))
    return int(below[0]) if below.size else len(log10_grad_norm)


def first_comparable_lag(model: str) -> int:
    """The first lag whose grad_norm covers the whole state: 1 for the lstm, else 0.

    The lstm's state is (h_t, c_t), but nothing reads c_T after the last step, so dL/dc_T = 0 and
    grad_norm[0] is ||dL/dh_T|| alone, while every later lag adds ||dL/dc_t||."""
    return 1 if model == "lstm" else 0


def profile_scalars(model: str, log10_grad_norm: np.ndarray) -> dict[str, float]:
    """decay_rate, log10_grad_ratio and horizon of a profile's log10 grad_norm, over the lags
    from :func:`first_comparable_lag` on (so the lstm's ratio and horizon are against lag 1;
    the horizon is still counted in lags from 0)."""
    k0 = first_comparable_lag(model)
    g = np.asarray(log10_grad_norm, dtype=np.float64)[k0:]
    return {
        "decay_rate": decay_rate(g),
        "log10_grad_ratio": log10_grad_ratio(g),
        "horizon": k0 + horizon(g),
    }


def _one_blas_thread():
    """BLAS on one thread: the S x S products here are too small to share, and a second thread
    that waits for a shared core made jacobian_log10_norms 10-20x slower (docs/performance.md)."""
    return threadpool_limits(1) if threadpool_limits else contextlib.nullcontext()


def jacobian_log10_norms(J: np.ndarray) -> np.ndarray:
    """log10 ||ds_T/ds_{T-k}||_2 for every lag k = 0..T-1, from the step Jacobians J (T, S, S):
    the last column of :func:`jacobian_log10_spectra`."""
    return jacobian_log10_spectra(J)[:, -1]


def jacobian_log10_spectra(J: np.ndarray) -> np.ndarray:
    """log10 of every singular value of ds_T/ds_{T-k}, ascending, for every lag k = 0..T-1,
    from the step Jacobians J (T, S, S): an array (T, S).

    The product P_k = J_T J_{T-1} ... J_{T-k+1} is accumulated once (O(T S^3)) and rescaled every
    step, its scale kept in logs, so long sequences neither underflow nor overflow; P_k's squared
    singular values are the eigenvalues of P_k P_k^T, taken in batches. Squaring halves the
    digits: a singular value below about 1e-8 of the largest is rounding (and may read -inf).
    """
    T, S, _ = J.shape
    out = np.empty((T, S))
    out[0] = 0.0  # ds_T/ds_T = I
    P = np.eye(S, dtype=np.float64)
    log_scale = 0.0
    buf = np.empty((min(JACOBIAN_CHUNK, max(T - 1, 1)), S, S))
    logs = np.empty(len(buf))
    n = 0
    with (
        np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"),
        _one_blas_thread(),
    ):
        for k in range(1, T):
            P = P @ J[T - k]  # J has index t-1 for step t
            c = np.max(np.abs(P))
            if c > 0 and np.isfinite(c):
                P /= c
                log_scale += np.log10(c)
            elif not np.isfinite(c):
                log_scale = np.inf if c == np.inf else np.nan
            else:
                log_scale = -np.inf
            buf[n], logs[n] = P, log_scale
            n += 1
            if n == len(buf) or k == T - 1:
                eig = np.linalg.eigvalsh(buf[:n] @ buf[:n].transpose(0, 2, 1))
                out[k - n + 1 : k + 1] = 0.5 * np.log10(np.maximum(eig, 0.0)) + logs[:n, None]
                n = 0
    return out


def lyapunov_start(S: int) -> np.ndarray:
    """The start direction q_0 of :func:`lyapunov_max`: a unit vector drawn from a fixed seed
    (LYAPUNOV_SEED), so both backends and every cell of a given state size S start alike.

    Almost surely no coordinate of it is zero, so no product of diagonal or sparse Jacobians
    that keeps any direction alive can map it to zero (e_1 could: an IRNN whose unit 0 is off)."""
    q = np.random.default_rng(LYAPUNOV_SEED).standard_normal(S)
    return q / np.linalg.norm(q)


def lyapunov_max(J: np.ndarray) -> float:
    """Largest Lyapunov exponent (natural log per step) of the state map along a sequence, by the
    QR method (Benettin et al. 1980): Q_t R_t = J_t Q_{t-1}, lambda_1 = mean_t ln |R_t[0, 0]|.

    Only the first column of Q enters R_t[0, 0], and Gram-Schmidt leaves it alone: q_t =
    J_t q_{t-1} / |R_t[0, 0]| with |R_t[0, 0]| = ||J_t q_{t-1}||, from q_0 =
    :func:`lyapunov_start`. So the first column is iterated alone, O(S^2) a step instead of a
    QR's O(S^3), and the estimate is (1/T) ln ||J_T ... J_1 q_0||: a finite-time value, no
    transient discarded, at most (1/T) ln sigma_max(J_T ... J_1) (the direction-free value).

    Returns -inf when the product is exactly zero (every direction dies, e.g. all ReLU units
    off at some step), and NaN only when a Jacobian is itself not finite (the forward overflowed).
    """
    T, S, _ = J.shape
    if not np.all(np.isfinite(J)):
        return float("nan")
    q = lyapunov_start(S)
    total = 0.0
    with np.errstate(over="ignore", under="ignore"):
        for t in range(T):
            z = J[t] @ q
            r = np.sqrt(z @ z)
            if not np.isfinite(r):  # ||J_t q|| beyond float64: take it from J_t / max|J_t|
                c = np.max(np.abs(J[t]))
                z = (J[t] / c) @ q
                r = np.sqrt(z @ z)
                total += np.log(c)
            if r == 0.0:
                return float("-inf")
            total += np.log(r)
            q = z / r
    return float(total / T)


def recurrent_block(model: str, params: dict[str, np.ndarray]) -> np.ndarray | None:
    """The H x H matrix whose spectrum the metrics report, from a cell's float64 weights: W_hh,
    a gated model's candidate block (lstm g gate, gru n gate), the exprnn's derived expm(A),
    diag(u) over every layer of the indrnn, or the lru's diag(lambda), lambda =
    exp(-exp(nu_log) + i exp(theta_log)) (complex); a plugin model's ``recurrent_matrix``
    (None where it has none: no spectrum to report)."""
    if (plugin := registry.obj("model", model)) is not None:
        block = getattr(plugin, "recurrent_matrix", None)
        return None if block is None else np.asarray(block(params), dtype=np.float64)
    if model == "exprnn":
        from scipy.linalg import expm  # here: only exprnn cells pay its import

        return expm(skew(params["log_weight_hh"]))
    if model == "indrnn":
        return np.diag(np.ravel(params["weight_hh"]))
    if model == "lru":
        return np.diag(lru_lambda(params["nu_log"], params["theta_log"]))
    weight_hh = params["weight_hh"]
    H = weight_hh.shape[1]
    return weight_hh[2 * H : 3 * H] if model in ("lstm", "gru") else weight_hh


def lru_lambda(nu_log: np.ndarray, theta_log: np.ndarray) -> np.ndarray:
    """The LRU's eigenvalues exp(-exp(nu_log) + i exp(theta_log)) (Orvieto et al. 2023, eq. 5)."""
    return np.exp(-np.exp(nu_log)) * np.exp(1j * np.exp(theta_log))


def spectral_norm(W: np.ndarray) -> float:
    return float(np.linalg.norm(W, 2))
