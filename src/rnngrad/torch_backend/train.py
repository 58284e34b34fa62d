"""Training in PyTorch: the forward of a batch and the gradient of the training objective with its
remedies (mirrored name for name from :mod:`rnngrad.numpy_backend.train`, whose docstring
defines the objective; here autograd takes the derivatives).

Pascanu's Omega is built with the same detachments: the states s_k and dL/ds_{k+1} enter as
constants, a_{k+1} = W_ih x_{k+1} + b_ih + W_hh s_k + b_hh is recomputed from the weights, and
f'(a_{k+1}) is written out as a function of a_{k+1}, so autograd follows both paths to the
weights.
"""

from __future__ import annotations

import torch

from rnngrad import torch_backend as backend
from rnngrad.models import OMEGA_BOUND, l2_wrec
from rnngrad.settings import CellSettings
from rnngrad.tasks import Batch
from rnngrad.torch_backend import readout
from rnngrad.torch_backend.rnn import project


def run(s: CellSettings, params: dict, batch: Batch, h0=None):
    """Forward only: the batch loss, the readouts (L, B, O) as NumPy, and ``carry(t)``, the
    state after step t of the batch (the ``h0`` of a later forward)."""
    with torch.no_grad():
        h, cache = backend.forward(s, params, batch.x, h0)
        loss, y = readout.loss(params, h, batch)
    if s.model == "lstm":
        return loss.item(), backend.from_backend(y), lambda t: (cache["h"][t], cache["c"][t])
    return loss.item(), backend.from_backend(y), lambda t: cache["h"][t]


def gradient(s: CellSettings, params: dict, batch: Batch, h0=None) -> tuple[float, dict, float]:
    """The loss L of ``batch`` run from state ``h0``, the gradient of L + weight * penalty (all
    weights, tensors in ``s.dtype``) and the penalty's value (0 without one)."""
    names = list(params)
    p = {k: v.detach().requires_grad_() for k, v in params.items()}
    x = backend.tensor(s, batch.x)
    h, cache = backend.forward(s, p, x, h0)
    loss, _ = readout.loss(p, h, batch)
    pen = s.penalty
    if pen is not None and pen.kind == "pascanu":
        states = cache["h"][1:]
        d = torch.autograd.grad(loss, [p[k] for k in names] + states, materialize_grads=True)
        grads = dict(zip(names, d[: len(names)], strict=False))
        value = omega(p, h.detach(), torch.stack(d[len(names) :]), x, s.nonlinearity)
        dpen = torch.autograd.grad(value, [p[k] for k in names], materialize_grads=True)
        grads = {k: grads[k] + pen.weight * g for k, g in zip(names, dpen, strict=False)}
        return loss.item(), grads, value.item()
    d = torch.autograd.grad(loss, [p[k] for k in names], materialize_grads=True)
    grads = dict(zip(names, d, strict=False))
    value = 0.0
    if pen is not None:  # l2_wrec
        value, dW = l2_wrec(params["weight_hh"])
        value = value.item()
        grads["weight_hh"] = grads["weight_hh"] + pen.weight * dW
    return loss.item(), grads, value


def _fprime(a: torch.Tensor, nonlinearity: str) -> torch.Tensor:
    """f'(a) as a differentiable function of a (relu's is piecewise constant)."""
    if nonlinearity == "tanh":
        return 1 - torch.tanh(a).square()
    if nonlinearity == "sigmoid":
        sig = torch.sigmoid(a)
        return sig * (1 - sig)
    if nonlinearity == "relu":
        return (a > 0).to(a.dtype)
    return torch.ones_like(a)


def omega(
    params: dict, h: torch.Tensor, dh: torch.Tensor, x: torch.Tensor, nonlinearity: str
) -> torch.Tensor:
    """Pascanu's Omega (0-dim tensor) of the rnn; ``h`` (T+1, B, H) the states and ``dh``
    (T, B, H) = dL/dh_{k+1}, both constants, ``x`` (T, B, I)."""
    W = params["weight_hh"]
    a = project(params, x) + h[:-1] @ W.t()  # a_{k+1}, from the constant s_k
    g = dh.detach()
    v = (g * _fprime(a, nonlinearity)) @ W  # dL/ds_{k+1} ds_{k+1}/ds_k
    nv, ng = v.square().sum(-1), g.square().sum(-1)
    valid = ng >= OMEGA_BOUND
    one = torch.ones_like(ng)
    r = torch.where(valid, nv / torch.where(valid, ng, one), one)
    return (r - 1).square().sum() / valid.sum().clamp(min=1)  # mean over the valid terms
