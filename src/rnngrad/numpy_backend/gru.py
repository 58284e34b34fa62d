"""GRU (PyTorch's equations and layout): forward and hand-written BPTT side by side.

    r = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))
    h_t = (1 - z) * n + z * h_{t-1}

Shapes: x (T, B, I); states h (T+1, B, H) with h_0 at index 0; ``weight_ih (3H, I)``,
``weight_hh (3H, H)`` (gates r, z, n), ``bias_ih``, ``bias_hh`` (3H,). The forward stores h,
the activated gates (T, B, 3H) and W_hn h_{t-1} + b_hn (T, B, H): five (T, B, H) arrays.

Example
-------
>>> import numpy as np
>>> p = {"weight_ih": np.ones((9, 2)), "weight_hh": np.zeros((9, 3)), "bias_ih": np.zeros(9),
...      "bias_hh": np.zeros(9)}
>>> h, cache = forward(p, np.zeros((5, 4, 2)))
>>> h.shape
(6, 4, 3)
"""

from __future__ import annotations

import numpy as np

from rnngrad.core.logscale import LOG10_2, LogScale, flushed_pow2
from rnngrad.core.shared import backward_chunk
from rnngrad.numpy_backend.readout import scored_steps
from rnngrad.numpy_backend.rnn import add_step_terms


def forward(params: dict, x: np.ndarray, h0: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """Run the GRU over x (T, B, I); returns states h (T+1, B, H) and the cache for backward."""
    W_hh, b_hh = params["weight_hh"], params["bias_hh"]
    T, B, _ = x.shape
    H = W_hh.shape[1]
    h = np.empty((T + 1, B, H), dtype=W_hh.dtype)
    h[0] = 0 if h0 is None else h0
    # r's and z's weights enter halved (exactly), so that one tanh gives tanh(a/2) for
    # sigmoid(a) = (1 + tanh(a/2)) / 2
    W_ih, b_ih, b_rz = params["weight_ih"].copy(), params["bias_ih"].copy(), 0.5 * b_hh[: 2 * H]
    W_ih[: 2 * H] *= 0.5
    b_ih[: 2 * H] *= 0.5
    W_hh_T = W_hh.T.copy()
    W_hh_T[:, : 2 * H] *= 0.5
    # input projections for all steps in one GEMM, then activated in place step by step;
    # b_hr and b_hz fold in, b_hn sits inside r * (...)
    gates = np.matmul(x, W_ih.T).astype(W_hh.dtype, copy=False)  # (T, B, 3H)
    gates += b_ih
    gates[..., : 2 * H] += b_rz
    hn = np.empty_like(h[1:])  # W_hn h_{t-1} + b_hn
    rz, r, z, n = gates[..., : 2 * H], gates[..., :H], gates[..., H : 2 * H], gates[..., 2 * H :]
    b_hn = b_hh[2 * H :]
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, T + 1):
            k = t - 1
            gh = h[k] @ W_hh_T  # one GEMM a step: (W_hr h + ...) / 2, (W_hz h + ...) / 2, W_hn h
            rz[k] += gh[:, : 2 * H]
            np.tanh(rz[k], out=rz[k])
            rz[k] *= 0.5
            rz[k] += 0.5  # r, z = sigmoid(a) = (1 + tanh(a/2)) / 2
            np.add(gh[:, 2 * H :], b_hn, out=hn[k])
            n[k] += r[k] * hn[k]
            np.tanh(n[k], out=n[k])
            np.subtract(h[k], n[k], out=h[t])  # h_t = n + z (h_{t-1} - n)
            h[t] *= z[k]
            h[t] += n[k]
    return h, {"h": h, "gates": gates, "hn": hn, "x": x}


def _chunk_factors(cache: dict, t0: int, t1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For steps t in (t0, t1], per unit of dL/dh_t: dL/d(n's pre-activation) (1 - z) tanh',
    dL/d(z's pre-activation) (h_{t-1} - n) z', and per unit of dL/d(n's pre-activation):
    dL/d(r's pre-activation) (W_hn h_{t-1} + b_hn) r'; each (n, B, H)."""
    gates, h_prev, hn = cache["gates"][t0:t1], cache["h"][t0:t1], cache["hn"][t0:t1]
    H = hn.shape[-1]
    r, z, n = gates[..., :H], gates[..., H : 2 * H], gates[..., 2 * H :]
    return (1 - z) * (1 - n * n), (h_prev - n) * z * (1 - z), hn * r * (1 - r)


def backward(params: dict, cache: dict, dh_direct: np.ndarray, norms: bool = True) -> dict:
    """BPTT. ``dh_direct[t]`` (B, H) is dL/dh_t through the readout alone, t = 0..T (a
    :class:`~rnngrad.numpy_backend.readout.DirectGrad`, or any array of shape (T+1, B, H)).

    Returns the gradients of the GRU's weights, ``dh0`` and, with ``norms`` (training passes
    False: it reads none of them), ``log10_grad_norm`` (T+1,) of the total dL/dh_t over batch
    and units and ``log10_weight_grad_norm`` (T,) of each step's term
    (dL/d(W_hh h_{t-1} + b_hh))^T h_{t-1} of dL/dW_hh, indexed by step t - 1.

    The chain rule of :func:`reference_backward` (step by step, the forward in reverse), with
    the factors of each chunk of steps multiplied out beforehand (:func:`_chunk_factors`), so
    that a step costs five products and one GEMM; a test holds the two equal. dL/dh_t is
    carried with a log-scale as in :func:`rnngrad.numpy_backend.rnn.backward`.
    """
    W_hh = params["weight_hh"]
    h, gates, x = cache["h"], cache["gates"], cache["x"]
    T, B, H = h.shape[0] - 1, h.shape[1], h.shape[2]
    grads = {k: np.zeros_like(params[k]) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    log10_grad_norm = np.empty(T + 1) if norms else None
    log10_weight_grad_norm = np.empty(T) if norms else None
    chunk = backward_chunk(3 * B * H * h.itemsize)  # the factors wn, wz, wr of a step
    dgh = np.empty((min(chunk, T), B, 3 * H), dtype=h.dtype)  # dL/d(W_hh h + b_hh)
    dan = np.empty((min(chunk, T), B, H), dtype=h.dtype)  # dL/d(n's pre-activation)
    scored = scored_steps(dh_direct)
    dh = dh_direct[T].copy()  # dL/dh_T = 2^E dh
    ls = LogScale(h.itemsize)
    ls.check([dh], log10_grad_norm, T)
    t = T
    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        while t > 0:  # chunks of steps (t0, t1], walked backwards
            t0 = max(t - chunk, 0)
            wn, wz, wr = _chunk_factors(cache, t0, t)
            while t > t0:  # the chunk's runs of steps (t, s1] that share one scale E
                s1, E = t, ls.E
                while t > t0:
                    k = t - 1 - t0
                    d, r, z = dgh[k], gates[t - 1, :, :H], gates[t - 1, :, H : 2 * H]
                    np.multiply(dh, wn[k], out=dan[k])  # backprop through (1 - z) n and tanh
                    np.multiply(dan[k], wr[k], out=d[:, :H])  # through r * (W_hn h + b_hn), r
                    np.multiply(dh, wz[k], out=d[:, H : 2 * H])  # through z and its sigmoid
                    np.multiply(dan[k], r, out=d[:, 2 * H :])  # through r * (W_hn h + b_hn)
                    dh = dh * z + d @ W_hh  # through z h_{t-1} and W_hh
                    t -= 1
                    if ls.step([dh], dh_direct, scored, t, log10_grad_norm, norms):
                        break  # dL/dh_t took a new scale: the run ends
                lo, hi = t - t0, s1 - t0  # the rows of steps (t, s1]
                d, dn, hp, xs = dgh[lo:hi], dan[lo:hi], h[t:s1], x[t:s1]
                gw = {k: np.zeros_like(v) for k, v in grads.items()} if E else grads
                gw["bias_hh"] += d.sum(axis=(0, 1))
                # the input projection's gradient: that of r and z, and dL/dn's pre-activation
                gw["weight_ih"][: 2 * H] += np.tensordot(d[..., : 2 * H], xs, axes=([0, 1], [0, 1]))
                gw["weight_ih"][2 * H :] += np.tensordot(dn, xs, axes=([0, 1], [0, 1]))
                gw["bias_ih"][: 2 * H] += d[..., : 2 * H].sum(axis=(0, 1))
                gw["bias_ih"][2 * H :] += dn.sum(axis=(0, 1))
                terms = add_step_terms(gw["weight_hh"], d, hp, norms)
                if norms:
                    log10_weight_grad_norm[t:s1] = np.log10(terms) + E * LOG10_2
                if E:
                    for k, v in gw.items():
                        grads[k] += flushed_pow2(v, E)
        flushed_pow2(dh, ls.E)  # dL/dh_0 at its true scale (0 or inf beyond the format)
    return {
        "grads": grads,
        "dh0": dh,
        "log10_grad_norm": log10_grad_norm,
        "log10_weight_grad_norm": log10_weight_grad_norm,
    }


def reference_backward(params: dict, cache: dict, dh_direct: np.ndarray) -> dict:
    """The BPTT of :func:`backward`, one chain-rule step a line: the forward in reverse.

    Returns the gradients of the GRU's weights and ``dh0``, as :func:`backward` does (a test
    holds the two equal).
    """
    W_hh = params["weight_hh"]
    h, gates, hn, x = cache["h"], cache["gates"], cache["hn"], cache["x"]
    T = h.shape[0] - 1
    grads = {k: np.zeros_like(params[k]) for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    dh = dh_direct[T].copy()  # dL/dh_T
    for t in range(T, 0, -1):
        r, z, n = np.split(gates[t - 1], 3, axis=-1)
        dn = dh * (1 - z)  # h_t = (1 - z) n + z h_{t-1}
        dz = dh * (h[t - 1] - n)
        dh_prev = dh * z
        dan = dn * (1 - n * n)  # n = tanh(a_n)
        dr = dan * hn[t - 1]  # a_n = W_in x_t + b_in + r (W_hn h_{t-1} + b_hn)
        dhn = dan * r
        dar = dr * r * (1 - r)  # r = sigmoid(a_r)
        daz = dz * z * (1 - z)  # z = sigmoid(a_z)
        dgh = np.concatenate([dar, daz, dhn], axis=-1)  # dL/d(W_hh h_{t-1} + b_hh)
        dgi = np.concatenate([dar, daz, dan], axis=-1)  # dL/d(W_ih x_t + b_ih)
        dh = dh_direct[t - 1] + dh_prev + dgh @ W_hh  # through W_hh h_{t-1}
        grads["weight_hh"] += dgh.T @ h[t - 1]
        grads["bias_hh"] += dgh.sum(axis=0)
        grads["weight_ih"] += dgi.T @ x[t - 1]
        grads["bias_ih"] += dgi.sum(axis=0)
    return {"grads": grads, "dh0": dh}


def step_jacobians(params: dict, cache: dict, b: int = 0) -> np.ndarray:
    """J_t = dh_t/dh_{t-1} for sequence b; (T, H, H).

    J_t = diag(z) + diag((h_{t-1} - n) z') W_hz
          + diag((1 - z) tanh') (diag(r) W_hn + diag((W_hn h_{t-1} + b_hn) r') W_hr)
    """
    W_hh = params["weight_hh"]
    T, H = cache["h"].shape[0] - 1, W_hh.shape[1]
    wn, wz, wr = (a[:, b] for a in _chunk_factors(cache, 0, T))  # (T, H) each
    r, z = cache["gates"][:, b, :H], cache["gates"][:, b, H : 2 * H]
    W = W_hh.reshape(3, H, H)
    J = (wn * wr)[:, :, None] * W[0] + wz[:, :, None] * W[1] + (wn * r)[:, :, None] * W[2]
    diag = np.arange(H)
    J[:, diag, diag] += z
    return J
