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
gates, (units, batch) inside (see :func:`forward`): six (T, B, H) arrays in all; tanh(c_t) is
recomputed in backward.

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

from rnngrad.models import backward_chunk, step_term_norms
from rnngrad.numpy_backend.readout import DirectGrad

# Inside forward and backward the gates run in the order o, i, f, g (PyTorch's i, f, g, o at
# these rows): the three sigmoids are then one block, and so are the three gates whose
# gradients are products with dL/dc_t. The sigmoid gates' weights enter halved (exactly), so
# that one tanh over all four gates gives g and tanh(a/2) for sigmoid(a) = (1 + tanh(a/2)) / 2.
INTERNAL = [3, 0, 1, 2]  # PyTorch's gate index of each internal gate
PYTORCH = [1, 2, 3, 0]  # internal gate index of each of PyTorch's gates


def _internal(w: np.ndarray, halve: bool) -> np.ndarray:
    """Rows of a (4H, ...) weight or bias in the internal order, o, i, f halved with ``halve``;
    a new array."""
    H = w.shape[0] // 4
    out = w.reshape(4, H, *w.shape[1:])[INTERNAL]
    if halve:
        out[:3] *= 0.5
    return out.reshape(w.shape)


def _pytorch(w: np.ndarray) -> np.ndarray:
    """Rows of a (4H, ...) gradient in the internal order back in PyTorch's."""
    H = w.shape[0] // 4
    return w.reshape(4, H, *w.shape[1:])[PYTORCH].reshape(w.shape)


def forward(
    params: dict, x: np.ndarray, h0: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, dict]:
    """Run the LSTM over x (T, B, I) from h0 = (h_0, c_0) (zeros when None); returns the
    states h (T+1, B, H) and the cache for backward (with c (T+1, B, H)).

    Inside, every step's arrays are (units, batch): the states hT (T+1, H, B) and one array
    G (T+1, 5H, B) whose step k holds the activated gates of step k + 1 in the internal order
    o, i, f, g and then c_k, so that each gate is one contiguous (H, B) block, and (i, f) and
    (g, c_{t-1}) are two contiguous (2H, B) blocks: c_t = f c_{t-1} + i g is one product and
    one sum. h and c are transposed views of hT and G.
    """
    W_hh = params["weight_hh"]
    T, B, _ = x.shape
    H = W_hh.shape[1]
    H3, H4 = 3 * H, 4 * H
    dtype = W_hh.dtype
    hT = np.empty((T + 1, H, B), dtype=dtype)
    G = np.empty((T + 1, 5 * H, B), dtype=dtype)
    if h0 is None:
        hT[0], G[0, H4:] = 0, 0
    else:
        hT[0], G[0, H4:] = h0[0].T, h0[1].T
    # input projections for all steps in one GEMM (T, 4H, B), added to each step's GEMM
    W_ih = _internal(params["weight_ih"], halve=True)
    xp = np.matmul(W_ih, x.transpose(0, 2, 1)).astype(dtype, copy=False)
    xp += _internal(params["bias_ih"] + params["bias_hh"], halve=True)[:, None]
    W = _internal(W_hh, halve=True)  # (4H, H)
    half = np.array(0.5, dtype=dtype)
    products = np.empty((2 * H, B), dtype=dtype)  # i g and f c_{t-1}
    ig, fc = products[:H], products[H:]
    # every elementwise step writes in place (no temporary), and np.dot with an output is the
    # cheapest GEMM call: a step costs 9 calls, at small sizes about 0.4 us each
    dot, add, mul, tanh = np.dot, np.add, np.multiply, np.tanh
    with np.errstate(over="ignore", invalid="ignore"):
        for g, p, h, h_next, g_next in zip(G[:T], xp, hT[:T], hT[1:], G[1:], strict=True):
            a = g[:H4]
            dot(W, h, a)  # one GEMM a step: a/2 of o, i, f and a of g
            add(a, p, a)
            tanh(a, a)  # g, and tanh(a/2) of o, i, f
            sig = g[:H3]
            mul(sig, half, sig)
            add(sig, half, sig)  # o, i, f = sigmoid(a) = (1 + tanh(a/2)) / 2
            mul(g[H:H3], g[H3:], products)  # (i, f) * (g, c_{t-1})
            c = g_next[H4:]
            add(ig, fc, c)  # c_t = f c_{t-1} + i g
            tanh(c, h_next)
            mul(h_next, g[:H], h_next)  # h_t = o tanh(c_t)
    cT = G[:, H4:]
    h, c = hT.transpose(0, 2, 1), cT.transpose(0, 2, 1)
    return h, {"h": h, "c": c, "hT": hT, "cT": cT, "gates": G[:T, :H4], "x": x}


def _chunk_factors(cache: dict, t0: int, t1: int) -> tuple[np.ndarray, np.ndarray]:
    """For steps t in (t0, t1]: dtc = o (1 - tanh^2 c_t) (dh_t/dc_t within the step), (n, H, B),
    and F (n, 4, H, B), per internal gate the factor that turns dL/dh_t (for o) or dL/dc_t (for
    i, f, g) into dL/d(its pre-activation): tanh(c_t) o', g i', c_{t-1} f', i g'."""
    a = cache["gates"][t0:t1]
    n, G, B = a.shape
    H = G // 4
    a = a.reshape(n, 4, H, B)
    o, i, g = a[:, 0], a[:, 1], a[:, 3]
    tc = np.tanh(cache["cT"][t0 + 1 : t1 + 1])
    dtc = tc * tc
    np.subtract(1, dtc, dtc)
    dtc *= o
    F = np.subtract(1, a)
    F[:, :3] *= a[:, :3]  # the sigmoids' derivative s (1 - s)
    F[:, 0] *= tc
    F[:, 1] *= g
    F[:, 2] *= cache["cT"][t0:t1]
    np.multiply(g, g, F[:, 3])
    np.subtract(1, F[:, 3], F[:, 3])  # tanh' = 1 - g^2
    F[:, 3] *= i
    return dtc, F


def backward(params: dict, cache: dict, dh_direct: np.ndarray, norms: bool = True) -> dict:
    """BPTT. ``dh_direct[t]`` (B, H) is dL/dh_t through the readout alone, t = 0..T (a
    :class:`~rnngrad.numpy_backend.readout.DirectGrad`, or any array of shape (T+1, B, H)).

    Returns the gradients of the LSTM's weights, ``dh0`` = (dL/dh_0, dL/dc_0) and, with
    ``norms`` (training passes False: it reads none of them), ``grad_norm`` (T+1,) =
    ||(dL/dh_t, dL/dc_t)|| over batch and units and ``weight_grad_norm`` (T,) of each step's
    term (dL/d gates_t)^T h_{t-1} of dL/dW_hh, indexed by step t - 1.

    The chain rule of :func:`reference_backward` (step by step, the forward in reverse), in
    the (units, batch) layout of :func:`forward` and with the factors of each chunk of steps
    multiplied out beforehand (:func:`_chunk_factors`), so that a step costs five elementwise
    calls, in place, and one GEMM; a test holds the two equal.
    """
    hT, gates, x = cache["hT"], cache["gates"], cache["x"]
    T, H, B = hT.shape[0] - 1, hT.shape[1], hT.shape[2]
    W_T = np.ascontiguousarray(_internal(params["weight_hh"], halve=False).T)  # (H, 4H)
    grads = {k: np.zeros_like(params[k]) for k in ("weight_ih", "weight_hh", "bias_ih")}
    grad_norm = np.empty(T + 1) if norms else None
    weight_grad_norm = np.empty(T) if norms else None
    chunk = backward_chunk(4 * H * B * hT.itemsize)  # the factors F of a step: (4, H, B)
    n_max = min(chunk, T)
    da = np.empty((n_max, 4 * H, B), dtype=hT.dtype)  # dL/d gates (pre-activation), internal
    da4 = da.reshape(n_max, 4, H, B)
    scored = set(dh_direct.steps.tolist()) if isinstance(dh_direct, DirectGrad) else None
    dh = np.ascontiguousarray(dh_direct[T].T)  # dL/dh_T, (H, B)
    dc = np.zeros_like(dh)  # dL/dc_T: nothing after step T reads c_T
    tmp = np.empty_like(dh)
    f = gates[:, 2 * H : 3 * H]
    dot, add, mul = np.dot, np.add, np.multiply
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for t1 in range(T, 0, -chunk):  # chunks of steps (t0, t1], walked backwards
            t0 = max(t1 - chunk, 0)
            dtc, F = _chunk_factors(cache, t0, t1)
            for t in range(t1, t0, -1):
                k = t - 1 - t0
                if norms:
                    grad_norm[t] = np.sqrt(np.vdot(dh, dh) + np.vdot(dc, dc))
                mul(dh, dtc[k], tmp)
                add(dc, tmp, dc)  # through h_t = o tanh(c_t)
                Fk, dk = F[k], da4[k]
                mul(dh, Fk[0], dk[0])  # dL/d o's pre-activation
                mul(dc, Fk[1:], dk[1:])  # i's, f's and g's
                mul(dc, f[t - 1], dc)  # dL/dc_{t-1} through c_t = f c_{t-1} + i g
                dot(W_T, da[k], dh)  # through W_hh
                if scored is None or t - 1 in scored:
                    dh += dh_direct[t - 1].T
            n = t1 - t0
            d = da[:n]  # dL/d gates_t (4H, B) for t in (t0, t1]
            if norms:
                weight_grad_norm[t0:t1] = step_term_norms(d.transpose(0, 2, 1), cache["h"][t0:t1])
            # copies (4H, steps x batch) and (H, steps x batch) of dL/d gates_t and h_{t-1}
            d = d.transpose(1, 0, 2).reshape(4 * H, n * B)
            hp = hT[t0:t1].transpose(1, 0, 2).reshape(H, n * B)
            grads["weight_ih"] += d @ x[t0:t1].reshape(n * B, -1)
            grads["weight_hh"] += d @ hp.T
            grads["bias_ih"] += d.sum(axis=1)
        if norms:
            grad_norm[0] = np.sqrt(np.vdot(dh, dh) + np.vdot(dc, dc))
    grads = {k: _pytorch(v) for k, v in grads.items()}
    grads["bias_hh"] = grads["bias_ih"].copy()
    return {
        "grads": grads,
        "dh0": (np.ascontiguousarray(dh.T), np.ascontiguousarray(dc.T)),
        "grad_norm": grad_norm,
        "weight_grad_norm": weight_grad_norm,
    }


def reference_backward(params: dict, cache: dict, dh_direct: np.ndarray) -> dict:
    """The BPTT of :func:`backward`, one chain-rule step a line: the forward in reverse.

    Returns the gradients of the LSTM's weights and ``dh0`` = (dL/dh_0, dL/dc_0), as
    :func:`backward` does (a test holds the two equal).
    """
    h, c, gates, x = cache["h"], cache["c"], cache["gates"], cache["x"]
    T = h.shape[0] - 1
    W_hh = params["weight_hh"]
    grads = {k: np.zeros_like(params[k]) for k in ("weight_ih", "weight_hh", "bias_ih")}
    dh = dh_direct[T].copy()  # dL/dh_T
    dc = np.zeros_like(dh)  # dL/dc_T: nothing after step T reads c_T
    for t in range(T, 0, -1):
        o, i, f, g = (v.T for v in np.split(gates[t - 1], 4))  # the internal order, (B, H)
        tc = np.tanh(c[t])
        do = dh * tc  # h_t = o tanh(c_t)
        dc = dc + dh * o * (1 - tc * tc)  # ... and through tanh(c_t)
        di, df, dg = dc * g, dc * c[t - 1], dc * i  # c_t = f c_{t-1} + i g
        # through the gates' sigmoid and tanh, in PyTorch's order i, f, g, o
        d = np.concatenate(
            [di * i * (1 - i), df * f * (1 - f), dg * (1 - g * g), do * o * (1 - o)], -1
        )
        dc = dc * f  # dL/dc_{t-1} through c_t = f c_{t-1}
        dh = dh_direct[t - 1] + d @ W_hh  # the pre-activation W_ih x_t + W_hh h_{t-1} + b
        grads["weight_ih"] += d.T @ x[t - 1]
        grads["weight_hh"] += d.T @ h[t - 1]
        grads["bias_ih"] += d.sum(axis=0)
    grads["bias_hh"] = grads["bias_ih"].copy()
    return {"grads": grads, "dh0": (dh, dc)}


def step_jacobians(params: dict, cache: dict, b: int = 0) -> np.ndarray:
    """J_t = d(h_t, c_t)/d(h_{t-1}, c_{t-1}) for sequence b; (T, 2H, 2H), state order (h, c).

    dc_t/dh_{t-1} = diag(g i') W_i + diag(c_{t-1} f') W_f + diag(i g') W_g,  dc_t/dc_{t-1} = diag(f)
    dh_t/dh_{t-1} = diag(tanh(c_t) o') W_o + diag(o tanh'(c_t)) dc_t/dh_{t-1}
    dh_t/dc_{t-1} = diag(o tanh'(c_t) f)
    """
    T, H = cache["h"].shape[0] - 1, params["weight_hh"].shape[1]
    dtc, F = (a[..., b] for a in _chunk_factors(cache, 0, T))  # (T, H), (T, 4, H)
    f = cache["gates"][:, 2 * H : 3 * H, b]
    W = _internal(params["weight_hh"], halve=False).reshape(4, H, H)  # W_o, W_i, W_f, W_g
    dc_dh = F[:, 1, :, None] * W[1] + F[:, 2, :, None] * W[2] + F[:, 3, :, None] * W[3]
    J = np.zeros((T, 2 * H, 2 * H), dtype=W.dtype)
    J[:, :H, :H] = F[:, 0, :, None] * W[0] + dtc[:, :, None] * dc_dh
    J[:, H:, :H] = dc_dh
    diag = np.arange(H)
    J[:, diag, H + diag] = dtc * f
    J[:, H + diag, H + diag] = f
    return J
