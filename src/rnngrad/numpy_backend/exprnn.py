"""expRNN (Lezcano-Casado and Martinez-Rubio 2019): a recurrence kept orthogonal through
training; forward and hand-written BPTT side by side.

    A     = U - U^T,  U the strict upper triangle of the trained matrix ``log_weight_hh``
    W_hh  = expm(A)                                     (orthogonal: A is skew-symmetric)
    a_t   = W_ih x_t + b_ih + W_hh h_{t-1}
    h_t   = tanh(a_t + b_hh)                            (nonlinearity tanh)
    h_t   = sign(a_t) relu(|a_t| + b_hh)                (nonlinearity modrelu, their choice)

The trained weight is ``log_weight_hh`` (H, H), whose strict upper triangle parametrizes A (as
in their code: ``A.triu(diagonal=1)``, then ``A - A.t()``; its diagonal and lower triangle
get zero gradient); W_hh is derived from it at every forward. The gradient goes through the
matrix exponential: with G = dL/dW_hh, dL/dA is the Frechet derivative of expm at A^T in the
direction G (the adjoint of the derivative at A), and dL/dU = triu(dL/dA - dL/dA^T, 1).

Shapes: x (T, B, I); states h (T+1, B, H) with h_0 at index 0; ``weight_ih (H, I)``,
``log_weight_hh (H, H)``, ``bias_ih``, ``bias_hh`` (H,). f'(a_t) is recovered from h_t alone
(tanh: 1 - h^2; modrelu: 1 where h_t != 0), so the forward stores h.

Example
-------
>>> import numpy as np
>>> p = {"weight_ih": np.ones((4, 2)), "log_weight_hh": np.triu(np.ones((4, 4)), 1),
...      "bias_ih": np.zeros(4), "bias_hh": np.zeros(4)}
>>> h, cache = forward(p, np.zeros((5, 3, 2)))
>>> h.shape, bool(np.allclose(cache["W_hh"] @ cache["W_hh"].T, np.eye(4)))
((6, 3, 4), True)
"""

from __future__ import annotations

import numpy as np

from rnngrad.core.logscale import flushed_pow2
from rnngrad.core.shared import skew
from rnngrad.numpy_backend.rnn import start_backward, sum_runs


def forward(
    params: dict, x: np.ndarray, h0: np.ndarray | None = None, *, nonlinearity: str = "tanh"
) -> tuple[np.ndarray, dict]:
    """Run the expRNN over x (T, B, I); returns states h (T+1, B, H) and the cache."""
    from scipy.linalg import expm  # here: only exprnn cells pay scipy.linalg's import

    A = skew(np.asarray(params["log_weight_hh"], dtype=np.float64))  # expm in float64
    W_hh = expm(A).astype(params["weight_ih"].dtype, copy=False)
    T, B, _ = x.shape
    H = W_hh.shape[0]
    h = np.empty((T + 1, B, H), dtype=W_hh.dtype)
    h[0] = 0 if h0 is None else h0
    np.matmul(x, params["weight_ih"].T, out=h[1:])  # input projections, all steps at once
    h[1:] += params["bias_ih"]
    if nonlinearity == "tanh":
        h[1:] += params["bias_hh"]
    b = params["bias_hh"]
    W_hh_T = np.ascontiguousarray(W_hh.T)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, T + 1):
            a = h[t]
            a += h[t - 1] @ W_hh_T  # a_t (tanh: with b_hh)
            if nonlinearity == "tanh":
                np.tanh(a, out=a)
            else:  # modrelu: sign(a) relu(|a| + b)
                np.copyto(a, np.sign(a) * np.maximum(np.abs(a) + b, 0))
    return h, {"h": h, "x": x, "A": A, "W_hh": W_hh, "nonlinearity": nonlinearity}


def _fprime(h: np.ndarray, nonlinearity: str) -> np.ndarray:
    """dh_t/da_t from h_t: 1 - h^2 (tanh), or 1 where h_t != 0 (modrelu: relu' and sign^2)."""
    if nonlinearity == "tanh":
        return 1 - h * h
    return (h != 0).astype(h.dtype)


def backward(params: dict, cache: dict, dh_direct, norms: bool = True) -> dict:
    """BPTT. ``dh_direct[t]`` (B, H) is dL/dh_t through the readout alone, t = 0..T.

    Returns the gradients of ``weight_ih``, ``log_weight_hh``, ``bias_ih``, ``bias_hh``,
    ``dh0`` and, with ``norms``, ``log10_grad_norm`` (T+1,) of the total dL/dh_t and
    ``log10_weight_grad_norm`` (T,) of each step's term (dL/da_t)^T h_{t-1} of dL/dW_hh (the
    derived orthogonal matrix), indexed by step t - 1. dL/dh_t is carried with a log-scale as
    in :func:`rnngrad.numpy_backend.rnn.backward`: dL/da_t is kept in its step's units, and
    the weight gradients are summed run by run (:func:`~rnngrad.core.logscale.runs`).
    """
    from scipy.linalg import expm_frechet

    h, x, W_hh, nl = cache["h"], cache["x"], cache["W_hh"], cache["nonlinearity"]
    T = h.shape[0] - 1
    log10_grad_norm, log10_weight_grad_norm, scored, dh, ls = start_backward(dh_direct, h, norms)
    da = np.empty_like(h[1:])  # dL/da_t = 2^E[t-1] da[t-1], (T, B, H)
    E = np.empty(T, dtype=np.int64)
    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        for t in range(T, 0, -1):
            E[t - 1] = ls.E
            np.multiply(dh, _fprime(h[t], nl), out=da[t - 1])  # backprop through f
            dh = da[t - 1] @ W_hh  # backprop through W_hh
            ls.step([dh], dh_direct, scored, t - 1, log10_grad_norm, norms)
        flushed_pow2(dh, ls.E)  # dL/dh_0 at its true scale
        # modrelu's bias: d h_t / d b = sign(a_t) where h_t != 0, where dL/da_t = dL/dh_t
        modrelu = _modrelu_bias(h) if nl == "modrelu" else None
        grads = sum_runs(E, da, h, x, log10_weight_grad_norm, modrelu)
        dW = grads.pop("weight_rec")  # dL/dW_hh, the derived matrix's
        if nl == "tanh":
            grads["bias_hh"] = grads["bias_ih"].copy()
        # through W = expm(A): dL/dA = L_expm(A^T, dL/dW); then through A = U - U^T
        if np.all(np.isfinite(dW)):
            dA = expm_frechet(cache["A"].T, dW.astype(np.float64), compute_expm=False)
        else:  # overflow is data: a non-finite gradient, which training records as diverged
            dA = np.full(dW.shape, np.nan)
        grads["log_weight_hh"] = np.triu(dA - dA.T, 1).astype(h.dtype, copy=False)
    return {
        "grads": grads,
        "dh0": dh,
        "log10_grad_norm": log10_grad_norm,
        "log10_weight_grad_norm": log10_weight_grad_norm,
    }


def _modrelu_bias(h: np.ndarray):
    """The terms of modrelu's bias gradient in steps (lo, hi], from dL/da_t (the ``extra`` of
    :func:`~rnngrad.numpy_backend.rnn.sum_runs`)."""

    def terms(d: np.ndarray, lo: int, hi: int) -> dict:
        return {"bias_hh": np.einsum("tbh,tbh->h", d, np.sign(h[lo + 1 : hi + 1]))}

    return terms


def step_jacobians(params: dict, cache: dict, b: int = 0) -> np.ndarray:
    """J_t = dh_t/dh_{t-1} = diag(f'(a_t)) W_hh for sequence b; (T, H, H)."""
    fprime = _fprime(cache["h"][1:, b, :], cache["nonlinearity"])  # (T, H)
    return fprime[:, :, None] * cache["W_hh"][None]
