"""Vanilla (Elman) RNN and leaky ESN reservoir in PyTorch; autograd does the BPTT.

    a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
    h_t = (1 - leak) h_{t-1} + leak f(a_t)          (leak = 1: the plain RNN)

Shapes: x (T, B, I); states h (T+1, B, H) with h_0 at index 0; PyTorch's weight names. Also
home of :func:`scan`, the loop all three models run.

Example
-------
>>> import torch
>>> p = {"weight_ih": torch.ones(3, 2), "weight_hh": torch.eye(3), "bias_ih": torch.zeros(3),
...      "bias_hh": torch.zeros(3)}
>>> h, cache = forward(p, torch.zeros(5, 4, 2))
>>> tuple(h.shape)
(6, 4, 3)
>>> step(p, h[0], torch.zeros(4, 2)).shape == h[1].shape
True
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

ACTIVATIONS = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "linear": lambda a: a,
}


def project(params: dict, x: torch.Tensor) -> torch.Tensor:
    """W_ih x + b_ih + b_hh for every step at once (also the lstm's): x (..., I) -> (..., G*H)."""
    return F.linear(x, params["weight_ih"], params["bias_ih"] + params["bias_hh"])


def _keep(v: torch.Tensor) -> torch.Tensor:
    """v as its own node, whose .grad backward fills with dL/dv through what reads it from here."""
    if not v.requires_grad:
        return v.detach().requires_grad_()
    v = v.view_as(v)
    v.retain_grad()
    return v


def scan(
    cell: Callable, carry, xs: torch.Tensor, retain: bool = False
) -> tuple[torch.Tensor, dict]:
    """Run ``cell(carry, xp_t) -> (carry, pre_t)`` over the input projections xs (T, B, G*H).

    carry is h or the pair (h, c). Returns the states h (T+1, B, H) and a cache with the lists
    ``h`` (and ``c``) of the T+1 states. With ``retain``, backward leaves in each state's .grad
    the total dL/ds_t (with h_t and c_t as independent inputs of the steps after t), and in
    each of the T tensors in ``pre`` (cell's second output, the sum holding W_hh h_{t-1})
    dL/dpre_t, whose outer product with h_{t-1} is step t's term of dL/dW_hh.
    """

    def keep(c):
        if not retain:
            return c
        return tuple(map(_keep, c)) if isinstance(c, tuple) else _keep(c)

    carries, pre = [keep(carry)], []
    carry = carries[0]
    for xp in xs.unbind(0):  # unbind: indexing xs[t] costs a full-size zero gradient a step
        carry, a = cell(carry, xp)
        carry = keep(carry)
        carries.append(carry)
        if retain:
            a.retain_grad()
            pre.append(a)
    if isinstance(carry, tuple):
        hs, cs = map(list, zip(*carries, strict=False))
        return torch.stack(hs), {"h": hs, "c": cs, "pre": pre}
    return torch.stack(carries), {"h": carries, "pre": pre}


def _cell(
    W_hh_T: torch.Tensor, h: torch.Tensor, xp: torch.Tensor, nonlinearity: str, leak: float
) -> tuple[torch.Tensor, torch.Tensor]:
    a = torch.addmm(xp, h, W_hh_T)  # a_t
    fa = ACTIVATIONS[nonlinearity](a)
    return (fa if leak == 1.0 else torch.lerp(h, fa, leak)), a


def step(
    params: dict,
    h: torch.Tensor,
    x_t: torch.Tensor,
    *,
    nonlinearity: str = "tanh",
    leak: float = 1.0,
) -> torch.Tensor:
    """One step, h_{t-1} (B, H) and x_t (B, I) -> h_t (B, H)."""
    return _cell(params["weight_hh"].t(), h, project(params, x_t), nonlinearity, leak)[0]


def forward(
    params: dict,
    x: torch.Tensor,
    h0: torch.Tensor | None = None,
    *,
    nonlinearity: str = "tanh",
    leak: float = 1.0,
    retain: bool = False,
) -> tuple[torch.Tensor, dict]:
    """Run the RNN over x (T, B, I); returns states h (T+1, B, H) and the cache (see
    :func:`scan`)."""
    W_hh_T = params["weight_hh"].t()
    h0 = x.new_zeros(x.shape[1], W_hh_T.shape[0]) if h0 is None else h0
    return scan(
        lambda h, xp: _cell(W_hh_T, h, xp, nonlinearity, leak), h0, project(params, x), retain
    )
