"""LSTM (PyTorch's equations and layout): forward and hand-written BPTT side by side.

    i, f, g, o = split(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)      (gates in this order)
    i, f, o = sigmoid(.), g = tanh(.)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

The state is the pair s_t = (h_t, c_t), and dL/ds_t is the gradient of the loss from step t on
with h_t and c_t as independent inputs: dL/dc_t flows back from step t + 1 only (the path
c_t -> h_t is inside step t). So dL/ds_{t-1} = direct_{t-1} + dL/ds_t J_t with J_t from
:func:`step_jacobians`, and dL/dc_T = 0.

Shapes: x (T, B, I); h and c (T+1, B, H) with the initial state at index 0; ``weight_ih (4H, I)``,
``weight_hh (4H, H)``, ``bias_ih``, ``bias_hh`` (4H,). The forward stores h, c and the activated
gates (T, B, 4H): six (T, B, H) arrays in all; tanh(c_t) is recomputed in backward.

Example
-------
>>> import numpy as np
>>> p = {"weight_ih": np.ones((12, 2)), "weight_hh": np.zeros((12, 3)), "bias_ih": np.zeros(12),
...      "bias_hh": np.zeros(12)}
>>> h, cache = forward(p, np.zeros((5, 4, 2)))
>>> h.shape, cache["c"].shape
((6, 4, 3), (6, 4, 3))
"""

from __future__ import annotations

import numpy as np

from rnngrad.numpy_backend.rnn import CHUNK, act, add_step_terms


def forward(
    params: dict, x: np.ndarray, *, h0: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, dict]:
    """Run the LSTM over x (T, B, I) from h0 = (h_0, c_0) (zeros when None); returns the
    states h (T+1, B, H) and the cache for backward (with c (T+1, B, H))."""
    W_ih, W_hh = params["weight_ih"], params["weight_hh"]
    T, B, _ = x.shape
    H = W_hh.shape[1]
    h = np.empty((T + 1, B, H), dtype=W_hh.dtype)
    c = np.empty_like(h)
    h[0], c[0] = (0, 0) if h0 is None else h0
    # input projections for all steps in one GEMM, then activated in place step by step
    gates = np.matmul(x, W_ih.T).astype(W_hh.dtype, copy=False)  # (T, B, 4H)
    gates += params["bias_ih"] + params["bias_hh"]
    W_hh_T = np.ascontiguousarray(W_hh.T)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, T + 1):
            a = gates[t - 1]
            a += h[t - 1] @ W_hh_T
            act(a[:, : 2 * H], "sigmoid")  # i, f
            act(a[:, 2 * H : 3 * H], "tanh")  # g
            act(a[:, 3 * H :], "sigmoid")  # o
            i, f, g, o = a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]
            np.multiply(f, c[t - 1], out=c[t])
            c[t] += i * g
            np.tanh(c[t], out=h[t])
            h[t] *= o
    return h, {"h": h, "c": c, "gates": gates, "x": x}


def _chunk_factors(cache: dict, t0: int, t1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For steps t in (t0, t1]: tanh(c_t), o_t (1 - tanh^2 c_t) (dh_t/dc_t within the step),
    and the gates' derivatives (sigmoid' or tanh') from their values, (n, B, 4H)."""
    gates, c = cache["gates"][t0:t1], cache["c"][t0 + 1 : t1 + 1]
    H = c.shape[-1]
    tc = np.tanh(c)
    dtc = gates[..., 3 * H :] * (1 - tc * tc)
    fprime = gates * (1 - gates)
    g = gates[..., 2 * H : 3 * H]
    fprime[..., 2 * H : 3 * H] = 1 - g * g
    return tc, dtc, fprime


def backward(params: dict, cache: dict, dh_direct: np.ndarray) -> dict:
    """BPTT. ``dh_direct[t]`` (B, H) is dL/dh_t through the readout alone, t = 0..T (a
    :class:`~rnngrad.numpy_backend.readout.DirectGrad`, or any array of shape (T+1, B, H)).

    Returns the gradients of the LSTM's weights, ``dh0`` = (dL/dh_0, dL/dc_0), ``grad_norm``
    (T+1,) = ||(dL/dh_t, dL/dc_t)|| over batch and units, and ``weight_grad_norm`` (T,) of each
    step's term (dL/d gates_t)^T h_{t-1} of dL/dW_hh, indexed by step t - 1.
    """
    W_hh = params["weight_hh"]
    h, c, gates, x = cache["h"], cache["c"], cache["gates"], cache["x"]
    T, B, H = h.shape[0] - 1, h.shape[1], h.shape[2]
    grads = {k: np.zeros_like(params[k]) for k in ("weight_ih", "weight_hh", "bias_ih")}
    grad_norm = np.empty(T + 1)
    weight_grad_norm = np.empty(T)
    da = np.empty((min(CHUNK, T), B, 4 * H), dtype=h.dtype)  # dL/d gates (pre-activation)
    dh = dh_direct[T].copy()  # dL/dh_T
    dc = np.zeros_like(dh)  # dL/dc_T: nothing after step T reads c_T
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for t1 in range(T, 0, -CHUNK):  # chunks of steps (t0, t1], walked backwards
            t0 = max(t1 - CHUNK, 0)
            tc, dtc, fprime = _chunk_factors(cache, t0, t1)
            for t in range(t1, t0, -1):
                k = t - 1 - t0
                grad_norm[t] = np.sqrt(np.vdot(dh, dh) + np.vdot(dc, dc))
                a, d = gates[t - 1], da[k]
                dc = dc + dh * dtc[k]  # backprop through h_t = o tanh(c_t)
                np.multiply(dc, a[:, 2 * H : 3 * H], out=d[:, :H])  # dL/di
                np.multiply(dc, c[t - 1], out=d[:, H : 2 * H])  # dL/df
                np.multiply(dc, a[:, :H], out=d[:, 2 * H : 3 * H])  # dL/dg
                np.multiply(dh, tc[k], out=d[:, 3 * H :])  # dL/do
                d *= fprime[k]  # backprop through the gates' sigmoid and tanh
                dc *= a[:, H : 2 * H]  # dL/dc_{t-1} through c_t = f c_{t-1} + ...
                dh = dh_direct[t - 1] + d @ W_hh  # backprop through W_hh
            n = t1 - t0
            d, hp = da[:n], h[t0:t1]  # dL/d gates_t and h_{t-1} for t in (t0, t1]
            grads["weight_ih"] += np.tensordot(d, x[t0:t1], axes=([0, 1], [0, 1]))
            grads["bias_ih"] += d.sum(axis=(0, 1))
            weight_grad_norm[t0:t1] = add_step_terms(grads["weight_hh"], d, hp)
        grad_norm[0] = np.sqrt(np.vdot(dh, dh) + np.vdot(dc, dc))
    grads["bias_hh"] = grads["bias_ih"].copy()
    return {
        "grads": grads,
        "dh0": (dh, dc),
        "grad_norm": grad_norm,
        "weight_grad_norm": weight_grad_norm,
    }


def step_jacobians(params: dict, cache: dict, b: int = 0) -> np.ndarray:
    """J_t = d(h_t, c_t)/d(h_{t-1}, c_{t-1}) for sequence b; (T, 2H, 2H), state order (h, c).

    dc_t/dh_{t-1} = diag(g i') W_i + diag(c_{t-1} f') W_f + diag(i g') W_g,  dc_t/dc_{t-1} = diag(f)
    dh_t/dh_{t-1} = diag(tanh(c_t) o') W_o + diag(o tanh'(c_t)) dc_t/dh_{t-1}
    dh_t/dc_{t-1} = diag(o tanh'(c_t) f)
    """
    W_hh = params["weight_hh"]
    T, H = cache["h"].shape[0] - 1, W_hh.shape[1]
    tc, dtc, fprime = (a[:, b] for a in _chunk_factors(cache, 0, T))  # (T, H), (T, H), (T, 4H)
    gates, c_prev = cache["gates"][:, b], cache["c"][:T, b]
    i, f, g = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H]
    # dL/d(pre-activation) of each gate per unit of dc_t (i, f, g) and of dh_t (o)
    w = np.concatenate([g, c_prev, i, tc], axis=1) * fprime  # (T, 4H)
    W = W_hh.reshape(4, H, H)
    dc_dh = (
        w[:, :H, None] * W[0] + w[:, H : 2 * H, None] * W[1] + w[:, 2 * H : 3 * H, None] * W[2]
    )  # (T, H, H)
    J = np.zeros((T, 2 * H, 2 * H), dtype=W_hh.dtype)
    J[:, :H, :H] = w[:, 3 * H :, None] * W[3] + dtc[:, :, None] * dc_dh
    J[:, H:, :H] = dc_dh
    diag = np.arange(H)
    J[:, diag, H + diag] = dtc * f
    J[:, H + diag, H + diag] = f
    return J
