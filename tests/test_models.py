"""The two backends are peers: the same public interface, the shared parts in
rnngrad.core.shared."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import numpy as np
import pytest
import torch

import rnngrad.numpy_backend as nb
import rnngrad.numpy_backend.train as nt
import rnngrad.torch_backend as tb
import rnngrad.torch_backend.train as tt
from rnngrad import backends
from rnngrad.core import shared

SRC = Path(shared.__file__).parents[1]  # src/rnngrad
# keywords only torch's model forward takes: retain keeps every dL/ds_t for the profile
TORCH_ONLY_KEYWORDS = {"retain"}


def _shape(fn) -> list:
    """A function's parameters: name, kind and default (annotations name each backend's types)."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def _public(module) -> dict:
    """The public functions defined in ``module`` (not imported into it)."""
    return {
        k: v
        for k, v in vars(module).items()
        if inspect.isfunction(v) and not k.startswith("_") and v.__module__ == module.__name__
    }


@pytest.mark.parametrize(
    "protocol, modules",
    [(backends.Backend, (nb, tb)), (backends.Training, (nt, tt))],
    ids=["package", "train"],
)
def test_both_backends_satisfy_the_registry_protocol(protocol, modules):
    """Every member of the Protocol, with its parameters (self aside), in both backends; and the
    registry hands out exactly these modules."""
    members = [k for k in vars(protocol) if not k.startswith("_")]
    members += list(protocol.__annotations__)
    for module in modules:
        assert isinstance(module, protocol), module.__name__
        for name in members:
            assert hasattr(module, name), (module.__name__, name)
            fn = getattr(protocol, name, None)
            if inspect.isfunction(fn):
                want = _shape(fn)[1:]
                assert _shape(getattr(module, name)) == want, (module.__name__, name)
    assert (backends.get("numpy"), backends.get("torch")) == (nb, tb)
    assert (backends.training("numpy"), backends.training("torch")) == (nt, tt)


def test_a_model_is_a_registration():
    """A model registered by name joins that backend's table, and only that backend's."""
    from rnngrad.numpy_backend import rnn

    try:
        backends.register_model("numpy", "mine", rnn)
        assert nb.MODELS["mine"] is rnn and "mine" not in tb.MODELS
    finally:
        nb.MODELS.pop("mine", None)
    with pytest.raises(KeyError, match="backend: unknown 'jax'"):
        backends.get("jax")


@pytest.mark.parametrize("pair", [(nb, tb), (nt, tt)], ids=["package", "train"])
def test_both_backends_share_their_public_functions_and_signatures(pair):
    np_mod, torch_mod = pair
    ours, theirs = _public(np_mod), _public(torch_mod)
    assert set(ours) <= set(theirs), set(ours) - set(theirs)
    for name, fn in ours.items():
        assert _shape(fn) == _shape(theirs[name]), name


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru", "exprnn", "antisymmetric"])
def test_model_forwards_share_a_signature(name):
    """forward(params, x, h0=None, *, <the model's keywords>) in both backends."""
    ours = inspect.signature(nb.model(_settings(name)).forward).parameters
    theirs = inspect.signature(tb.model(_settings(name)).forward).parameters
    theirs = {k: v for k, v in theirs.items() if k not in TORCH_ONLY_KEYWORDS}
    assert list(ours) == list(theirs)
    for k, p in ours.items():
        assert (p.kind, p.default) == (theirs[k].kind, theirs[k].default), k
    assert list(ours)[:3] == ["params", "x", "h0"]


def _settings(model):
    from rnngrad.core.settings import CellSettings

    return CellSettings.from_dict({"model": model})


@pytest.mark.parametrize("backend", ["numpy_backend", "torch_backend"])
def test_a_backend_never_imports_the_other(backend):
    other = {"numpy_backend": "torch_backend", "torch_backend": "numpy_backend"}[backend]
    for path in (SRC / backend).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            assert not any(f"rnngrad.{other}" in n for n in names), (path.name, names)


def test_step_term_norms_on_arrays_and_tensors():
    """The Frobenius norm of each step's outer product d_t^T hp_t, formed explicitly."""
    rng = np.random.default_rng(0)
    d, hp = rng.standard_normal((5, 3, 8)), rng.standard_normal((5, 3, 4))
    direct = np.linalg.norm(d.transpose(0, 2, 1) @ hp, axis=(1, 2))
    np.testing.assert_allclose(shared.step_term_norms(d, hp), direct, rtol=1e-12)
    norms = shared.step_term_norms(torch.tensor(d), torch.tensor(hp))
    np.testing.assert_allclose(norms.numpy(), direct, rtol=1e-12)


def test_l2_wrec_is_the_squared_frobenius_norm_with_its_autograd_gradient():
    W = torch.randn(6, 6, dtype=torch.float64, requires_grad=True)
    value, grad = shared.l2_wrec(W.detach())
    (auto,) = torch.autograd.grad(torch.linalg.matrix_norm(W) ** 2, W)
    torch.testing.assert_close(value, (W.detach() ** 2).sum())
    torch.testing.assert_close(grad, auto)
    v_np, g_np = shared.l2_wrec(W.detach().numpy())
    assert float(v_np) == pytest.approx(value.item(), rel=1e-14)
    np.testing.assert_allclose(g_np, auto.numpy(), rtol=1e-14)
