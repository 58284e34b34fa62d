"""The minimal gated unit: one forget gate that also resets the candidate.

    f_t = sigmoid(W_f x_t + U_f h_{t-1} + b_f)
    c_t = tanh(W_c x_t + U_c (f_t * h_{t-1}) + b_c)
    h_t = (1 - f_t) * h_{t-1} + f_t * c_t

A worked plugin model (docs/plugins.md): ``init`` draws the weights with rnngrad's own
initializer of W_rec (so ``init: orthogonal`` and ``w_rec_scale`` act on it as on a built-in),
``step`` is the torch update, and ``numpy_step`` with ``numpy_step_vjp`` (the step's backward,
the forward read in reverse) let NumPy cells run it too; the probe holds the two equal.
Weights in PyTorch's layout, gates stacked [f; c]: ``weight_ih (2H, I)``, ``weight_hh (2H, H)``,
``bias (2H,)``.
"""

import numpy as np
import torch

from rnngrad.core.weights import recurrent_matrix


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


class MGU:
    """Minimal gated unit: a single forget gate f both keeps h_{t-1} and resets the
    candidate; h_t = (1 - f) h_{t-1} + f tanh(W_c x + U_c (f h_{t-1}) + b_c)."""

    citation = "Zhou, Wu, Zhang and Zhou 2016, Minimal gated unit for recurrent neural networks"
    recurrent = ("weight_hh",)  # the per-step weight gradient the profile reports
    gates = 2  # H x H products a step, for the cost model

    def init(self, settings, n_in, rng):
        H = settings.hidden
        blocks = [
            recurrent_matrix(settings.init, H, settings.w_rec_scale, rng, settings.w_rec_scaling)
            for _ in range(2)
        ]
        return {
            "weight_ih": settings.input_scale * rng.standard_normal((2 * H, n_in)),
            "weight_hh": np.concatenate(blocks),
            "bias": np.zeros(2 * H),
        }

    def recurrent_matrix(self, params):
        """U_c, the candidate's recurrent block (its spectral radius is w_rec_scale)."""
        H = params["weight_hh"].shape[1]
        return params["weight_hh"][H:]

    # -- torch ----------------------------------------------------------------------------
    def step(self, params, h, x):
        H = h.shape[-1]
        W, U, b = params["weight_ih"], params["weight_hh"], params["bias"]
        xp = x @ W.T + b  # both gates' input projections (B, 2H)
        f = torch.sigmoid(xp[:, :H] + h @ U[:H].T)
        c = torch.tanh(xp[:, H:] + (f * h) @ U[H:].T)
        return h + f * (c - h)

    # -- numpy ----------------------------------------------------------------------------
    def _gates(self, params, h, x):
        H = h.shape[-1]
        W, U, b = params["weight_ih"], params["weight_hh"], params["bias"]
        xp = x @ W.T + b
        f = _sigmoid(xp[:, :H] + h @ U[:H].T)
        c = np.tanh(xp[:, H:] + (f * h) @ U[H:].T)
        return f, c

    def numpy_step(self, params, h, x):
        f, c = self._gates(params, h, x)
        return h + f * (c - h)

    def numpy_step_vjp(self, params, h, x, dh_next):
        """dL/dh_{t-1} and step t's dL/dparams from dL/dh_t: the forward in reverse."""
        H = h.shape[-1]
        U = params["weight_hh"]
        f, c = self._gates(params, h, x)
        dc = dh_next * f  # h_t = h + f (c - h)
        df = dh_next * (c - h)
        dh = dh_next * (1 - f)
        dac = dc * (1 - c * c)  # backprop through tanh
        dfh = dac @ U[H:]  # through U_c (f h)
        df += dfh * h
        dh += dfh * f
        daf = df * f * (1 - f)  # backprop through sigmoid
        dh += daf @ U[:H]  # through U_f h
        da = np.concatenate([daf, dac], axis=-1)  # (B, 2H)
        grads = {
            "weight_ih": da.T @ x,
            "weight_hh": np.concatenate([daf.T @ h, dac.T @ (f * h)]),
            "bias": da.sum(axis=0),
        }
        return dh, grads


MODELS = {"mgu": MGU()}
