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

from rnngrad.core.logscale import LOG10_2, LogScale, flushed_pow2, runs
from rnngrad.numpy_backend.readout import scored_steps


def input_weights(params: dict) -> list[np.ndarray]:
    """W^l for l = 0..L-1: ``weight_ih``, then ``weight_ih_l1``, ..."""
    L = params["weight_hh"].shape[0]
    return [params["weight_ih"]] + [params[f"weight_ih_l{k}"] for k in range(1, L)]


class LayerStates:
    """Every layer's state at step t as one (B, L*H) array, layer-major, read from the forward's
    store s (L, T+1, B, H): ``states[t]`` (a copy). A pass keeps each layer's states contiguous,
    so that its steps and its weight gradients read and write whole blocks."""

    __slots__ = ("s",)

    def __init__(self, s: np.ndarray) -> None:
        self.s = s

    def __getitem__(self, t: int) -> np.ndarray:
        return np.concatenate(list(self.s[:, t]), axis=-1)


def forward(params: dict, x: np.ndarray, h0: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """Run the IndRNN over x (T, B, I); returns the last layer's states (T+1, B, H) and the
    cache, whose ``state[t]`` (B, L*H) holds every layer's at step t (:class:`LayerStates`;
    ``h0`` is such a state)."""
    u, b = params["weight_hh"], params["bias_ih"] + params["bias_hh"]
    L, H = u.shape
    T, B, _ = x.shape
    s = np.empty((L, T + 1, B, H), dtype=u.dtype)  # layer-major: each layer's steps contiguous
    s[:, 0] = 0 if h0 is None else h0.reshape(B, L, H).transpose(1, 0, 2)
    inp = x
    with np.errstate(over="ignore", invalid="ignore"):
        for l, W in enumerate(input_weights(params)):
            h, ul = s[l], u[l]
            np.matmul(inp, W.T, out=h[1:])  # W^l x^l_t for every step in one GEMM
            h[1:] += b[l]
            tmp = np.empty_like(h[0])
            for t in range(1, T + 1):
                a = h[t]
                np.multiply(h[t - 1], ul, out=tmp)
                a += tmp  # a^l_t
                np.maximum(a, 0.0, out=a)  # relu
            inp = h[1:]
    return s[-1], {"state": LayerStates(s), "s": s, "x": x}


def backward(params: dict, cache: dict, dh_direct, norms: bool = True) -> dict:
    """BPTT. ``dh_direct[t]`` (B, H) is dL/dh^{L-1}_t through the readout alone, t = 0..T.

    Returns the gradients, ``dh0`` = dL/ds_0 (B, L*H) and, with ``norms``,
    ``log10_grad_norm`` (T+1,) of dL/ds_t (s_t as the input of the steps after t: every
    layer's h_t, each held fixed in the others) and ``log10_weight_grad_norm`` (T,) of each
    step's term sum_b dL/da_t * s_{t-1} of dL/du, over all layers, indexed by step t - 1.

    Step by step, the layers top down: dL/dh^l_t = (what reads it from above, W^{l+1}^T
    dL/da^{l+1}_t, or the readout's on the last layer) + u^l dL/da^l_{t+1}, the second term
    being the state's part. dL/ds_t is carried with a log-scale as in
    :func:`rnngrad.numpy_backend.rnn.backward` (every layer's part at one scale); dL/da_t is
    kept in its step's units, and the weight gradients are summed run by run
    (:func:`~rnngrad.core.logscale.runs`).
    """
    u = params["weight_hh"]
    s, x = cache["s"], cache["x"]
    L, T1, B, H = s.shape
    T = T1 - 1
    Ws = input_weights(params)
    log10_grad_norm = np.empty(T + 1) if norms else None
    log10_weight_grad_norm = np.empty(T) if norms else None
    active = s[:, 1:] > 0  # relu'(a^l_t), (L, T, B, H)
    da = np.empty_like(s[:, 1:])  # dL/da^l_t = 2^E[t-1] da[l, t-1]
    E = np.empty(T, dtype=np.int64)
    scored = scored_steps(dh_direct)
    # dL/ds^l_t = 2^ls.E ds[l]; the last layer's holds the readout's term, the parts' first
    ds = [np.zeros((B, H), dtype=s.dtype) for _ in range(L - 1)] + [dh_direct[T].copy()]
    parts = ds[::-1]
    ls = LogScale(s.itemsize)
    ls.check(parts, log10_grad_norm, T)
    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        for t in range(T, 0, -1):
            E[t - 1] = ls.E
            for l in range(L - 1, -1, -1):
                if l < L - 1:  # what layer l + 1 read from h^l_t
                    ds[l] += da[l + 1, t - 1] @ Ws[l + 1]
                np.multiply(ds[l], active[l, t - 1], out=da[l, t - 1])  # through relu
            for l in range(L):  # through u^l h^l_{t-1}
                np.multiply(da[l, t - 1], u[l], out=ds[l])
            ls.step(parts, dh_direct, scored, t - 1, log10_grad_norm, norms)
        dh0 = flushed_pow2(np.concatenate(ds, axis=-1), ls.E)  # dL/ds_0 at its true scale
        keys = [k for k in params if k not in ("weight_out", "bias_out")]
        grads = {k: np.zeros_like(params[k]) for k in keys}
        for lo, hi, e in runs(E):  # the steps' terms, summed run by run in the run's units
            run = grads if e == 0 else {k: np.zeros_like(v) for k, v in grads.items()}
            d = da[:, lo:hi]  # (L, n, B, H)
            for l in range(L):
                inp = x[lo:hi] if l == 0 else s[l - 1, lo + 1 : hi + 1]
                W_key = "weight_ih" if l == 0 else f"weight_ih_l{l}"
                run[W_key] += np.tensordot(d[l], inp, axes=([0, 1], [0, 1]))
            run["bias_ih"] += d.sum(axis=(1, 2))
            terms = np.einsum("lnbh,lnbh->nlh", d, s[:, lo:hi])  # steps' terms of dL/du
            run["weight_hh"] += terms.sum(axis=0)
            if norms:
                sq = np.einsum("tlh,tlh->t", terms, terms, dtype=np.float64)
                log10_weight_grad_norm[lo:hi] = 0.5 * np.log10(sq, dtype=np.float64) + e * LOG10_2
            if e:
                for k, v in run.items():
                    grads[k] += flushed_pow2(v, e)
    grads["bias_hh"] = grads["bias_ih"].copy()
    return {
        "grads": grads,
        "dh0": dh0,
        "log10_grad_norm": log10_grad_norm,
        "log10_weight_grad_norm": log10_weight_grad_norm,
    }


def step_jacobians(params: dict, cache: dict, b: int = 0) -> np.ndarray:
    """J_t = ds_t/ds_{t-1} for sequence b, (T, L*H, L*H): block lower triangular, with
    diag(relu'(a^l_t) u^l) on the diagonal and diag(relu'(a^l_t)) W^l (row block l - 1) below."""
    u, s = params["weight_hh"], cache["s"]
    L, H = u.shape
    T = s.shape[1] - 1
    Ws = input_weights(params)
    J = np.zeros((T, L * H, L * H), dtype=s.dtype)
    active = (s[:, 1:, b] > 0).astype(s.dtype).transpose(1, 0, 2)  # (T, L, H)
    for l in range(L):
        rows = slice(l * H, (l + 1) * H)
        if l > 0:  # d h^l_t / d s_{t-1} through h^{l-1}_t
            below = J[:, (l - 1) * H : l * H, : l * H]
            J[:, rows, : l * H] = active[:, l, :, None] * (Ws[l] @ below)
        idx = np.arange(l * H, (l + 1) * H)
        J[:, idx, idx] = active[:, l] * u[l]
    return J
