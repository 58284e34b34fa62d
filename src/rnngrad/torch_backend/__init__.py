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
  giving the loss, readouts, the gradient of every weight, ``grad_norm`` (T+1,) = ||dL/ds_t|| and
  ``weight_grad_norm`` (T,) = ||step t's term of dL/dW_hh||, as float64 NumPy arrays; dL/ds_t
  and dL/d(pre-activation) come from ``retain_grad`` on every state and pre-activation.
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

import numpy as np
import torch

from rnngrad.core.settings import CellSettings
from rnngrad.core.shared import NORM_CHUNK, model_kwargs, step_term_norms
from rnngrad.core.tasks import Batch
from rnngrad.torch_backend import antisymmetric, exprnn, gru, indrnn, lru, lstm, readout, rnn

NAME = "torch"
JACOBIAN_ROWS = 1 << 16  # state copies in one reverse pass of step_jacobians (bounds memory)


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
    p = {k: v.detach().requires_grad_() for k, v in params.items()}
    h, cache = model(s).forward(
        p, tensor(s, batch.x), initial_state(s, h0), retain=True, **model_kwargs(s)
    )
    loss, y = readout.loss(p, h, batch)
    loss.backward()
    with torch.no_grad():
        grad_norm = _grad_norms(cache["h"])
        if "c" in cache:  # the lstm's state is (h, c)
            grad_norm = torch.hypot(grad_norm, _grad_norms(cache["c"]))
        own = getattr(model(s), "step_weight_norms", None)  # the indrnn's and lru's terms
        # step t's term of dL/dW_hh is dL/dpre_t^T h_{t-1}
        weight_grad_norm = _float64(own(cache) if own else _grad_norms(cache["pre"], h[:-1]))
    return {
        "loss": loss.item(),
        "outputs": _float64(y),
        "grads": {
            k: _float64(torch.zeros_like(v) if v.grad is None else v.grad) for k, v in p.items()
        },
        "grad_norm": _float64(grad_norm),
        "weight_grad_norm": weight_grad_norm,
    }


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
