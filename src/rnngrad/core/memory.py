"""The curse of memory (Zucchet and Orvieto 2024, "Recurrent neural networks: vanishing and
exploding gradients are not the end of the story", NeurIPS 2024): as a recurrence's memory
grows, the sensitivity of its state to the recurrent parameters explodes, even where dL/dh_t
neither vanishes nor explodes.

For the scalar linear recurrence h_{t+1} = lambda h_t + gamma x_{t+1} with white input of unit
variance, in the stationary regime (their Sec. 2; docs/metrics.md)::

    gamma = 1:                    E h^2 = 1 / (1 - l^2),  E (dh/dl)^2 = (1 + l^2) / (1 - l^2)^3
    gamma = sqrt(1 - l^2):        E h^2 = 1,              E (dh/dl)^2 = 1 / (1 - l^2)^2

(with gamma depending on lambda, the second derivative includes gamma's). The normalization
fixes the forward pass, not the sensitivity: both ratios E (dh/dl)^2 / E h^2 grow as
1 / (1 - l)^2, the memory timescale squared.

:func:`memory_sensitivity` measures the same ratio in any cell's model, at its own weights, on
its probe batch: with y_b = u . h_T of sequence b for a fixed seeded unit vector u,

    memory_sensitivity = sqrt( (H / |theta_rec|) mean_b ||dy_b/dtheta_rec||^2
                               / (mean_b ||h_T(b)||^2 / H) )

theta_rec the trained weights of the recurrence (:data:`rnngrad.core.shared.RECURRENT_WEIGHTS`), H
the hidden units: the root mean square of dy/dtheta over one recurrent parameter a unit, over
that of one unit's last state. The factor H / |theta_rec| (1 for a diagonal recurrence, 1 / H for
a dense W_hh) counts one recurrent parameter per unit, so that a diagonal linear recurrence, and
a dense W_hh = lambda I alike, read :func:`closed_form` whatever u, and whether or not the units
share their input (tests check both by Monte Carlo).

Example
-------
>>> round(closed_form(0.0), 6), round(closed_form(0.9) ** 2, 3)
(1.0, 50.138)
"""

from __future__ import annotations

import numpy as np

from rnngrad.core import registry
from rnngrad.core.settings import CellSettings
from rnngrad.core.shared import RECURRENT_WEIGHTS
from rnngrad.core.tasks import Batch
from rnngrad.core.weights import stream

MEMORY_SEQUENCES = 16  # probe sequences the metric averages over (one backward pass each)


def closed_form(lam, normalized: bool = False):
    """sqrt(E (dh/dlambda)^2 / E h^2) of the stationary scalar linear recurrence with white
    input: sqrt(1 + l^2) / (1 - l^2), or 1 / (1 - l^2) with the input normalized by
    gamma = sqrt(1 - l^2)."""
    lam = np.asarray(lam, dtype=np.float64)
    if normalized:
        return 1.0 / (1.0 - lam**2)
    return np.sqrt(1.0 + lam**2) / (1.0 - lam**2)


def recurrent_weights(s: CellSettings) -> tuple[str, ...]:
    """The names of a cell's recurrent weights theta_rec (a plugin model's ``recurrent``, by
    default every weight of its own)."""
    if (plugin := registry.get("model", s.model)) is not None:
        return tuple(getattr(plugin.obj, "recurrent", plugin.params))
    return RECURRENT_WEIGHTS.get(s.model, ("weight_hh",))


def memory_sensitivity(
    s: CellSettings, be, params: dict, batch: Batch, n: int = MEMORY_SEQUENCES
) -> float:
    """The curse-of-memory metric (module docstring) of backend weights ``params`` on the first
    ``n`` sequences of ``batch``, through the backend ``be``'s ``readout_gradient``. NaN when
    every h_T is 0; inf or NaN where the pass overflowed."""
    u = stream(s.seed, "memory readout", s.hidden).standard_normal(s.hidden)
    u /= np.linalg.norm(u)
    names = recurrent_weights(s)
    h2, g2, size = [], [], 0
    with np.errstate(over="ignore", invalid="ignore"):
        for b in range(min(n, batch.x.shape[1])):
            h_T, grads = be.readout_gradient(s, params, batch.x[:, b : b + 1], u)
            h2.append(float(h_T @ h_T))
            g2.append(sum(float(np.sum(grads[k] ** 2)) for k in names))
            size = sum(grads[k].size for k in names)
        h2_mean = float(np.mean(h2)) / s.hidden
        if h2_mean == 0:
            return float("nan")
        return float(np.sqrt(s.hidden / size * np.mean(g2) / h2_mean))
