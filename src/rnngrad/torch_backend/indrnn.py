"""IndRNN (Li, Li, Cook, Zhu and Gao 2018) in PyTorch; autograd does the BPTT.

    a^l_t = W^l x^l_t + b^l + u^l * h^l_{t-1}        (x^0_t = x_t, x^l_t = h^{l-1}_t)
    h^l_t = relu(a^l_t),                              l = 0..L-1

The carry is every layer's state, s_t = (h^0_t, ..., h^{L-1}_t) (B, L*H), layer-major; forward
returns the last layer's states. Shapes and names as in :mod:`rnngrad.numpy_backend.indrnn`.

Example
-------
>>> import torch
>>> p = {"weight_ih": torch.ones(3, 2), "weight_hh": torch.ones(1, 3),
...      "bias_ih": torch.zeros(1, 3), "bias_hh": torch.zeros(1, 3)}
>>> h, cache = forward(p, torch.ones(5, 4, 2))
>>> tuple(h.shape), float(h[5, 0, 0])
((6, 4, 3), 10.0)
"""

from __future__ import annotations

import torch

from rnngrad.torch_backend.rnn import scan

# its units never mix in time: a unit of small |u| has a gradient that shrinks apart from the
# others', so the profile flushes each step's (torch_backend.loss_and_grads)
FLUSH_EACH_STEP = True


def _cell(params: dict, s: torch.Tensor, xp0: torch.Tensor) -> tuple[torch.Tensor, list]:
    """s_{t-1} (B, L*H) and layer 0's input projection (B, H) -> s_t and the list of a^l_t."""
    u, b = params["weight_hh"], params["bias_ih"] + params["bias_hh"]
    L, H = u.shape
    hs, pre = [], []
    for l in range(L):
        inp = xp0 if l == 0 else hs[-1] @ params[f"weight_ih_l{l}"].T + b[l]
        a = inp + u[l] * s[:, l * H : (l + 1) * H]
        pre.append(a)
        hs.append(torch.relu(a))
    return torch.cat(hs, dim=-1), pre


def _project(params: dict, x: torch.Tensor) -> torch.Tensor:
    """Layer 0's W^0 x_t + b^0 for every step at once."""
    b = params["bias_ih"][0] + params["bias_hh"][0]
    return torch.nn.functional.linear(x, params["weight_ih"], b)


def step(params: dict, s: torch.Tensor, x_t: torch.Tensor) -> torch.Tensor:
    """One step, s_{t-1} (B, L*H) and x_t (B, I) -> s_t (B, L*H)."""
    return _cell(params, s, _project(params, x_t))[0]


def forward(
    params: dict, x: torch.Tensor, h0: torch.Tensor | None = None, *, retain: bool = False
) -> tuple[torch.Tensor, dict]:
    """Run the IndRNN over x (T, B, I); returns the last layer's states (T+1, B, H) and the
    cache of :func:`~rnngrad.torch_backend.rnn.scan`, whose ``h`` are the states s_t
    (B, L*H) and ``pre`` the lists of every layer's a^l_t (each its own node: a layer's a
    reaches the loss through the layer above as well as through the state)."""
    L, H = params["weight_hh"].shape
    s0 = x.new_zeros(x.shape[1], L * H) if h0 is None else h0
    pre = []

    def cell(s, xp):
        s, a = _cell(params, s, xp)
        if retain:
            for a_l in a:
                a_l.retain_grad()
        pre.append(a)
        return s, a[0]

    states, cache = scan(cell, s0, _project(params, x), retain)
    cache["pre"] = pre
    return states[..., (L - 1) * H :], cache


def step_weight_norms(cache: dict) -> torch.Tensor:
    """||sum_b dL/da_t * s_{t-1}||, step t's term of dL/du over every layer, t = 1..T (after
    backward with ``retain``)."""
    prev = torch.stack(cache["h"][:-1])  # (T, B, L*H)
    grad = [[torch.zeros_like(a) if a.grad is None else a.grad for a in p] for p in cache["pre"]]
    da = torch.stack([torch.cat(g, dim=-1) for g in grad])  # (T, B, L*H)
    return torch.linalg.vector_norm((da * prev).sum(dim=1), dim=-1)
