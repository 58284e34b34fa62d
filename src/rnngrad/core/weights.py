"""Seeded initializers and random streams, shared by both backends.

Weights are drawn once, in float64, by NumPy generators, with PyTorch's names and shapes
(``weight_ih (G*H, I)``, ``weight_hh (G*H, H)``, ``bias_ih``, ``bias_hh``, plus the readout
``weight_out (O, H)``, ``bias_out (O,)``), where G is 1 (rnn, esn), 4 (lstm: gates i, f, g, o)
or 3 (gru: r, z, n). Either backend casts them to its dtype and device.

Each matrix has its own stream. W_rec's base matrix depends on (seed, model, init, hidden)
alone, so cells that differ only in ``w_rec_scale``, remedy or backend are paired: the same base
matrix, rescaled. Data streams depend on (seed, task, seq_len) alone.

Example
-------
>>> import numpy as np
>>> W = recurrent_matrix("orthogonal", 4, 0.9, np.random.default_rng(0))
>>> bool(np.allclose(W @ W.T, 0.81 * np.eye(4)))
True
"""

from __future__ import annotations

import zlib

import numpy as np

from rnngrad.core import tasks
from rnngrad.core.settings import CellSettings
from rnngrad.core.tasks import Batch

GATES = {"rnn": 1, "esn": 1, "lstm": 4, "gru": 3, "exprnn": 1, "antisymmetric": 1}
MODRELU_BIAS = 0.01  # the expRNN's code: modrelu's bias ~ U[-0.01, 0.01]
# Pascanu et al.'s smart tanh init (trainingRNNs RNN.py lines 125-138): 15 nonzero entries in
# each row of their W_hh, which maps h_{t-1} (a row vector) to h_t, so 15 nonzero outgoing
# weights per unit (a column of PyTorch's weight_hh), rescaled to radius 0.95; input and output
# weights N(0, 0.01^2): std 0.01, not a variance of 0.01
SPARSE_FAN_OUT = 15
SMART_OUT_STD = 0.01


def _key(*parts: object) -> list[int]:
    """Entropy for a SeedSequence from ints and strings (strings by CRC-32, stable everywhere)."""
    return [p if isinstance(p, int) else zlib.crc32(str(p).encode()) for p in parts]


def stream(*parts: object) -> np.random.Generator:
    """An independent generator named by ``parts``, e.g. ``stream(seed, "data", task, "probe")``."""
    return np.random.default_rng(np.random.SeedSequence(_key(*parts)))


def spectral_radius(W: np.ndarray) -> float:
    return float(np.max(np.abs(np.linalg.eigvals(W)))) if W.size else 0.0


def base_matrix(init: str, hidden: int, rng: np.random.Generator) -> np.ndarray:
    """The unscaled recurrent matrix of an initializer (spectral radius 1, or 0 if degenerate)."""
    H = hidden
    if init == "identity":
        return np.eye(H)
    if init == "orthogonal":
        A = rng.standard_normal((H, H))
        Q, R = np.linalg.qr(A)
        return Q * np.sign(np.diag(R))  # sign fix: Haar-distributed (Mezzadri 2007)
    if init == "gaussian":
        G = rng.standard_normal((H, H)) / np.sqrt(H)
    elif init == "sparse":
        G = np.zeros((H, H))
        fan_out = min(SPARSE_FAN_OUT, H)
        for i in range(H):  # unit i's outgoing weights: column i of weight_hh
            rows = rng.permutation(H)[:fan_out]
            G[rows, i] = rng.standard_normal(fan_out)
    else:
        raise ValueError(f"init: unknown initializer {init!r}")
    rho = spectral_radius(G)
    return G / rho if rho > 0 else G


def henaff_log(hidden: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    """The expRNN's log-recurrence at initialization, by Henaff et al.'s (2016) initializer as
    the expRNN's code draws it: U (H, H) zero but for U[2k, 2k+1] = theta_k, theta_k ~
    U[-pi, pi] times ``scale``, k < H // 2 (an odd H leaves the last unit's block 1), so that
    expm(U - U^T) is block-diagonal with 2 x 2 rotations by theta_k."""
    U = np.zeros((hidden, hidden))
    k = np.arange(hidden // 2)
    U[2 * k, 2 * k + 1] = scale * rng.uniform(-np.pi, np.pi, size=len(k))
    return U


def recurrent_matrix(init: str, hidden: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    """W = scale * base, with spectral radius ``scale`` (orthogonal: W = scale * Q)."""
    return scale * base_matrix(init, hidden, rng)


def init_params(s: CellSettings, n_in: int, n_out: int) -> dict[str, np.ndarray]:
    """All weights of a cell's model as float64 NumPy arrays, PyTorch names and shapes."""
    H, G = s.hidden, GATES[s.model]
    if s.model == "exprnn":  # trained in log_weight_hh; W_hh = expm(A) is derived
        rec = "log_weight_hh"
        w_hh = henaff_log(H, s.w_rec_scale, stream(s.seed, "w_hh", s.model, "henaff", H))
    else:
        rec = "weight_hh"
        w_hh = np.concatenate(
            [
                recurrent_matrix(
                    s.init, H, s.w_rec_scale, stream(s.seed, "w_hh", s.model, s.init, H, g)
                )
                for g in range(G)
            ]
        )
    smart = s.init == "sparse"  # Pascanu's smart init also draws W_out with std 0.01
    out_std = SMART_OUT_STD if smart else 1.0 / np.sqrt(H)
    params = {
        "weight_ih": s.input_scale
        * stream(s.seed, "w_ih", s.model, H, n_in).standard_normal((G * H, n_in)),
        rec: w_hh,
        "bias_ih": np.zeros(G * H),
        "bias_hh": np.zeros(G * H),
        "weight_out": out_std
        * stream(s.seed, "w_out", s.model, H, n_out).standard_normal((n_out, H)),
        "bias_out": np.zeros(n_out),
    }
    if s.model == "lstm":
        params["bias_ih"][H : 2 * H] = 1.0  # forget-gate bias 1 (bias_ih 1, bias_hh 0)
    if s.nonlinearity == "modrelu":  # the exprnn's: bias_hh is modrelu's bias
        b_rng = stream(s.seed, "b_hh", s.model, H)
        params["bias_hh"] = b_rng.uniform(-MODRELU_BIAS, MODRELU_BIAS, size=H)
    return params


def data_stream(s: CellSettings, purpose: str) -> np.random.Generator:
    """Data generator for ``purpose`` (probe, train, eval, fit), independent of scale, remedy,
    backend and model, so every such pair of cells sees the same sequences."""
    return stream(s.seed, "data", s.task, s.seq_len, purpose)


def cell_batch(s: CellSettings, rng: np.random.Generator, size: int | None = None) -> Batch:
    """Draw ``size`` (default ``s.batch``) sequences of a cell's task from ``rng``: the one way
    the cell, its training, evaluation and benchmarks draw their data (``rng`` is one of
    :func:`data_stream`'s streams)."""
    return tasks.make_batch(s.task, s.seq_len, size or s.batch, rng, s.hidden)
