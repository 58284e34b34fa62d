"""Linear readout and task loss, forward and backward side by side.

    y_t = W_out h_t + b_out  at t in batch.loss_steps
    L   = scale * sum_t mean_b loss_t(b)   (mse: mean over outputs of (y - target)^2;
                                            xent: cross-entropy of softmax(y))
"""
from __future__ import annotations

import numpy as np

from rnngrad.tasks import Batch


def loss_forward_backward(params: dict, h: np.ndarray, batch: Batch) -> dict:
    """Loss, readouts (L, B, O), the readout's weight gradients and dL/dh_t through the readout
    alone (``dh_direct``, shaped like h: (T+1, B, H))."""
    W_out, b_out = params["weight_out"], params["bias_out"]
    hs = h[batch.loss_steps]  # (L, B, H)
    y = hs @ W_out.T + b_out  # (L, B, O)
    B = h.shape[1]
    with np.errstate(over="ignore", invalid="ignore"):
        if batch.kind == "mse":
            err = y - batch.targets.astype(y.dtype)
            loss = batch.scale * np.sum(np.mean(err * err, axis=(1, 2)))
            dy = (2.0 * batch.scale / (B * y.shape[-1])) * err  # backprop through the mean square
        else:
            z = y - y.max(axis=-1, keepdims=True)  # stable log-softmax
            logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
            onehot = np.eye(y.shape[-1], dtype=y.dtype)[batch.targets]
            loss = -batch.scale * np.sum(logp * onehot) / B
            dy = (batch.scale / B) * (np.exp(logp) - onehot)  # backprop through softmax + NLL
    dh_direct = np.zeros_like(h)
    np.add.at(dh_direct, batch.loss_steps, dy @ W_out)
    return {
        "loss": float(loss),
        "outputs": y,
        "dh_direct": dh_direct,
        "grads": {"weight_out": np.tensordot(dy, hs, axes=([0, 1], [0, 1])),
                  "bias_out": dy.sum(axis=(0, 1))},
    }
