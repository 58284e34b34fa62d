"""Linear readout and task loss, forward and backward side by side.

    y_t = W_out h_t + b_out  at t in batch.loss_steps
    L   = scale * sum_t mean_b loss_t(b)   (mse: mean over outputs of (y - target)^2;
                                            xent: cross-entropy of softmax(y))

The readout's own gradient dL/dh_t is zero off the loss steps, so it is kept at those steps only
(:class:`DirectGrad`): a dense (T+1, B, H) array would cost as much memory as the states.
"""

from __future__ import annotations

import numpy as np

from rnngrad.core.tasks import Batch


class DirectGrad:
    """dL/dh_t through the readout alone for t = 0..T, stored at the loss steps only.

    ``direct[t]`` is a (B, H) array, as if indexing a dense (T+1, B, H) array: the stored value
    at a loss step, elsewhere a shared read-only zero array (backward only reads it).
    """

    __slots__ = ("_n", "_row", "_zero", "steps", "values")

    def __init__(self, steps: np.ndarray, values: np.ndarray, n_states: int):
        self.steps = steps  # (L',) distinct loss steps, increasing
        self.values = values  # (L', B, H)
        self._row = {int(t): i for i, t in enumerate(steps)}
        self._zero = np.zeros(values.shape[1:], dtype=values.dtype)
        self._zero.flags.writeable = False
        self._n = n_states

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, t: int) -> np.ndarray:
        if not 0 <= t < self._n:
            raise IndexError(f"step {t} outside 0..{self._n - 1}")
        i = self._row.get(t)
        return self._zero if i is None else self.values[i]


def scored_steps(dh_direct) -> set[int] | None:
    """The steps at which ``dh_direct`` may be nonzero: a :class:`DirectGrad`'s loss steps, or
    None (every step) for a dense array."""
    return set(dh_direct.steps.tolist()) if isinstance(dh_direct, DirectGrad) else None


def loss_forward_backward(params: dict, h: np.ndarray, batch: Batch) -> dict:
    """Loss, readouts (L, B, O), the readout's weight gradients and dL/dh_t through the readout
    alone (``dh_direct``, a :class:`DirectGrad` indexed like h: t = 0..T)."""
    W_out, b_out = params["weight_out"], params["bias_out"]
    hs = h[batch.loss_steps]  # (L, B, H)
    B = h.shape[1]
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is data (diverging training)
        y = hs @ W_out.T + b_out  # (L, B, O)
        O = y.shape[-1]
        if batch.kind == "mse":
            err = y - batch.targets.astype(y.dtype)
            loss = batch.scale * (err * err).sum() / (B * O)  # the sum over t of the means
            dy = (2.0 * batch.scale / (B * O)) * err  # backprop through the mean square
        else:
            z = y - y.max(axis=-1, keepdims=True)  # stable log-softmax
            logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
            onehot = np.eye(O, dtype=y.dtype)[batch.targets]
            loss = -batch.scale * np.sum(logp * onehot) / B
            dy = (batch.scale / B) * (np.exp(logp) - onehot)  # backprop through softmax + NLL
        ls = batch.loss_steps
        if bool((ls[1:] > ls[:-1]).all()):  # increasing: each step scored once
            steps, direct = ls, dy @ W_out
        else:  # a step scored twice sums its terms
            steps, row = np.unique(ls, return_inverse=True)
            direct = np.zeros((len(steps), *h.shape[1:]), dtype=h.dtype)
            np.add.at(direct, row, dy @ W_out)
        grads = {
            "weight_out": dy.reshape(-1, O).T @ hs.reshape(-1, hs.shape[-1]),
            "bias_out": dy.sum(axis=(0, 1)),
        }
    return {
        "loss": float(loss),
        "outputs": y,
        "dh_direct": DirectGrad(steps, direct, h.shape[0]),
        "grads": grads,
    }
