"""Gradients carried with a log-scale (rnngrad.core.logscale): exact log-norms at any depth.

Compared with a plain, unscaled BPTT written out here (float64, where it stays in range), with
the closed form of a linear orthogonal cell, and float32 with float64 where float32 underflowed
before."""

import numpy as np
import pytest

import rnngrad.numpy_backend as nb
from rnngrad.core.logscale import LogScale, from_log10, sq_norm, times_pow2
from rnngrad.core.settings import CellSettings
from rnngrad.core.tasks import make_batch, spec
from rnngrad.core.weights import data_stream, init_params
from rnngrad.numpy_backend import rnn
from rnngrad.numpy_backend.readout import DirectGrad
from rnngrad.run.cell import measure_profile

MODELS = [
    {"model": "rnn", "nonlinearity": "tanh"},
    {"model": "rnn", "nonlinearity": "relu"},
    {"model": "rnn", "nonlinearity": "sigmoid"},
    {"model": "esn"},
    {"model": "lstm"},
    {"model": "gru"},
]
# the models whose state is not h alone or whose W_rec is derived, each with a scale at which
# its gradient falls below float32's range within 1000 steps (the exprnn's tanh saturates at
# small angles). The antisymmetric rnn neither vanishes nor explodes (its point): its float32
# gradient stays in range, and the tests scale its readout's gradient down instead
OTHERS = [
    {"model": "exprnn", "w_rec_scale": 0.1},
    {"model": "indrnn", "nonlinearity": "relu", "w_rec_scale": 0.5},
    {"model": "indrnn", "nonlinearity": "relu", "w_rec_scale": 0.5, "layers": 2},
    {"model": "lru", "nonlinearity": "linear", "w_rec_scale": 0.5},
    {"model": "antisymmetric", "w_rec_scale": 0.5},
]
VANISHING = OTHERS[:4]


def _ids(cases):
    return ["-".join(str(v) for v in m.values()) for m in cases]


def _cell(dtype="float64", **kw):
    s = CellSettings.from_dict(
        {"train_steps": 0, "hidden": 8, "batch": 4, "dtype": dtype, "seq_len": 1000, **kw}
    )
    sp = spec(s.task, s.seq_len, s.hidden)
    params = init_params(s, sp.n_in, sp.n_out)
    batch = make_batch(s.task, s.seq_len, s.batch, data_stream(s, "probe"), s.hidden)
    return s, params, batch


def _plain_bptt(params, h, dh_direct):
    """log10 ||dL/dh_t|| (T+1,) of a tanh rnn by the textbook recursion, unscaled (float64)."""
    W = params["weight_hh"]
    T = h.shape[0] - 1
    dh = dh_direct[T].copy()
    out = np.empty(T + 1)
    with np.errstate(under="ignore", divide="ignore"):
        for t in range(T, 0, -1):
            out[t] = np.log10(np.linalg.norm(dh))
            dh = dh_direct[t - 1] + (dh * (1 - h[t] ** 2)) @ W
        out[0] = np.log10(np.linalg.norm(dh))
    return out


def test_times_pow2_is_exact_and_reaches_beyond_one_factor():
    v = np.array([3.0, -1.5e-300], dtype=np.float64)
    np.testing.assert_array_equal(times_pow2(v.copy(), 700), np.ldexp(v, 700))
    x = np.float32([1.0])
    assert times_pow2(x, -140)[0] == np.ldexp(np.float32(1.0), -140)  # a subnormal, exactly
    np.testing.assert_array_equal(from_log10([0.0, -400.0, 400.0]), [1.0, 0.0, np.inf])


def test_squared_norm_where_float32_squares_leave_the_range():
    for v in (1e-30, 1e30):  # float32 holds v, not v^2
        x = np.full(4, v, dtype=np.float32)
        assert sq_norm([x]) == pytest.approx(4 * float(np.float32(v)) ** 2, rel=1e-12)
    assert sq_norm([np.zeros(3, dtype=np.float32)]) == 0.0


def test_a_direct_term_far_above_the_carried_scale_is_added_exactly():
    ls = LogScale()
    g = np.array([0.75, 0.0])
    assert ls.settle([g], 1e-300)  # a squared norm 1e-300 is below float64's band
    assert ls.E < -400
    g[:] = [0.75, 0.0]  # the carried gradient is 0.75 2^E, about 1e-150
    E = ls.E
    assert ls.add([g], np.array([0.0, 2.0]))  # far above: both go to the direct's scale
    assert ls.log10_norm(float(g @ g)) == pytest.approx(np.log10(2.0), abs=1e-15)
    assert g[0] * 2.0**ls.E == 0.75 * 2.0**E  # the small term kept, exactly


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("task", ["adding", "copy"])
def test_float64_log_norms_equal_the_unscaled_recursion(backend, task):
    # tanh at w_rec_scale 0.5: the unscaled float64 gradient underflows to 0 within 1000 steps
    s, params, batch = _cell(backend=backend, task=task, w_rec_scale=0.5, seq_len=1000)
    h, _ = nb.forward(s, params, batch.x)
    want = _plain_bptt(params, h, nb.readout.loss_forward_backward(params, h, batch)["dh_direct"])
    be = nb if backend == "numpy" else pytest.importorskip("rnngrad.torch_backend")
    got = be.loss_and_grads(s, be.to_backend(s, params), batch)["log10_grad_norm"]
    # in range: where the unscaled norm's squares are normal numbers (1e-150^2 = 1e-300)
    finite = np.isfinite(want) & (want > -150)
    assert not np.isfinite(want).all()  # the unscaled pass ran out of range
    np.testing.assert_allclose(got[finite], want[finite], rtol=0, atol=1e-12)
    assert np.all(np.isfinite(got))


# every NumPy model (each has its own backward); torch's chunked autograd is one code for all,
# checked on the rnn and on the lstm's pair state
CASES = [("numpy", m) for m in MODELS + VANISHING] + [("torch", MODELS[0]), ("torch", MODELS[4])]


@pytest.mark.parametrize("backend,model", CASES, ids=[f"{b}-{_ids([m])[0]}" for b, m in CASES])
def test_float32_log_norms_equal_float64_at_every_lag(backend, model):
    # float32's range ends near 1e-38 (1e-45 subnormal): these profiles fall far below it
    be = nb if backend == "numpy" else pytest.importorskip("rnngrad.torch_backend")
    outs = {}
    for dtype in ("float64", "float32"):
        s, params, batch = _cell(dtype, **{"w_rec_scale": 0.5, **model})
        outs[dtype] = be.loss_and_grads(s, be.to_backend(s, params), batch)
    a, b = outs["float64"], outs["float32"]
    assert a["log10_grad_norm"].min() < -45  # float32 would have underflowed
    for k in ("log10_grad_norm", "log10_weight_grad_norm"):
        # finite at every step but t = 1's weight term (0, from h_0 = 0)
        assert np.all(np.isfinite(a[k][1:])), k
        np.testing.assert_allclose(b[k], a[k], rtol=0, atol=1e-4, err_msg=k)


def test_float32_jacobian_log_norms_equal_float64():
    outs = {}
    for dtype in ("float64", "float32"):
        s, params, batch = _cell(dtype, w_rec_scale=0.5, jacobian=True)
        _, prof = measure_profile(s, params, batch)
        outs[dtype] = np.array(prof["log10_jacobian_norm"])
    assert outs["float64"].min() < -45 and np.all(np.isfinite(outs["float64"]))
    np.testing.assert_allclose(outs["float32"], outs["float64"], rtol=0, atol=1e-4)


def test_a_gradient_beyond_float64_stays_exact_and_is_not_an_overflow():
    # a linear orthogonal cell with no input: the states stay 0 (a finite forward) while
    # dL/dh_{T-k} = (s Q^T)^k dL/dh_T grows as 2^k, past 1e308 at k = 1024
    s, params, batch = _cell(
        nonlinearity="linear", init="orthogonal", w_rec_scale=2.0, seq_len=1100
    )
    params["weight_ih"][:] = 0.0
    m, prof = measure_profile(s, params, batch)
    log_g = np.array(prof["log10_grad_norm"])
    k = np.arange(len(log_g))
    np.testing.assert_allclose(log_g, log_g[0] + k * np.log10(2.0), rtol=0, atol=1e-9)
    assert log_g[-1] > 320 and np.isinf(prof["grad_norm"][-1])  # the plain column overflows
    assert m["finite"]  # status ok: the forward did not overflow
    assert m["log10_grad_ratio"] == pytest.approx((len(k) - 1) * np.log10(2.0), abs=1e-9)


def test_training_gradient_in_float32_equals_float64():
    # training's backward carries the same scale (checked every few steps), so a float32
    # gradient that falls through float32's range costs nothing and changes nothing
    s, params, batch = _cell("float32", w_rec_scale=0.1, seq_len=300)
    p32 = nb.to_backend(s, params)
    h, cache = nb.forward(s, p32, batch.x)
    direct = nb.readout.loss_forward_backward(p32, h, batch)["dh_direct"]
    got = rnn.backward(p32, cache, direct, norms=False)["grads"]["weight_hh"]
    s64, params64, _ = _cell("float64", w_rec_scale=0.1, seq_len=300)
    h64, cache64 = nb.forward(s64, params64, batch.x)
    d64 = nb.readout.loss_forward_backward(params64, h64, batch)["dh_direct"]
    want = rnn.backward(params64, cache64, d64, norms=False)["grads"]["weight_hh"]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * np.abs(want).max())


def _unscaled(s, params, batch):
    """log10 ||dL/ds_t|| (T+1,) by the textbook recursion dL/ds_{t-1} = direct_{t-1} + dL/ds_t
    J_t, unscaled, through the step Jacobians (each model's own formula, which its tests hold
    equal to autograd's) and the readout's direct term in the state's coordinates."""
    h, cache = nb.forward(s, params, batch.x)
    direct = nb.readout.loss_forward_backward(params, h, batch)["dh_direct"]
    direct = np.stack([direct[t] for t in range(len(direct))])  # (T+1, B, H)
    if s.model == "lru":  # through the block's MLP and Re(C h): direct dL/dh_t, as (Re, Im)
        dy = (direct * nb.lru.dgelu(cache["pre_z"], cache["th_z"])) @ params["weight_mlp"]
        direct = np.concatenate([dy @ params["C_re"], -(dy @ params["C_im"])], axis=-1)
    elif s.model == "indrnn":  # the readout reads the last layer, the state's last H units
        pad = np.zeros((*direct.shape[:2], (s.layers - 1) * s.hidden))
        direct = np.concatenate([pad, direct], axis=-1)
    T = direct.shape[0] - 1
    sq = np.zeros(T + 1)
    with np.errstate(under="ignore", divide="ignore"):
        for b in range(direct.shape[1]):
            J = nb.step_jacobians(s, params, batch, b)  # J[t - 1] = ds_t/ds_{t-1}
            v = direct[T, b]
            for t in range(T, 0, -1):
                sq[t] += v @ v
                v = direct[t - 1, b] + v @ J[t - 1]
            sq[0] += v @ v
        return 0.5 * np.log10(sq)


@pytest.mark.parametrize("model", OTHERS, ids=_ids(OTHERS))
def test_float64_log_norms_of_every_model_equal_the_unscaled_recursion(model):
    # 2000 steps: past the float64 band (2^-400) for all but the antisymmetric rnn, and past
    # float64's range for the indrnn and the lru
    s, params, batch = _cell(seq_len=2000, **model)
    want = _unscaled(s, params, batch)
    got = nb.loss_and_grads(s, params, batch)["log10_grad_norm"]
    finite = np.isfinite(want) & (want > -150)  # the unscaled squares are normal numbers
    assert finite.sum() > 100
    np.testing.assert_allclose(got[finite], want[finite], rtol=0, atol=1e-12)
    assert np.all(np.isfinite(got))
    if model in VANISHING:
        assert got.min() < -120 * np.log10(2)  # the carried gradient took a new scale


@pytest.mark.parametrize("model", OTHERS, ids=_ids(OTHERS))
def test_a_readout_gradient_scaled_by_a_power_of_two_scales_every_result(model):
    # the backward is linear in the readout's gradient: 2^-100 of it (about 1e-32, so the
    # unscaled float32 recursion would fall into subnormal numbers at once) shifts every
    # log-norm by -100 log10 2 and multiplies every gradient by 2^-100, in float32
    s, params, batch = _cell("float32", seq_len=300, **model)
    p = nb.to_backend(s, params)
    h, cache = nb.forward(s, p, batch.x)
    d = nb.readout.loss_forward_backward(p, h, batch)["dh_direct"]
    small = DirectGrad(d.steps, np.ldexp(d.values, -100), len(d))
    a, b = (nb.model(s).backward(p, cache, g) for g in (d, small))
    for k in ("log10_grad_norm", "log10_weight_grad_norm"):
        np.testing.assert_allclose(b[k], a[k] - 100 * np.log10(2), rtol=0, atol=1e-5, err_msg=k)
    for k, g in a["grads"].items():
        np.testing.assert_allclose(
            np.ldexp(b["grads"][k], 100), g, rtol=0, atol=1e-5 * np.abs(g).max(), err_msg=k
        )


@pytest.mark.parametrize("model", OTHERS, ids=_ids(OTHERS))
def test_torch_log_norms_of_every_model_equal_numpy(model):
    # 1000 steps: 63 of torch's chunks, each carried to the next with its own scale
    torch_backend = pytest.importorskip("rnngrad.torch_backend")
    s, params, batch = _cell(**model)
    want = nb.loss_and_grads(s, params, batch)
    if model in VANISHING:
        assert want["log10_grad_norm"].min() < -45  # float32 would have underflowed
    # float32: torch computes the exprnn's expm(A) in float32, NumPy in float64 then rounds
    for dtype, tol in (("float64", 1e-9), ("float32", 1e-3)):
        s, params, batch = _cell(dtype, **model)
        got = torch_backend.loss_and_grads(s, torch_backend.to_backend(s, params), batch)
        for k in ("log10_grad_norm", "log10_weight_grad_norm"):
            np.testing.assert_allclose(got[k], want[k], rtol=0, atol=tol, err_msg=f"{dtype} {k}")
