"""expRNN (Lezcano-Casado and Martinez-Rubio 2019) in PyTorch; autograd does the BPTT, through
``torch.linalg.matrix_exp`` to the trained ``log_weight_hh``.

    A     = U - U^T,  U the strict upper triangle of ``log_weight_hh``
    W_hh  = expm(A)
    a_t   = W_ih x_t + b_ih + W_hh h_{t-1}
    h_t   = tanh(a_t + b_hh)  or  sign(a_t) relu(|a_t| + b_hh)   (tanh or modrelu)

Example
-------
>>> import torch
>>> p = {"weight_ih": torch.ones(4, 2), "log_weight_hh": torch.ones(4, 4).triu(1),
...      "bias_ih": torch.zeros(4), "bias_hh": torch.zeros(4)}
>>> W = recurrent_weight(p)
>>> bool(torch.allclose(W @ W.T, torch.eye(4), atol=1e-6))
True
>>> h, cache = forward(p, torch.zeros(5, 3, 2))
>>> tuple(h.shape)
(6, 3, 4)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rnngrad.core.shared import skew
from rnngrad.torch_backend.rnn import scan

# its W_hh is block diagonal at initialization (2 x 2 rotations): a saturated pair's gradient
# shrinks apart from the others', so the profile flushes each step's (torch_backend.loss_and_grads)
FLUSH_EACH_STEP = True


def recurrent_weight(params: dict) -> torch.Tensor:
    """W_hh = expm(A), A = U - U^T from ``log_weight_hh``; (H, H), orthogonal."""
    return torch.linalg.matrix_exp(skew(params["log_weight_hh"]))


def _cell(W_hh_T, b_hh, h, xp, nonlinearity):
    a = torch.addmm(xp, h, W_hh_T)  # a_t (tanh: with b_hh, folded into xp)
    if nonlinearity == "tanh":
        return torch.tanh(a), a
    return torch.sign(a) * torch.relu(a.abs() + b_hh), a  # modrelu


def _project(params: dict, x: torch.Tensor, nonlinearity: str) -> torch.Tensor:
    """W_ih x + b_ih (+ b_hh under tanh) for every step at once."""
    b = params["bias_ih"] + params["bias_hh"] if nonlinearity == "tanh" else params["bias_ih"]
    return F.linear(x, params["weight_ih"], b)


def step(
    params: dict, h: torch.Tensor, x_t: torch.Tensor, *, nonlinearity: str = "tanh"
) -> torch.Tensor:
    """One step, h_{t-1} (B, H) and x_t (B, I) -> h_t (B, H)."""
    W_hh_T = recurrent_weight(params).t()
    xp = _project(params, x_t, nonlinearity)
    return _cell(W_hh_T, params["bias_hh"], h, xp, nonlinearity)[0]


def forward(
    params: dict,
    x: torch.Tensor,
    h0: torch.Tensor | None = None,
    *,
    nonlinearity: str = "tanh",
    retain: bool = False,
) -> tuple[torch.Tensor, dict]:
    """Run the expRNN over x (T, B, I); returns states h (T+1, B, H) and the cache (see
    :func:`rnn.scan`; ``pre`` holds a_t)."""
    W_hh_T, b_hh = recurrent_weight(params).t(), params["bias_hh"]
    h0 = x.new_zeros(x.shape[1], W_hh_T.shape[0]) if h0 is None else h0
    xs = _project(params, x, nonlinearity)
    return scan(lambda h, xp: _cell(W_hh_T, b_hh, h, xp, nonlinearity), h0, xs, retain)
