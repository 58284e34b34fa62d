"""LSTM in PyTorch (PyTorch's equations, layout and gate order i, f, g, o); autograd does the BPTT.

    i, f, g, o = split(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
    c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)
    h_t = sigmoid(o) * tanh(c_t)

The carry is the pair (h, c); states h (T+1, B, H), and the cache's ``c`` list holds c_t.

Example
-------
>>> import torch
>>> p = {"weight_ih": torch.ones(12, 2), "weight_hh": torch.zeros(12, 3),
...      "bias_ih": torch.zeros(12), "bias_hh": torch.zeros(12)}
>>> h, cache = forward(p, torch.zeros(5, 4, 2))
>>> tuple(h.shape), len(cache["c"])
((6, 4, 3), 6)
"""

from __future__ import annotations

import torch

from rnngrad.torch_backend.rnn import project, scan


def _cell(
    W_hh_T: torch.Tensor, carry: tuple[torch.Tensor, torch.Tensor], xp: torch.Tensor
) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
    h, c = carry
    a = torch.addmm(xp, h, W_hh_T)  # the gates' pre-activations (B, 4H)
    i, f, g, o = a.chunk(4, 1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return (torch.sigmoid(o) * torch.tanh(c), c), a


def step(
    params: dict, carry: tuple[torch.Tensor, torch.Tensor], x_t: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step, (h_{t-1}, c_{t-1}) and x_t (B, I) -> (h_t, c_t), each (B, H)."""
    return _cell(params["weight_hh"].t(), carry, project(params, x_t))[0]


def forward(
    params: dict,
    x: torch.Tensor,
    h0: tuple[torch.Tensor, torch.Tensor] | None = None,
    *,
    retain: bool = False,
) -> tuple[torch.Tensor, dict]:
    """Run the LSTM over x (T, B, I) from h0 = (h_0, c_0) (zeros when None); returns states
    h (T+1, B, H) and the cache with the lists ``h``, ``c`` (see :func:`rnn.scan`)."""
    W_hh_T = params["weight_hh"].t()
    if h0 is None:
        zero = x.new_zeros(x.shape[1], W_hh_T.shape[0])
        h0 = (zero, zero)
    return scan(lambda carry, xp: _cell(W_hh_T, carry, xp), tuple(h0), project(params, x), retain)
