"""IndRNN (Li, Li, Cook, Zhu and Gao 2018): forward and hand-written BPTT side by side.

    a^l_t = W^l x^l_t + b^l + u^l * h^l_{t-1}        (x^0_t = x_t, x^l_t = h^{l-1}_t)
    h^l_t = relu(a^l_t),                              l = 0..L-1

Each unit sees only its own past, through the scalar u_n: within a layer the step Jacobian is
diag(u * relu'(a_t)), so a unit's gradient through time is a product of scalars. The state is
that of every layer, s_t = (h^0_t, ..., h^{L-1}_t) (B, L*H), layer-major; the readout reads the
last layer. Shapes: x (T, B, I); ``weight_ih (H, I)``, ``weight_ih_l{k} (H, H)`` for k >= 1,
``weight_hh (L, H)`` (u), ``bias_ih``, ``bias_hh (L, H)``.

Example
-------
>>> import numpy as np
>>> p = {"weight_ih": np.ones((3, 2)), "weight_hh": np.ones((1, 3)), "bias_ih": np.zeros((1, 3)),
...      "bias_hh": np.zeros((1, 3))}
>>> h, cache = forward(p, np.ones((5, 4, 2)))
>>> h.shape, float(h[5, 0, 0])
((6, 4, 3), 10.0)
"""

from __future__ import annotations

import numpy as np

from rnngrad.core.logscale import log10_unscaled


def input_weights(params: dict) -> list[np.ndarray]:
    """W^l for l = 0..L-1: ``weight_ih``, then ``weight_ih_l1``, ..."""
    L = params["weight_hh"].shape[0]
    return [params["weight_ih"]] + [params[f"weight_ih_l{k}"] for k in range(1, L)]


def forward(params: dict, x: np.ndarray, h0: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """Run the IndRNN over x (T, B, I); returns the last layer's states (T+1, B, H) and the
    cache, whose ``state`` (T+1, B, L*H) holds every layer's (``h0`` is such a state, (B, L*H))."""
    u, b = params["weight_hh"], params["bias_ih"] + params["bias_hh"]
    L, H = u.shape
    T, B, _ = x.shape
    s = np.empty((T + 1, B, L, H), dtype=u.dtype)
    s[0] = 0 if h0 is None else h0.reshape(B, L, H)
    inp = x
    with np.errstate(over="ignore", invalid="ignore"):
        for l, W in enumerate(input_weights(params)):
            h = s[:, :, l]  # (T+1, B, H), a view
            np.matmul(inp, W.T, out=h[1:])  # W^l x^l_t for every step in one GEMM
            h[1:] += b[l]
            for t in range(1, T + 1):
                a = h[t]
                a += u[l] * h[t - 1]  # a^l_t
                np.maximum(a, 0, out=a)  # relu
            inp = h[1:]
    state = s.reshape(T + 1, B, L * H)
    return s[:, :, -1], {"state": state, "s": s, "x": x}


def backward(params: dict, cache: dict, dh_direct, norms: bool = True) -> dict:
    """BPTT. ``dh_direct[t]`` (B, H) is dL/dh^{L-1}_t through the readout alone, t = 0..T.

    Returns the gradients, ``dh0`` = dL/ds_0 (B, L*H) and, with ``norms``, ``grad_norm`` (T+1,)
    of dL/ds_t (s_t as the input of the steps after t: every layer's h_t, each held fixed in
    the others) and ``weight_grad_norm`` (T,) of each step's term sum_b dL/da_t * s_{t-1} of
    dL/du, over all layers, indexed by step t - 1.

    The layers are walked top down; within layer l, dL/dh^l_t = (what reads it from above
    and from the readout) + u^l dL/da^l_{t+1}, and the state's part of it is the second term
    alone (and the readout's, on the last layer).
    """
    u = params["weight_hh"]
    s, x = cache["s"], cache["x"]
    T1, B, L, H = s.shape
    T = T1 - 1
    Ws = input_weights(params)
    grads = {k: np.zeros_like(v) for k, v in params.items() if k not in ("weight_out", "bias_out")}
    ds = np.zeros_like(s)  # dL/ds_t: the state's part, layer by layer
    da = np.empty((T, B, H), dtype=s.dtype)  # dL/da^l_t of the current layer
    terms = np.empty((T, L, H)) if norms else None  # steps' terms of dL/du
    direct = np.stack([dh_direct[t] for t in range(T + 1)]).astype(s.dtype, copy=False)
    from_above = direct  # dL/dh^l_t through what reads it from above: the readout, W^{l+1}
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for l in range(L - 1, -1, -1):
            h = s[:, :, l]
            active = h[1:] > 0  # relu'(a^l_t)
            dh_next = np.zeros((B, H), dtype=s.dtype)  # u^l dL/da^l_{t+1}
            for t in range(T, 0, -1):
                ds[t, :, l] = dh_next
                dh = from_above[t] + dh_next  # total dL/dh^l_t
                np.multiply(dh, active[t - 1], out=da[t - 1])  # backprop through relu
                dh_next = u[l] * da[t - 1]  # backprop through u^l h^l_{t-1}
            ds[0, :, l] = dh_next
            inp = x if l == 0 else s[1:, :, l - 1]
            W_key = "weight_ih" if l == 0 else f"weight_ih_l{l}"
            grads[W_key] += np.tensordot(da, inp, axes=([0, 1], [0, 1]))
            grads["bias_ih"][l] = da.sum(axis=(0, 1))
            grads["weight_hh"][l] = np.einsum("tbh,tbh->h", da, h[:-1])
            if l > 0:  # what layer l reads from layer l - 1: W^l^T dL/da^l_t at t >= 1
                from_above = np.zeros((T + 1, B, H), dtype=s.dtype)
                np.matmul(da, Ws[l], out=from_above[1:])
            if norms:
                terms[:, l] = np.einsum("tbh,tbh->th", da, h[:-1])
        ds[:, :, -1] += direct  # the readout reads the last layer's state directly
    grads["bias_hh"] = grads["bias_ih"].copy()
    ds_flat = ds.reshape(T + 1, B, L * H)
    grad_norm = weight_grad_norm = None
    if norms:
        grad_norm = np.sqrt(np.einsum("tbs,tbs->t", ds_flat, ds_flat))
        weight_grad_norm = np.sqrt(np.einsum("tlh,tlh->t", terms, terms))
    # not yet carried with a log-scale (rnn.py's LogScale): exact where the norms stay in range
    return {"grads": grads, "dh0": ds_flat[0], **log10_unscaled(grad_norm, weight_grad_norm)}


def step_jacobians(params: dict, cache: dict, b: int = 0) -> np.ndarray:
    """J_t = ds_t/ds_{t-1} for sequence b, (T, L*H, L*H): block lower triangular, with
    diag(relu'(a^l_t) u^l) on the diagonal and diag(relu'(a^l_t)) W^l (row block l - 1) below."""
    u, s = params["weight_hh"], cache["s"]
    L, H = u.shape
    T = s.shape[0] - 1
    Ws = input_weights(params)
    J = np.zeros((T, L * H, L * H), dtype=s.dtype)
    active = (s[1:, b] > 0).astype(s.dtype)  # (T, L, H)
    for l in range(L):
        rows = slice(l * H, (l + 1) * H)
        if l > 0:  # d h^l_t / d s_{t-1} through h^{l-1}_t
            below = J[:, (l - 1) * H : l * H, : l * H]
            J[:, rows, : l * H] = active[:, l, :, None] * (Ws[l] @ below)
        idx = np.arange(l * H, (l + 1) * H)
        J[:, idx, idx] = active[:, l] * u[l]
    return J
