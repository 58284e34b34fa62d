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

from rnngrad.core.settings import CellSettings

GATES = {"rnn": 1, "esn": 1, "lstm": 4, "gru": 3}
SPARSE_FAN_IN = 15  # Pascanu et al. 2013: 15 nonzero incoming weights per unit


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
        fan_in = min(SPARSE_FAN_IN, H)
        for i in range(H):
            cols = rng.choice(H, size=fan_in, replace=False)
            G[i, cols] = rng.standard_normal(fan_in)
    else:
        raise ValueError(f"init: unknown initializer {init!r}")
    rho = spectral_radius(G)
    return G / rho if rho > 0 else G


def recurrent_matrix(init: str, hidden: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    """W = scale * base, with spectral radius ``scale`` (orthogonal: W = scale * Q)."""
    return scale * base_matrix(init, hidden, rng)


def init_params(s: CellSettings, n_in: int, n_out: int) -> dict[str, np.ndarray]:
    """All weights of a cell's model as float64 NumPy arrays, PyTorch names and shapes."""
    H, G = s.hidden, GATES[s.model]
    w_hh = np.concatenate(
        [
            recurrent_matrix(
                s.init, H, s.w_rec_scale, stream(s.seed, "w_hh", s.model, s.init, H, g)
            )
            for g in range(G)
        ]
    )
    smart = s.init == "sparse"  # Pascanu's smart init also draws W_out ~ N(0, 0.01)
    out_std = 0.1 if smart else 1.0 / np.sqrt(H)
    params = {
        "weight_ih": s.input_scale
        * stream(s.seed, "w_ih", s.model, H, n_in).standard_normal((G * H, n_in)),
        "weight_hh": w_hh,
        "bias_ih": np.zeros(G * H),
        "bias_hh": np.zeros(G * H),
        "weight_out": out_std
        * stream(s.seed, "w_out", s.model, H, n_out).standard_normal((n_out, H)),
        "bias_out": np.zeros(n_out),
    }
    if s.model == "lstm":
        params["bias_ih"][H : 2 * H] = 1.0  # forget-gate bias 1 (bias_ih 1, bias_hh 0)
    return params


def data_stream(s: CellSettings, purpose: str) -> np.random.Generator:
    """Data generator for ``purpose`` (probe, train, eval, fit), independent of scale, remedy,
    backend and model, so every such pair of cells sees the same sequences."""
    return stream(s.seed, "data", s.task, s.seq_len, purpose)
