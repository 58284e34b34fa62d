"""Training in PyTorch: the forward of a batch and the gradient of the training objective with its
remedies (mirrored name for name from :mod:`rnngrad.numpy_backend.train`, whose docstring
defines the objective; here autograd takes the derivatives).

Where the objective needs no per-step quantity inside the graph (no penalty, or l2_wrec; any
clipping, init or truncation), :func:`gradient` runs the model through PyTorch's fused
``torch.nn.RNN``, ``LSTM`` or ``GRU`` (cuDNN on a GPU) with the weights copied straight in (the
names and layout are PyTorch's): :func:`fused_gradient`. Omega, the sigmoid and linear rnn
and the esn take :func:`loop_gradient`, autograd through the model's own loop. Both give the
same gradient (a test holds them equal in float64).

Pascanu's Omega is built with the same detachments: the states s_k and dL/ds_{k+1} enter as
constants, a_{k+1} = W_ih x_{k+1} + b_ih + W_hh s_k + b_hh is recomputed from the weights, and
f'(a_{k+1}) is written out as a function of a_{k+1}, so autograd follows both paths to the
weights.
"""

from __future__ import annotations

import ctypes
from contextlib import contextmanager
from dataclasses import replace
from functools import cache
from pathlib import Path

import torch

from rnngrad import torch_backend as backend
from rnngrad.core import registry
from rnngrad.core.choices import OMEGA_KINDS
from rnngrad.core.settings import CellSettings
from rnngrad.core.shared import OMEGA_BOUND, has_torch_module, l2_wrec
from rnngrad.core.tasks import Batch
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
    weights, tensors in ``s.dtype``) and the penalty's value (0 without one); through the fused
    modules where :func:`fused` says so, else through the model's loop, with subnormal numbers
    flushed to zero (:func:`flush_denormal`)."""
    with flush_denormal():
        plugin = None if s.penalty is None else registry.obj("remedy", s.penalty.kind)
        if plugin is not None:
            return plugin_penalty_gradient(s, plugin, params, batch, h0)
        return (fused_gradient if fused(s) else loop_gradient)(s, params, batch, h0)


def plugin_penalty_gradient(s: CellSettings, plugin, params: dict, batch: Batch, h0=None):
    """:func:`gradient` with a plugin's penalty (rnngrad.plugins.protocols.Penalty): the
    loss's gradient through the model's loop, plus weight times autograd's of the penalty."""
    loss, grads, _ = loop_gradient(replace(s, penalty=None), params, batch, h0)
    p = {k: v.detach().requires_grad_() for k, v in params.items()}
    value = plugin.penalty(p, s)
    d = torch.autograd.grad(value, list(p.values()), allow_unused=True, materialize_grads=True)
    grads = {k: grads[k] + s.penalty.weight * g for k, g in zip(p, d, strict=True)}
    return loss, grads, value.item()


@contextmanager
def flush_denormal():
    """Within the block, the CPU flushes subnormal numbers to zero, on the calling thread and
    on every thread of torch's intra-op pool (:func:`set_flush_denormal`). A vanishing gradient
    falls through the subnormal range (below 1.2e-38 in float32), where an Intel Xeon computes
    13x slower; a term that small is far below the rounding of the weight gradient it is added
    to, so flushing it changes no digit of the gradient of any realistic loss. NumPy's backward
    needs no such switch: it carries the gradient with a log-scale
    (:mod:`rnngrad.core.logscale`)."""
    on = set_flush_denormal(True)
    try:
        yield
    finally:
        if on:
            set_flush_denormal(False)


def set_flush_denormal(on: bool) -> bool:
    """``torch.set_flush_denormal(on)`` on the calling thread and on each of torch's intra-op
    threads; returns whether the CPU supports it (x86 with SSE3, ARM64).

    The flags (FTZ and DAZ in x86's MXCSR) belong to each thread, and torch sets the caller's
    alone: an OpenMP thread keeps the flags its creator had when the pool was made, so with two
    threads half of a large elementwise product went unflushed (measured, torch 2.13 on an AMD
    EPYC), or all stayed flushed after the block. One OpenMP parallel region of torch's own
    libgomp (:func:`_omp_parallel`), each of its threads setting its own flags, fixes both;
    where torch has no libgomp of its own (not a Linux wheel), the pool keeps its flags.
    """
    ok = torch.set_flush_denormal(on)
    run = _omp_parallel()
    if ok and run is not None and torch.get_num_threads() > 1:
        run(lambda: torch.set_flush_denormal(on), torch.get_num_threads())
    return ok


@cache
def _omp_parallel():
    """``run(f, n)``: f() once on each of n threads of torch's OpenMP pool, the caller's among
    them (``GOMP_parallel`` of the libgomp in torch/lib), or None where there is none."""
    path = Path(torch.__file__).parent / "lib" / "libgomp.so.1"
    if not path.exists():
        return None
    gomp = ctypes.CDLL(str(path))
    body_type = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
    gomp.GOMP_parallel.argtypes = [body_type, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
    gomp.GOMP_parallel.restype = None

    def run(f, n: int) -> None:
        body = body_type(lambda _: f())  # held until the region ends
        gomp.GOMP_parallel(body, None, n, 0)

    return run


def fused(s: CellSettings) -> bool:
    """Whether a cell trains through torch.nn's fused RNN, LSTM or GRU: every model but the
    esn and the sigmoid and linear rnn (nn.RNN has tanh and relu), without Omega."""
    if s.penalty is not None and s.penalty.kind in OMEGA_KINDS:
        return False
    return has_torch_module(s)


@cache
def _module(model: str, n_in: int, hidden: int, nonlinearity: str, dtype: str, device: str):
    """One torch.nn.RNN, LSTM or GRU per shape, whose weights each call overwrites."""
    kw = {"dtype": getattr(torch, dtype), "device": torch.device(device)}
    if model == "lstm":
        return torch.nn.LSTM(n_in, hidden, **kw)
    if model == "gru":
        return torch.nn.GRU(n_in, hidden, **kw)
    return torch.nn.RNN(n_in, hidden, nonlinearity=nonlinearity, **kw)


def fused_gradient(
    s: CellSettings, params: dict, batch: Batch, h0=None
) -> tuple[float, dict, float]:
    """:func:`gradient` through torch.nn's fused module (``fused(s)`` must hold)."""
    x = backend.tensor(s, batch.x)
    W_hh = params["weight_hh"]
    mod = _module(s.model, x.shape[-1], W_hh.shape[1], s.nonlinearity, s.dtype, s.device)
    with torch.no_grad():
        for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(mod, f"{k}_l0").copy_(params[k])
    readout_p = {k: params[k].detach().requires_grad_() for k in ("weight_out", "bias_out")}
    start = backend.initial_state(s, h0)
    if start is None:
        zero = x.new_zeros(1, x.shape[1], W_hh.shape[1])
        start = (zero, zero) if s.model == "lstm" else zero
    elif s.model == "lstm":
        start = tuple(v.detach()[None] for v in start)
    else:
        start = start.detach()[None]
    out, _ = mod(x, start)
    h = torch.cat([(start[0] if s.model == "lstm" else start), out])  # (T+1, B, H), h_0 first
    loss, _ = readout.loss(readout_p, h, batch)
    names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_out", "bias_out"]
    leaves = [getattr(mod, f"{k}_l0") for k in names[:4]] + list(readout_p.values())
    d = torch.autograd.grad(loss, leaves, materialize_grads=True)
    grads = {k: d[names.index(k)] for k in params}
    value = 0.0
    if s.penalty is not None:  # l2_wrec
        value, dW = l2_wrec(W_hh)
        value = value.item()
        grads["weight_hh"] = grads["weight_hh"] + s.penalty.weight * dW
    return loss.item(), grads, value


def loop_gradient(
    s: CellSettings, params: dict, batch: Batch, h0=None
) -> tuple[float, dict, float]:
    """:func:`gradient` through autograd over the model's own loop (every model and remedy)."""
    names = list(params)
    p = {k: v.detach().requires_grad_() for k, v in params.items()}
    x = backend.tensor(s, batch.x)
    h, cache = backend.forward(s, p, x, h0)
    loss, _ = readout.loss(p, h, batch)
    pen = s.penalty
    if pen is not None and pen.kind in OMEGA_KINDS:
        states = cache["h"][1:]
        d = torch.autograd.grad(loss, [p[k] for k in names] + states, materialize_grads=True)
        grads = dict(zip(names, d[: len(names)], strict=False))
        penalty = omega if pen.kind == "pascanu" else omega_printed
        value = penalty(p, h.detach(), torch.stack(d[len(names) :]), x, s.nonlinearity)
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
    nv, ng = _omega_squared_norms(params, h, dh, x, nonlinearity)
    valid = ng >= OMEGA_BOUND
    one = torch.ones_like(ng)
    r = torch.where(valid, nv / torch.where(valid, ng, one), one)
    return (r - 1).square().sum() / valid.sum().clamp(min=1)  # mean over the valid terms


def omega_printed(
    params: dict, h: torch.Tensor, dh: torch.Tensor, x: torch.Tensor, nonlinearity: str
) -> torch.Tensor:
    """Omega as printed (their eqs. 9-10: a ratio of norms, summed over k, mean over the batch's
    sequences); arguments as for :func:`omega`. sqrt's gradient at 0 is taken as 0 there."""
    nv, ng = _omega_squared_norms(params, h, dh, x, nonlinearity)
    valid = ng >= OMEGA_BOUND
    live = valid & (nv > 0)
    one = torch.ones_like(ng)
    r = torch.where(live, torch.sqrt(torch.where(live, nv / torch.where(valid, ng, one), one)), 0)
    r = torch.where(valid, r, one)
    return (r - 1).square().sum() / ng.shape[1]  # summed over k, mean over the sequences


def _omega_squared_norms(
    params: dict, h: torch.Tensor, dh: torch.Tensor, x: torch.Tensor, nonlinearity: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """||dL/ds_{k+1} ds_{k+1}/ds_k||^2 and ||dL/ds_{k+1}||^2, (T, B), with s_k and dL/ds_{k+1}
    constant and a_{k+1} recomputed from the weights."""
    W = params["weight_hh"]
    a = project(params, x) + h[:-1] @ W.t()  # a_{k+1}, from the constant s_k
    g = dh.detach()
    v = (g * _fprime(a, nonlinearity)) @ W  # dL/ds_{k+1} ds_{k+1}/ds_k
    return v.square().sum(-1), g.square().sum(-1)
