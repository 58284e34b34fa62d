"""The Linear Recurrent Unit (Orvieto et al. 2023) in one block, in PyTorch; autograd does the
BPTT. The equations, names and shapes are those of :mod:`rnngrad.numpy_backend.lru`; here the
complex state is carried as the real pair s_t = (Re h_t, Im h_t) (B, 2N) and lambda h as
(a Re h - b Im h, b Re h + a Im h), lambda = a + i b, so that autograd stays real.

Example
-------
>>> import torch
>>> H = 2
>>> p = {"weight_enc": torch.ones(H, 1), "bias_enc": torch.zeros(H), "nu_log": torch.zeros(H),
...      "theta_log": torch.zeros(H), "gamma_log": torch.zeros(H), "B_re": torch.eye(H),
...      "B_im": torch.zeros(H, H), "C_re": torch.eye(H), "C_im": torch.zeros(H, H),
...      "D": torch.zeros(H), "weight_mlp": torch.eye(H), "bias_mlp": torch.zeros(H)}
>>> z, cache = forward(p, torch.ones(3, 4, 1))
>>> tuple(z.shape), tuple(cache["h"][0].shape)
((4, 4, 2), (4, 4))
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rnngrad.torch_backend.rnn import scan

# its units never mix: a unit of small |lambda| has a gradient that shrinks apart from the
# others', so the profile flushes each step's (torch_backend.loss_and_grads)
FLUSH_EACH_STEP = True


def _lambda(params: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Re and Im of lambda = exp(-exp(nu_log) + i exp(theta_log))."""
    r = torch.exp(-torch.exp(params["nu_log"]))
    theta = torch.exp(params["theta_log"])
    return r * torch.cos(theta), r * torch.sin(theta)


def _encode(params: dict, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """e = gelu(W_enc x + b_enc) and gamma B e as the pair (Re, Im) concatenated, (..., 2N)."""
    e = F.gelu(F.linear(x, params["weight_enc"], params["bias_enc"]), approximate="tanh")
    gamma = torch.exp(params["gamma_log"])
    v = torch.cat([F.linear(e, params["B_re"]) * gamma, F.linear(e, params["B_im"]) * gamma], -1)
    return e, v


def _cell(a: torch.Tensor, b: torch.Tensor, s: torch.Tensor, v: torch.Tensor):
    N = a.shape[0]
    re, im = s[:, :N], s[:, N:]
    s = torch.cat([a * re - b * im, b * re + a * im], dim=-1) + v
    return s, s


def step(params: dict, s: torch.Tensor, x_t: torch.Tensor) -> torch.Tensor:
    """One step, s_{t-1} (B, 2N) and x_t (B, I) -> s_t (B, 2N)."""
    a, b = _lambda(params)
    return _cell(a, b, s, _encode(params, x_t)[1])[0]


def forward(
    params: dict, x: torch.Tensor, h0: torch.Tensor | None = None, *, retain: bool = False
) -> tuple[torch.Tensor, dict]:
    """Run the block over x (T, B, I); returns z (T+1, B, H) and the cache of
    :func:`~rnngrad.torch_backend.rnn.scan`, whose ``h`` are the states s_t (B, 2N)."""
    a, b = _lambda(params)
    N = a.shape[0]
    e, v = _encode(params, x)
    s0 = x.new_zeros(x.shape[1], 2 * N) if h0 is None else h0
    s, cache = scan(lambda s, v_t: _cell(a, b, s, v_t), s0, v, retain)
    y = F.linear(s[..., :N], params["C_re"]) - F.linear(s[..., N:], params["C_im"])
    y = torch.cat([y[:1], y[1:] + params["D"] * e])  # Re(C h_t) + D e_t; e_0 = 0
    return F.gelu(F.linear(y, params["weight_mlp"], params["bias_mlp"]), approximate="tanh"), cache


def step_weight_norms(cache: dict) -> torch.Tensor:
    """||sum_b conj(h_{t-1}) dL/dh_t||, step t's term of dL/dlambda, t = 1..T (after backward
    with ``retain``)."""
    s = torch.stack(cache["h"])  # (T+1, B, 2N)
    g = torch.stack([torch.zeros_like(v) if v.grad is None else v.grad for v in cache["h"][1:]])
    N = s.shape[-1] // 2
    re, im, g_re, g_im = s[:-1, :, :N], s[:-1, :, N:], g[..., :N], g[..., N:]
    term_re = (re * g_re + im * g_im).sum(dim=1)
    term_im = (re * g_im - im * g_re).sum(dim=1)
    # squares in float64: a float32 square is subnormal below 2^-63
    return torch.sqrt((term_re.double().square() + term_im.double().square()).sum(dim=-1))
