"""Echo state network readout: ridge regression in closed form (backend-independent, float64).

The reservoir (model esn: leaky, fixed) runs in the cell's backend; its states at the loss steps
are the rows x = h_t of a design matrix augmented by a constant column for the bias, and the
readout solves

    min_{W, b} sum_rows ||W x + b - y||^2 + ridge ||W||_F^2        (the bias unpenalized)

through the normal equations (X^T X + ridge D) [W b]^T = X^T Y, D = diag(1, ..., 1, 0), summed
batch by batch so memory stays bounded. The targets y are the task's (mse tasks) or the one-hot
codes of the classes (classification tasks: the classic ESN least-squares classifier).

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> h = rng.standard_normal((1, 50, 3)); y = h @ np.array([[1.0], [2.0], [3.0]]) + 0.5
>>> ne = NormalEquations(3, 1); ne.add(h, y)
>>> W, b = ne.solve(0.0)
>>> np.round(W, 6).tolist(), np.round(b, 6).tolist()
([[1.0, 2.0, 3.0]], [0.5])
"""

from __future__ import annotations

import numpy as np

from rnngrad.core.settings import CellSettings
from rnngrad.core.tasks import Batch
from rnngrad.core.weights import cell_batch, data_stream


def targets(batch: Batch) -> np.ndarray:
    """Regression targets (L, B, O) at the loss steps: the targets, or one-hot classes."""
    if batch.kind == "mse":
        return batch.targets
    return np.eye(batch.n_out)[batch.targets]


class NormalEquations:
    """Running X^T X and X^T Y of the augmented design [h, 1], in float64."""

    def __init__(self, hidden: int, n_out: int):
        self.XtX = np.zeros((hidden + 1, hidden + 1))
        self.XtY = np.zeros((hidden + 1, n_out))

    def add(self, states: np.ndarray, y: np.ndarray) -> None:
        """Add rows: ``states`` (..., H) and their targets ``y`` (..., O)."""
        X = states.reshape(-1, states.shape[-1])
        X = np.hstack([X, np.ones((X.shape[0], 1))])
        Y = y.reshape(-1, y.shape[-1])
        self.XtX += X.T @ X
        self.XtY += X.T @ Y

    def solve(self, ridge: float) -> tuple[np.ndarray, np.ndarray]:
        """The readout ``weight_out`` (O, H) and ``bias_out`` (O,) minimizing the ridge objective
        (least squares with the smallest norm when the system is singular)."""
        D = np.eye(self.XtX.shape[0])
        D[-1, -1] = 0.0  # the bias is not penalized
        A = self.XtX + ridge * D
        try:
            w = np.linalg.solve(A, self.XtY)
        except np.linalg.LinAlgError:  # singular (ridge 0 and rank-deficient states)
            w = np.linalg.lstsq(A, self.XtY, rcond=None)[0]
        return w[:-1].T.copy(), w[-1].copy()


def fit(s: CellSettings, be, params: dict) -> tuple[dict, int | None]:
    """Ridge readout on the reservoir states of ``train_steps`` training batches; returns the
    backend weights and the step whose states were first non-finite (None when all were).
    ``be`` is the cell's backend (it runs the reservoir); nothing is iterated, so training
    records no curve."""
    H = params["weight_hh"].shape[1]
    n_out = params["weight_out"].shape[0]
    p = be.to_backend(s, params)
    rng = data_stream(s, "train")
    normal = NormalEquations(H, n_out)
    for step in range(1, s.train_steps + 1):
        batch = cell_batch(s, rng)
        h, _ = be.forward(s, p, batch.x)
        states = np.asarray(be.from_backend(h), dtype=np.float64)[batch.loss_steps]
        if not np.all(np.isfinite(states)):
            return p, step
        normal.add(states, targets(batch))
    W_out, b_out = normal.solve(s.ridge)
    return {**p, **be.to_backend(s, {"weight_out": W_out, "bias_out": b_out})}, None
