"""The IndRNN in both backends: NumPy's hand-written BPTT against torch autograd and finite
differences, the oracle of its diagonal recurrence, the bound on |u| through training, and
its settings' rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_numpy_backend import _assert_close, _central

import rnngrad.numpy_backend as nb
import rnngrad.torch_backend as tb
from rnngrad import backends
from rnngrad.core.settings import CellSettings
from rnngrad.core.shared import constrain, indrnn_u_max
from rnngrad.core.tasks import make_batch, spec
from rnngrad.core.validation import SettingsError
from rnngrad.core.weights import data_stream, init_params, stream
from rnngrad.numpy_backend import indrnn
from rnngrad.run.loop import train

INDRNN = {"model": "indrnn", "nonlinearity": "relu", "input_scale": 0.5}


def make_indrnn(**settings):
    """Settings, float64 weights with nonzero biases (so every bias path counts) and a batch."""
    s = CellSettings.from_dict(
        {"hidden": 4, "batch": 3, "seq_len": 10, "layers": 2, **INDRNN, **settings}
    )
    sp = spec(s.task, s.seq_len, s.hidden)
    params = init_params(s, sp.n_in, sp.n_out)
    rng = stream(s.seed, "test biases")
    for k in ("bias_ih", "bias_hh", "bias_out"):
        params[k] = params[k] + 0.1 * rng.standard_normal(params[k].shape)
    batch = make_batch(s.task, s.seq_len, s.batch, data_stream(s, "probe"), s.hidden)
    return s, params, batch


@pytest.mark.parametrize("layers", [1, 3])
@pytest.mark.parametrize("task", ["adding", "copy"])
def test_numpy_and_torch_agree(layers, task, rel_err, norm_err):
    s, params, batch = make_indrnn(layers=layers, task=task)
    a = nb.loss_and_grads(s, nb.to_backend(s, params), batch)
    b = tb.loss_and_grads(s, tb.to_backend(s, params), batch)
    assert rel_err(a["loss"], b["loss"]) < 1e-10
    assert set(a["grads"]) == set(b["grads"]) == set(params)
    for k in params:
        assert norm_err(a["grads"][k], b["grads"][k]) < 1e-10, k
    assert rel_err(a["grad_norm"], b["grad_norm"]) < 1e-10
    assert rel_err(a["weight_grad_norm"], b["weight_grad_norm"]) < 1e-10
    J_np = nb.step_jacobians(s, nb.to_backend(s, params), batch, 1)
    J_t = tb.step_jacobians(s, tb.to_backend(s, params), batch, 1)
    assert J_np.shape == (s.steps, layers * s.hidden, layers * s.hidden)
    assert norm_err(J_np, J_t) < 1e-10


def test_gradients_match_finite_differences():
    s, params, batch = make_indrnn(hidden=3, batch=2, seq_len=6)
    grads = nb.loss_and_grads(s, params, batch)["grads"]
    for k, v in params.items():
        _assert_close(grads[k], _central(lambda: nb.loss_and_grads(s, params, batch)["loss"], v), k)


def test_state_gradient_is_that_of_every_layer():
    """dL/ds_0 over both layers' initial states against finite differences, and grad_norm[0]
    its norm: the profile is that of the whole state."""
    s, params, batch = make_indrnn(hidden=3, batch=2, seq_len=6)
    s0 = 0.5 + np.abs(stream(1, "s0").standard_normal((s.batch, 2 * s.hidden)))

    def loss_and_back():
        h, cache = indrnn.forward(params, batch.x, s0)
        out = nb.readout.loss_forward_backward(params, h, batch)
        return out["loss"], indrnn.backward(params, cache, out["dh_direct"])

    _, back = loss_and_back()
    _assert_close(back["dh0"], _central(lambda: loss_and_back()[0], s0))
    assert 10 ** back["log10_grad_norm"][0] == pytest.approx(np.linalg.norm(back["dh0"]), rel=1e-12)


def test_a_units_gradient_through_time_is_the_product_of_u_and_relu_prime():
    """The oracle: in one layer, dL/dh_0 = dL/dh_T prod_t u relu'(a_t), unit by unit, exactly,
    and each step Jacobian is diag(u relu'(a_t))."""
    s, params, batch = make_indrnn(layers=1, hidden=6, seq_len=40, w_rec_scale=1.0)
    h, cache = indrnn.forward(params, batch.x)
    T = s.steps
    direct = np.zeros((T + 1, s.batch, s.hidden))
    direct[T] = stream(2, "dh").standard_normal((s.batch, s.hidden))
    back = indrnn.backward(params, cache, direct)
    u = params["weight_hh"][0]
    active = h[1:] > 0  # relu'(a_t) for t = 1..T
    product = np.prod(np.where(active, u, 0.0), axis=0)  # (B, H)
    assert 0 < np.count_nonzero(product) < product.size  # some units carry it, some were cut
    np.testing.assert_allclose(back["dh0"], direct[T] * product, rtol=1e-13, atol=0)
    J = nb.step_jacobians(s, params, batch, 2)
    expected = np.stack([np.diag(u * active[t, 2]) for t in range(T)])
    np.testing.assert_array_equal(J, expected)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_training_keeps_u_within_the_papers_bound(backend):
    s, params, _ = make_indrnn(
        backend=backend, train_steps=5, optimizer="adam", lr=0.5, w_rec_scale=1.0
    )
    out = train(s, params)
    bound = indrnn_u_max(s)
    assert bound == pytest.approx(2 ** (1 / s.steps))  # Li et al.'s 2^(1/T) at w_rec_scale 1
    assert np.max(np.abs(params["weight_hh"])) <= bound
    assert np.max(np.abs(out["params"]["weight_hh"])) <= bound
    be = backends.get(s.backend)
    u = np.array([[-3.0, 0.5, 3.0]])
    clipped = be.from_backend(constrain(s, be.to_backend(s, {"weight_hh": u}))["weight_hh"])
    np.testing.assert_array_equal(clipped, [[-bound, 0.5, bound]])


def test_numpy_and_torch_train_alike(norm_err):
    s, params, _ = make_indrnn(train_steps=4, optimizer="adam", lr=0.05)
    a = train(s, params)["params"]
    b = train(s.replace(backend="torch"), params)["params"]
    for k in params:
        assert norm_err(a[k], b[k]) < 1e-10, k


def test_initialization_is_the_papers():
    """Lower layers' u in (0, u_max), the last layer's in (u_max / 4^(1/T), u_max): at
    w_rec_scale 1 Li et al.'s (0, 2^(1/T)) and (2^(-1/T), 2^(1/T))."""
    s = CellSettings.from_dict({**INDRNN, "layers": 3, "hidden": 200, "seq_len": 50})
    u = init_params(s, 2, 1)["weight_hh"]
    assert u.shape == (3, 200)
    top = 2 ** (1 / 50)
    assert np.all((u[:2] > 0) & (u[:2] < top))
    assert np.all((u[2] > 2 ** (-1 / 50)) & (u[2] < top))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu(rel_err):
    s, params, batch = make_indrnn(backend="torch")
    sc = s.replace(device="cuda")
    out = tb.loss_and_grads(sc, tb.to_backend(sc, params), batch)
    ref = tb.loss_and_grads(s, tb.to_backend(s, params), batch)
    assert rel_err(out["grad_norm"], ref["grad_norm"]) < 1e-10
    assert rel_err(out["weight_grad_norm"], ref["weight_grad_norm"]) < 1e-10


@pytest.mark.parametrize(
    "values,key",
    [
        ({"model": "rnn", "layers": 2}, "layers"),
        ({**INDRNN, "nonlinearity": "tanh"}, "nonlinearity"),
        ({**INDRNN, "init": "orthogonal"}, "init"),
        ({**INDRNN, "r_min": 0.5}, "r_min"),
        ({**INDRNN, "max_phase": 1.0}, "max_phase"),
    ],
)
def test_settings_that_do_not_fit_are_refused(values, key):
    with pytest.raises(SettingsError, match=rf"^remedies\.x\.{key}: .*\(value "):
        CellSettings.from_dict(values, path="remedies.x.")
