"""Gradient clipping and the optimizers, written once for NumPy arrays and torch tensors alike.

Both backends apply the same formulas: PyTorch's (``torch.optim.SGD``, with ``momentum=0.9`` for
momentum, and ``torch.optim.Adam`` with its defaults), with the optimizer state under PyTorch's
names. Clipping is a remedy the suite measures, never a hidden default: by global norm (Pascanu
et al. 2013, Algorithm 1) or by value.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from rnngrad.core import registry
from rnngrad.core.settings import CellSettings
from rnngrad.core.weights import stream

MOMENTUM = 0.9  # heavy ball, as torch.optim.SGD(momentum=0.9)
BETAS = (0.9, 0.999)  # torch.optim.Adam's defaults
EPS = 1e-8


def global_norm(grads: dict) -> float:
    """sqrt of the sum of squares of every gradient component (inf or nan when they are)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return float(sum(float((g * g).sum()) for g in grads.values())) ** 0.5


def clip(s: CellSettings, grads: dict, norm: float) -> tuple[dict, bool]:
    """Clipping by global norm (Pascanu et al. 2013, Algorithm 1: if ||g|| > threshold,
    g <- threshold g / ||g||) or by value (each component to [-threshold, threshold]).
    Returns the gradients and whether clipping changed them."""
    c = s.clip
    if c is None:
        return grads, False
    if c.kind == "norm":
        if norm <= c.threshold:
            return grads, False
        scale = c.threshold / norm
        return {k: g * scale for k, g in grads.items()}, True
    clipped = any(bool((abs(g) > c.threshold).any()) for g in grads.values())
    return {k: g.clip(-c.threshold, c.threshold) for k, g in grads.items()}, clipped


def _transform_plugin(s: CellSettings):
    obj = registry.obj("remedy", s.gradient_transform)
    if obj is None:
        raise RuntimeError(
            f"gradient_transform: plugin remedy {s.gradient_transform!r} is not loaded in this "
            "process (rnngrad cell loads the plugins its settings name)"
        )
    return obj


def transform(s: CellSettings, grads: dict, state: dict) -> dict:
    """The cell's plugin gradient transform (``gradient_transform``) applied to ``grads``: the
    plugin sees float64 NumPy copies and its state (``state["transform"]``); its result comes
    back in the gradients' own type, dtype and device."""
    own = {
        k: np.array(g.detach().cpu().numpy() if hasattr(g, "detach") else g, dtype=np.float64)
        for k, g in grads.items()
    }
    out = _transform_plugin(s).transform(own, state["transform"].value, s)
    first = next(iter(grads.values()))
    if isinstance(first, np.ndarray):
        return {k: np.asarray(out[k], dtype=g.dtype) for k, g in grads.items()}
    import torch

    return {
        k: torch.as_tensor(np.asarray(out[k]), dtype=g.dtype, device=g.device)
        for k, g in grads.items()
    }


def init_optimizer(s: CellSettings, params: dict) -> dict:
    """Optimizer state (PyTorch's names): ``step``, and per weight ``momentum_buffer`` (sgd with
    momentum) or ``exp_avg`` and ``exp_avg_sq`` (adam), each made from the first gradient."""
    state: dict[str, Any] = {"step": 0}
    if s.gradient_transform:  # not a dict: a checkpoint leaves it out, a resume starts it anew
        init = getattr(_transform_plugin(s), "init_state", None)
        rng = stream(s.seed, "gradient_transform", s.gradient_transform)
        state["transform"] = SimpleNamespace(value=None if init is None else init(s, rng))
    if s.optimizer == "adam":
        state.update(exp_avg={}, exp_avg_sq={})
    elif s.optimizer == "momentum":
        state["momentum_buffer"] = {}
    return state


def optimizer_step(s: CellSettings, params: dict, grads: dict, state: dict) -> dict:
    """One update; returns new weights (the old ones stay intact) and updates ``state``.

    sgd: p <- p - lr g. momentum: b <- g at the first step, else 0.9 b + g; p <- p - lr b.
    adam: m <- m + (1 - beta1)(g - m); v <- beta2 v + (1 - beta2) g^2 (m = v = 0 before the
    first step); p <- p - (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
    """
    state["step"] += 1
    lr, new = s.lr, {}
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        if s.optimizer == "sgd":
            for k, p in params.items():
                new[k] = p - lr * grads[k]
        elif s.optimizer == "momentum":
            buf = state["momentum_buffer"]
            for k, p in params.items():
                # nothing is changed in place, so the first buffer may be the gradient itself
                buf[k] = grads[k] if k not in buf else MOMENTUM * buf[k] + grads[k]
                new[k] = p - lr * buf[k]
        else:
            b1, b2 = BETAS
            t = state["step"]
            step_size = lr / (1 - b1**t)
            root_bc2 = (1 - b2**t) ** 0.5  # Python floats keep float32 weights float32
            m, v = state["exp_avg"], state["exp_avg_sq"]
            if not isinstance(next(iter(params.values())), np.ndarray):
                return _adam_torch(params, grads, m, v, step_size, root_bc2)
            for k, p in params.items():
                g = grads[k]
                m[k] = (1 - b1) * g if k not in m else m[k] + (1 - b1) * (g - m[k])
                v[k] = (1 - b2) * g * g if k not in v else b2 * v[k] + (1 - b2) * g * g
                new[k] = p - step_size * m[k] / (v[k] ** 0.5 / root_bc2 + EPS)
    return new


def _adam_torch(params: dict, grads: dict, m: dict, v: dict, step_size: float, root_bc2: float):
    """:func:`optimizer_step`'s Adam on torch tensors, all weights at once (torch's multi-tensor
    ``_foreach`` ops, as torch.optim.Adam(foreach=True)): seven calls in place of a dozen per
    weight, the same arithmetic; the moments are updated in place, the weights are new."""
    import torch

    b1, b2 = BETAS
    keys = list(params)
    g = [grads[k] for k in keys]
    if keys[0] not in m:
        m.update(zip(keys, torch._foreach_mul(g, 1 - b1), strict=True))
        v.update(zip(keys, torch._foreach_mul(torch._foreach_mul(g, g), 1 - b2), strict=True))
    else:
        torch._foreach_lerp_([m[k] for k in keys], g, 1 - b1)  # m + (1 - b1)(g - m)
        vs = [v[k] for k in keys]
        torch._foreach_mul_(vs, b2)
        torch._foreach_addcmul_(vs, g, g, value=1 - b2)
    denom = torch._foreach_sqrt([v[k] for k in keys])
    torch._foreach_div_(denom, root_bc2)
    torch._foreach_add_(denom, EPS)
    new = torch._foreach_addcdiv([params[k] for k in keys], [m[k] for k in keys], denom, -step_size)
    return dict(zip(keys, new, strict=True))
