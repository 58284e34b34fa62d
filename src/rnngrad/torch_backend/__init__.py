"""PyTorch backend: the rnn, esn, lstm and gru as autograd loops, mirroring
:mod:`rnngrad.numpy_backend`.

The same interface, name for name:

- ``model(s)``: the model module (``rnn`` for the rnn and esn, ``lstm``, ``gru``), whose
  ``forward(params, x, h0=None, **model_kwargs(s))`` both backends share
  (:mod:`rnngrad.core.shared`).
- ``to_backend(s, params)``: float64 NumPy weights to tensors of ``s.dtype`` on ``s.device``.
- ``forward(s, params, x, h0=None)``: states h (T+1, B, H) as a tensor, and a cache; ``h0`` is
  the initial state (zeros when None; the pair (h_0, c_0) for the lstm).
- ``loss_and_grads(s, params, batch, h0=None)``: one forward and ONE backward pass (autograd)
  giving the loss, readouts, the gradient of every weight, ``log10_grad_norm`` (T+1,) =
  log10 ||dL/ds_t|| and ``log10_weight_grad_norm`` (T,) = log10 ||step t's term of dL/dW_hh||,
  exact at any depth, and ``grad_norm``, ``weight_grad_norm`` (the same as norms), as float64
  NumPy arrays; dL/ds_t and dL/d(pre-activation) come from ``retain_grad`` on every state and
  pre-activation. The backward runs PROFILE_CHUNK steps per autograd call, each call's upstream
  gradient carried with a log-scale (:mod:`rnngrad.core.logscale`).
- ``step_jacobians(s, params, batch, b=0)``: J_t = ds_t/ds_{t-1} along sequence b by autograd
  through the model's ``step`` (one seeded reverse pass per chunk of steps), independently of
  the NumPy formulas, as a NumPy array (T, S, S).

- ``readout_gradient(s, params, x, u)``: for ONE sequence x (T, 1, I), its last state h_T (H,)
  and the gradient of y = u . h_T with respect to every weight, by autograd, as float64 NumPy
  arrays.

Each model module has ``step(params, carry, x_t) -> carry`` (carry h, or (h, c) for the lstm)
and ``forward(params, x, h0=None, **kw) -> (h, cache)`` for hand-made loops (truncated BPTT).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch

from rnngrad.core.logscale import (
    LogScale,
    exponent,
    flush_small,
    flushed_pow2,
    from_log10,
    sq_norm,
)
from rnngrad.core.settings import CellSettings
from rnngrad.core.shared import NORM_CHUNK, model_kwargs, step_term_norms
from rnngrad.core.tasks import Batch
from rnngrad.torch_backend import antisymmetric, exprnn, gru, indrnn, lru, lstm, readout, rnn

NAME = "torch"
JACOBIAN_ROWS = 1 << 16  # state copies in one reverse pass of step_jacobians (bounds memory)
# the profile's backward runs this many steps per autograd call; their gradients share one
# scale (rnngrad.core.logscale), so this bounds how far they may fall within a call: a float32
# gradient reaches the subnormal range only when it shrinks by 2^-7 a step or more
PROFILE_CHUNK = 16


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
    """The model module of a cell (:mod:`rnngrad.torch_backend.rnn` for the rnn and esn,
    ``lstm``, ``gru``)."""
    try:
        return MODELS[s.model]
    except KeyError:
        raise KeyError(f"model: {s.model!r} has no {NAME} implementation") from None


def device(s: CellSettings) -> torch.device:
    """The torch device of a cell; ``device: cuda`` without a usable GPU is a RuntimeError."""
    if s.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device: 'cuda' is set, but torch {torch.__version__} finds no CUDA GPU "
            "on this machine; set device: cpu (value 'cuda')"
        )
    return torch.device(s.device)


def tensor(s: CellSettings, a) -> torch.Tensor:
    """A NumPy array as a tensor of the cell's dtype on its device."""
    return torch.as_tensor(np.asarray(a), dtype=getattr(torch, s.dtype), device=device(s))


def to_backend(s: CellSettings, params: dict) -> dict:
    return {k: tensor(s, v) for k, v in params.items()}


def from_backend(a) -> np.ndarray:
    return a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)


def initial_state(s: CellSettings, h0):
    """An initial state (None, h, or the lstm's pair (h, c); NumPy or tensors) as tensors."""
    if h0 is None or isinstance(h0, torch.Tensor):
        return h0
    if isinstance(h0, tuple):
        return tuple(initial_state(s, v) for v in h0)
    return tensor(s, h0)


def forward(s: CellSettings, params: dict, x, h0=None):
    x = x if isinstance(x, torch.Tensor) else tensor(s, x)
    return model(s).forward(params, x, initial_state(s, h0), **model_kwargs(s))


def _float64(t: torch.Tensor) -> np.ndarray:
    return from_backend(t).astype(np.float64)


def _grads(vs: list[torch.Tensor]) -> torch.Tensor:
    """The .grad of each tensor, stacked; zeros where nothing after it read it."""
    return torch.stack([torch.zeros_like(v) if v.grad is None else v.grad for v in vs])


def _grad_norms(vs: list[torch.Tensor], others: torch.Tensor | None = None) -> torch.Tensor:
    """Per tensor of ``vs``: ||v.grad||, or with ``others`` (len(vs), B, H) the norm of the outer
    products v.grad^T others[i] (step terms of dL/dW_hh); NORM_CHUNK at a time, so no full-size
    copy of the gradients is made."""
    out = []
    for i in range(0, len(vs), NORM_CHUNK):
        g = _grads(vs[i : i + NORM_CHUNK])
        out.append(
            torch.linalg.vector_norm(g, dim=(1, 2))
            if others is None
            else step_term_norms(g, others[i : i + NORM_CHUNK])
        )
    return torch.cat(out)


def loss_and_grads(s: CellSettings, params: dict, batch: Batch, h0=None) -> dict:
    mod, kw = model(s), model_kwargs(s)
    p = {k: v.detach().requires_grad_() for k, v in params.items()}
    x = tensor(s, batch.x)
    T = x.shape[0]
    # the forward in chunks of PROFILE_CHUNK steps, each from a detached copy of the state
    # before it (a leaf of its own), so that one backward call stops at its chunk's start
    chunks, carry = [], initial_state(s, h0)
    for t0 in range(0, T, PROFILE_CHUNK):
        start = carry if carry is None else _detached(carry)
        out, cache = mod.forward(p, x[t0 : t0 + PROFILE_CHUNK], start, retain=True, **kw)
        chunks.append((t0, out, cache))
        # in models whose units' gradients shrink apart (an exprnn's saturated pair, an lru unit
        # of small |lambda|), each step's dL/ds_t as autograd passes it on, with what lies far
        # below its largest number set to 0, which would reach subnormal numbers (a hook costs
        # the other models' profiles a tenth of their time, and they need none)
        if getattr(mod, "FLUSH_EACH_STEP", False):
            for v in cache["h"][1:]:
                v.register_hook(flush_small)
        carry = (cache["h"][-1], cache["c"][-1]) if "c" in cache else cache["h"][-1]
    # what the readout reads at each step: the state h_t, or a model's position-wise output
    # map of it (the indrnn's top layer, the lru's block output), row 0 of each chunk's output
    # being its start, read from the chunk before
    outputs = [chunks[0][1][0]] + [v for _, out, _ in chunks for v in out[1:]]
    # the readout on detached outputs of the scored steps gives the direct terms dL/dout_t
    steps, row = np.unique(batch.loss_steps, return_inverse=True)
    scored = torch.stack([outputs[t] for t in steps]).detach().requires_grad_()
    out_p = {k: p[k] for k in ("weight_out", "bias_out")}
    loss, y = readout.loss(out_p, scored, replace(batch, loss_steps=row.reshape(-1)))
    d_scored, *d_out = torch.autograd.grad(loss, [scored, *out_p.values()])
    direct = dict(zip(steps.tolist(), d_scored, strict=True))
    # the backward chunk by chunk, last first: dL/ds at a chunk's end is carried in as
    # 2^E g and fed, with the chunk's direct terms at the same scale, as its upstream gradient
    log10_grad_norm = np.empty(T + 1)
    log10_weight_grad_norm = np.empty(T)
    recurrent = [k for k in p if k not in out_p]
    total = {k: torch.zeros_like(p[k]) for k in recurrent}
    ls, g = LogScale(), None
    own_terms = getattr(mod, "step_weight_norms", None)  # models whose W_rec is not W_hh
    for t0, out, cache in reversed(chunks):
        t1 = t0 + len(cache["pre"])
        ends = [cache["h"][-1]] + ([cache["c"][-1]] if "c" in cache else [])
        g = [torch.zeros_like(v) for v in ends] if g is None else g
        inner = [t for t in direct if t0 < t < t1]
        # the chunk's scale: that of the largest of the carried term and its direct terms
        sqs = [(ls.E, sq_norm(g))] + [
            (0, sq_norm([direct[t]])) for t in [*inner, t1] if t in direct
        ]
        top = [E + exponent(sq) for E, sq in sqs if 0 < sq < math.inf]
        if top and all(sq < math.inf for _, sq in sqs):  # NaN or inf: the forward overflowed
            for v in g:
                flushed_pow2(v, ls.E - max(top))
            ls.E = max(top)
        seeds = [flushed_pow2(direct[t] * 1.0, -ls.E) for t in inner]
        # the upstream gradients as the weights of one scalar, not grad_tensors: an explicit
        # output gradient makes autograd import sympy (about 0.5 s) on first use
        if t1 in direct:  # the last step's readout reads the chunk's output, not its state
            ends, g = [*ends, out[t1 - t0]], [*g, flushed_pow2(direct[t1] * 1.0, -ls.E)]
        outs = ends + [out[t - t0] for t in inner]
        sum((v * w).sum() for v, w in zip(outs, g + seeds, strict=True)).backward()
        with torch.no_grad():
            gn = _grad_norms(cache["h"])
            if "c" in cache:  # the lstm's state is (h, c)
                gn = torch.hypot(gn, _grad_norms(cache["c"]))
            log10_grad_norm[t0 : t1 + 1] = ls.log10(_float64(gn))
            # step t's term of dL/dW_hh is dL/dpre_t^T h_{t-1} (the model's own where it has one)
            if own_terms is not None:
                terms = own_terms(cache)
            else:
                terms = _grad_norms(cache["pre"], torch.stack(cache["h"][:-1]))
            log10_weight_grad_norm[t0:t1] = ls.log10(_float64(terms))
            for k in recurrent:
                if p[k].grad is not None:
                    total[k] += flushed_pow2(p[k].grad, ls.E)
                    p[k].grad = None
        starts = [cache["h"][0]] + ([cache["c"][0]] if "c" in cache else [])
        g = [torch.zeros_like(v) if v.grad is None else flush_small(v.grad) for v in starts]
    total.update(zip(out_p, d_out, strict=True))
    return {
        "loss": loss.item(),
        "outputs": _float64(y),
        "grads": {k: _float64(v) for k, v in total.items()},
        "log10_grad_norm": log10_grad_norm,
        "log10_weight_grad_norm": log10_weight_grad_norm,
        "grad_norm": from_log10(log10_grad_norm),
        "weight_grad_norm": from_log10(log10_weight_grad_norm),
    }


def _detached(carry):
    """A state (h, or the lstm's pair) detached from the graph before it."""
    return tuple(v.detach() for v in carry) if isinstance(carry, tuple) else carry.detach()


def step_jacobians(s: CellSettings, params: dict, batch: Batch, b: int = 0) -> np.ndarray:
    mod, kw = model(s), model_kwargs(s)
    p = {k: v.detach() for k, v in params.items()}
    x = tensor(s, batch.x[:, b : b + 1])  # (T, 1, I)
    with torch.no_grad():
        _, cache = mod.forward(p, x, **kw)
    lstm = "c" in cache
    prev = torch.stack(cache["h"][:-1])  # s_{t-1} for t = 1..T, (T, 1, S)
    if lstm:
        prev = torch.cat([prev, torch.stack(cache["c"][:-1])], dim=-1)
    H = cache["h"][0].shape[-1]

    def state_map(s_prev: torch.Tensor, x_t: torch.Tensor) -> torch.Tensor:  # (N, S) -> (N, S)
        if lstm:
            return torch.cat(mod.step(p, (s_prev[:, :H], s_prev[:, H:]), x_t, **kw), dim=-1)
        return mod.step(p, s_prev, x_t, **kw)

    # One reverse pass per chunk of steps: every state s_{t-1} is copied once per output unit i,
    # and the copy's output is seeded with e_i, so its gradient is row i of J_t. (torch.func's
    # vmap(jacrev) does the same but imports torch._dynamo, 1.3 s of every torch cell.)
    prev, xs = prev[:, 0], x[:, 0]  # (T, S), (T, I)
    T, S = prev.shape
    chunk = max(1, JACOBIAN_ROWS // S)
    J = torch.empty(T, S, S, dtype=prev.dtype, device=prev.device)
    for t0 in range(0, T, chunk):
        n = min(chunk, T - t0)
        rep = prev[t0 : t0 + n].repeat(S, 1).requires_grad_()  # row i*n + t: copy i of s_{t-1}
        out = state_map(rep, xs[t0 : t0 + n].repeat(S, 1))
        seed = torch.eye(S, dtype=out.dtype, device=out.device).repeat_interleave(n, dim=0)
        # a scalar, not grad_outputs=seed: an explicit output gradient makes autograd import
        # torch.fx's symbolic shapes (0.45 s) on first use
        (g,) = torch.autograd.grad((out * seed).sum(), rep)
        J[t0 : t0 + n] = g.reshape(S, n, S).transpose(0, 1)  # J[t, i, :] = d s_t[i] / d s_{t-1}
    return _float64(J)


def readout_gradient(s: CellSettings, params: dict, x: np.ndarray, u: np.ndarray):
    p = {k: v.detach().requires_grad_() for k, v in params.items()}
    h, _ = model(s).forward(p, tensor(s, x), **model_kwargs(s))
    y = h[-1, 0] @ tensor(s, u)
    grads = torch.autograd.grad(y, list(p.values()), allow_unused=True, materialize_grads=True)
    return _float64(h[-1, 0]), {k: _float64(g) for k, g in zip(p, grads, strict=True)}
