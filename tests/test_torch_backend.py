"""Torch backend, and both backends against references written here with PyTorch autograd.

The reference runs PyTorch's own cells (nn.RNNCell, nn.LSTMCell, nn.GRUCell) where they exist,
gives every step its own copy of W_hh (so that copy's .grad is the step's term of dL/dW_hh) and
takes dL/ds_t literally: the gradient of the loss from step t on, rerun from a leaf s_t.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import rnngrad.numpy_backend as nb
import rnngrad.torch_backend as tb
import rnngrad.torch_backend.train as tt
from rnngrad.core.settings import CellSettings
from rnngrad.core.shared import model_kwargs
from rnngrad.run import loop

TASKS = ["adding", "copy", "temporal_order"]


def _reference_step(s, P: dict):
    """One step (W_hh, state, x_t) -> state of the cell's model, by PyTorch's cells where they
    exist, else by the update rule written out."""
    I, H = P["weight_ih"].shape[1], s.hidden
    if s.model in ("lstm", "gru") or (s.nonlinearity in ("tanh", "relu") and s.model == "rnn"):
        cell = {
            "lstm": lambda: nn.LSTMCell(I, H),
            "gru": lambda: nn.GRUCell(I, H),
            "rnn": lambda: nn.RNNCell(I, H, nonlinearity=s.nonlinearity),
        }[s.model]().double()

        def step(W_hh, state, x_t):
            w = {
                "weight_ih": P["weight_ih"],
                "weight_hh": W_hh,
                "bias_ih": P["bias_ih"],
                "bias_hh": P["bias_hh"],
            }
            return torch.func.functional_call(cell, w, (x_t, state))

        return step
    f = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid, "linear": lambda a: a}
    leak = s.leak if s.model == "esn" else 1.0
    if s.model == "antisymmetric":  # W_hh here is M = W - W^T - gamma I
        eps = model_kwargs(s)["eps"]

        def step(W_hh, h, x_t):
            a = x_t @ P["weight_ih"].T + P["bias_ih"] + h @ W_hh.T + P["bias_hh"]
            return h + eps * torch.tanh(a)

        return step
    if s.nonlinearity == "modrelu":  # the exprnn's, with bias_hh as modrelu's bias

        def step(W_hh, h, x_t):
            a = x_t @ P["weight_ih"].T + P["bias_ih"] + h @ W_hh.T
            return torch.sgn(a) * torch.clamp(a.abs() + P["bias_hh"], min=0)

        return step

    def step(W_hh, h, x_t):
        a = x_t @ P["weight_ih"].T + P["bias_ih"] + h @ W_hh.T + P["bias_hh"]
        return (1 - leak) * h + leak * f[s.nonlinearity](a)

    return step


def _reference_recurrence(s, W: torch.Tensor) -> torch.Tensor:
    """The matrix a step multiplies h_{t-1} by, from the trained recurrent weight W: W itself,
    the exprnn's expm(A) with A the skew-symmetric matrix of W's strict upper triangle, or the
    antisymmetric's W - W^T - gamma I."""
    if s.model == "exprnn":
        A = torch.triu(W, diagonal=1)
        return torch.linalg.matrix_exp(A - A.T)
    if s.model == "antisymmetric":
        return W - W.T - model_kwargs(s)["gamma"] * torch.eye(W.shape[0], dtype=W.dtype)
    return W


def _reference_loss(P: dict, h: dict, batch):
    """Task loss of the readouts at the loss steps present in h (step -> h_t (B, H))."""
    losses, ys = [], []
    for j, t in enumerate(batch.loss_steps.tolist()):
        if t not in h:
            continue
        y = h[t] @ P["weight_out"].T + P["bias_out"]
        if batch.kind == "mse":
            losses.append(F.mse_loss(y, torch.tensor(batch.targets[j])))
        else:
            losses.append(F.cross_entropy(y, torch.tensor(batch.targets[j])))
        ys.append(y)
    return batch.scale * sum(losses), ys


def reference(s, params: dict, batch) -> dict:
    """loss_and_grads by plain autograd, O(T^2): small cells only."""
    P = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    x = torch.tensor(batch.x)
    T, B, H = s.steps, s.batch, s.hidden
    step = _reference_step(s, P)
    lstm = s.model == "lstm"

    def h_of(state):
        return state[0] if lstm else state

    zero = torch.zeros(B, H, dtype=torch.float64)
    states = [(zero, zero) if lstm else zero]
    rec = "log_weight_hh" if s.model == "exprnn" else "weight_hh"
    W_rec = _reference_recurrence(s, P[rec])  # what the step multiplies h_{t-1} by
    W = [W_rec.detach().clone().requires_grad_() for _ in range(T)]
    for t in range(T):
        states.append(step(W[t], states[-1], x[t]))
    loss, ys = _reference_loss(P, {t: h_of(st) for t, st in enumerate(states)}, batch)
    loss.backward()
    grads = {k: v.grad.numpy() for k, v in P.items() if k != rec}
    (grads[rec],) = torch.autograd.grad(W_rec, P[rec], grad_outputs=sum(w.grad for w in W))
    grads[rec] = grads[rec].numpy()
    grad_norm = []
    for t0 in range(T + 1):  # dL/ds_t0: the loss from step t0 on, as a function of s_t0
        leaves = tuple(v.detach().requires_grad_() for v in (states[t0] if lstm else (states[t0],)))
        state = leaves if lstm else leaves[0]
        h = {t0: h_of(state)}
        for t in range(t0, T):
            state = step(W_rec.detach(), state, x[t])
            h[t + 1] = h_of(state)
        tail, _ = _reference_loss(P, h, batch)
        g = torch.autograd.grad(tail, leaves, allow_unused=True)
        grad_norm.append(np.sqrt(sum(float((v * v).sum()) for v in g if v is not None)))
    return {
        "loss": loss.item(),
        "outputs": torch.stack(ys).detach().numpy(),
        "grads": grads,
        "grad_norm": np.array(grad_norm),
        "weight_grad_norm": np.array([float(torch.linalg.norm(w.grad)) for w in W]),
    }


@pytest.mark.parametrize("backend", [nb, tb], ids=["numpy", "torch"])
@pytest.mark.parametrize("task", TASKS)
def test_backends_match_the_autograd_reference(backend, task, model, case, rel_err, norm_err):
    s, params, batch = case(task=task, **model)
    ref = reference(s, params, batch)
    out = backend.loss_and_grads(s, backend.to_backend(s, params), batch)
    assert rel_err(out["loss"], ref["loss"]) < 1e-10
    assert norm_err(out["outputs"], ref["outputs"]) < 1e-10
    assert set(out["grads"]) == set(params)
    for k in params:
        assert norm_err(out["grads"][k], ref["grads"][k]) < 1e-10, k
    assert rel_err(out["grad_norm"], ref["grad_norm"]) < 1e-10
    assert rel_err(out["weight_grad_norm"], ref["weight_grad_norm"]) < 1e-10


def test_backends_agree_across_chunks(model, case, rel_err, norm_err):
    """T = 150 spans several of the NumPy backward's chunks of steps."""
    s, params, batch = case(seq_len=150, **model)
    a = nb.loss_and_grads(s, nb.to_backend(s, params), batch)
    b = tb.loss_and_grads(s, tb.to_backend(s, params), batch)
    assert rel_err(a["loss"], b["loss"]) < 1e-10
    for k in params:
        assert norm_err(a["grads"][k], b["grads"][k]) < 1e-10, k
    assert rel_err(a["grad_norm"], b["grad_norm"]) < 1e-10
    assert rel_err(a["weight_grad_norm"], b["weight_grad_norm"]) < 1e-10


@pytest.mark.parametrize(
    "settings, module",
    [
        ({"model": "rnn", "nonlinearity": "tanh"}, lambda I, H: nn.RNN(I, H, nonlinearity="tanh")),
        ({"model": "rnn", "nonlinearity": "relu"}, lambda I, H: nn.RNN(I, H, nonlinearity="relu")),
        ({"model": "lstm"}, lambda I, H: nn.LSTM(I, H)),
        ({"model": "gru"}, lambda I, H: nn.GRU(I, H)),
    ],
    ids=["rnn-tanh", "rnn-relu", "lstm", "gru"],
)
def test_models_match_torch_nn_modules(settings, module, case, norm_err):
    s, params, batch = case(**settings)
    net = module(batch.x.shape[-1], s.hidden).double()
    p = {k: torch.tensor(v, requires_grad=True) for k, v in params.items() if "out" not in k}
    with torch.no_grad():
        for k, v in p.items():
            getattr(net, f"{k}_l0").copy_(v)
    x = torch.tensor(batch.x)
    R = torch.tensor(np.random.default_rng(0).standard_normal((s.steps, s.batch, s.hidden)))
    expected, _ = net(x)
    (expected * R).sum().backward()
    h, _ = tb.forward(s, p, x)
    (h[1:] * R).sum().backward()
    assert norm_err(h[1:].detach().numpy(), expected.detach().numpy()) < 1e-10
    for k, v in p.items():
        assert norm_err(v.grad.numpy(), getattr(net, f"{k}_l0").grad.numpy()) < 1e-10, k


def test_step_jacobians_numpy_formulas_match_torch_autograd(model, case, norm_err):
    s, params, batch = case(**model)
    J_np = nb.step_jacobians(s, nb.to_backend(s, params), batch, 2)
    J_t = tb.step_jacobians(s, tb.to_backend(s, params), batch, 2)
    S = 2 * s.hidden if s.model == "lstm" else s.hidden
    assert J_t.shape == J_np.shape == (s.steps, S, S)
    assert norm_err(J_np, J_t) < 1e-10


def test_forward_is_a_loop_of_steps(model, case):
    """The one-step function the training loops use is the step forward runs."""
    s, params, batch = case(**model)
    p = tb.to_backend(s, params)
    module = tb.model(s)
    h, cache = tb.forward(s, p, batch.x)
    zero = torch.zeros(s.batch, s.hidden, dtype=torch.float64)
    carry = (zero, zero) if s.model == "lstm" else zero
    for t, x_t in enumerate(torch.tensor(batch.x).unbind(0)):
        carry = module.step(p, carry, x_t, **model_kwargs(s))
        torch.testing.assert_close(
            (carry[0] if s.model == "lstm" else carry), h[t + 1], rtol=1e-13, atol=1e-15
        )
    if s.model == "lstm":
        torch.testing.assert_close(carry[1], cache["c"][-1], rtol=1e-13, atol=1e-15)


def test_float32_agrees_with_float64(model, case, rel_err, norm_err):
    s, params, batch = case(**model)
    s32 = s.replace(dtype="float32")
    p32 = tb.to_backend(s32, params)
    assert p32["weight_ih"].dtype == torch.float32
    ref = tb.loss_and_grads(s, tb.to_backend(s, params), batch)
    out = tb.loss_and_grads(s32, p32, batch)
    assert out["grad_norm"].dtype == np.float64  # the returned arrays are float64 either way
    assert rel_err(out["loss"], ref["loss"]) < 1e-4
    assert rel_err(out["grad_norm"], ref["grad_norm"]) < 1e-4
    assert norm_err(out["weight_grad_norm"], ref["weight_grad_norm"]) < 1e-4
    for k in params:
        assert norm_err(out["grads"][k], ref["grads"][k]) < 1e-4, k
    J = tb.step_jacobians(s32, p32, batch)
    assert norm_err(J, tb.step_jacobians(s, tb.to_backend(s, params), batch)) < 1e-4


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_cuda_without_a_gpu_is_a_clear_error(case):
    s, params, _ = case()
    with pytest.raises(RuntimeError, match=r"device: 'cuda'.*no CUDA GPU"):
        tb.to_backend(CellSettings.from_dict({**s.to_dict(), "device": "cuda"}), params)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu(model, case, rel_err):
    s, params, batch = case(**model)
    sc = s.replace(device="cuda")
    out = tb.loss_and_grads(sc, tb.to_backend(sc, params), batch)
    ref = tb.loss_and_grads(s, tb.to_backend(s, params), batch)
    assert rel_err(out["grad_norm"], ref["grad_norm"]) < 1e-10
    assert rel_err(out["weight_grad_norm"], ref["weight_grad_norm"]) < 1e-10


FUSED = {  # the models torch.nn has fused
    "rnn-tanh": {"model": "rnn", "nonlinearity": "tanh"},
    "rnn-relu": {"model": "rnn", "nonlinearity": "relu"},
    "lstm": {"model": "lstm"},
    "gru": {"model": "gru"},
}


@pytest.mark.parametrize("h0", [False, True], ids=["zero-state", "held-state"])
@pytest.mark.parametrize("model_kw", list(FUSED.values()), ids=list(FUSED))
def test_fused_gradient_equals_the_loop(model_kw, h0, case, norm_err):
    """torch.nn's fused module and autograd through the model's loop: the same gradient, also
    from a held state (a truncated-BPTT window)."""
    s, params, batch = case(backend="torch", **model_kw)
    assert tt.fused(s)
    p = tb.to_backend(s, params)
    start = None
    if h0:
        rng = np.random.default_rng(0)
        shape = (s.batch, s.hidden)
        start = rng.standard_normal(shape)
        start = (start, rng.standard_normal(shape)) if s.model == "lstm" else start
    loss_f, grads_f, _ = tt.fused_gradient(s, p, batch, start)
    loss_l, grads_l, _ = tt.loop_gradient(s, p, batch, start)
    assert abs(loss_f - loss_l) <= 1e-12 * abs(loss_l)
    for k in params:
        assert norm_err(grads_f[k].numpy(), grads_l[k].numpy()) < 1e-10, k


@pytest.mark.parametrize("truncate", [None, {"k1": 4, "k2": 6}], ids=["bptt", "tbptt"])
@pytest.mark.parametrize("model_kw", list(FUSED.values()), ids=list(FUSED))
def test_fused_training_equals_the_loop(model_kw, truncate, case, monkeypatch, norm_err):
    """A few Adam steps with clipping through the fused path and through the loop end at the
    same weights."""
    s, params, _ = case(
        backend="torch",
        train_steps=3,
        optimizer="adam",
        lr=0.01,
        task="temporal_order",
        truncate=truncate,
        clip={"kind": "norm", "threshold": 0.5},
        penalty={"kind": "l2_wrec", "weight": 0.01},
        **model_kw,
    )
    fused = loop.train(s, params)
    monkeypatch.setattr(tt, "fused", lambda s: False)
    looped = loop.train(s, params)
    for k in params:
        assert norm_err(fused["params"][k], looped["params"][k]) < 1e-10, k


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("model_kw", list(FUSED.values()), ids=list(FUSED))
def test_fused_gradient_on_cuda_equals_the_loop_on_cpu(model_kw, case, norm_err):
    s, params, batch = case(backend="torch", **model_kw)
    sc = s.replace(device="cuda")
    _, grads_c, _ = tt.fused_gradient(sc, tb.to_backend(sc, params), batch)
    _, grads_l, _ = tt.loop_gradient(s, tb.to_backend(s, params), batch)
    for k in params:
        assert norm_err(tb.from_backend(grads_c[k]), grads_l[k].numpy()) < 1e-10, k
