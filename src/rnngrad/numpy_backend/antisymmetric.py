"""AntisymmetricRNN (Chang, Chen, Haber and Chi 2019): forward and hand-written BPTT side by
side.

    M   = W_hh - W_hh^T - gamma I
    z_t = W_ih x_t + b_ih + b_hh + M h_{t-1}
    h_t = h_{t-1} + eps tanh(z_t)

A forward Euler step of dh/dt = tanh(M h + ...), whose Jacobian has eigenvalues with real part
-gamma tanh' <= 0: neither shrinking nor growing much, for every W_hh. Shapes: x (T, B, I);
states h (T+1, B, H) with h_0 at index 0; ``weight_ih (H, I)``, ``weight_hh (H, H)`` (W, the
trained weight), ``bias_ih``, ``bias_hh`` (H,). The forward stores h and tanh(z_t).

Example
-------
>>> import numpy as np
>>> p = {"weight_ih": np.ones((3, 2)), "weight_hh": np.eye(3), "bias_ih": np.zeros(3),
...      "bias_hh": np.zeros(3)}
>>> h, cache = forward(p, np.ones((5, 4, 2)), eps=0.1, gamma=0.0)
>>> h.shape, float(h[1, 0, 0]) == 0.1 * np.tanh(2.0)
((6, 4, 3), True)
"""

from __future__ import annotations

import numpy as np

from rnngrad.core.logscale import flushed_pow2
from rnngrad.numpy_backend.rnn import start_backward, sum_runs


def state_matrix(params: dict, gamma: float) -> np.ndarray:
    """M = W_hh - W_hh^T - gamma I, (H, H)."""
    W = params["weight_hh"]
    return W - W.T - gamma * np.eye(W.shape[0], dtype=W.dtype)


def forward(
    params: dict, x: np.ndarray, h0: np.ndarray | None = None, *, eps: float, gamma: float
) -> tuple[np.ndarray, dict]:
    """Run the AntisymmetricRNN over x (T, B, I); returns states h (T+1, B, H) and the cache."""
    M = state_matrix(params, gamma)
    T, B, _ = x.shape
    H = M.shape[0]
    h = np.empty((T + 1, B, H), dtype=M.dtype)
    h[0] = 0 if h0 is None else h0
    g = np.matmul(x, params["weight_ih"].T).astype(M.dtype, copy=False)  # (T, B, H)
    g += params["bias_ih"] + params["bias_hh"]
    M_T = np.ascontiguousarray(M.T)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, T + 1):
            z = g[t - 1]
            z += h[t - 1] @ M_T  # z_t
            np.tanh(z, out=z)  # tanh(z_t)
            np.multiply(z, eps, out=h[t])
            h[t] += h[t - 1]  # h_t = h_{t-1} + eps tanh(z_t)
    return h, {"h": h, "g": g, "x": x, "M": M, "eps": eps}


def backward(params: dict, cache: dict, dh_direct, norms: bool = True) -> dict:
    """BPTT. ``dh_direct[t]`` (B, H) is dL/dh_t through the readout alone, t = 0..T.

    Returns the gradients of the weights, ``dh0`` and, with ``norms``, ``log10_grad_norm``
    (T+1,) of the total dL/dh_t and ``log10_weight_grad_norm`` (T,) of each step's term
    (dL/dz_t)^T h_{t-1} of dL/dM, indexed by step t - 1 (dL/dW_hh = dL/dM - dL/dM^T).
    dL/dh_t is carried with a log-scale as in :func:`rnngrad.numpy_backend.rnn.backward`:
    dL/dz_t is kept in its step's units, and the weight gradients are summed run by run
    (:func:`~rnngrad.core.logscale.runs`).
    """
    h, g, x, M, eps = cache["h"], cache["g"], cache["x"], cache["M"], cache["eps"]
    T = h.shape[0] - 1
    log10_grad_norm, log10_weight_grad_norm, scored, dh, ls = start_backward(dh_direct, h, norms)
    dz = np.empty_like(g)  # dL/dz_t = 2^E[t-1] dz[t-1], (T, B, H)
    E = np.empty(T, dtype=np.int64)
    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        for t in range(T, 0, -1):
            E[t - 1] = ls.E
            d = dz[t - 1]
            np.multiply(g[t - 1], g[t - 1], out=d)
            np.subtract(1, d, out=d)
            d *= eps * dh  # backprop through eps tanh(z_t)
            dh = dh + d @ M  # through the skip h_{t-1} and through M
            ls.step([dh], dh_direct, scored, t - 1, log10_grad_norm, norms)
        flushed_pow2(dh, ls.E)  # dL/dh_0 at its true scale
        grads = sum_runs(E, dz, h, x, log10_weight_grad_norm)
        dM = grads.pop("weight_rec")
        grads["weight_hh"] = dM - dM.T  # through M = W - W^T - gamma I
        grads["bias_hh"] = grads["bias_ih"].copy()
    return {
        "grads": grads,
        "dh0": dh,
        "log10_grad_norm": log10_grad_norm,
        "log10_weight_grad_norm": log10_weight_grad_norm,
    }


def step_jacobians(params: dict, cache: dict, b: int = 0) -> np.ndarray:
    """J_t = dh_t/dh_{t-1} = I + eps diag(1 - tanh(z_t)^2) M for sequence b; (T, H, H)."""
    g, M = cache["g"][:, b, :], cache["M"]
    J = (cache["eps"] * (1 - g * g))[:, :, None] * M[None]
    diag = np.arange(M.shape[0])
    J[:, diag, diag] += 1
    return J
