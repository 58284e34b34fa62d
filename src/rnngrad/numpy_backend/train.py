"""Training in NumPy: the forward of a batch and the gradient of the training objective with its
remedies, hand-written (mirrored name for name by :mod:`rnngrad.torch_backend.train`, where
autograd takes the derivatives). Clipping and the optimizers act on either backend's arrays
alike and live in :mod:`rnngrad.run.loop`.

The objective of one update is ``L + weight * penalty`` on a batch (or on a truncated-BPTT window
of it, see :mod:`rnngrad.run.loop`), with

- Pascanu's Omega (eq. 10 of Pascanu, Mikolov and Bengio 2013), model rnn only::

      Omega = mean_{k,b} (||dL/ds_{k+1} ds_{k+1}/ds_k||^2 / ||dL/ds_{k+1}||^2 - 1)^2,

  k = 0..T-1, with dL/ds_{k+1} and s_k held constant. ds_{k+1}/ds_k = diag(f'(a_{k+1})) W_hh
  and a_{k+1} = W_ih x_{k+1} + b_ih + W_hh s_k + b_hh, so Omega depends on every recurrent weight
  through f'(a_{k+1}) and on W_hh also directly; its gradient here includes both paths (their
  Theano code held f' constant too and differentiated the direct W_hh path alone). As in their
  code, the terms are averaged over the steps and the batch (eq. 9 sums over k; their code takes
  the mean, which is what their weights 2 to 4 were tuned for: summed, weight 2 made training
  worse at T = 100 here), and a term whose ||dL/ds_{k+1}||^2 is below OMEGA_BOUND is left out.
- Omega as printed in the paper (kind pascanu_printed, eqs. 9-10 read literally)::

      Omega = mean_b sum_k (||dL/ds_{k+1} ds_{k+1}/ds_k|| / ||dL/ds_{k+1}|| - 1)^2,

  a ratio of norms, summed over the steps (and averaged over the batch's sequences), with the
  same constants, both gradient paths and the same dropped terms.
- the L2 penalty ``||W_hh||_F^2`` (kind l2_wrec).

"""

from __future__ import annotations

import numpy as np

from rnngrad import numpy_backend as backend
from rnngrad.core.choices import OMEGA_KINDS
from rnngrad.core.settings import CellSettings
from rnngrad.core.shared import OMEGA_BOUND, l2_wrec
from rnngrad.core.tasks import Batch
from rnngrad.numpy_backend import readout, rnn


def run(s: CellSettings, params: dict, batch: Batch, h0=None):
    """Forward only: the batch loss, the readouts (L, B, O) as NumPy, and ``carry(t)``, the
    state after step t of the batch (the ``h0`` of a later forward)."""
    h, cache = backend.forward(s, params, batch.x, h0)
    out = readout.loss_forward_backward(params, h, batch)
    if s.model == "lstm":
        return out["loss"], out["outputs"], lambda t: (h[t], cache["c"][t])
    if "state" in cache:  # the indrnn's and lru's state is not what the readout reads
        return out["loss"], out["outputs"], lambda t: cache["state"][t]
    return out["loss"], out["outputs"], lambda t: h[t]


def gradient(s: CellSettings, params: dict, batch: Batch, h0=None) -> tuple[float, dict, float]:
    """The loss L of ``batch`` run from state ``h0``, the gradient of L + weight * penalty (all
    weights, float arrays in ``s.dtype``) and the penalty's value (0 without one)."""
    pen = s.penalty
    if pen is not None and pen.kind in OMEGA_KINDS:
        h, cache = backend.forward(s, params, batch.x, h0)
        out = readout.loss_forward_backward(params, h, batch)
        back = rnn.backward(params, cache, out["dh_direct"], keep_dh=True, norms=False)
        grads = {**back["grads"], **out["grads"]}
        penalty = omega if pen.kind == "pascanu" else omega_printed
        value, dpen = penalty(params, h, back["dh"], cache["x"], s.nonlinearity)
        for k, g in dpen.items():
            grads[k] += pen.weight * g
        return out["loss"], grads, value
    h, cache = backend.forward(s, params, batch.x, h0)
    out = readout.loss_forward_backward(params, h, batch)
    back = backend.model(s).backward(params, cache, out["dh_direct"], norms=False)
    grads = {**back["grads"], **out["grads"]}
    value = 0.0
    if pen is not None:  # l2_wrec
        with np.errstate(over="ignore", invalid="ignore"):
            value, dW = l2_wrec(params["weight_hh"])
            value = float(value)
            grads["weight_hh"] = grads["weight_hh"] + pen.weight * dW
    return out["loss"], grads, value


def omega(
    params: dict, h: np.ndarray, dh: np.ndarray, x: np.ndarray, nonlinearity: str
) -> tuple[float, dict]:
    """Pascanu's Omega and its gradient for the rnn (leak 1), with s_k and dL/ds_{k+1} constant.

    ``h`` (T+1, B, H) the states, ``dh`` (T+1, B, H) the total dL/dh_t, ``x`` (T, B, I).
    """
    W = params["weight_hh"]
    fa, g = h[1:], dh[1:]  # f(a_{k+1}), dL/ds_{k+1} for k = 0..T-1
    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        fp = rnn.dact(fa, nonlinearity)  # f'(a_{k+1})
        d = g * fp
        v = d @ W  # dL/ds_{k+1} ds_{k+1}/ds_k, (T, B, H)
        nv, ng = np.sum(v * v, axis=-1), np.sum(g * g, axis=-1)  # (T, B)
        valid = ng >= OMEGA_BOUND
        ng = np.where(valid, ng, 1.0)
        r = np.where(valid, nv / ng, 1.0)
        n = max(int(valid.sum()), 1)  # the mean over the valid (k, b) terms
        value = float(np.sum((r - 1) ** 2) / n)
        dv = (np.where(valid, 4 * (r - 1) / (n * ng), 0.0))[..., None] * v  # dOmega/dv
        grads = _omega_weight_grads(W, h, x, g, fp, dv, nonlinearity)
    return value, grads


def omega_printed(
    params: dict, h: np.ndarray, dh: np.ndarray, x: np.ndarray, nonlinearity: str
) -> tuple[float, dict]:
    """Omega as printed (their eqs. 9-10: a ratio of norms, summed over k; the mean over the
    batch's sequences) and its gradient, with s_k and dL/ds_{k+1} constant; arguments as for
    :func:`omega`. Where dL/ds_{k+1} ds_{k+1}/ds_k = 0 its norm's gradient is taken as 0."""
    W = params["weight_hh"]
    g = dh[1:]  # dL/ds_{k+1} for k = 0..T-1
    with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
        fp = rnn.dact(h[1:], nonlinearity)  # f'(a_{k+1})
        v = (g * fp) @ W  # dL/ds_{k+1} ds_{k+1}/ds_k, (T, B, H)
        nv, ng = np.sqrt(np.sum(v * v, axis=-1)), np.sqrt(np.sum(g * g, axis=-1))  # norms (T, B)
        valid = ng * ng >= OMEGA_BOUND
        ng = np.where(valid, ng, 1.0)
        r = np.where(valid, nv / ng, 1.0)
        B = g.shape[1]
        value = float(np.sum((r - 1) ** 2) / B)
        live = valid & (nv > 0)
        dv = np.where(live, 2 * (r - 1) / (B * ng * np.where(live, nv, 1.0)), 0.0)[..., None] * v
        grads = _omega_weight_grads(W, h, x, g, fp, dv, nonlinearity)
    return value, grads


def _omega_weight_grads(
    W: np.ndarray,
    h: np.ndarray,
    x: np.ndarray,
    g: np.ndarray,
    fp: np.ndarray,
    dv: np.ndarray,
    nonlinearity: str,
) -> dict:
    """The weight gradients of an Omega from dOmega/dv, v = (g f'(a_{k+1})) W (g = dL/ds_{k+1}
    and s_k = h[:-1] constant, fp = f'(a_{k+1})): the direct path through W and the path
    through f'(a_{k+1})."""
    dW = np.tensordot(g * fp, dv, axes=([0, 1], [0, 1]))  # v = (g f') W: the direct path
    # the path through f'(a_{k+1}): dOmega/da = (dv W^T) g f''(a)
    da = (dv @ W.T) * g * _second_derivative(h[1:], fp, nonlinearity)
    dW += np.tensordot(da, h[:-1], axes=([0, 1], [0, 1]))
    db = da.sum(axis=(0, 1))
    return {
        "weight_hh": dW,
        "weight_ih": np.tensordot(da, x, axes=([0, 1], [0, 1])),
        "bias_ih": db,
        "bias_hh": db.copy(),
    }


def _second_derivative(fa: np.ndarray, fp: np.ndarray, nonlinearity: str) -> np.ndarray:
    """f''(a) from f(a) and f'(a) (0 for relu and linear)."""
    if nonlinearity == "tanh":
        return -2 * fa * fp
    if nonlinearity == "sigmoid":
        return fp * (1 - 2 * fa)
    return np.zeros_like(fa)
