"""The probes of a plugin's objects: each kind run once on a tiny batch when the config is read,
so a wrong type or shape stops the study before any job runs, with a message naming the plugin,
the member and what it returned. A model's NumPy step, where it has one, is held equal to its
torch step, and its vector-Jacobian product to autograd's, on the probe batch.

Each probe takes a :class:`rnngrad.core.registry.Plugin` and returns the names of the weights
it drew (a model's) or ``()``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from rnngrad.core.registry import Plugin
from rnngrad.core.settings import CellSettings
from rnngrad.core.tasks import Batch
from rnngrad.core.weights import stream
from rnngrad.plugins.protocols import PluginError

B, H, I = 3, 4, 2  # the probe's batch, hidden units and inputs
READOUT = ("weight_out", "bias_out")  # rnngrad's readout: a model's own weights are other names
AGREE = 1e-8  # NumPy and torch steps agree to this, relative (float64)


def _where(p: Plugin) -> str:
    return f"plugin {p.source}: {p.kind} {p.name!r}"


def _settings(p: Plugin) -> CellSettings:
    return dataclasses.replace(CellSettings(), model=p.name, backend="torch", hidden=H, batch=B)


def weight_names(p: Plugin) -> tuple[str, ...]:
    """A model's weight names (one draw of its ``init`` at the probe's size); () otherwise."""
    if p.kind != "model":
        return ()
    s = _settings(p)
    return tuple(p.obj.init(s, I, stream(s.seed, "plugin", p.name, H, I)))


def model(p: Plugin) -> tuple[str, ...]:
    """Check ``init``'s weights and ``step``'s output shape (and the NumPy step against torch)."""
    import torch

    where, obj = _where(p), p.obj
    s = _settings(p)
    raw = obj.init(s, I, stream(s.seed, "plugin", p.name, H, I))
    if not isinstance(raw, Mapping) or not raw:
        raise PluginError(
            f"{where}: init must return a dict of name -> array (got {type(raw).__name__})"
        )
    params = {}
    for k, v in raw.items():
        if not isinstance(k, str) or k in READOUT:
            raise PluginError(
                f"{where}: init's weight {k!r}: names are strings other than {READOUT}"
            )
        a = np.asarray(v, dtype=np.float64)
        if not np.all(np.isfinite(a)):
            raise PluginError(f"{where}: init's weight {k!r} is not finite")
        params[k] = a
    rng = np.random.default_rng(0)
    h, x = 0.5 * rng.standard_normal((B, H)), rng.standard_normal((B, I))
    tp = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    th = torch.tensor(h, requires_grad=True)
    out = obj.step(tp, th, torch.tensor(x))
    _check_state(where, "step", out, torch.Tensor)
    for name in getattr(obj, "recurrent", ()):
        if name not in params:
            raise PluginError(f"{where}: recurrent names {name!r}, which init does not draw")
    if hasattr(obj, "recurrent_matrix"):
        W = np.asarray(obj.recurrent_matrix(params))
        if W.shape != (H, H):
            raise PluginError(
                f"{where}: recurrent_matrix returned shape {W.shape}, not (H, H) = {(H, H)}"
            )
    if hasattr(obj, "numpy_step"):
        _numpy_agrees(where, obj, params, h, x, out, tp, th)
    return tuple(params)


def _check_state(where: str, member: str, out, kind) -> None:
    if not isinstance(out, kind):
        raise PluginError(
            f"{where}: {member} returned a {type(out).__name__}, not a {kind.__module__}."
            f"{kind.__name__}"
        )
    if tuple(out.shape) != (B, H):
        raise PluginError(
            f"{where}: {member} returned shape {tuple(out.shape)} for h_(t-1) of shape "
            f"{(B, H)} and x_t of shape {(B, I)}; it must return h_t of shape (B, H) = {(B, H)}"
        )


def _numpy_agrees(where, obj, params, h, x, out, tp, th) -> None:
    """The NumPy step equals the torch step, and its VJP autograd's, on the probe batch."""
    import torch

    if not hasattr(obj, "numpy_step_vjp"):
        raise PluginError(f"{where}: has numpy_step but no numpy_step_vjp (the NumPy backward)")
    hn = obj.numpy_step(params, h, x)
    _check_state(where, "numpy_step", hn, np.ndarray)
    ref = out.detach().numpy()
    _close(where, "numpy_step", "step", hn, ref)
    dh = np.random.default_rng(1).standard_normal((B, H))
    names = list(tp)
    auto = torch.autograd.grad(
        (out * torch.tensor(dh)).sum(),
        [th, *tp.values()],
        allow_unused=True,
        materialize_grads=True,
    )
    dh_prev, dp = obj.numpy_step_vjp(params, h, x, dh)
    _close(
        where, "numpy_step_vjp's dh_prev", "autograd of step", np.asarray(dh_prev), auto[0].numpy()
    )
    for k, g in zip(names, auto[1:], strict=True):
        mine = np.asarray(dp.get(k, np.zeros_like(params[k])))
        _close(where, f"numpy_step_vjp's {k}", "autograd of step", mine, g.numpy())


def _close(where: str, mine: str, theirs: str, a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise PluginError(f"{where}: {mine} has shape {a.shape}, {theirs} {b.shape}")
    diff = float(np.max(np.abs(a - b))) if a.size else 0.0
    if not diff <= AGREE * (1.0 + float(np.max(np.abs(b)))):
        raise PluginError(
            f"{where}: {mine} and {theirs} disagree by {diff:.3g} on the probe batch "
            "(both backends must compute the same model)"
        )


def task(p: Plugin) -> tuple[str, ...]:
    """Check the batch's type and shapes, the baseline and the criterion's shape."""
    where, obj = _where(p), p.obj
    for attr in ("n_in", "n_out"):
        v = getattr(obj, attr)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise PluginError(f"{where}: {attr} must be an integer >= 1 (value {v!r})")
    T = max(int(getattr(obj, "min_seq_len", 1)), 4)
    b = obj.make_batch(T, B, np.random.default_rng(0))
    if not isinstance(b, Batch):
        raise PluginError(
            f"{where}: make_batch returned a {type(b).__name__}, not a rnngrad.core.tasks.Batch"
        )
    if b.x.shape != (T, B, obj.n_in):
        raise PluginError(
            f"{where}: make_batch({T}, {B}, rng) returned x of shape {b.x.shape}, not "
            f"(seq_len, batch, n_in) = {(T, B, obj.n_in)}"
        )
    if b.kind not in ("mse", "xent") or b.n_out != obj.n_out:
        raise PluginError(
            f"{where}: the batch's kind must be mse or xent and its n_out the task's "
            f"{obj.n_out} (kind {b.kind!r}, n_out {b.n_out!r})"
        )
    steps = np.asarray(b.loss_steps)
    if steps.size == 0 or steps.min() < 1 or steps.max() > T:
        raise PluginError(f"{where}: loss_steps must lie in 1..{T} (value {steps.tolist()})")
    want = (len(steps), B, obj.n_out) if b.kind == "mse" else (len(steps), B)
    if np.shape(b.targets) != want:
        raise PluginError(
            f"{where}: targets of shape {np.shape(b.targets)}; a {b.kind} batch needs {want}"
        )
    base = float(obj.baseline_loss(T))
    if not (np.isfinite(base) and base > 0):
        raise PluginError(f"{where}: baseline_loss({T}) must be a number > 0 (value {base!r})")
    c = np.asarray(obj.correct(np.zeros((len(steps), B, obj.n_out)), b))
    if c.shape != (B,):
        raise PluginError(f"{where}: correct returned shape {c.shape}, not (batch,) = {(B,)}")
    return ()


def remedy(p: Plugin) -> tuple[str, ...]:
    """Check that the transform returns gradients of the same names and shapes, and that the
    penalty is a 0-dim tensor, on an rnn's weights."""
    where, obj = _where(p), p.obj
    s = CellSettings()
    shapes = {"weight_ih": (H, I), "weight_hh": (H, H), "bias_ih": (H,), "bias_hh": (H,)}
    shapes.update(weight_out=(1, H), bias_out=(1,))
    if hasattr(obj, "transform"):
        init = getattr(obj, "init_state", None)
        state = None if init is None else init(s, np.random.default_rng(0))
        grads = {k: np.ones(v) for k, v in shapes.items()}
        out = obj.transform(dict(grads), state, s)
        if not isinstance(out, Mapping) or set(out) != set(grads):
            raise PluginError(
                f"{where}: transform must return a dict with every gradient's name "
                f"(got {type(out).__name__} {sorted(out) if isinstance(out, Mapping) else ''})"
            )
        bad = [k for k in grads if np.shape(out[k]) != grads[k].shape]
        if bad:
            raise PluginError(f"{where}: transform changed the shape of {', '.join(bad)}")
    if hasattr(obj, "penalty"):
        import torch

        params = {
            k: torch.ones(v, dtype=torch.float64, requires_grad=True) for k, v in shapes.items()
        }
        value = obj.penalty(params, s)
        if not isinstance(value, torch.Tensor) or value.dim() != 0:
            shape = f" of shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else ""
            raise PluginError(
                f"{where}: penalty must return a 0-dim torch tensor "
                f"(got {type(value).__name__}{shape})"
            )
    return ()
