"""What a plugin's objects provide: one :class:`typing.Protocol` per kind (docs/plugins.md).

A plugin is a Python file (or importable module) holding up to three dicts, each of name ->
object: ``MODELS`` (objects following :class:`Model`), ``REMEDIES`` (:class:`Remedy`) and
``TASKS`` (:class:`Task`). Optional members are listed in each docstring; :mod:`.load` checks
the required ones and probes each object on a tiny batch before any job runs.

Example (a whole plugin file)
-----------------------------
>>> import numpy as np, torch
>>> class Leaky:
...     '''h_t = a h_{t-1} + tanh(W_ih x_t), a = 0.5: a leaky unit without recurrent weights.'''
...     citation = "an example"
...     def init(self, settings, n_in, rng):
...         return {"weight_ih": rng.standard_normal((settings.hidden, n_in))}
...     def step(self, params, h, x):
...         return 0.5 * h + torch.tanh(x @ params["weight_ih"].T)
>>> MODELS = {"leaky": Leaky()}
>>> isinstance(MODELS["leaky"], Model)
True
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from rnngrad.core.settings import CellSettings
from rnngrad.core.tasks import Batch
from rnngrad.core.validation import SettingsError


class PluginError(SettingsError):
    """A plugin that cannot be used; the message names the plugin's source and the problem."""


@runtime_checkable
class Model(Protocol):
    """A recurrent cell: h_t = step(params, h_{t-1}, x_t), h_0 = 0, read by a linear readout
    that rnngrad adds (``weight_out (O, H)``, ``bias_out (O,)``).

    ``init`` draws the cell's own weights once, as float64 NumPy arrays, from ``rng`` (a
    generator derived from the cell's seed, model name, hidden and input size: both backends and
    every remedy of one seed start from the same numbers); it reads what it needs of
    ``settings`` (``hidden`` H, ``w_rec_scale``, ``input_scale``, ``init``, ...). ``step`` is
    torch: params a dict of tensors (the cell's dtype), h (B, H), x (B, I) -> h_t (B, H).

    Optional members: ``citation`` (str, shown in the report); ``recurrent`` (the weight names
    whose per-step gradient terms the profile reports, default all of ``init``'s);
    ``recurrent_matrix(params) -> (H, H)`` (the matrix whose spectral radius and norm the cells
    table reports, default none: NaN); ``gates`` (H x H products a step, for the cost model,
    default 1); ``numpy_step(params, h, x) -> h`` with ``numpy_step_vjp(params, h_prev, x, dh)
    -> (dh_prev, {name: dL/dparam})``, which make NumPy cells possible: both backends then run
    it and must agree.
    """

    def init(self, settings: CellSettings, n_in: int, rng: np.random.Generator) -> dict:
        """The cell's own weights, name -> float64 array."""

    def step(self, params: dict, h: Any, x: Any) -> Any:
        """One step h_{t-1} (B, H), x_t (B, I) -> h_t (B, H), in torch."""


@runtime_checkable
class GradientTransform(Protocol):
    """A remedy acting on each update's gradients, before clipping and the optimizer: used by
    cells whose ``gradient_transform`` names it.

    ``transform(grads, state, settings) -> grads``: grads a dict of float64 NumPy arrays (every
    weight, readout included), ``state`` what ``init_state(settings, rng)`` returned (optional
    member; default None; ``rng`` derived from the cell's seed), changed in place if needed.
    Optional: ``citation``. A resumed checkpoint starts the state afresh.
    """

    def transform(self, grads: dict, state: Any, settings: CellSettings) -> dict:
        """The gradients to clip and apply."""


@runtime_checkable
class Penalty(Protocol):
    """A remedy adding ``weight * penalty(params, settings)`` to the training loss, used by
    cells whose ``penalty: {kind: <name>, weight: w}`` names it (torch cells).

    ``penalty``: params a dict of torch tensors (every weight) -> a 0-dim tensor, differentiable
    (autograd takes its gradient). Optional: ``citation``.
    """

    def penalty(self, params: dict, settings: CellSettings) -> Any:
        """The penalty's value, a 0-dim tensor."""


Remedy = GradientTransform | Penalty  # a remedy plugin has transform, penalty or both


@runtime_checkable
class Task(Protocol):
    """A long-range task: batches drawn from the cell's generator, a loss kind, a baseline and
    a success criterion.

    ``n_in``, ``n_out``: input and readout sizes. ``make_batch(seq_len, batch, rng)`` returns a
    :class:`rnngrad.core.tasks.Batch` of exactly ``seq_len`` steps (x (T, B, n_in), the scored
    steps, targets, kind ``"mse"`` or ``"xent"``). ``baseline_loss(seq_len)``: the loss of the
    best memoryless predictor (normalized_loss divides by it). ``correct(outputs, batch) ->
    (B,) bool``, outputs (L, B, n_out) the readouts at the scored steps.

    Optional: ``min_seq_len`` (default 1), ``short_memory_loss(seq_len)`` and
    ``short_memory_accuracy`` (the plateau of a predictor that remembers only the last item;
    default NaN), ``citation``.
    """

    n_in: int
    n_out: int

    def make_batch(self, seq_len: int, batch: int, rng: np.random.Generator) -> Batch:
        """``batch`` sequences of ``seq_len`` steps."""

    def baseline_loss(self, seq_len: int) -> float:
        """The memoryless baseline's loss."""

    def correct(self, outputs: np.ndarray, batch: Batch) -> np.ndarray:
        """Which sequences the criterion counts correct, (B,) bool."""


# kind -> (the dict a plugin file defines, the Protocols its objects may follow)
KINDS = {
    "model": ("MODELS", (Model,)),
    "remedy": ("REMEDIES", (GradientTransform, Penalty)),
    "task": ("TASKS", (Task,)),
}
