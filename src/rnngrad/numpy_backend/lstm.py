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
``weight_hh (4H, H)``, ``bias_ih``, ``bias_hh`` (4H,). The forward stores h (beside x), c,
tanh(c) and the activated gates, (units, batch) inside (see :func:`forward`): seven (T, B, H)
arrays in all.

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

from rnngrad.core.logscale import LOG10_2, LogScale, flushed_pow2
from rnngrad.core.shared import backward_chunk, step_term_norms
from rnngrad.numpy_backend.readout import scored_steps

# Inside forward and backward the gates run in the order i, f, o, g (PyTorch's i, f, g, o at
# these rows): the three sigmoids are then one block, (i, f) multiply (g, c_{t-1}) in one product,
# and (i', f', o') multiply (g, c_{t-1}, tanh c_t) in one product. The sigmoid gates' weights
# enter halved (exactly), so that one tanh over all four gates gives g and tanh(a/2) for
# sigmoid(a) = (1 + tanh(a/2)) / 2.
INTERNAL = [0, 1, 3, 2]  # PyTorch's gate index of each internal gate
PYTORCH = [0, 1, 3, 2]  # internal gate index of each of PyTorch's gates (the same swap)


def _internal(w: np.ndarray, halve: bool) -> np.ndarray:
    """Rows of a (4H, ...) weight or bias in the internal order, i, f, o halved with ``halve``;
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

    Inside, every step's arrays are (units, batch), so that each gate is one contiguous (H, B)
    block:

    - ``hx`` (T+1, H+I+1, B): step k holds [h_k; x_{k+1}; 1], so that one GEMM with
      [W_hh | W_ih | b] gives a step's pre-activations (and one GEMM a chunk of steps the
      gradients of all three in backward);
    - ``G`` (T+1, 6H, B): step k holds the activated gates of step k + 1 in the internal order
      i, f, o, g, then c_k, then tanh(c_{k+1}). (i, f) and (g, c_{t-1}) are then contiguous
      (2H, B) blocks: c_t = f c_{t-1} + i g is one product and one sum.

    h, c and ``gates`` (T, 4H, B) are views of them.
    """
    W_hh = params["weight_hh"]
    T, B, n_in = x.shape
    H = W_hh.shape[1]
    H2, H3, H4, H5 = 2 * H, 3 * H, 4 * H, 5 * H
    dtype = W_hh.dtype
    hx = np.empty((T + 1, H + n_in + 1, B), dtype=dtype)
    G = np.empty((T + 1, 6 * H, B), dtype=dtype)
    hx[:T, H : H + n_in] = x.transpose(0, 2, 1)
    hx[:T, H + n_in] = 1
    hx[T, H:] = 0  # step T has no input; its row is read by nothing but keeps hx defined
    if h0 is None:
        hx[0, :H], G[0, H4:H5] = 0, 0
    else:
        hx[0, :H], G[0, H4:H5] = h0[0].T, h0[1].T
    W = np.concatenate(  # (4H, H+I+1): [W_hh | W_ih | b_ih + b_hh], o, i, f halved
        [
            _internal(W_hh, halve=True),
            _internal(params["weight_ih"], halve=True),
            _internal(params["bias_ih"] + params["bias_hh"], halve=True)[:, None],
        ],
        axis=1,
    )
    half = np.array(0.5, dtype=dtype)
    products = np.empty((2 * H, B), dtype=dtype)  # i g and f c_{t-1}
    ig, fc = products[:H], products[H:]
    hT = hx[:, :H]
    # every elementwise step writes in place (no temporary), and np.dot with an output is the
    # cheapest GEMM call: a step costs 9 calls, at small sizes about 0.4 us each. The loop walks
    # views of every step's blocks at once (each step's block is contiguous): iterating over
    # them cost 15% less than slicing each step's row
    steps = zip(
        G[:T, :H4],  # the pre-activations, then the activated gates
        hx[:T],  # [h_{t-1}; x_t; 1]
        G[:T, :H3],  # the sigmoid gates i, f, o
        G[:T, :H2],  # (i, f)
        G[:T, H3:H5],  # (g, c_{t-1})
        G[1:, H4:H5],  # c_t
        G[:T, H5:],  # tanh(c_t)
        G[:T, H2:H3],  # o
        hT[1:],  # h_t
        strict=True,
    )
    dot, add, mul, tanh = np.dot, np.add, np.multiply, np.tanh
    with np.errstate(over="ignore", invalid="ignore"):
        for a, h, sig, i_f, g_c, c, tc, o, h_next in steps:
            dot(W, h, a)  # one GEMM a step: a/2 of i, f, o and a of g
            tanh(a, a)  # g, and tanh(a/2) of i, f, o
            mul(sig, half, sig)
            add(sig, half, sig)  # i, f, o = sigmoid(a) = (1 + tanh(a/2)) / 2
            mul(i_f, g_c, products)  # (i, f) * (g, c_{t-1})
            add(ig, fc, c)  # c_t = f c_{t-1} + i g
            tanh(c, tc)  # kept for backward
            mul(tc, o, h_next)  # h_t = o tanh(c_t)
    cT = G[:, H4:H5]
    h, c = hT.transpose(0, 2, 1), cT.transpose(0, 2, 1)
    return h, {"h": h, "c": c, "hx": hx, "G": G, "gates": G[:T, :H4], "x": x}


def _chunk_factors(cache: dict, t0: int, t1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For steps t in (t0, t1], each (n, H, B) and contiguous over the chunk's steps: dtc =
    o (1 - tanh^2 c_t) (dh_t/dc_t within the step); F (4, n, H, B), per internal gate the
    factor that turns dL/dc_t (for i, f, g) or dL/dh_t (for o) into dL/d(its pre-activation):
    g i', c_{t-1} f', tanh(c_t) o', i g'; and the forget gate f.

    The chunk's rows of G are copied gate-major first: an elementwise pass over a strided view
    (a block of every step) cost NumPy 3x the same pass over a contiguous array."""
    rows = cache["G"][t0:t1]
    n, H6, B = rows.shape
    H = H6 // 6
    Gc = np.empty((6, n, H, B), dtype=rows.dtype)  # i, f, o, g, c_{t-1}, tanh c_t
    np.copyto(Gc.transpose(1, 0, 2, 3), rows.reshape(n, 6, H, B))
    i, o, g, tc = Gc[0], Gc[2], Gc[3], Gc[5]
    one = np.array(1, dtype=rows.dtype)
    F = np.empty((4, n, H, B), dtype=rows.dtype)
    sig = F[:3]
    np.subtract(one, Gc[:3], sig)
    np.multiply(sig, Gc[:3], sig)  # the sigmoids' derivative s (1 - s) ...
    np.multiply(sig, Gc[3:], sig)  # ... times g, c_{t-1}, tanh c_t
    np.multiply(g, g, F[3])
    np.subtract(one, F[3], F[3])  # tanh' = 1 - g^2
    np.multiply(F[3], i, F[3])
    dtc = np.multiply(tc, tc)
    np.subtract(one, dtc, dtc)
    np.multiply(dtc, o, dtc)
    return dtc, F, Gc[1]


def backward(params: dict, cache: dict, dh_direct: np.ndarray, norms: bool = True) -> dict:
    """BPTT. ``dh_direct[t]`` (B, H) is dL/dh_t through the readout alone, t = 0..T (a
    :class:`~rnngrad.numpy_backend.readout.DirectGrad`, or any array of shape (T+1, B, H)).

    Returns the gradients of the LSTM's weights, ``dh0`` = (dL/dh_0, dL/dc_0) and, with
    ``norms`` (training passes False: it reads none of them), ``log10_grad_norm`` (T+1,) =
    log10 ||(dL/dh_t, dL/dc_t)|| over batch and units and ``log10_weight_grad_norm`` (T,) of
    each step's term (dL/d gates_t)^T h_{t-1} of dL/dW_hh, indexed by step t - 1.

    The chain rule of :func:`reference_backward` (step by step, the forward in reverse), in
    the (units, batch) layout of :func:`forward` and with the factors of each chunk of steps
    multiplied out beforehand (:func:`_chunk_factors`), so that a step costs seven elementwise
    calls on contiguous (H, B) blocks, in place, and one GEMM; a test holds the two equal.
    (dL/dh_t, dL/dc_t) is carried with a log-scale as in
    :func:`rnngrad.numpy_backend.rnn.backward`.
    """
    hx, x = cache["hx"], cache["x"]
    T, (K, B) = hx.shape[0] - 1, hx.shape[1:]
    H = cache["G"].shape[1] // 6
    n_in = x.shape[2]
    W_T = np.ascontiguousarray(_internal(params["weight_hh"], halve=False).T)  # (H, 4H)
    dW = np.zeros((4 * H, K), dtype=hx.dtype)  # [dW_hh | dW_ih | db], internal order
    log10_grad_norm = np.empty(T + 1) if norms else None
    log10_weight_grad_norm = np.empty(T) if norms else None
    chunk = backward_chunk(4 * H * B * hx.itemsize)  # the factors F of a step: (4, H, B)
    n_max = min(chunk, T)
    da = np.empty((n_max, 4 * H, B), dtype=hx.dtype)  # dL/d gates (pre-activation), internal
    da4 = da.reshape(n_max, 4, H, B)
    scored = scored_steps(dh_direct)
    dh = np.ascontiguousarray(dh_direct[T].T)  # dL/dh_T, (H, B); (dL/dh, dL/dc) = 2^E (dh, dc)
    dc = np.zeros_like(dh)  # dL/dc_T: nothing after step T reads c_T
    tmp = np.empty_like(dh)
    ls = LogScale(hx.itemsize)
    ls.check([dh, dc], log10_grad_norm, T)
    dot, add, mul = np.dot, np.add, np.multiply
    t = T
    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        while t > 0:  # chunks of steps (t0, t1], walked backwards
            t1 = t
            t0 = max(t1 - chunk, 0)
            n = t1 - t0
            dtc, (Fi, Ff, Fo, Fg), f = _chunk_factors(cache, t0, t1)
            back = slice(n - 1, None, -1)  # the chunk's steps, last first
            steps = zip(
                *(a[back] for a in (dtc, Fo, Fi, Ff, Fg, f, da)),
                *(da4[back, j] for j in range(4)),
                strict=True,
            )
            while t > t0:  # the chunk's runs of steps (t, s1] that share one scale E
                s1, E = t, ls.E
                for dtc_t, Fo_t, Fi_t, Ff_t, Fg_t, f_t, da_t, di, df, do, dg in steps:
                    mul(dh, dtc_t, tmp)
                    add(dc, tmp, dc)  # through h_t = o tanh(c_t)
                    mul(dh, Fo_t, do)  # dL/d o's pre-activation
                    mul(dc, Fi_t, di)  # i's, f's and g's
                    mul(dc, Ff_t, df)
                    mul(dc, Fg_t, dg)
                    mul(dc, f_t, dc)  # dL/dc_{t-1} through c_t = f c_{t-1} + i g
                    dot(W_T, da_t, dh)  # through W_hh
                    t -= 1
                    if ls.step([dh, dc], dh_direct, scored, t, log10_grad_norm, norms, True):
                        break  # (dL/dh_t, dL/dc_t) took a new scale: the run ends
                d = da[t - t0 : s1 - t0]  # dL/d gates_t (4H, B) for t in (t, s1]
                if norms:
                    terms = step_term_norms(d.transpose(0, 2, 1), cache["h"][t:s1])
                    log10_weight_grad_norm[t:s1] = np.log10(terms) + E * LOG10_2
                # one GEMM on copies (4H, steps x batch) of dL/d gates_t and
                # (H+I+1, steps x batch) of [h_{t-1}; x_t; 1]
                m = s1 - t
                run_dW = d.transpose(1, 0, 2).reshape(4 * H, m * B) @ (
                    hx[t:s1].transpose(1, 0, 2).reshape(K, m * B).T
                )
                dW += flushed_pow2(run_dW, E)
        # (dL/dh_0, dL/dc_0) at their true scale (0 or inf beyond the format)
        flushed_pow2(dh, ls.E)
        flushed_pow2(dc, ls.E)
    grads = {
        "weight_hh": _pytorch(dW[:, :H]),
        "weight_ih": _pytorch(dW[:, H : H + n_in]),
        "bias_ih": _pytorch(dW[:, H + n_in]),
    }
    grads["bias_hh"] = grads["bias_ih"].copy()
    return {
        "grads": grads,
        "dh0": (np.ascontiguousarray(dh.T), np.ascontiguousarray(dc.T)),
        "log10_grad_norm": log10_grad_norm,
        "log10_weight_grad_norm": log10_weight_grad_norm,
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
        i, f, o, g = (v.T for v in np.split(gates[t - 1], 4))  # the internal order, (B, H)
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
    dtc, F, f = (a[..., b] for a in _chunk_factors(cache, 0, T))  # (T, H), (4, T, H), (T, H)
    W = _internal(params["weight_hh"], halve=False).reshape(4, H, H)  # W_i, W_f, W_o, W_g
    dc_dh = F[0][..., None] * W[0] + F[1][..., None] * W[1] + F[3][..., None] * W[3]
    J = np.zeros((T, 2 * H, 2 * H), dtype=W.dtype)
    J[:, :H, :H] = F[2][..., None] * W[2] + dtc[:, :, None] * dc_dh
    J[:, H:, :H] = dc_dh
    diag = np.arange(H)
    J[:, diag, H + diag] = dtc * f
    J[:, H + diag, H + diag] = f
    return J
