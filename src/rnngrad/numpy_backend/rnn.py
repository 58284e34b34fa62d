"""Vanilla (Elman) RNN and leaky ESN reservoir: forward and hand-written BPTT side by side.

    a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
    h_t = (1 - leak) h_{t-1} + leak f(a_t)          (leak = 1: the plain RNN)

Shapes: x (T, B, I); states h (T+1, B, H) with h_0 at index 0; weights in PyTorch's layout,
``weight_ih (H, I)``, ``weight_hh (H, H)``. The forward stores h alone (plus f(a_t) when
leak < 1): f'(a_t) is recovered from f(a_t), so one profile needs about one (T, B, H) array.

Example
-------
>>> import numpy as np
>>> p = {"weight_ih": np.ones((3, 2)), "weight_hh": np.eye(3), "bias_ih": np.zeros(3),
...      "bias_hh": np.zeros(3)}
>>> h, cache = forward(p, np.zeros((5, 4, 2)))
>>> h.shape
(6, 4, 3)
"""

from __future__ import annotations

import numpy as np

from rnngrad.core.logscale import LOG10_2, LogScale, flushed_pow2, runs
from rnngrad.core.shared import BACKWARD_CHUNK, step_term_norms
from rnngrad.numpy_backend.readout import scored_steps

TERM_CHUNK = 8  # steps whose (G*H, H) terms of dL/dW_hh are held at once


def act(y: np.ndarray, nonlinearity: str) -> None:
    """f applied in place."""
    if nonlinearity == "tanh":
        np.tanh(y, out=y)
    elif nonlinearity == "relu":
        np.maximum(y, 0, out=y)
    elif nonlinearity == "sigmoid":
        np.negative(y, out=y)  # 1 / (1 + e^-a); e^-a may overflow to inf, giving 0
        np.exp(y, out=y)
        y += 1
        np.reciprocal(y, out=y)
    elif nonlinearity != "linear":
        raise ValueError(f"nonlinearity: unknown {nonlinearity!r}")


def dact(fa: np.ndarray, nonlinearity: str) -> np.ndarray:
    """f'(a) from f(a), a new array (one temporary of fa's size at most)."""
    if nonlinearity == "tanh":
        out = np.multiply(fa, fa)
        np.subtract(1, out, out=out)
        return out
    if nonlinearity == "sigmoid":
        out = np.subtract(1, fa)
        out *= fa
        return out
    if nonlinearity == "relu":
        return (fa > 0).astype(fa.dtype)
    return np.ones_like(fa)


def forward(
    params: dict,
    x: np.ndarray,
    h0: np.ndarray | None = None,
    *,
    nonlinearity: str = "tanh",
    leak: float = 1.0,
) -> tuple[np.ndarray, dict]:
    """Run the RNN over x (T, B, I); returns states h (T+1, B, H) and the cache for backward."""
    W_ih, W_hh = params["weight_ih"], params["weight_hh"]
    T, B, _ = x.shape
    H = W_hh.shape[0]
    h = np.empty((T + 1, B, H), dtype=W_hh.dtype)
    h[0] = 0 if h0 is None else h0
    # input projections for all steps in one GEMM, written into the state buffer
    np.matmul(x, W_ih.T, out=h[1:])
    h[1:] += params["bias_ih"] + params["bias_hh"]
    fa = None if leak == 1.0 else np.empty_like(h[1:])
    W_hh_T = np.ascontiguousarray(W_hh.T)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, T + 1):
            a = h[t]
            a += h[t - 1] @ W_hh_T  # a_t
            act(a, nonlinearity)  # f(a_t)
            if fa is not None:
                fa[t - 1] = a
                a *= leak
                a += (1 - leak) * h[t - 1]
    return h, {"h": h, "fa": fa, "x": x, "nonlinearity": nonlinearity, "leak": leak}


def _f_of_a(cache: dict, t0: int, t1: int) -> np.ndarray:
    """f(a_t) for t in [t0, t1) (1-based steps) as a view or array of shape (t1 - t0, B, H)."""
    return cache["h"][t0:t1] if cache["fa"] is None else cache["fa"][t0 - 1 : t1 - 1]


def add_step_terms(dW: np.ndarray, d: np.ndarray, hp: np.ndarray, norms: bool = True):
    """dW += sum_t d_t^T hp_t over d (n, B, G*H), hp (n, B, H); returns the terms' Frobenius
    norms (n,), or None without ``norms`` (one GEMM then).

    With few sequences the Gram trick (:func:`step_term_norms`, 2 B^2 (G+1) H a step) is the
    cheaper way to the norms; otherwise each step's term is formed (the 2 B G H^2 that dW needs
    anyway), summed and squared, TERM_CHUNK steps at a time: a third less work at B = H/2.
    """
    n, B, GH = d.shape
    H = hp.shape[-1]
    if not norms or B * B * (GH + H) <= 3 * GH * H:
        dW += np.tensordot(d, hp, axes=([0, 1], [0, 1]))
        return step_term_norms(d, hp) if norms else None
    norms = np.empty(n)
    for i in range(0, n, TERM_CHUNK):
        terms = d[i : i + TERM_CHUNK].mT @ hp[i : i + TERM_CHUNK]  # (m, G*H, H)
        dW += terms.sum(axis=0)
        # squares summed in float64: a float32 square is subnormal below 2^-63
        norms[i : i + len(terms)] = np.sqrt(np.einsum("tij,tij->t", terms, terms, dtype=np.float64))
    return norms


def start_backward(dh_direct, h: np.ndarray, norms: bool) -> tuple:
    """What a log-scaled backward over states h (T+1, B, H) starts from: the arrays of
    ``log10_grad_norm`` (T+1,) and ``log10_weight_grad_norm`` (T,) (None without ``norms``),
    the scored steps (None: every step may have a direct term), and dL/dh_T = 2^ls.E dh as
    (dh, ls), its log10 norm recorded."""
    T = h.shape[0] - 1
    log10_grad_norm = np.empty(T + 1) if norms else None
    log10_weight_grad_norm = np.empty(T) if norms else None
    scored = scored_steps(dh_direct)
    dh = dh_direct[T].copy()
    ls = LogScale(h.itemsize)
    ls.check([dh], log10_grad_norm, T)
    return log10_grad_norm, log10_weight_grad_norm, scored, dh, ls


def sum_runs(E, d, h, x, log10_terms=None, extra=None) -> dict:
    """The gradients of a cell a_t = W_ih x_t + b + W h_{t-1}, from dL/da_t = 2^E[t-1] d[t-1]
    (d (T, B, H), E (T,)): ``weight_ih``, ``bias_ih`` and ``weight_rec`` (dL/dW), each
    summed run by run in the run's units (:func:`~rnngrad.core.logscale.runs`) and brought to
    its true scale; with ``log10_terms`` (T,), the log10 norms of W's per-step terms into it.
    ``extra(d, lo, hi)`` gives more terms of a run (a dict of arrays), summed alike.
    """
    grads = None
    for lo, hi, e in runs(E):
        run = {"weight_rec": np.zeros(d.shape[-1:] + h.shape[-1:], dtype=d.dtype)}
        terms = add_step_terms(run["weight_rec"], d[lo:hi], h[lo:hi], log10_terms is not None)
        if log10_terms is not None:
            log10_terms[lo:hi] = np.log10(terms) + e * LOG10_2
        run["weight_ih"] = np.tensordot(d[lo:hi], x[lo:hi], axes=([0, 1], [0, 1]))
        run["bias_ih"] = d[lo:hi].sum(axis=(0, 1))
        run.update(extra(d[lo:hi], lo, hi) if extra else {})
        if grads is None:
            grads = {k: flushed_pow2(v, e) for k, v in run.items()}
        else:
            for k, v in run.items():
                grads[k] += flushed_pow2(v, e)
    return grads


def backward(
    params: dict, cache: dict, dh_direct: np.ndarray, keep_dh: bool = False, norms: bool = True
) -> dict:
    """BPTT. ``dh_direct[t]`` (B, H) is dL/dh_t through the readout alone, t = 0..T (a
    :class:`~rnngrad.numpy_backend.readout.DirectGrad`, or any array of shape (T+1, B, H)).

    Returns the gradients of every weight in ``params`` (except the readout's), ``dh0`` and,
    with ``norms`` (training passes False: it reads none of them), ``log10_grad_norm`` (T+1,)
    of the total dL/dh_t over batch and units and ``log10_weight_grad_norm`` (T,) of each
    step's term (dL/da_t)^T h_{t-1} of dL/dW_hh, indexed by step t - 1; with ``keep_dh`` also
    ``dh`` (T+1, B, H), the total dL/dh_t (Pascanu's penalty needs it).

    dL/dh_t is carried with a log-scale (:mod:`rnngrad.core.logscale`): the norms are exact at any
    depth, and no step works on subnormal numbers. A run of steps shares one scale; a rescale
    ends the run (its weight-gradient terms are summed, then multiplied by 2^E).
    """
    W_hh = params["weight_hh"]
    h, x, leak, nl = cache["h"], cache["x"], cache["leak"], cache["nonlinearity"]
    T, B, H = h.shape[0] - 1, h.shape[1], h.shape[2]
    grads = {k: np.zeros_like(params[k]) for k in ("weight_ih", "weight_hh", "bias_ih")}
    log10_grad_norm = np.empty(T + 1) if norms else None
    log10_weight_grad_norm = np.empty(T) if norms else None
    da = np.empty((min(BACKWARD_CHUNK, T), B, H), dtype=h.dtype)
    scored = scored_steps(dh_direct)
    dh = dh_direct[T].copy()  # dL/dh_T = 2^E dh
    ls = LogScale(h.itemsize)
    ls.check([dh], log10_grad_norm, T)
    dh_all = np.empty_like(h) if keep_dh else None
    t = T
    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        while t > 0:  # chunks of steps (t0, t1], walked backwards
            t0 = max(t - BACKWARD_CHUNK, 0)
            fprime = dact(_f_of_a(cache, t0 + 1, t + 1), nl)  # f'(a_t), (n, B, H)
            while t > t0:  # the chunk's runs of steps (t, s1] that share one scale E
                s1, E = t, ls.E
                while t > t0:
                    if dh_all is not None:
                        dh_all[t] = dh
                        flushed_pow2(dh_all[t], E)
                    d = da[t - 1 - t0]
                    np.multiply(dh, fprime[t - 1 - t0], out=d)  # backprop through f
                    if leak != 1.0:
                        d *= leak  # and through the leak
                        dh = d @ W_hh + (1 - leak) * dh
                    else:
                        dh = d @ W_hh  # backprop through W_hh
                    t -= 1
                    if ls.step([dh], dh_direct, scored, t, log10_grad_norm, norms):
                        break  # dL/dh_t took a new scale: the run ends
                d, hp = da[t - t0 : s1 - t0], h[t:s1]  # dL/da_t and h_{t-1} for t in (t, s1]
                gw = {k: np.zeros_like(v) for k, v in grads.items()} if E else grads
                gw["weight_ih"] += np.tensordot(d, x[t:s1], axes=([0, 1], [0, 1]))
                gw["bias_ih"] += d.sum(axis=(0, 1))
                terms = add_step_terms(gw["weight_hh"], d, hp, norms)
                if norms:
                    log10_weight_grad_norm[t:s1] = np.log10(terms) + E * LOG10_2
                if E:
                    for k, v in gw.items():
                        grads[k] += flushed_pow2(v, E)
        flushed_pow2(dh, ls.E)  # dL/dh_0 at its true scale (0 or inf beyond the format)
    grads["bias_hh"] = grads["bias_ih"].copy()
    out = {
        "grads": grads,
        "dh0": dh,
        "log10_grad_norm": log10_grad_norm,
        "log10_weight_grad_norm": log10_weight_grad_norm,
    }
    if dh_all is not None:
        dh_all[0] = dh
        out["dh"] = dh_all
    return out


def step_jacobians(params: dict, cache: dict, b: int = 0) -> np.ndarray:
    """J_t = dh_t/dh_{t-1} = leak diag(f'(a_t)) W_hh + (1 - leak) I for sequence b; (T, H, H)."""
    W_hh, leak = params["weight_hh"], cache["leak"]
    T = cache["h"].shape[0] - 1
    fprime = dact(_f_of_a(cache, 1, T + 1)[:, b, :], cache["nonlinearity"])  # (T, H)
    J = (leak * fprime)[:, :, None] * W_hh[None]
    if leak != 1.0:
        J += (1 - leak) * np.eye(W_hh.shape[0], dtype=W_hh.dtype)
    return J
