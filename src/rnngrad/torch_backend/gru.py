"""GRU in PyTorch (PyTorch's equations, layout and gate order r, z, n); autograd does the BPTT.

    r = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))
    h_t = (1 - z) * n + z * h_{t-1}

Example
-------
>>> import torch
>>> p = {"weight_ih": torch.ones(9, 2), "weight_hh": torch.zeros(9, 3),
...      "bias_ih": torch.zeros(9), "bias_hh": torch.zeros(9)}
>>> h, cache = forward(p, torch.zeros(5, 4, 2))
>>> tuple(h.shape)
(6, 4, 3)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rnngrad.torch_backend.rnn import scan


def _cell(
    W_hh_T: torch.Tensor, b_hh: torch.Tensor, h: torch.Tensor, xp: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    gh = torch.addmm(b_hh, h, W_hh_T)  # W_hh h_{t-1} + b_hh (B, 3H)
    x_r, x_z, x_n = xp.chunk(3, 1)
    h_r, h_z, h_n = gh.chunk(3, 1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(torch.addcmul(x_n, r, h_n))
    return torch.lerp(n, h, z), gh  # n + z (h - n)


def step(params: dict, h: torch.Tensor, x_t: torch.Tensor) -> torch.Tensor:
    """One step, h_{t-1} (B, H) and x_t (B, I) -> h_t (B, H)."""
    xp = F.linear(x_t, params["weight_ih"], params["bias_ih"])
    return _cell(params["weight_hh"].t(), params["bias_hh"], h, xp)[0]


def forward(
    params: dict, x: torch.Tensor, h0: torch.Tensor | None = None, *, retain: bool = False
) -> tuple[torch.Tensor, dict]:
    """Run the GRU over x (T, B, I); returns states h (T+1, B, H) and the cache (see
    :func:`rnn.scan`; ``pre`` holds W_hh h_{t-1} + b_hh)."""
    W_hh_T, b_hh = params["weight_hh"].t(), params["bias_hh"]
    h0 = x.new_zeros(x.shape[1], W_hh_T.shape[0]) if h0 is None else h0
    xs = F.linear(x, params["weight_ih"], params["bias_ih"])  # all steps in one GEMM
    return scan(lambda h, xp: _cell(W_hh_T, b_hh, h, xp), h0, xs, retain)
