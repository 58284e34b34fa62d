"""A plugin model (:mod:`rnngrad.plugins`) as a model of the torch backend: its ``step`` run by
the backend's loop, so the profile, the step Jacobians, training with every remedy and the
curse-of-memory metric take it by autograd as they take a built-in model.

    h_t = step(params, h_{t-1}, x_t)        (the plugin's own update; h_0 = 0)

Step t's term of dL/dW_rec, the per-step weight gradient the profile reports, is that of the
plugin's recurrent weights (its ``recurrent`` names, by default all of its own): each step
reads them through a view of its own, whose .grad backward fills with that step's term.

Example
-------
>>> import torch
>>> class Leaky:
...     def step(self, p, h, x):
...         return 0.5 * h + torch.tanh(x @ p["weight_ih"].T)
>>> m = PluginModel(Leaky(), ("weight_ih",))
>>> p = {"weight_ih": torch.ones(3, 2), "weight_out": torch.ones(1, 3)}
>>> h, cache = m.forward(p, torch.zeros(5, 4, 2))
>>> tuple(h.shape), bool(torch.equal(m.step(p, h[0], torch.zeros(4, 2)), h[1]))
((6, 4, 3), True)
"""

from __future__ import annotations

import torch

from rnngrad.torch_backend.rnn import scan


class PluginModel:
    """The backend's model interface (``step``, ``forward``, ``step_weight_norms``) over a
    plugin's ``step``; ``recurrent`` names the weights whose per-step terms are reported."""

    def __init__(self, plugin, recurrent: tuple[str, ...]):
        self.plugin = plugin
        self.recurrent = tuple(recurrent)

    def step(self, params: dict, h: torch.Tensor, x_t: torch.Tensor) -> torch.Tensor:
        """One step, h_{t-1} (B, H) and x_t (B, I) -> h_t (B, H)."""
        return self.plugin.step(params, h, x_t)

    def forward(
        self, params: dict, x: torch.Tensor, h0: torch.Tensor | None = None, *, retain: bool = False
    ) -> tuple[torch.Tensor, dict]:
        """Run the plugin over x (T, B, I): states h (T+1, B, H) and the cache of
        :func:`~rnngrad.torch_backend.rnn.scan`, whose ``pre`` holds, with ``retain``, each
        step's views of the recurrent weights."""
        H = params["weight_out"].shape[1]
        h0 = x.new_zeros(x.shape[1], H) if h0 is None else h0
        views: list[dict] = []

        def cell(h, x_t):
            p = params
            if retain:
                own = {k: params[k].view_as(params[k]) for k in self.recurrent}
                for v in own.values():
                    if v.requires_grad:
                        v.retain_grad()
                views.append(own)
                p = {**params, **own}
            out = self.plugin.step(p, h, x_t)
            return out, out

        states, cache = scan(cell, h0, x, retain)
        if retain:
            cache["pre"] = views
        return states, cache

    def step_weight_norms(self, cache: dict) -> torch.Tensor:
        """||step t's term of dL/dW_rec|| over the recurrent weights, t = 1..T (after backward
        with ``retain``)."""
        terms = []
        for own in cache["pre"]:
            sq = [v.grad.square().sum() for v in own.values() if v.grad is not None]
            terms.append(torch.stack(sq).sum().sqrt() if sq else torch.zeros(()))
        return torch.stack(terms)
