"""Remedies against independent answers: Pascanu's Omega (both forms) and truncated BPTT by
PyTorch autograd written here, clipping by its definition, the ESN readout by numpy.linalg.lstsq
and scikit-learn's Ridge, the optimizers by torch.optim."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnngrad.numpy_backend as nb
import rnngrad.numpy_backend.train as nt
import rnngrad.torch_backend as tb
import rnngrad.torch_backend.train as tt
from rnngrad.core import esn, tasks
from rnngrad.core.weights import data_stream, init_params, spectral_radius
from rnngrad.numpy_backend import readout, rnn
from rnngrad.run import loop, optim

ACT = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "linear": lambda a: a}


def _torch_params(params):
    return {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}


def _rnn_states(P, x, nonlinearity, h0=None):
    """The rnn's states as a list of tensors h_0..h_T, by the update rule written out."""
    H = P["weight_hh"].shape[0]
    h = [torch.zeros(x.shape[1], H, dtype=torch.float64) if h0 is None else h0]
    for x_t in x.unbind(0):
        a = x_t @ P["weight_ih"].T + P["bias_ih"] + h[-1] @ P["weight_hh"].T + P["bias_hh"]
        h.append(ACT[nonlinearity](a))
    return h


def _loss(P, hs, batch):
    """The task loss of states h_0..h_T (list) by its definition (tasks module docstring)."""
    y = torch.stack([hs[t] for t in batch.loss_steps]) @ P["weight_out"].T + P["bias_out"]
    if batch.kind == "mse":
        return batch.scale * ((y - torch.as_tensor(batch.targets)) ** 2).mean(dim=(1, 2)).sum()
    logp = torch.log_softmax(y, -1)
    picked = logp.gather(-1, torch.as_tensor(batch.targets)[..., None])
    return -batch.scale * picked.sum() / y.shape[1]


def _reference_omega(params, batch, nonlinearity, printed=False):
    """Omega and its gradient by autograd: per step k and sequence b, with s_k and
    dL/ds_{k+1} detached, (||dL/ds_{k+1} ds_{k+1}/ds_k||^2 / ||dL/ds_{k+1}||^2 - 1)^2 averaged
    over the (k, b) terms with ||dL/ds_{k+1}||^2 >= 1e-20 (Pascanu et al.'s code), or with
    ``printed`` (their eqs. 9-10) (||.|| / ||.|| - 1)^2 summed over k, mean over b; the Jacobian
    ds_{k+1}/ds_k is taken by autograd of one step."""
    P = _torch_params(params)
    x = torch.as_tensor(batch.x)
    hs = _rnn_states(P, x, nonlinearity)
    loss = _loss(P, hs, batch)
    g = torch.autograd.grad(loss, hs[1:], materialize_grads=True)
    total, count = 0, 0
    for k in range(x.shape[0]):
        s_k = hs[k].detach().requires_grad_()
        s_next = _rnn_states(P, x[k : k + 1], nonlinearity, h0=s_k)[1]
        # g J by a vector-Jacobian product that stays differentiable in the weights
        (gJ,) = torch.autograd.grad(s_next, s_k, grad_outputs=g[k].detach(), create_graph=True)
        ng = g[k].detach().square().sum(-1)
        r = gJ.square().sum(-1) / ng
        r = torch.sqrt(r) if printed else r
        total = total + torch.where(ng >= 1e-20, (r - 1) ** 2, torch.zeros_like(r)).sum()
        count += int((ng >= 1e-20).sum())
    total = total / (x.shape[1] if printed else count)
    names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    grads = torch.autograd.grad(total, [P[k] for k in names], materialize_grads=True)
    return total.item(), {k: v.numpy() for k, v in zip(names, grads, strict=False)}


@pytest.mark.parametrize("printed", [False, True], ids=["pascanu", "pascanu_printed"])
@pytest.mark.parametrize("nonlinearity", ["tanh", "sigmoid", "relu", "linear"])
def test_omega_gradient_matches_autograd(case, norm_err, nonlinearity, printed):
    # pascanu: their code's form; pascanu_printed: the paper's (norms, summed over k)
    s, params, batch = case(nonlinearity=nonlinearity, w_rec_scale=0.8)
    value_ref, grads_ref = _reference_omega(params, batch, nonlinearity, printed)
    h, cache = nb.forward(s, params, batch.x)
    back = rnn.backward(
        params, cache, readout.loss_forward_backward(params, h, batch)["dh_direct"], keep_dh=True
    )
    forms = {False: (nt.omega, tt.omega), True: (nt.omega_printed, tt.omega_printed)}
    value, grads = forms[printed][0](params, h, back["dh"], batch.x, nonlinearity)
    assert value > 0 and abs(value - value_ref) <= 1e-10 * value_ref
    for k, g in grads_ref.items():
        assert norm_err(grads[k], g) <= 1e-10, k
    # the backend's own Omega (autograd with its detachments) agrees too
    P = tb.to_backend(s, params)
    pen = forms[printed][1](
        P, torch.as_tensor(h), torch.as_tensor(back["dh"][1:]), tb.tensor(s, batch.x), nonlinearity
    )
    assert abs(pen.item() - value_ref) <= 1e-10 * value_ref
    # the two forms differ: squared against plain norms, mean against sum over k
    other = forms[not printed][0](params, h, back["dh"], batch.x, nonlinearity)[0]
    assert abs(other - value) > 1e-3 * value


@pytest.mark.parametrize("kind", ["pascanu", "pascanu_printed", "l2_wrec"])
def test_penalized_gradient_is_loss_gradient_plus_weighted_penalty(case, norm_err, kind):
    s, params, batch = case(penalty={"kind": kind, "weight": 0.7})
    plain = nb.loss_and_grads(s, params, batch)["grads"]
    loss, grads, value = nt.gradient(s, params, batch)
    if kind == "l2_wrec":
        ref_value = np.sum(params["weight_hh"] ** 2)
        ref = {"weight_hh": 2 * params["weight_hh"]}
    else:
        ref_value, ref = _reference_omega(params, batch, s.nonlinearity, kind == "pascanu_printed")
    assert value == pytest.approx(ref_value, rel=1e-10)
    for k, g in grads.items():
        assert norm_err(g, plain[k] + 0.7 * ref.get(k, 0.0)) <= 1e-10, k
    # the torch backend's objective gradient is the same
    tloss, tgrads, tvalue = tt.gradient(s, tb.to_backend(s, params), batch)
    assert tloss == pytest.approx(loss, rel=1e-12) and tvalue == pytest.approx(value, rel=1e-10)
    for k, g in grads.items():
        assert norm_err(tb.from_backend(tgrads[k]), g) <= 1e-10, k


def _model_forward(s, P, x, h0=None):
    """Reference states by PyTorch's own cells; carries (h, c) for the lstm."""
    I, H = x.shape[-1], s.hidden
    cell = {
        "rnn": lambda: torch.nn.RNNCell(I, H),
        "lstm": lambda: torch.nn.LSTMCell(I, H),
        "gru": lambda: torch.nn.GRUCell(I, H),
    }[s.model]().double()
    w = {k: P[k] for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    carries = [h0]
    for x_t in x.unbind(0):
        carries.append(torch.func.functional_call(cell, w, (x_t, carries[-1])))
    return carries


@pytest.mark.parametrize("model", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("k2", [1, 5, 12])
def test_truncated_gradient_is_full_bptt_cut_k2_steps_back(case, norm_err, model, k2):
    """Loss at the last step only: one update, whose gradient is autograd's on the graph with
    the state cut (detached) k2 steps before the end."""
    s, params, batch = case(model=model, truncate={"k1": 3, "k2": k2})
    T = batch.steps
    assert loop.update_schedule(s, batch) == [(T, max(T - k2, 0))]
    P = _torch_params(params)
    x = torch.as_tensor(batch.x)
    zero = torch.zeros(x.shape[1], s.hidden, dtype=torch.float64)
    h0 = (zero, zero) if model == "lstm" else zero
    with torch.no_grad():
        carries = _model_forward(s, P, x, h0)
    c = max(T - k2, 0)
    cut = carries[c]  # the forward's state at the cut, a constant
    hs = _model_forward(s, P, x[c:], cut)
    hs = [hh[0] if model == "lstm" else hh for hh in hs]
    loss = _loss(P, hs, loop.window(batch, c, T))
    ref = torch.autograd.grad(loss, list(P.values()))
    cut_np = tuple(v.numpy() for v in cut) if model == "lstm" else cut.numpy()
    _, grads, _ = nt.gradient(s, params, loop.window(batch, c, T), cut_np if c else None)
    for k, g in zip(P, ref, strict=False):
        assert norm_err(grads[k], g.numpy()) <= 1e-10, k
    # and the same cut through the torch backend
    _, tgrads, _ = tt.gradient(
        s,
        tb.to_backend(s, params),
        loop.window(batch, c, T),
        (tuple(torch.as_tensor(v) for v in cut_np) if model == "lstm" else torch.as_tensor(cut_np))
        if c
        else None,
    )
    for k, g in zip(P, ref, strict=False):
        assert norm_err(tb.from_backend(tgrads[k]), g.numpy()) <= 1e-10, k


def test_truncated_steps_match_reference_updates_with_several_windows(case, norm_err):
    """Copy task (losses at the last 10 steps), BPTT(2, 5), plain SGD: the documented schedule
    run by an independent autograd loop gives the same weights after one batch."""
    s, params, batch = case(task="copy", seq_len=4, truncate={"k1": 2, "k2": 5}, lr=0.1)
    T = batch.steps
    sched = loop.update_schedule(s, batch)
    # losses at steps 15..24, candidates every 2 steps and at T: updates at 16, 18, ..., 24
    assert [u for u, _ in sched] == list(range(16, T + 1, 2))
    assert all(c == u - 5 for u, c in sched)
    P = {k: torch.tensor(v) for k, v in params.items()}
    x = torch.as_tensor(batch.x)
    with torch.no_grad():
        state = {0: torch.zeros(x.shape[1], s.hidden, dtype=torch.float64)}
        prev = 0
        for u, c in sched:
            hs = _rnn_states(P, x[prev:u], "tanh", state[prev])
            for t in range(prev + 1, u + 1):
                state[t] = hs[t - prev]
            with torch.enable_grad():
                Q = {k: v.clone().requires_grad_() for k, v in P.items()}
                win = _rnn_states(Q, x[c:u], "tanh", state[c])
                loss = _loss(Q, win, loop.window(batch, c, u, scored_from=max(prev, c)))
                grads = torch.autograd.grad(loss, list(Q.values()))
            P = {k: P[k] - 0.1 * g for k, g in zip(P, grads, strict=False)}
            prev = u
    opt = optim.init_optimizer(s, params)
    new, record, finite = loop.train_step(s, nt, dict(params), opt, batch)
    assert finite
    for k in P:
        assert norm_err(new[k], P[k].numpy()) <= 1e-12, k
    # the step's loss is the batch loss as the forward met it, one segment per update
    assert record["loss"] > 0


def test_schedule_skips_updates_without_new_losses(case):
    s, _, batch = case(task="copy", seq_len=4, truncate={"k1": 7, "k2": 3})
    assert batch.steps == 24  # losses at 15..24; candidate updates at 7, 14, 21, 24
    assert loop.update_schedule(s, batch) == [(21, 18), (24, 21)]


@pytest.mark.parametrize("be", [nb, tb], ids=["numpy", "torch"])
def test_clip_by_norm_keeps_direction_and_bounds_norm(case, be):
    s, params, batch = case(clip={"kind": "norm", "threshold": 0.05})
    mod = optim
    plain = nb.loss_and_grads(s, params, batch)["grads"]
    grads = be.to_backend(s, {k: 10 * v for k, v in plain.items()})
    norm = mod.global_norm(grads)
    ref_norm = np.sqrt(sum(np.sum(be.from_backend(g) ** 2) for g in grads.values()))
    assert norm == pytest.approx(ref_norm, rel=1e-12) and norm > 0.05
    clipped, fired = mod.clip(s, grads, norm)
    assert fired
    assert mod.global_norm(clipped) == pytest.approx(0.05, rel=1e-12)
    for k in grads:
        a, b = be.from_backend(clipped[k]), be.from_backend(grads[k])
        np.testing.assert_allclose(a, b * (0.05 / ref_norm), rtol=1e-12, atol=0)
    # below the threshold nothing changes
    small = {k: v * (0.01 / norm) for k, v in grads.items()}
    same, fired = mod.clip(s, small, mod.global_norm(small))
    assert not fired and all(same[k] is small[k] for k in small)


@pytest.mark.parametrize("be", [nb, tb], ids=["numpy", "torch"])
def test_clip_by_value_bounds_every_component(case, be):
    s, params, batch = case(clip={"kind": "value", "threshold": 0.01})
    mod = optim
    grads = be.to_backend(s, nb.loss_and_grads(s, params, batch)["grads"])
    clipped, fired = mod.clip(s, grads, mod.global_norm(grads))
    assert fired
    for k in grads:
        a, b = be.from_backend(clipped[k]), be.from_backend(grads[k])
        assert np.all(np.abs(a) <= 0.01)
        inside = np.abs(b) <= 0.01
        np.testing.assert_array_equal(a[inside], b[inside])
        np.testing.assert_array_equal(a[~inside], 0.01 * np.sign(b[~inside]))


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("be", [nb, tb], ids=["numpy", "torch"])
def test_optimizers_follow_torch_optim(case, optimizer, be):
    s, params, _ = case(optimizer=optimizer, lr=0.03)
    mod = optim
    ref = [torch.tensor(v, requires_grad=True) for v in params.values()]
    opt = {
        "sgd": lambda: torch.optim.SGD(ref, lr=0.03),
        "momentum": lambda: torch.optim.SGD(ref, lr=0.03, momentum=0.9),
        "adam": lambda: torch.optim.Adam(ref, lr=0.03),
    }[optimizer]()
    p = be.to_backend(s, params)
    state = mod.init_optimizer(s, p)
    rng = np.random.default_rng(0)
    for _ in range(5):
        g = {k: rng.standard_normal(v.shape) for k, v in params.items()}
        for r, k in zip(ref, params, strict=False):
            r.grad = torch.tensor(g[k])
        opt.step()
        p = mod.optimizer_step(s, p, be.to_backend(s, g), state)
    for r, k in zip(ref, params, strict=False):
        np.testing.assert_allclose(
            be.from_backend(p[k]), r.detach().numpy(), rtol=1e-12, atol=1e-15
        )


def test_esn_readout_is_ridge_least_squares(case):
    s, params, _ = case(model="esn", leak=0.5, ridge=0.3, train_steps=3)
    rng = data_stream(s, "train")
    X, Y = [], []
    for _ in range(s.train_steps):
        batch = tasks.make_batch(s.task, s.seq_len, s.batch, rng)
        h, _ = nb.forward(s, params, batch.x)
        X.append(h[batch.loss_steps].reshape(-1, s.hidden))
        Y.append(batch.targets.reshape(-1, 1))
    X, Y = np.concatenate(X), np.concatenate(Y)
    n, H = X.shape
    # augmented system: [X 1; sqrt(ridge) I 0] [W^T; b] = [Y; 0], the bias unpenalized
    A = np.block([[X, np.ones((n, 1))], [np.sqrt(0.3) * np.eye(H), np.zeros((H, 1))]])
    w = np.linalg.lstsq(A, np.concatenate([Y, np.zeros((H, 1))]), rcond=None)[0]
    out = loop.train(s, params)
    np.testing.assert_allclose(out["params"]["weight_out"], w[:-1].T, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(out["params"]["bias_out"], w[-1], rtol=1e-9, atol=1e-12)
    # the reservoir is the one asked for, and stays fixed
    assert spectral_radius(params["weight_hh"]) == pytest.approx(s.w_rec_scale, rel=1e-12)
    for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        np.testing.assert_array_equal(out["params"][k], params[k])
    assert out["curve"]["step"] == [] and out["status"] == "ok"


def test_esn_readout_matches_scikit_learn_ridge(case):
    # the memory task's K delay readouts at once; sklearn's Ridge centres the data to leave the
    # intercept unpenalized, a route independent of the augmented normal equations
    from sklearn.linear_model import Ridge

    s, params, _ = case(model="esn", task="memory", seq_len=30, ridge=0.05, train_steps=2)
    rng = data_stream(s, "train")
    X, Y = [], []
    for _ in range(s.train_steps):
        batch = tasks.make_batch(s.task, s.seq_len, s.batch, rng, s.hidden)
        h, _ = nb.forward(s, params, batch.x)
        X.append(h[batch.loss_steps].reshape(-1, s.hidden))
        Y.append(batch.targets.reshape(-1, batch.n_out))
    ref = Ridge(alpha=0.05, fit_intercept=True, solver="cholesky").fit(
        np.concatenate(X), np.concatenate(Y)
    )
    out = loop.train(s, params)
    np.testing.assert_allclose(out["params"]["weight_out"], ref.coef_, rtol=1e-8, atol=1e-11)
    np.testing.assert_allclose(out["params"]["bias_out"], ref.intercept_, rtol=1e-8, atol=1e-11)


def test_esn_classification_readout_fits_one_hot_codes():
    ne = esn.NormalEquations(2, 3)
    states = np.array([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])
    batch = tasks.Batch(np.zeros((1, 3, 1)), np.array([[0, 1, 2]]), np.array([1]), "xent", 1.0, 3)
    ne.add(states, esn.targets(batch))
    W, b = ne.solve(0.0)
    np.testing.assert_allclose(states[0] @ W.T + b, np.eye(3), atol=1e-12)


@pytest.mark.parametrize("scale", [0.5, 1.3])
def test_esn_reservoir_spectral_radius(case, scale):
    s, params, _ = case(model="esn", w_rec_scale=scale, hidden=20)
    assert spectral_radius(params["weight_hh"]) == pytest.approx(scale, rel=1e-12)
    s2 = s.replace(init="sparse")
    assert spectral_radius(init_params(s2, 2, 1)["weight_hh"]) == pytest.approx(scale, rel=1e-12)
