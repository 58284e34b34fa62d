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

from rnngrad.core import registry, tasks
from rnngrad.core.settings import CellSettings
from rnngrad.core.shared import indrnn_u_max
from rnngrad.core.tasks import Batch

# the indrnn and the lru have no W_hh of gate blocks; for the cost formulas (6 B G H^2 T FLOPs,
# docs/metrics.md) the indrnn counts one per layer (its H x H input GEMM between layers), the
# lru three (its H x N maps B and C, complex, and its MLP, all position-wise)
GATES = {
    "rnn": 1,
    "esn": 1,
    "lstm": 4,
    "gru": 3,
    "exprnn": 1,
    "antisymmetric": 1,
    "indrnn": 1,
    "lru": 3,
}
PLUGIN_GATES = 1  # a plugin model's H x H matrices a step, unless it declares ``gates``


def gates(model: str) -> int:
    """The H x H recurrent blocks a step of ``model`` multiplies (the cost formulas' G)."""
    if model in GATES:
        return GATES[model]
    return int(getattr(registry.obj("model", model), "gates", PLUGIN_GATES))


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


def base_matrix(
    init: str, hidden: int, rng: np.random.Generator, scaling: str = "radius"
) -> np.ndarray:
    """The unscaled recurrent matrix of an initializer: spectral radius 1 (``scaling``
    ``radius``) or sigma_w = ||B||_F / sqrt(hidden) = 1 (``sigma_w``), 0 if degenerate. The same
    draws from ``rng`` either way: only the normalization differs. Orthogonal and identity
    matrices have both at once."""
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
    norm = spectral_radius(G) if scaling == "radius" else np.linalg.norm(G) / np.sqrt(H)
    return G / norm if norm > 0 else G


def henaff_log(hidden: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    """The expRNN's log-recurrence at initialization, by Henaff et al.'s (2016) initializer as
    the expRNN's code draws it: U (H, H) zero but for U[2k, 2k+1] = theta_k, theta_k ~
    U[-pi, pi] times ``scale``, k < H // 2 (an odd H leaves the last unit's block 1), so that
    expm(U - U^T) is block-diagonal with 2 x 2 rotations by theta_k."""
    U = np.zeros((hidden, hidden))
    k = np.arange(hidden // 2)
    U[2 * k, 2 * k + 1] = scale * rng.uniform(-np.pi, np.pi, size=len(k))
    return U


def recurrent_matrix(
    init: str, hidden: int, scale: float, rng: np.random.Generator, scaling: str = "radius"
) -> np.ndarray:
    """W = scale * base, with spectral radius ``scale`` (``scaling`` radius) or sigma_w
    ``scale`` (``sigma_w``); orthogonal: W = scale * Q either way."""
    return scale * base_matrix(init, hidden, rng, scaling)


def init_params(s: CellSettings, n_in: int, n_out: int) -> dict[str, np.ndarray]:
    """All weights of a cell's model as float64 NumPy arrays, PyTorch names and shapes; a
    plugin model's from its ``init`` with its own stream, and the linear readout."""
    if (plugin := registry.obj("model", s.model)) is not None:
        rng = stream(s.seed, "plugin", s.model, s.hidden, n_in)
        own = plugin.init(s, n_in, rng)
        return {
            **{k: np.asarray(v, dtype=np.float64) for k, v in own.items()},
            **readout_params(s, n_out),
        }
    if s.model in ("indrnn", "lru"):
        return {
            **(indrnn_params if s.model == "indrnn" else lru_params)(s, n_in),
            **readout_params(s, n_out),
        }
    H, G = s.hidden, GATES[s.model]
    if s.model == "exprnn":  # trained in log_weight_hh; W_hh = expm(A) is derived
        rec = "log_weight_hh"
        w_hh = henaff_log(H, s.w_rec_scale, stream(s.seed, "w_hh", s.model, "henaff", H))
    else:
        rec = "weight_hh"
        w_hh = np.concatenate(
            [
                recurrent_matrix(
                    s.init,
                    H,
                    s.w_rec_scale,
                    stream(s.seed, "w_hh", s.model, s.init, H, g),
                    s.w_rec_scaling,
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


def readout_params(s: CellSettings, n_out: int) -> dict[str, np.ndarray]:
    """The linear readout of the indrnn, the lru and plugin models: W_out ~ N(0, 1/H),
    b_out = 0."""
    H = s.hidden
    rng = stream(s.seed, "w_out", s.model, H, n_out)
    return {"weight_out": rng.standard_normal((n_out, H)) / np.sqrt(H), "bias_out": np.zeros(n_out)}


def indrnn_params(s: CellSettings, n_in: int) -> dict[str, np.ndarray]:
    """The indrnn's weights as in Li et al.'s adding code: every layer's input weights
    N(0, input_scale^2) (they use 0.001), biases 0, and u uniform in (0, u_max) for the lower
    layers and in (u_max / 4^(1/T), u_max) for the last, u_max = w_rec_scale 2^(1/T)
    (:func:`rnngrad.core.shared.indrnn_u_max`): at w_rec_scale 1 their (2^(-1/T), 2^(1/T)).

    ``weight_ih (H, I)`` feeds layer 0, ``weight_ih_l{k} (H, H)`` layer k >= 1 from layer k - 1;
    ``weight_hh (L, H)`` holds u, ``bias_ih`` and ``bias_hh (L, H)`` the biases.
    """
    H, L = s.hidden, s.layers
    u_max = indrnn_u_max(s)
    low = np.zeros((L, 1))
    low[-1] = u_max / 4.0 ** (1.0 / s.steps)
    r = stream(s.seed, "u", s.model, H, L).random((L, H))
    params = {
        "weight_ih": s.input_scale
        * stream(s.seed, "w_ih", s.model, H, n_in).standard_normal((H, n_in)),
        "weight_hh": low + (u_max - low) * r,
        "bias_ih": np.zeros((L, H)),
        "bias_hh": np.zeros((L, H)),
    }
    for k in range(1, L):
        rng = stream(s.seed, "w_ih", s.model, H, H, k)
        params[f"weight_ih_l{k}"] = s.input_scale * rng.standard_normal((H, H))
    return params


def lru_params(s: CellSettings, n_in: int) -> dict[str, np.ndarray]:
    """The LRU block's weights (Orvieto et al. 2023, their Appendix A code's names): the ring
    initialization |lambda|^2 uniform in [r_min^2, r_max^2] (r_max = w_rec_scale), arg(lambda)
    uniform in [0, max_phase) (their default 2 pi), nu_log = log(-log|lambda|), theta_log =
    log arg(lambda), gamma_log = log sqrt(1 - |lambda|^2); B = B_re + i B_im with entries
    N(0, 1/(2H)) each part, C likewise N(0, 1/N), D ~ N(0, 1); the encoder
    ``weight_enc (H, I)`` N(0, input_scale^2) and the MLP ``weight_mlp (H, H)`` N(0, 1/H),
    biases 0. The state has N = H complex units."""
    H = N = s.hidden
    u1, u2 = stream(s.seed, "lambda", s.model, N).random((2, N))
    r2 = u1 * (s.w_rec_scale**2 - s.r_min**2) + s.r_min**2  # |lambda|^2
    with np.errstate(divide="ignore"):
        nu_log = np.log(-0.5 * np.log(r2))
    rng = stream(s.seed, "lru", s.model, H, n_in)
    return {
        "weight_enc": s.input_scale * rng.standard_normal((H, n_in)),
        "bias_enc": np.zeros(H),
        "nu_log": nu_log,
        "theta_log": np.log(s.max_phase * u2),
        "gamma_log": 0.5 * np.log1p(-r2),
        "B_re": rng.standard_normal((N, H)) / np.sqrt(2 * H),
        "B_im": rng.standard_normal((N, H)) / np.sqrt(2 * H),
        "C_re": rng.standard_normal((H, N)) / np.sqrt(N),
        "C_im": rng.standard_normal((H, N)) / np.sqrt(N),
        "D": rng.standard_normal(H),
        "weight_mlp": rng.standard_normal((H, H)) / np.sqrt(H),
        "bias_mlp": np.zeros(H),
    }


def data_stream(s: CellSettings, purpose: str) -> np.random.Generator:
    """Data generator for ``purpose`` (probe, train, eval, fit), independent of scale, remedy,
    backend and model, so every such pair of cells sees the same sequences."""
    return stream(s.seed, "data", s.task, s.seq_len, purpose)


def cell_batch(s: CellSettings, rng: np.random.Generator, size: int | None = None) -> Batch:
    """Draw ``size`` (default ``s.batch``) sequences of a cell's task from ``rng``: the one way
    the cell, its training, evaluation and benchmarks draw their data (``rng`` is one of
    :func:`data_stream`'s streams)."""
    return tasks.make_batch(s.task, s.seq_len, size or s.batch, rng, s.hidden)
