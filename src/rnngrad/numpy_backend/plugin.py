"""A plugin model (:mod:`rnngrad.plugins`) with a NumPy step and its vector-Jacobian product as
a model of the NumPy backend: BPTT is the step's VJP applied backwards, one step a line.

    forward:  h_t = numpy_step(params, h_{t-1}, x_t)
    backward: dL/dh_{t-1}, step t's dL/dparams = numpy_step_vjp(params, h_{t-1}, x_t, dL/dh_t)

dL/dh_t is carried as a vector times a power of ten, renormalized when its norm leaves
[1e-150, 1e150], so the profile's log10 norms stay exact at any depth (as
:mod:`rnngrad.core.logscale` does for the built-ins). The step Jacobian J_t is read off the VJP
seeded with each unit vector.

Example
-------
>>> import numpy as np
>>> class Leaky:
...     def numpy_step(self, p, h, x):
...         return 0.5 * h + x @ p["weight_ih"].T
...     def numpy_step_vjp(self, p, h, x, dh):
...         return 0.5 * dh, {"weight_ih": dh.T @ x}
>>> m = PluginModel(Leaky(), ("weight_ih",))
>>> p = {"weight_ih": np.ones((3, 2)), "weight_out": np.ones((1, 3))}
>>> h, cache = m.forward(p, np.ones((4, 1, 2)))
>>> float(m.step_jacobians(p, cache)[0, 0, 0])
0.5
"""

from __future__ import annotations

import numpy as np

RENORMALIZE = 1e150  # dL/dh_t is rescaled to norm 1 when its norm leaves [1/this, this]


class PluginModel:
    """The backend's model interface (``forward``, ``backward``, ``step_jacobians``) over a
    plugin's ``numpy_step`` and ``numpy_step_vjp``."""

    def __init__(self, plugin, recurrent: tuple[str, ...]):
        self.plugin = plugin
        self.recurrent = tuple(recurrent)

    def forward(self, params: dict, x: np.ndarray, h0: np.ndarray | None = None):
        """States h (T+1, B, H) of x (T, B, I) and the cache (the states and inputs)."""
        T, B, _ = x.shape
        h = np.empty((T + 1, B, params["weight_out"].shape[1]), dtype=x.dtype)
        h[0] = 0.0 if h0 is None else h0
        with np.errstate(over="ignore", invalid="ignore"):
            for t in range(T):
                h[t + 1] = self.plugin.numpy_step(params, h[t], x[t])
        return h, {"h": h, "x": x}

    def backward(self, params: dict, cache: dict, dh_direct, norms: bool = True) -> dict:
        """Every own weight's gradient, ``dh0`` and the log10 profile norms (as the built-ins'
        backward), given the readout's dL/dh_t for t = 0..T (``dh_direct[t]``)."""
        h, x = cache["h"], cache["x"]
        T = x.shape[0]
        own = [k for k in params if k not in ("weight_out", "bias_out")]
        grads = {k: np.zeros_like(params[k]) for k in own}
        log10_grad_norm, log10_weight_grad_norm = np.empty(T + 1), np.empty(T)
        dh, E = np.array(dh_direct[T], dtype=h.dtype), 0.0  # dL/dh_t = 10^E dh
        with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
            log10_grad_norm[T] = np.log10(np.linalg.norm(dh))
            for t in range(T, 0, -1):
                dh_prev, dp = self.plugin.numpy_step_vjp(params, h[t - 1], x[t - 1], dh)
                rec = sum(float(np.sum(np.square(dp[k]))) for k in self.recurrent if k in dp)
                log10_weight_grad_norm[t - 1] = 0.5 * np.log10(rec) + E
                for k, g in dp.items():  # step t's term at its true scale
                    grads[k] += g * 10.0**E
                dh, E = self._add_direct(dh_prev, dh_direct[t - 1], E)  # and h_{t-1}'s readout
                n = float(np.linalg.norm(dh))
                if 0 < n < np.inf and not 1 / RENORMALIZE <= n <= RENORMALIZE:
                    dh, E = dh / n, E + np.log10(n)
                    n = 1.0
                log10_grad_norm[t - 1] = np.log10(n) + E
        return {
            "grads": grads,
            "dh0": dh * 10.0**E,
            "log10_grad_norm": log10_grad_norm if norms else None,
            "log10_weight_grad_norm": log10_weight_grad_norm if norms else None,
        }

    @staticmethod
    def _add_direct(dh, direct, E):
        """10^E dh + direct in the scaled form, the pair (dh, E): unchanged where nothing reads
        h_{t-1} (no 0 times an overflowing 10^-E), else one whose powers of ten stay in range."""
        if not np.any(direct):
            return dh, E
        if E < 0:  # 10^E underflows harmlessly where the direct term dominates
            return dh * 10.0**E + direct, 0.0
        return dh + direct * 10.0**-E, E

    def step_jacobians(self, params: dict, cache: dict, b: int = 0) -> np.ndarray:
        """J_t = dh_t/dh_{t-1} for sequence b, (T, H, H): row i is the VJP of unit vector e_i."""
        h, x = cache["h"], cache["x"]
        T, H = x.shape[0], h.shape[-1]
        eye = np.eye(H, dtype=h.dtype)
        J = np.empty((T, H, H))
        for t in range(1, T + 1):
            rows, _ = self.plugin.numpy_step_vjp(
                params,
                np.repeat(h[t - 1, b : b + 1], H, 0),
                np.repeat(x[t - 1, b : b + 1], H, 0),
                eye,
            )
            J[t - 1] = rows
        return J
