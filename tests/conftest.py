"""Shared fixtures: small cells of every model, and a relative error."""

from __future__ import annotations

import numpy as np
import pytest

from rnngrad.core.settings import CellSettings
from rnngrad.core.tasks import spec
from rnngrad.core.weights import cell_batch, data_stream, init_params, stream

# one entry per model the backends implement (the rnn with each nonlinearity, a leaky esn)
MODELS = {
    "rnn-tanh": {"model": "rnn", "nonlinearity": "tanh"},
    "rnn-relu": {"model": "rnn", "nonlinearity": "relu"},
    "rnn-sigmoid": {"model": "rnn", "nonlinearity": "sigmoid"},
    "rnn-linear": {"model": "rnn", "nonlinearity": "linear"},
    "esn": {"model": "esn", "leak": 0.7},
    "lstm": {"model": "lstm"},
    "gru": {"model": "gru"},
    "exprnn-tanh": {"model": "exprnn", "nonlinearity": "tanh"},
    "exprnn-modrelu": {"model": "exprnn", "nonlinearity": "modrelu"},
    "antisymmetric": {"model": "antisymmetric"},
}


def make_case(**settings):
    """Settings, float64 weights (biases made nonzero, so every bias path counts) and the probe
    batch of a small, non-chaotic cell."""
    s = CellSettings.from_dict(
        {"hidden": 8, "batch": 4, "seq_len": 12, "w_rec_scale": 0.9, **settings}
    )
    sp = spec(s.task, s.seq_len, s.hidden)
    params = init_params(s, sp.n_in, sp.n_out)
    rng = stream(s.seed, "test biases")
    for k in ("bias_ih", "bias_hh", "bias_out"):
        params[k] = params[k] + 0.1 * rng.standard_normal(params[k].shape)
    if "log_weight_hh" in params:  # the exprnn's: a dense A, so that every unit meets every other
        params["log_weight_hh"] = params["log_weight_hh"] + 0.3 * rng.standard_normal(
            (s.hidden,) * 2
        )
    batch = cell_batch(s, data_stream(s, "probe"))
    return s, params, batch


@pytest.fixture
def case():
    return make_case


@pytest.fixture(params=list(MODELS))
def model(request) -> dict:
    """The settings that pick a model (parametrizes a test over all of them)."""
    return MODELS[request.param]


def _rel_err(a, b) -> float:
    """Largest elementwise |a - b| / |b|; where b is 0, a must be 0 too (else inf)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    diff, size = np.abs(a - b), np.abs(b)
    if np.any((size == 0) & (diff > 0)):
        return np.inf
    return float(np.max(diff / np.where(size == 0, 1, size), initial=0))


def _norm_err(a, b) -> float:
    """max |a - b| / max |b|: the relative error of an array taken as a whole."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.max(np.abs(a - b), initial=0) / max(np.max(np.abs(b), initial=0), 1e-300))


@pytest.fixture
def rel_err():
    return _rel_err


@pytest.fixture
def norm_err():
    return _norm_err
