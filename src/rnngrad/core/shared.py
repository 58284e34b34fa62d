"""What both backends share: the models' keywords, the per-step norm formula, the
chunk sizes and the penalties' definitions. Below both backends (it imports neither), so that
:mod:`rnngrad.numpy_backend` and :mod:`rnngrad.torch_backend` import it and never each other.

Every function here takes NumPy arrays and torch tensors alike.
"""

from __future__ import annotations

import numpy as np

from rnngrad.core.settings import CellSettings

BACKWARD_CHUNK = 64  # NumPy's BPTT: steps of dL/d(pre-activation) held at once, at most
# the LSTM's backward multiplies out its derivative factors a chunk of steps at a time: at most
# this many bytes of them, so that the chunk's factors, dL/d gates and temporaries (about 2.5x
# this) stay in a core's L2 cache (1 MB on the reference machine); chunks of 64 steps ran 1.3x
# to 2x slower at B = 128 (docs/performance.md)
CHUNK_BYTES = 256 * 1024
NORM_CHUNK = 64  # torch's per-step norms: steps of gradients stacked at once
OMEGA_BOUND = 1e-20  # Pascanu et al.'s code: ||dL/ds_{k+1}||^2 below this gives no Omega term
# AntisymmetricRNN (Chang et al. 2019): h_t = h_{t-1} + eps tanh((W - W^T - gamma I) h_{t-1} + ...);
# eps the Euler step (their grid, App. C: 0.01, 0.1, 1), gamma the diffusion that damps the
# forward Euler step's growth sqrt(1 + eps^2 omega^2) (docs/config.md)
ANTISYMMETRIC_EPS = 0.1
# the trained weights of a model's recurrence, theta_rec of the curse-of-memory metric
# (rnngrad.core.memory), where they are not ("weight_hh",)
RECURRENT_WEIGHTS = {"exprnn": ("log_weight_hh",), "lru": ("nu_log", "theta_log")}
ANTISYMMETRIC_GAMMA = 0.01


def model_kwargs(s: CellSettings) -> dict:
    """The settings a model's functions take as keywords (both backends)."""
    if s.model == "rnn":
        return {"nonlinearity": s.nonlinearity}
    if s.model == "esn":
        return {"nonlinearity": s.nonlinearity, "leak": s.leak}
    if s.model == "exprnn":
        return {"nonlinearity": s.nonlinearity}
    if s.model == "antisymmetric":
        return {"eps": ANTISYMMETRIC_EPS, "gamma": ANTISYMMETRIC_GAMMA}
    return {}


def indrnn_u_max(s: CellSettings) -> float:
    """The indrnn's bound on |u|: w_rec_scale times Li et al.'s 2^(1/T) for the T steps the
    network reads (their adding code: |u| <= MAG^(1/T), MAG = 2, so that no unit amplifies a
    gradient more than twofold over the sequence). At w_rec_scale 1 it is the paper's."""
    return s.w_rec_scale * 2.0 ** (1.0 / s.steps)


def constrain(s: CellSettings, params: dict) -> dict:
    """The weights after an update, projected back where a model constrains them: the
    indrnn's u clipped to [-u_max, u_max] (Li et al. clip before every step); NumPy arrays and
    torch tensors alike."""
    if s.model != "indrnn":
        return params
    bound = indrnn_u_max(s)
    return {**params, "weight_hh": params["weight_hh"].clip(-bound, bound)}


def skew(U):
    """The skew-symmetric A = triu(U, 1) - triu(U, 1)^T of a square U (NumPy or torch): the
    expRNN's parametrization of its log-recurrence by the strict upper triangle."""
    upper = U.triu(1) if hasattr(U, "triu") else np.triu(U, 1)
    return upper - upper.mT


def step_term_norms(d, hp):
    """Frobenius norms of the per-step terms d_t^T hp_t, d (n, B, G*H), hp (n, B, H); (n,).

    ||d^T hp||_F^2 = sum over batch pairs of (d d^T) * (hp hp^T): O(B^2 (G+1) H) a step, and no
    (G*H, H) matrix per step.
    """
    gram = (d @ d.mT) * (hp @ hp.mT)
    return abs(gram.sum(axis=(1, 2))) ** 0.5


def l2_wrec(W):
    """The l2_wrec penalty ||W_hh||_F^2 (0-dim) and its gradient 2 W_hh, of ``W`` = W_hh."""
    return (W * W).sum(), 2 * W


def has_torch_module(s: CellSettings) -> bool:
    """Whether torch.nn has the cell's model as one fused module (torch.nn.RNN, LSTM or GRU):
    the rnn with tanh or relu units, the lstm and the gru; not the esn, the sigmoid or linear
    rnn."""
    if s.model == "rnn":
        return s.nonlinearity in ("tanh", "relu")
    return s.model in ("lstm", "gru")


def backward_chunk(step_bytes: int) -> int:
    """Steps a NumPy backward chunk holds when each step's factors take ``step_bytes``: as many
    as fit in :data:`CHUNK_BYTES`, between 4 and :data:`BACKWARD_CHUNK`."""
    return max(4, min(BACKWARD_CHUNK, CHUNK_BYTES // max(step_bytes, 1)))
