"""NumPy backend: hand-written forward and BPTT for the rnn, esn, lstm and gru.

The backend interface (mirrored name for name by :mod:`rnngrad.torch_backend`):

- ``model(s)``: the model module (``rnn`` for the rnn and esn, ``lstm``, ``gru``), whose
  ``forward(params, x, h0=None, **model_kwargs(s))`` both backends share
  (:mod:`rnngrad.core.shared`).
- ``to_backend(s, params)``: float64 NumPy weights to this backend's arrays in ``s.dtype``.
- ``forward(s, params, x, h0=None)``: states h (T+1, B, H) and a cache; ``h0`` is the initial
  state (zeros when None; the pair (h_0, c_0) for the lstm).
- ``loss_and_grads(s, params, batch, h0=None)``: one forward and ONE backward pass giving the
  loss, the readouts, the gradient of every weight, ``log10_grad_norm`` (T+1,) =
  log10 ||dL/ds_t|| for t = 0..T and ``log10_weight_grad_norm`` (T,) = log10 ||step t's term
  of dL/dW_hh|| for t = 1..T (index t - 1), exact at any depth (the backward carries dL/ds_t
  with a log-scale, :mod:`rnngrad.core.logscale`), and ``grad_norm``, ``weight_grad_norm``: the
  same as float64 norms (0 or inf beyond float64's range).
  The state s_t is h_t, or (h_t, c_t) for the lstm.
- ``step_jacobians(s, params, batch, b=0)``: J_t = ds_t/ds_{t-1} for t = 1..T along sequence b,
  as a NumPy array (T, S, S).
- ``readout_gradient(s, params, x, u)``: for ONE sequence x (T, 1, I), its last state h_T (H,)
  and the gradient of y = u . h_T with respect to every weight (float64 NumPy arrays), by the
  model's backward with u as dL/dh_T (the curse-of-memory metric, :mod:`rnngrad.core.memory`).
"""

from __future__ import annotations

import numpy as np

from rnngrad.core.logscale import from_log10
from rnngrad.core.settings import CellSettings
from rnngrad.core.shared import model_kwargs
from rnngrad.core.tasks import Batch
from rnngrad.numpy_backend import antisymmetric, exprnn, gru, indrnn, lru, lstm, readout, rnn

NAME = "numpy"


# model name -> the module that runs it (rnngrad.backends.register_model adds more)
MODELS = {
    "rnn": rnn,
    "esn": rnn,
    "lstm": lstm,
    "gru": gru,
    "exprnn": exprnn,
    "antisymmetric": antisymmetric,
    "indrnn": indrnn,
    "lru": lru,
}


def model(s: CellSettings):
    """The model module of a cell (:mod:`rnngrad.numpy_backend.rnn` for the rnn and esn,
    ``lstm``, ``gru``)."""
    try:
        return MODELS[s.model]
    except KeyError:
        raise KeyError(f"model: {s.model!r} has no {NAME} implementation") from None


def to_backend(s: CellSettings, params: dict) -> dict:
    return {k: np.ascontiguousarray(v, dtype=s.dtype) for k, v in params.items()}


def from_backend(a) -> np.ndarray:
    return np.asarray(a)


def forward(s: CellSettings, params: dict, x: np.ndarray, h0=None):
    return model(s).forward(params, x.astype(s.dtype, copy=False), h0, **model_kwargs(s))


def loss_and_grads(s: CellSettings, params: dict, batch: Batch, h0=None) -> dict:
    h, cache = forward(s, params, batch.x, h0)
    out = readout.loss_forward_backward(params, h, batch)
    back = model(s).backward(params, cache, out["dh_direct"])
    return {
        "loss": out["loss"],
        "outputs": out["outputs"],
        "grads": {**back["grads"], **out["grads"]},
        "log10_grad_norm": back["log10_grad_norm"],
        "log10_weight_grad_norm": back["log10_weight_grad_norm"],
        "grad_norm": from_log10(back["log10_grad_norm"]),
        "weight_grad_norm": from_log10(back["log10_weight_grad_norm"]),
    }


def step_jacobians(s: CellSettings, params: dict, batch: Batch, b: int = 0) -> np.ndarray:
    x = batch.x[:, b : b + 1]
    _, cache = forward(s, params, x)
    return model(s).step_jacobians(params, cache, 0)


def readout_gradient(s: CellSettings, params: dict, x: np.ndarray, u: np.ndarray):
    h, cache = forward(s, params, x)
    dh_direct = np.zeros_like(h)
    dh_direct[-1, 0] = u  # dy/dh_T
    back = model(s).backward(params, cache, dh_direct, norms=False)
    h_T = np.asarray(h[-1, 0], dtype=np.float64)
    return h_T, {k: np.asarray(g, dtype=np.float64) for k, g in back["grads"].items()}
