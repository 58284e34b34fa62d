"""Plain PyTorch's reference rate: it trains the cell's own problem, a cell records it, and
older records stay done."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math

import numpy as np
import pytest

from rnngrad import backends
from rnngrad.core import tasks
from rnngrad.core.settings import HASHED_WHEN_SET, CellSettings
from rnngrad.core.validation import SettingsError
from rnngrad.core.weights import data_stream, init_params
from rnngrad.run import loop, optim, plain
from rnngrad.run.cell import run_cell
from rnngrad.run.provenance import settings_hash
from rnngrad.study import resources


def settings(**kw) -> CellSettings:
    base = {"hidden": 6, "batch": 4, "seq_len": 12, "optimizer": "adam", "lr": 0.01}
    return CellSettings.from_dict({**base, **kw})


@pytest.mark.parametrize(
    ("model", "task", "optimizer"),
    [
        ("rnn", "adding", "adam"),
        ("lstm", "adding", "sgd"),
        ("gru", "temporal_order", "momentum"),
        ("rnn", "copy", "adam"),
    ],
)
def test_plain_step_trains_the_cells_problem(model, task, optimizer):
    """Step by step, plain PyTorch's losses equal the NumPy backend's on the same batches from
    the same weights with the same optimizer: the reference times the cell's own training."""
    s = settings(model=model, task=task, optimizer=optimizer, backend="numpy")
    sp = tasks.spec(s.task, s.seq_len, s.hidden)
    params = init_params(s, sp.n_in, sp.n_out)
    rng = data_stream(s, "train")
    batches = [tasks.make_batch(s.task, s.seq_len, s.batch, rng, s.hidden) for _ in range(3)]
    plain_step = plain.plain_step(s, params, batches)
    be, bk = backends.for_cell(s)
    p = be.to_backend(s, params)
    opt = optim.init_optimizer(s, p)
    for batch in batches:
        p, record, _ = loop.train_step(s, bk, p, opt, batch)
        assert float(plain_step()) == pytest.approx(record["loss"], rel=1e-10)


def test_a_cell_records_plain_pytorch_s_rate():
    s = settings(model="lstm", train_steps=5, plain_reference_steps=3, jacobian=False)
    m = run_cell(s, "demo")["metrics"]
    assert m["plain_train_steps_per_s"] > 0
    assert m["train_vs_plain"] == pytest.approx(
        m["train_steps_per_s"] / m["plain_train_steps_per_s"]
    )
    for kw in ({"plain_reference_steps": 0}, {"model": "esn", "plain_reference_steps": 3}):
        m = run_cell(settings(train_steps=2, jacobian=False, **kw), "demo")["metrics"]
        assert "plain_train_steps_per_s" not in m  # not timed, or plain PyTorch has no esn


def test_reference_is_limited_to_what_plain_pytorch_has():
    assert plain.supported(settings(model="rnn", nonlinearity="relu"))
    assert not plain.supported(settings(model="rnn", nonlinearity="sigmoid"))
    with pytest.raises(ValueError, match="no rnn with linear units"):
        plain.plain_train_steps_per_s(settings(nonlinearity="linear"), 1)
    with pytest.raises(SettingsError, match="plain_reference_steps: must be >= 0"):
        settings(plain_reference_steps=-1)


def test_older_records_keep_their_settings_hash():
    """A setting added later is left out of the hash at its default: the hash is that of the
    settings as they were before it existed, so their records stay done."""
    s = settings()
    d = s.to_dict()
    for key in ("extra_axes", *HASHED_WHEN_SET):
        d.pop(key)
    before = hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]
    assert settings_hash(s) == before
    assert settings_hash(dataclasses.replace(s, plain_reference_steps=10)) != before
    assert settings_hash(dataclasses.replace(s, w_rec_scaling="sigma_w")) != before
    assert set(HASHED_WHEN_SET) == {
        "plain_reference_steps",
        "w_rec_scaling",
        "layers",
        "r_min",
        "heldout_sequences",
        "stop_accuracy",
        "gradient_transform",
        "plugins",
        "max_phase",
    }


def test_the_cost_model_counts_the_reference():
    s = settings(model="gru", train_steps=10)
    timed = dataclasses.replace(s, plain_reference_steps=100)
    extra = resources.cell_seconds(timed) - resources.cell_seconds(s)
    assert extra > (plain.ROUNDS + 1) * 100 * resources.pass_seconds(s) > 0
    assert math.isclose(
        resources.cell_seconds(dataclasses.replace(s, model="esn", plain_reference_steps=100)),
        resources.cell_seconds(dataclasses.replace(s, model="esn")),
    )
    assert np.isfinite(extra)
