"""Plain PyTorch training at a cell's shape: the rate that ``train_steps_per_s`` is read against.

"Plain" is what a PyTorch user would write for the same model: ``torch.nn.RNN``, ``LSTM`` or
``GRU`` (fused; cuDNN on a GPU), a ``torch.nn.Linear`` readout at the task's scored steps, the
task's loss (MSE or cross-entropy, with the task's scale) and ``torch.optim`` (SGD, SGD with
momentum 0.9, or Adam, as the cell trains) at the cell's lr, starting from the cell's initial
weights, on the cell's hidden size, batch, length, dtype and device. It has no clipping, no
penalty, no truncation and no held-out evaluations: the ratio of a cell's rate to it is the
cost of the suite's backend and of its remedy together (docs/performance.md, Training speed).

Used by a cell with ``plain_reference_steps > 0`` (recorded as ``plain_train_steps_per_s``)
and by ``rnngrad bench --train``. Torch is imported only when a reference is timed.

Example
-------
>>> from rnngrad import reference
>>> from rnngrad.core.settings import CellSettings
>>> reference.supported(CellSettings(model="lstm")), reference.supported(CellSettings(model="esn"))
(True, False)
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

from rnngrad.core import tasks
from rnngrad.core.settings import CellSettings
from rnngrad.core.shared import has_torch_module
from rnngrad.core.weights import cell_batch, data_stream, init_params

BATCHES = 8  # distinct batches, cycled: a fresh batch a step without timing the data
ROUNDS = 3  # timed rounds after a warm-up round; the best counts (docs/performance.md)
MOMENTUM = 0.9  # the suite's momentum optimizer (rnngrad.run.loop)


def supported(s: CellSettings) -> bool:
    """Whether plain PyTorch has the cell's model (:func:`rnngrad.core.shared.has_torch_module`)."""
    return has_torch_module(s)


def case(s: CellSettings) -> tuple[dict, list[tasks.Batch]]:
    """The cell's initial weights (float64 NumPy, PyTorch names) and :data:`BATCHES` training
    batches from its own stream: what a timed training step is fed."""
    sp = tasks.spec(s.task, s.seq_len, s.hidden)
    rng = data_stream(s, "train")
    batches = [cell_batch(s, rng) for _ in range(BATCHES)]
    return init_params(s, sp.n_in, sp.n_out), batches


def plain_step(s: CellSettings, params: dict, batches: list[tasks.Batch]) -> Callable[[], Any]:
    """One plain PyTorch training step of ``s``'s shape from ``params`` (float64 NumPy weights,
    PyTorch names) on each call, cycling through ``batches``; each call returns its loss (a
    detached tensor, before the update)."""
    import torch

    dtype, device = getattr(torch, s.dtype), torch.device(s.device)
    n_in, n_out = params["weight_ih"].shape[1], params["weight_out"].shape[0]
    kw: dict[str, Any] = {"dtype": dtype, "device": device}
    if s.model == "rnn":
        rnn = torch.nn.RNN(n_in, s.hidden, nonlinearity=s.nonlinearity, **kw)
    else:
        rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[s.model](n_in, s.hidden, **kw)
    lin = torch.nn.Linear(s.hidden, n_out, **kw)
    with torch.no_grad():
        for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(rnn, f"{k}_l0").copy_(torch.as_tensor(params[k]))
        lin.weight.copy_(torch.as_tensor(params["weight_out"]))
        lin.bias.copy_(torch.as_tensor(params["bias_out"]))
    weights = [*rnn.parameters(), *lin.parameters()]
    if s.optimizer == "adam":
        opt = torch.optim.Adam(weights, lr=s.lr)
    else:
        momentum = MOMENTUM if s.optimizer == "momentum" else 0.0
        opt = torch.optim.SGD(weights, lr=s.lr, momentum=momentum)
    data = [
        (
            torch.as_tensor(b.x, dtype=dtype, device=device),
            torch.as_tensor(b.loss_steps - 1, device=device),
            torch.as_tensor(b.targets, dtype=dtype if b.kind == "mse" else None, device=device),
            b.kind,
            b.scale,
        )
        for b in batches
    ]
    count = itertools.count()

    def step() -> Any:
        x, idx, target, kind, scale = data[next(count) % len(data)]
        opt.zero_grad()
        out, _ = rnn(x)
        y = lin(out[idx])  # (L, B, O) readouts at the scored steps
        if kind == "mse":
            per_step = ((y - target) ** 2).mean(dim=(1, 2))
        else:
            xent = torch.nn.functional.cross_entropy(y.transpose(1, 2), target, reduction="none")
            per_step = xent.mean(dim=1)
        loss = scale * per_step.sum()
        loss.backward()
        opt.step()
        return loss.detach()

    return step


def plain_train_steps_per_s(s: CellSettings, steps: int) -> float:
    """Plain PyTorch's training steps/s at ``s``'s shape: the best of :data:`ROUNDS` rounds of
    ``steps`` steps each, after one warm-up round; in this process, so under its threads."""
    if not supported(s):
        raise ValueError(f"plain PyTorch has no {s.model} with {s.nonlinearity} units")
    import torch

    step = plain_step(s, *case(s))
    sync = torch.cuda.synchronize if s.device == "cuda" else (lambda: None)
    best = 0.0
    for i in range(ROUNDS + 1):
        sync()
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        if i:  # the first round warms up
            best = max(best, steps / (time.perf_counter() - t0))
    return best
