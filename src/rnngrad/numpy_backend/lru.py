"""The Linear Recurrent Unit (Orvieto et al. 2023) in one block: forward and hand-written BPTT
through its complex states, side by side.

    e_t = gelu(W_enc x_t + b_enc)                     position-wise map before the recurrence
    h_t = lambda * h_{t-1} + gamma * (B e_t)          complex diagonal recurrence, N units
    y_t = Re(C h_t) + D * e_t                         real part of a linear map of the state
    z_t = gelu(W_mlp y_t + b_mlp)                     position-wise MLP after it (read out)

with lambda = exp(-exp(nu_log) + i exp(theta_log)), gamma = exp(gamma_log) (initialized to
sqrt(1 - |lambda|^2)), B = B_re + i B_im, C = C_re + i C_im and gelu the tanh approximation
(JAX's default, which their code uses). At t = 0, z_0 reads h_0 with e_0 = 0. The state is h_t,
as the real pair s_t = (Re h_t, Im h_t) (B, 2N); the readout reads z (T+1, B, H).

Gradients of real functions of a complex z are written as dL/dRe z + i dL/dIm z; through
h_t = lambda h_{t-1} this gradient is multiplied by conj(lambda).

Example
-------
>>> import numpy as np
>>> H = 2
>>> p = {"weight_enc": np.ones((H, 1)), "bias_enc": np.zeros(H), "nu_log": np.zeros(H),
...      "theta_log": np.zeros(H), "gamma_log": np.zeros(H), "B_re": np.eye(H),
...      "B_im": np.zeros((H, H)), "C_re": np.eye(H), "C_im": np.zeros((H, H)),
...      "D": np.zeros(H), "weight_mlp": np.eye(H), "bias_mlp": np.zeros(H)}
>>> z, cache = forward(p, np.ones((3, 4, 1)))
>>> z.shape, cache["state"].shape
((4, 4, 2), (4, 4, 4))
"""

from __future__ import annotations

import math

import numpy as np

from rnngrad.core.logscale import LOG10_2, LogScale, flushed_pow2, runs
from rnngrad.core.metrics import lru_lambda
from rnngrad.numpy_backend.readout import scored_steps

GELU_C = math.sqrt(2 / math.pi)  # gelu(a) = a (1 + tanh(c (a + 0.044715 a^3))) / 2; a Python
# float, which keeps a float32 array float32 (a NumPy float64 scalar would make it float64)
GELU_K = 0.044715


def gelu(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The tanh approximation of GELU, and the tanh it took (for :func:`dgelu`)."""
    a2 = a * a
    th = np.tanh(GELU_C * a * (1 + GELU_K * a2))
    return 0.5 * a * (1 + th), th


def dgelu(a: np.ndarray, th: np.ndarray) -> np.ndarray:
    """gelu'(a), from a and the tanh of :func:`gelu`."""
    return 0.5 * (1 + th) + (0.5 * GELU_C) * a * (1 - th * th) * (1 + (3 * GELU_K) * a * a)


def _complex(dtype) -> np.dtype:
    return np.result_type(dtype, np.complex64)


def forward(params: dict, x: np.ndarray, h0: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """Run the block over x (T, B, I); returns the MLP's outputs z (T+1, B, H) and the cache,
    whose ``state`` (T+1, B, 2N) holds (Re h_t, Im h_t) (``h0`` is such a state, (B, 2N))."""
    dtype = params["weight_enc"].dtype
    lam = lru_lambda(params["nu_log"], params["theta_log"]).astype(_complex(dtype))
    gamma = np.exp(params["gamma_log"])
    N = lam.shape[0]
    T, B, _ = x.shape
    with np.errstate(over="ignore", invalid="ignore"):
        pre_e = x @ params["weight_enc"].T + params["bias_enc"]  # (T, B, H)
        e, th_e = gelu(pre_e)
        B_c = params["B_re"] + 1j * params["B_im"]
        v = (e @ B_c.T).astype(lam.dtype) * gamma  # gamma B e_t, (T, B, N)
        h = np.empty((T + 1, B, N), dtype=lam.dtype)
        h[0] = 0 if h0 is None else h0[:, :N] + 1j * h0[:, N:]
        for t in range(1, T + 1):
            np.multiply(lam, h[t - 1], out=h[t])
            h[t] += v[t - 1]
        state = np.concatenate([h.real, h.imag], axis=-1)
        # Re(C h_t), (T+1, B, H); the real and imaginary parts as contiguous arrays for BLAS
        y = state[..., :N] @ params["C_re"].T - state[..., N:] @ params["C_im"].T
        y[1:] += params["D"] * e
        pre_z = y @ params["weight_mlp"].T + params["bias_mlp"]
        z, th_z = gelu(pre_z)
    cache = {"state": state, "h": h, "x": x, "pre_e": pre_e, "e": e, "y": y, "pre_z": pre_z}
    return z, {**cache, "th_e": th_e, "th_z": th_z, "lambda": lam, "gamma": gamma, "v": v}


def backward(params: dict, cache: dict, dh_direct, norms: bool = True) -> dict:
    """BPTT. ``dh_direct[t]`` (B, H) is dL/dz_t through the readout alone, t = 0..T.

    Returns the gradients, ``dh0`` = dL/ds_0 (B, 2N) and, with ``norms``,
    ``log10_grad_norm`` (T+1,) of dL/ds_t = |dL/dh_t| over batch and units, and
    ``log10_weight_grad_norm`` (T,) of each step's term sum_b conj(h_{t-1}) dL/dh_t of
    dL/dlambda (lambda as the pair (Re, Im)), indexed by step t - 1. dL/dh_t is carried with a
    log-scale (:func:`_carry`), and the terms of the weights it reaches are summed run by run
    (:func:`~rnngrad.core.logscale.runs`).
    """
    h, x, e, lam, gamma, v = (cache[k] for k in ("h", "x", "e", "lambda", "gamma", "v"))
    T, N = h.shape[0] - 1, h.shape[2]
    dz = np.stack([dh_direct[t] for t in range(T + 1)]).astype(cache["y"].dtype, copy=False)
    grads = {}
    log10_grad_norm = np.empty(T + 1) if norms else None
    log10_weight_grad_norm = np.empty(T) if norms else None
    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        dpre_z = dz * dgelu(cache["pre_z"], cache["th_z"])  # backprop through the MLP's gelu
        grads["weight_mlp"] = np.tensordot(dpre_z, cache["y"], axes=([0, 1], [0, 1]))
        grads["bias_mlp"] = dpre_z.sum(axis=(0, 1))
        dy = dpre_z @ params["weight_mlp"]  # (T+1, B, H)
        grads["D"] = np.einsum("tbh,tbh->h", dy[1:], e)
        # through Re(C h_t) = Re h C_re^T - Im h C_im^T
        s = cache["state"]  # (Re h, Im h)
        grads["C_re"] = np.tensordot(dy, s[..., :N], axes=([0, 1], [0, 1]))
        grads["C_im"] = -np.tensordot(dy, s[..., N:], axes=([0, 1], [0, 1]))
        gd = (dy @ params["C_re"] - 1j * (dy @ params["C_im"])).astype(h.dtype)  # direct dL/dh_t
        de_direct = dy[1:] * params["D"]  # through D e_t
        g, Eg = _carry(gd, np.conj(lam), dh_direct, log10_grad_norm)  # dL/dh_t = 2^Eg[t] g[t]
        dlam = np.zeros(N, dtype=h.dtype)
        dgamma = np.zeros(N, dtype=h.real.dtype)
        for k in ("B_re", "B_im", "weight_enc", "bias_enc"):
            grads[k] = np.zeros_like(params[k])
        dpre_e = de_direct * dgelu(cache["pre_e"], cache["th_e"])  # backprop the encoder's gelu
        grads["weight_enc"] += np.tensordot(dpre_e, x, axes=([0, 1], [0, 1]))
        grads["bias_enc"] += dpre_e.sum(axis=(0, 1))
        for lo, hi, sc in runs(Eg[1:]):  # dL/dv_t = g[t], t >= 1, run by run in the run's units
            gv, hp, w = g[lo + 1 : hi + 1], np.conj(h[lo:hi]), v[lo:hi] / gamma  # w = B e_t
            run = {"lambda": np.einsum("tbn,tbn->n", hp, gv)}
            run["gamma"] = np.einsum("tbn,tbn->n", gv.real, w.real) + np.einsum(
                "tbn,tbn->n", gv.imag, w.imag
            )
            gw = gv * gamma  # dL/d(B e_t)
            gw_re, gw_im = np.ascontiguousarray(gw.real), np.ascontiguousarray(gw.imag)
            run["B_re"] = np.tensordot(gw_re, e[lo:hi], axes=([0, 1], [0, 1]))
            run["B_im"] = np.tensordot(gw_im, e[lo:hi], axes=([0, 1], [0, 1]))
            de = gw_re @ params["B_re"] + gw_im @ params["B_im"]
            de *= dgelu(cache["pre_e"][lo:hi], cache["th_e"][lo:hi])  # the encoder's gelu
            run["weight_enc"] = np.tensordot(de, x[lo:hi], axes=([0, 1], [0, 1]))
            run["bias_enc"] = de.sum(axis=(0, 1))
            if log10_weight_grad_norm is not None:
                terms = np.einsum("tbn,tbn->tn", hp, gv)  # steps' terms of dL/dlambda
                sq = np.einsum("tn,tn->t", terms.real, terms.real, dtype=np.float64)
                sq += np.einsum("tn,tn->t", terms.imag, terms.imag, dtype=np.float64)
                log10_weight_grad_norm[lo:hi] = 0.5 * np.log10(sq, dtype=np.float64) + sc * LOG10_2
            for k, total in (("lambda", dlam), ("gamma", dgamma)):
                total += flushed_pow2(run.pop(k), sc)
            for k, part in run.items():
                grads[k] += flushed_pow2(part, sc)
        grads["gamma_log"] = gamma * dgamma
        # lambda = exp(w), w = -exp(nu_log) + i exp(theta_log): dL/dw = conj(lambda) dL/dlambda
        dw = np.conj(lam) * dlam
        grads["nu_log"] = -np.exp(params["nu_log"]) * dw.real
        grads["theta_log"] = np.exp(params["theta_log"]) * dw.imag
    dtype = params["weight_enc"].dtype
    grads = {k: np.asarray(a, dtype=dtype) for k, a in grads.items()}
    dh0 = flushed_pow2(np.concatenate([g[0].real, g[0].imag], axis=-1), int(Eg[0]))
    return {
        "grads": grads,
        "dh0": dh0,
        "log10_grad_norm": log10_grad_norm,
        "log10_weight_grad_norm": log10_weight_grad_norm,
    }


def _carry(gd: np.ndarray, conj_lam: np.ndarray, dh_direct, log10_grad_norm) -> tuple:
    """dL/dh_t = gd[t] + conj(lambda) dL/dh_{t+1}, walked backwards from t = T, with a
    log-scale (:mod:`rnngrad.core.logscale`): g (T+1, B, N) and the scale of each step, Eg
    (T+1,), with dL/dh_t = 2^Eg[t] g[t]; the log10 norms into ``log10_grad_norm`` (when not
    None)."""
    T = gd.shape[0] - 1
    scored = scored_steps(dh_direct)
    g, Eg = np.empty_like(gd), np.empty(T + 1, dtype=np.int64)
    cur = gd[T].copy()
    ls = LogScale(gd.real.itemsize)
    ls.check([cur], log10_grad_norm, T)
    g[T], Eg[T] = cur, ls.E
    norms = log10_grad_norm is not None
    for t in range(T - 1, -1, -1):  # backprop through h_{t+1} = lambda h_t + v_{t+1}
        cur = conj_lam * cur
        ls.step([cur], gd, scored, t, log10_grad_norm, norms)
        g[t], Eg[t] = cur, ls.E
    return g, Eg


def step_jacobians(params: dict, cache: dict, b: int = 0) -> np.ndarray:
    """J_t = ds_t/ds_{t-1} = [[diag(Re lambda), -diag(Im lambda)], [diag(Im lambda),
    diag(Re lambda)]] for s = (Re h, Im h), the same at every step; (T, 2N, 2N)."""
    lam = cache["lambda"]
    T, N = cache["h"].shape[0] - 1, lam.shape[0]
    J = np.zeros((2 * N, 2 * N), dtype=cache["y"].dtype)
    i = np.arange(N)
    J[i, i] = J[i + N, i + N] = lam.real
    J[i, i + N] = -lam.imag
    J[i + N, i] = lam.imag
    return np.broadcast_to(J, (T, 2 * N, 2 * N)).copy()
