"""NumPy backend: hand-written BPTT and step Jacobians against central finite differences.

The comparisons with PyTorch autograd are in test_torch_backend.py.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import warnings

import numpy as np
import pytest

import rnngrad.numpy_backend as nb
from rnngrad.core.shared import model_kwargs
from rnngrad.numpy_backend import readout

EPS = 1e-6  # central differences: error ~ EPS^2 (truncation) + 1e-16 / EPS (rounding)


def _module(s):
    return importlib.import_module(
        f"rnngrad.numpy_backend.{'rnn' if s.model == 'esn' else s.model}"
    )


def _pack(state) -> np.ndarray:
    """A state, h or the lstm's (h, c), as one array (..., S)."""
    return np.concatenate(state, axis=-1) if isinstance(state, tuple) else state


def _unpack(s, v: np.ndarray):
    return (v[..., : s.hidden], v[..., s.hidden :]) if s.model == "lstm" else v


def _loss_and_back(s, params, batch, h0):
    """Loss and the model's backward output, from initial state h0 (h, or the lstm's (h, c))."""
    m = _module(s)
    h, cache = m.forward(params, batch.x, h0=h0, **model_kwargs(s))
    out = readout.loss_forward_backward(params, h, batch)
    return out["loss"], m.backward(params, cache, out["dh_direct"])


def _assert_close(g: np.ndarray, fd: np.ndarray, what: str = "") -> None:
    """Agreement to 1e-6 of the largest entry, or to 1e-9 absolute: the differences' own
    rounding (1e-16 |L| / EPS) for the losses here, of order 1, is 1e-10."""
    assert np.max(np.abs(g - fd)) <= 1e-6 * np.max(np.abs(fd)) + 1e-9, what


def _central(f, v: np.ndarray) -> np.ndarray:
    """df/dv of a scalar f of array v, entry by entry."""
    grad = np.empty_like(v)
    for i in np.ndindex(v.shape):
        old = v[i]
        v[i] = old + EPS
        up = f()
        v[i] = old - EPS
        down = f()
        v[i] = old
        grad[i] = (up - down) / (2 * EPS)
    return grad


@pytest.mark.parametrize("task", ["adding", "copy"])
def test_weight_gradients_match_finite_differences(model, task, case):
    s, params, batch = case(hidden=3, batch=2, seq_len=6, task=task, **model)
    grads = nb.loss_and_grads(s, params, batch)["grads"]
    assert set(grads) == set(params)
    for k, v in params.items():
        fd = _central(lambda: nb.loss_and_grads(s, params, batch)["loss"], v)
        _assert_close(grads[k], fd, k)


def test_initial_state_gradient_matches_finite_differences(model, case):
    s, params, batch = case(hidden=3, batch=2, seq_len=6, **model)
    rng = np.random.default_rng(0)
    s0 = 0.5 * rng.standard_normal((s.batch, 2 * s.hidden if s.model == "lstm" else s.hidden))
    _, back = _loss_and_back(s, params, batch, _unpack(s, s0))
    fd = _central(lambda: _loss_and_back(s, params, batch, _unpack(s, s0))[0], s0)
    _assert_close(_pack(back["dh0"]), fd)
    # grad_norm[0] is the norm of that gradient, the lstm's over (dL/dh_0, dL/dc_0)
    assert back["grad_norm"][0] == pytest.approx(np.linalg.norm(_pack(back["dh0"])), rel=1e-12)


def test_step_jacobians_match_finite_differences(model, case, norm_err):
    s, params, batch = case(hidden=4, batch=3, seq_len=10, **model)
    b, m = 1, _module(s)
    J = nb.step_jacobians(s, params, batch, b)
    S = 2 * s.hidden if s.model == "lstm" else s.hidden
    assert J.shape == (s.steps, S, S)
    _, cache = m.forward(params, batch.x[:, b : b + 1], **model_kwargs(s))
    states = _pack((cache["h"], cache["c"]) if s.model == "lstm" else cache["h"])  # (T+1, 1, S)
    for t in range(1, s.steps + 1):

        def one_step(prev: np.ndarray, t: int = t) -> np.ndarray:
            h, c = m.forward(
                params, batch.x[t - 1 : t, b : b + 1], h0=_unpack(s, prev), **model_kwargs(s)
            )
            return _pack((h[1], c["c"][1]) if s.model == "lstm" else h[1])[0]

        fd = np.empty((S, S))
        for j in range(S):
            e = np.zeros((1, S))
            e[0, j] = EPS
            fd[:, j] = (one_step(states[t - 1] + e) - one_step(states[t - 1] - e)) / (2 * EPS)
        assert norm_err(J[t - 1], fd) < 1e-7, t


def test_float32_agrees_with_float64(model, case, rel_err, norm_err):
    s, params, batch = case(**model)
    s32 = s.replace(dtype="float32")
    ref = nb.loss_and_grads(s, nb.to_backend(s, params), batch)
    out = nb.loss_and_grads(s32, nb.to_backend(s32, params), batch)
    assert out["outputs"].dtype == np.float32
    assert rel_err(out["loss"], ref["loss"]) < 1e-4
    assert rel_err(out["grad_norm"], ref["grad_norm"]) < 1e-4
    assert norm_err(out["weight_grad_norm"], ref["weight_grad_norm"]) < 1e-4
    for k in params:
        assert norm_err(out["grads"][k], ref["grads"][k]) < 1e-4, k


def test_weight_grad_norm_is_zero_at_the_first_step_from_a_zero_state(model, case):
    s, params, batch = case(**model)
    out = nb.loss_and_grads(s, params, batch)
    assert out["weight_grad_norm"].shape == (s.steps,)
    assert out["grad_norm"].shape == (s.steps + 1,)
    assert out["weight_grad_norm"][0] == 0  # its term is dL/da_1^T h_0 with h_0 = 0
    assert np.all(out["weight_grad_norm"][1:] > 0)


def test_overflow_is_data_without_warnings(model, case):
    s, params, batch = case(w_rec_scale=1e3, input_scale=1e3, seq_len=200, **model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = nb.loss_and_grads(s, params, batch)
        nb.step_jacobians(s, params, batch)
    assert out["grad_norm"].shape == (s.steps + 1,)
    if s.model == "rnn" and s.nonlinearity in ("linear", "relu"):  # unbounded states overflow
        assert not np.all(np.isfinite(out["grad_norm"]))


def test_importing_the_numpy_backend_never_imports_torch():
    code = (
        "import sys, numpy as np; import rnngrad.numpy_backend as nb\n"
        "from rnngrad.numpy_backend import lstm, gru, rnn, readout\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name", ["lstm", "gru"])
def test_backward_equals_its_readable_reference(name, case, norm_err):
    """The chunked, premultiplied BPTT and the step-by-step chain rule give the same gradients."""
    s, params, batch = case(model=name, seq_len=150)  # more than one backward chunk
    m = nb.model(s)
    h, cache = m.forward(params, batch.x)
    out = readout.loss_forward_backward(params, h, batch)
    fast = m.backward(params, cache, out["dh_direct"], norms=False)
    ref = m.reference_backward(params, cache, out["dh_direct"])
    for k in params:
        if k in ref["grads"]:
            assert norm_err(fast["grads"][k], ref["grads"][k]) < 1e-12, k
    for a, b in zip(np.atleast_1d(fast["dh0"]), np.atleast_1d(ref["dh0"]), strict=True):
        assert norm_err(a, b) < 1e-12


@pytest.mark.parametrize("kind", ["mse", "xent"])
@pytest.mark.parametrize("steps", [[2, 5, 5], [5, 2], [4]])
def test_readout_gradients_where_steps_repeat_or_come_unsorted(kind, steps):
    rng = np.random.default_rng(3)
    T, B, H, O = 6, 3, 4, 2
    L = len(steps)
    targets = rng.normal(size=(L, B, O)) if kind == "mse" else rng.integers(0, O, size=(L, B))
    batch = nb.Batch(
        x=np.zeros((T, B, 1)),
        targets=targets,
        loss_steps=np.array(steps),
        kind=kind,
        scale=0.7,
        n_out=O,
    )
    params = {"weight_out": rng.normal(size=(O, H)), "bias_out": rng.normal(size=O)}
    h = rng.normal(size=(T + 1, B, H))
    out = readout.loss_forward_backward(params, h, batch)
    y = [h[t] @ params["weight_out"].T + params["bias_out"] for t in steps]  # (B, O) each
    if kind == "mse":
        terms = [np.mean((y_l - targets[l]) ** 2) for l, y_l in enumerate(y)]
    else:
        logp = [y_l - np.log(np.exp(y_l).sum(axis=1, keepdims=True)) for y_l in y]
        terms = [-np.mean(lp[np.arange(B), targets[l]]) for l, lp in enumerate(logp)]
    assert out["loss"] == pytest.approx(0.7 * sum(terms), rel=1e-13)  # summed over the steps
    dense = np.stack([out["dh_direct"][t] for t in range(T + 1)])

    def loss():
        return readout.loss_forward_backward(params, h, batch)["loss"]

    _assert_close(dense, _central(loss, h), "dL/dh")
    for k in ("weight_out", "bias_out"):
        _assert_close(out["grads"][k], _central(loss, params[k]), k)
