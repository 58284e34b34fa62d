"""The backend registry: the one place that knows how to find a backend and its models.

A backend is a package that satisfies :class:`Backend` (the forward pass, one backward pass with
the gradient profile, the step Jacobians) with a training module that satisfies
:class:`Training` (the objective's gradient with its remedies). The two built-in backends,
``numpy`` (hand-written BPTT) and ``torch`` (autograd), are imported on first use, so a NumPy
cell never imports torch. Each backend keeps its models in a table, ``MODELS`` (model name ->
model module); :func:`register_model` adds one, so a new model is a registration and not an
edit of a dispatch.

Example
-------
>>> from rnngrad import backends
>>> be = backends.get("numpy")
>>> be.NAME, sorted(be.MODELS)
('numpy', ['antisymmetric', 'esn', 'exprnn', 'gru', 'lstm', 'rnn'])
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Protocol, runtime_checkable

from rnngrad.core.choices import BACKENDS
from rnngrad.core.settings import CellSettings
from rnngrad.core.tasks import Batch

PACKAGES = {name: f"rnngrad.{name}_backend" for name in BACKENDS}


@runtime_checkable
class Backend(Protocol):
    """What a backend package exposes (both built-ins, name for name)."""

    NAME: str
    MODELS: dict[str, ModuleType]  # model name -> its module (forward, backward or step)

    def model(self, s: CellSettings) -> ModuleType:
        """The module that runs the cell's model."""

    def to_backend(self, s: CellSettings, params: dict) -> dict:
        """Float64 NumPy weights as this backend's arrays of ``s.dtype``."""

    def from_backend(self, a: Any) -> Any:
        """One of this backend's arrays as a NumPy array."""

    def forward(self, s: CellSettings, params: dict, x: Any, h0: Any = None) -> tuple[Any, Any]:
        """States (T+1, B, H) and a cache."""

    def loss_and_grads(self, s: CellSettings, params: dict, batch: Batch, h0: Any = None) -> dict:
        """Loss, readouts, every weight's gradient, ``log10_grad_norm`` and
        ``log10_weight_grad_norm`` (exact at any depth: the backward carries dL/ds_t with a
        log-scale, :mod:`rnngrad.core.logscale`), and the same as norms, ``grad_norm`` and
        ``weight_grad_norm`` (0 or inf beyond float64's range)."""

    def step_jacobians(self, s: CellSettings, params: dict, batch: Batch, b: int = 0) -> Any:
        """ds_t/ds_{t-1} for t = 1..T along sequence b, a NumPy array (T, S, S)."""

    def readout_gradient(self, s: CellSettings, params: dict, x: Any, u: Any) -> tuple:
        """One sequence's h_T and the gradient of u . h_T, float64 NumPy (rnngrad.core.memory)."""


@runtime_checkable
class Training(Protocol):
    """What a backend's training module exposes to :mod:`rnngrad.run.loop`."""

    def run(self, s: CellSettings, params: dict, batch: Batch, h0: Any = None) -> tuple:
        """Forward only: loss, readouts and ``carry(t)``, the state after step t."""

    def gradient(
        self, s: CellSettings, params: dict, batch: Batch, h0: Any = None
    ) -> tuple[float, dict, float]:
        """Loss, the gradient of the objective (with its penalty) and the penalty's value."""


def get(name: str) -> Backend:
    """The backend package called ``name`` (imported on first use)."""
    if name not in PACKAGES:
        raise KeyError(f"backend: unknown {name!r} (known: {', '.join(PACKAGES)})")
    return importlib.import_module(PACKAGES[name])


def training(name: str) -> Training:
    """The training module of the backend called ``name``."""
    return importlib.import_module(f"{PACKAGES[name]}.train")


def register_model(backend: str, name: str, module: ModuleType) -> None:
    """Make ``module`` run the model ``name`` in ``backend``."""
    get(backend).MODELS[name] = module


def register_plugin_model(name: str, plugin: Any, recurrent: tuple[str, ...]) -> tuple[str, ...]:
    """Make a plugin model (:class:`rnngrad.plugins.protocols.Model`) run as ``name``: in the
    torch backend always (autograd through its step), in the NumPy backend too when it has
    ``numpy_step`` and ``numpy_step_vjp``; returns the backends that run it."""
    names = ("torch", "numpy") if hasattr(plugin, "numpy_step") else ("torch",)
    for backend in names:
        adapter = importlib.import_module(f"{PACKAGES[backend]}.plugin")
        register_model(backend, name, adapter.PluginModel(plugin, recurrent))
    return names


def for_cell(s: CellSettings) -> tuple[Backend, Training]:
    """The backend of a cell and its training module (torch is imported only for torch cells)."""
    return get(s.backend), training(s.backend)
