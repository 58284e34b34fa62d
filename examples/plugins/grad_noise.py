"""Annealed gradient noise: g_t <- g_t + N(0, sigma_t^2), sigma_t^2 = eta / (1 + t)^gamma.

A worked plugin remedy (docs/plugins.md): a gradient transform with its own state (a generator
derived from the cell's seed, and the step count), applied to every update's gradients before
clipping and the optimizer.
"""

import numpy as np


class GradientNoise:
    """Annealed Gaussian gradient noise: adds N(0, eta / (1 + t)^0.55) to every gradient
    component at update t (eta = 0.01), which helps deep and recurrent networks escape poor
    regions early in training."""

    citation = (
        "Neelakantan, Vilnis, Le, Sutskever, Kaiser, Kurach and Martens 2015, Adding gradient "
        "noise improves learning for very deep networks"
    )
    eta = 0.01  # the paper's {0.01, 0.3, 1.0}
    gamma = 0.55  # the paper's decay exponent

    def init_state(self, settings, rng):
        return {"rng": rng, "t": 0}

    def transform(self, grads, state, settings):
        state["t"] += 1
        sigma = np.sqrt(self.eta / (1 + state["t"]) ** self.gamma)
        return {k: g + sigma * state["rng"].standard_normal(g.shape) for k, g in grads.items()}


REMEDIES = {"grad_noise": GradientNoise()}
