"""AntisymmetricRNN (Chang, Chen, Haber and Chi 2019) in PyTorch; autograd does the BPTT.

    M   = W_hh - W_hh^T - gamma I
    z_t = W_ih x_t + b_ih + b_hh + M h_{t-1}
    h_t = h_{t-1} + eps tanh(z_t)

Example
-------
>>> import torch
>>> p = {"weight_ih": torch.ones(3, 2), "weight_hh": torch.eye(3), "bias_ih": torch.zeros(3),
...      "bias_hh": torch.zeros(3)}
>>> h, cache = forward(p, torch.ones(5, 4, 2), eps=0.1, gamma=0.0)
>>> tuple(h.shape)
(6, 4, 3)
"""

from __future__ import annotations

import torch

from rnngrad.torch_backend.rnn import project, scan


def state_matrix(params: dict, gamma: float) -> torch.Tensor:
    """M = W_hh - W_hh^T - gamma I, (H, H)."""
    W = params["weight_hh"]
    return W - W.t() - gamma * torch.eye(W.shape[0], dtype=W.dtype, device=W.device)


def _cell(M_T, h, xp, eps):
    z = torch.addmm(xp, h, M_T)  # z_t
    return h + eps * torch.tanh(z), z


def step(
    params: dict, h: torch.Tensor, x_t: torch.Tensor, *, eps: float, gamma: float
) -> torch.Tensor:
    """One step, h_{t-1} (B, H) and x_t (B, I) -> h_t (B, H)."""
    return _cell(state_matrix(params, gamma).t(), h, project(params, x_t), eps)[0]


def forward(
    params: dict,
    x: torch.Tensor,
    h0: torch.Tensor | None = None,
    *,
    eps: float,
    gamma: float,
    retain: bool = False,
) -> tuple[torch.Tensor, dict]:
    """Run the AntisymmetricRNN over x (T, B, I); returns states h (T+1, B, H) and the cache
    (see :func:`rnn.scan`; ``pre`` holds z_t)."""
    M_T = state_matrix(params, gamma).t()
    h0 = x.new_zeros(x.shape[1], M_T.shape[0]) if h0 is None else h0
    return scan(lambda h, xp: _cell(M_T, h, xp, eps), h0, project(params, x), retain)
