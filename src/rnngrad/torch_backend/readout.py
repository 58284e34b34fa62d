"""Linear readout and task loss in PyTorch, differentiable (formulas of numpy_backend.readout).

y_t = W_out h_t + b_out  at t in batch.loss_steps
L   = scale * sum_t mean_b loss_t(b)   (mse: mean over outputs of (y - target)^2;
                                        xent: cross-entropy of softmax(y))
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rnngrad.core.tasks import Batch


def loss(params: dict, h: torch.Tensor, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss (0-dim tensor) and readouts (L, B, O) of states h (T+1, B, H)."""
    hs = h[torch.as_tensor(batch.loss_steps, device=h.device)]  # (L, B, H)
    y = F.linear(hs, params["weight_out"], params["bias_out"])  # (L, B, O)
    targets = torch.as_tensor(batch.targets, device=h.device)
    if batch.kind == "mse":
        err = y - targets.to(y.dtype)
        return batch.scale * err.square().mean(dim=(1, 2)).sum(), y
    logp = torch.log_softmax(y, dim=-1)
    return -batch.scale * logp.gather(-1, targets[..., None]).sum() / y.shape[1], y
