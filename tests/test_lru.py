"""The LRU in both backends: NumPy's hand-written BPTT through complex states against torch
autograd and finite differences, the normalization's exact check, and its settings' rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_numpy_backend import _assert_close, _central

import rnngrad.numpy_backend as nb
import rnngrad.torch_backend as tb
from rnngrad.core.metrics import lru_lambda
from rnngrad.core.settings import CellSettings
from rnngrad.core.tasks import make_batch, spec
from rnngrad.core.validation import SettingsError
from rnngrad.core.weights import data_stream, init_params, lru_params, stream
from rnngrad.numpy_backend import lru
from rnngrad.run.loop import train

LRU = {"model": "lru", "nonlinearity": "linear", "r_min": 0.5, "w_rec_scale": 0.95}


def make_lru(**settings):
    """Settings, float64 weights with nonzero biases and a batch of a small LRU cell."""
    s = CellSettings.from_dict({"hidden": 4, "batch": 3, "seq_len": 10, **LRU, **settings})
    sp = spec(s.task, s.seq_len, s.hidden)
    params = init_params(s, sp.n_in, sp.n_out)
    rng = stream(s.seed, "test biases")
    for k in ("bias_enc", "bias_mlp", "bias_out"):
        params[k] = params[k] + 0.1 * rng.standard_normal(params[k].shape)
    batch = make_batch(s.task, s.seq_len, s.batch, data_stream(s, "probe"), s.hidden)
    return s, params, batch


@pytest.mark.parametrize("task", ["adding", "copy"])
def test_numpy_and_torch_agree(task, rel_err, norm_err):
    s, params, batch = make_lru(task=task)
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
    assert J_np.shape == (s.steps, 2 * s.hidden, 2 * s.hidden)
    assert norm_err(J_np, J_t) < 1e-10


def test_gradients_match_finite_differences():
    s, params, batch = make_lru(hidden=3, batch=2, seq_len=6)
    grads = nb.loss_and_grads(s, params, batch)["grads"]
    for k, v in params.items():
        _assert_close(grads[k], _central(lambda: nb.loss_and_grads(s, params, batch)["loss"], v), k)


def test_state_gradient_matches_finite_differences():
    """dL/ds_0 for s = (Re h, Im h) against finite differences; grad_norm[0] is its norm."""
    s, params, batch = make_lru(hidden=3, batch=2, seq_len=6)
    s0 = stream(1, "s0").standard_normal((s.batch, 2 * s.hidden))

    def loss_and_back():
        z, cache = lru.forward(params, batch.x, s0)
        out = nb.readout.loss_forward_backward(params, z, batch)
        return out["loss"], lru.backward(params, cache, out["dh_direct"])

    _, back = loss_and_back()
    _assert_close(back["dh0"], _central(lambda: loss_and_back()[0], s0))
    assert 10 ** back["log10_grad_norm"][0] == pytest.approx(np.linalg.norm(back["dh0"]), rel=1e-12)


@pytest.mark.parametrize("r", [0.3, 0.9, 0.99])
def test_with_gamma_the_stationary_power_does_not_depend_on_the_radius(r):
    """With B e_t = x_t white of unit power (encoder units gelu(x) and gelu(-x), whose
    difference is x exactly), E|h_T|^2 = sum_k |c_k|^2 where c_k is the state's response to a
    unit input at step k: the model's own forward on the T one-hot sequences gives each c_k.
    With gamma = sqrt(1 - |lambda|^2) the sum is 1 - |lambda|^(2T), whose limit is 1 at every
    radius; without it, (1 - |lambda|^(2T)) / (1 - |lambda|^2)."""
    s = CellSettings.from_dict({**LRU, "hidden": 2, "r_min": r, "w_rec_scale": r})
    p = lru_params(s, 1)
    p.update(
        weight_enc=np.array([[1.0], [-1.0]]),
        bias_enc=np.zeros(2),
        B_re=np.array([[1.0, -1.0], [1.0, -1.0]]),
        B_im=np.zeros((2, 2)),
    )
    T = 300
    x = np.eye(T)[:, :, None]  # sequence k has x_k = 1, else 0
    _, cache = lru.forward(p, x)
    power = np.sum(np.abs(cache["h"][T]) ** 2, axis=0)  # sum over k of |c_k|^2, per unit
    np.testing.assert_allclose(np.abs(lru_lambda(p["nu_log"], p["theta_log"])), r, rtol=1e-12)
    np.testing.assert_allclose(power, 1 - r ** (2 * T), rtol=1e-12)
    p["gamma_log"] = np.zeros(2)  # gamma = 1
    _, cache = lru.forward(p, x)
    power = np.sum(np.abs(cache["h"][T]) ** 2, axis=0)
    np.testing.assert_allclose(power, (1 - r ** (2 * T)) / (1 - r * r), rtol=1e-12)


def test_ring_initialization():
    """|lambda| in [r_min, r_max], |lambda|^2 uniform there; arg(lambda) in [0, 2 pi)."""
    s = CellSettings.from_dict({**LRU, "hidden": 1000, "r_min": 0.4, "w_rec_scale": 0.9})
    p = lru_params(s, 2)
    lam = lru_lambda(p["nu_log"], p["theta_log"])
    r2 = np.abs(lam) ** 2
    assert np.all((r2 >= 0.16) & (r2 <= 0.81))
    assert np.mean(r2) == pytest.approx((0.16 + 0.81) / 2, abs=0.025)  # 4 sigma
    assert np.all((np.exp(p["theta_log"]) >= 0) & (np.exp(p["theta_log"]) < 2 * np.pi))
    np.testing.assert_allclose(np.exp(2 * p["gamma_log"]), 1 - r2, rtol=1e-12)


def test_phase_range():
    """max_phase m: arg(lambda) uniform in [0, m) (mean m/2, variance m^2/12), |lambda| and the
    other weights as at the default 2 pi (the same uniform draws)."""
    s = CellSettings.from_dict({**LRU, "hidden": 1000})
    m = np.pi / 10
    p, q = lru_params(s, 2), lru_params(s.replace(max_phase=m), 2)
    theta = np.exp(q["theta_log"])
    assert np.all((theta >= 0) & (theta < m))
    assert np.mean(theta) == pytest.approx(m / 2, abs=4 * m / np.sqrt(12 * 1000))  # 4 sigma
    np.testing.assert_allclose(theta, np.exp(p["theta_log"]) * m / (2 * np.pi), rtol=1e-12)
    assert all(np.array_equal(p[k], q[k]) for k in p if k != "theta_log")


def test_numpy_and_torch_train_alike(norm_err):
    s, params, _ = make_lru(train_steps=4, optimizer="adam", lr=0.05)
    a = train(s, params)["params"]
    b = train(s.replace(backend="torch"), params)["params"]
    for k in params:
        assert norm_err(a[k], b[k]) < 1e-10, k


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu(rel_err):
    s, params, batch = make_lru(backend="torch")
    sc = s.replace(device="cuda")
    out = tb.loss_and_grads(sc, tb.to_backend(sc, params), batch)
    ref = tb.loss_and_grads(s, tb.to_backend(s, params), batch)
    assert rel_err(out["grad_norm"], ref["grad_norm"]) < 1e-10
    assert rel_err(out["weight_grad_norm"], ref["weight_grad_norm"]) < 1e-10


@pytest.mark.parametrize(
    "values,key",
    [
        ({**LRU, "w_rec_scale": 1.5}, "w_rec_scale"),
        ({**LRU, "r_min": 0.99}, "r_min"),
        ({**LRU, "nonlinearity": "tanh"}, "nonlinearity"),
        ({**LRU, "penalty": {"kind": "l2_wrec", "weight": 1.0}}, "penalty.kind"),
        ({**LRU, "layers": 2}, "layers"),
        ({**LRU, "max_phase": 7.0}, "max_phase"),
        ({**LRU, "max_phase": 0.0}, "max_phase"),
    ],
)
def test_settings_that_do_not_fit_are_refused(values, key):
    with pytest.raises(SettingsError, match=rf"^remedies\.x\.{key}: .*\(value "):
        CellSettings.from_dict(values, path="remedies.x.")


def test_float32_block_stays_float32():
    """A float32 cell computes in float32 and agrees with torch's float32 block to float32
    rounding (a float64 gelu constant once promoted the whole block to float64, 3x slower)."""
    s, params, batch = make_lru(dtype="float32", seq_len=50)
    p = nb.to_backend(s, params)
    z, cache = lru.forward(p, batch.x.astype(np.float32))
    assert z.dtype == cache["e"].dtype == cache["y"].dtype == np.float32
    assert cache["h"].dtype == np.complex64
    a = nb.loss_and_grads(s, p, batch)
    b = tb.loss_and_grads(s, tb.to_backend(s, params), batch)
    assert abs(a["loss"] - b["loss"]) < 1e-5 * abs(b["loss"])
    for k in params:
        assert a["grads"][k].dtype == np.float32, k
