"""Training: both backends step for step, the records, divergence, checkpoints, and (slow) that
learning works and clipping tames an exploding setting."""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pytest
import torch

from rnngrad import backends
from rnngrad.core import weights
from rnngrad.run import checkpoint, evaluate, loop

REMEDIES = {
    "sgd": {},
    "momentum": {"optimizer": "momentum"},
    "adam": {"optimizer": "adam", "lr": 0.003},
    "clip-norm": {"clip": {"kind": "norm", "threshold": 0.5}},
    "clip-value": {"optimizer": "momentum", "clip": {"kind": "value", "threshold": 0.05}},
    "truncate": {"optimizer": "adam", "lr": 0.003, "truncate": {"k1": 1, "k2": 4}},
    "truncate-copy": {"task": "copy", "seq_len": 4, "truncate": {"k1": 3, "k2": 6}, "lr": 0.1},
    "sgd-cr": {
        "penalty": {"kind": "pascanu", "weight": 2.0},
        "clip": {"kind": "norm", "threshold": 1.0},
    },
    "l2": {"optimizer": "momentum", "penalty": {"kind": "l2_wrec", "weight": 0.01}},
    "lstm": {"model": "lstm", "optimizer": "adam", "lr": 0.003},
    "gru-truncate": {"model": "gru", "truncate": {"k1": 2, "k2": 3}, "task": "copy", "seq_len": 4},
    "lstm-truncate": {"model": "lstm", "truncate": {"k1": 5, "k2": 8}, "optimizer": "momentum"},
    "exprnn-modrelu": {"model": "exprnn", "nonlinearity": "modrelu", "optimizer": "adam"},
    "antisymmetric": {"model": "antisymmetric", "optimizer": "adam", "lr": 0.01},
}


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread: on shared 2-core machines torch's spinning threads made a training
    step 35x slower (0.94 s against 27 ms for an lstm at H = B = 32, T = 50)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def cell(case):
    """Settings and weights of a small cell (conftest's case) that trains 6 steps by default."""

    def make(**settings):
        s, params, _ = case(**{"train_steps": 6, **settings})
        return s, params

    return make


@pytest.mark.parametrize("remedy", list(REMEDIES))
def test_backends_agree_step_for_step(cell, remedy, rel_err, norm_err):
    s, params = cell(**REMEDIES[remedy])
    out = {b: loop.train(s.replace(backend=b), params) for b in ("numpy", "torch")}
    a, b = out["numpy"], out["torch"]
    assert a["status"] == b["status"] == "ok"
    assert rel_err(a["curve"]["loss"], b["curve"]["loss"]) <= 1e-8
    assert rel_err(a["curve"]["param_grad_norm"], b["curve"]["param_grad_norm"]) <= 1e-8
    assert rel_err(a["curve"]["penalty"], b["curve"]["penalty"]) <= 1e-8
    assert a["curve"]["clipped"] == b["curve"]["clipped"]
    for k in params:
        assert norm_err(b["params"][k], a["params"][k]) <= 1e-8, k
    for k in ("final_loss", "accuracy", "normalized_loss", "clip_fraction", "max_grad_norm"):
        assert a["metrics"][k] == pytest.approx(b["metrics"][k], rel=1e-8), k
    # the run learned something, or at least moved
    assert a["curve"]["loss"][0] != a["curve"]["loss"][-1]


def test_records_and_metrics(cell):
    s, params = cell(clip={"kind": "norm", "threshold": 0.1}, train_steps=5)
    out = loop.train(s, params)
    curve = out["curve"]
    assert list(curve) == list(checkpoint.CURVE)
    assert curve["step"] == [1, 2, 3, 4, 5]
    assert {len(v) for v in curve.values()} == {5}
    assert all(isinstance(c, bool) for c in curve["clipped"]) and curve["penalty"] == [0.0] * 5
    m = out["metrics"]
    assert m["clip_fraction"] == np.mean(curve["clipped"])
    assert m["max_grad_norm"] == max(curve["param_grad_norm"])
    assert m["baseline_loss"] == pytest.approx(1 / 6)
    assert m["normalized_loss"] == pytest.approx(m["final_loss"] * 6)
    assert m["solved"] == evaluate.is_solved(m["accuracy"]) and m["diverged_at"] is None
    assert m["train_seconds"] > 0 and out["status"] == "ok"
    for k, v in out["params"].items():
        assert v.dtype == np.float64 and v.shape == params[k].shape
    # the input weights are not modified
    assert not np.shares_memory(out["params"]["weight_hh"], params["weight_hh"])


def batch_sizes(monkeypatch) -> list[int]:
    """The size of every batch drawn from now on, in order (a spy on tasks.make_batch)."""
    seen = []
    real = weights.tasks.make_batch

    def spy(task, seq_len, batch, rng, hidden=32):
        seen.append(batch)
        return real(task, seq_len, batch, rng, hidden)

    monkeypatch.setattr(weights.tasks, "make_batch", spy)
    return seen


@pytest.mark.parametrize("n", [1000, 2000])
def test_evaluation_uses_eval_sequences_fresh_sequences(cell, monkeypatch, n):
    s, params = cell(train_steps=1)
    s = s.replace(eval_sequences=n)
    seen = batch_sizes(monkeypatch)
    out = loop.train(s, params)
    assert seen[0] == s.batch and sum(seen[1:]) == n
    m = out["metrics"]  # the accuracy's Wilson interval over the n sequences
    assert m["accuracy_low"] <= m["accuracy"] <= m["accuracy_high"]


@pytest.mark.parametrize("n", [300, 2000])
def test_periodic_evaluations_score_heldout_sequences(cell, monkeypatch, n):
    s, params = cell(train_steps=2, eval_every=1)
    s = s.replace(heldout_sequences=n)
    seen = batch_sizes(monkeypatch)
    loop.train(s, params)
    # the held-out set is drawn once (n sequences), then two training batches and the fresh set
    assert sum(seen) == n + 2 * s.batch + s.eval_sequences
    assert seen.count(s.batch) >= 2


@pytest.mark.parametrize(("stop", "trained"), [(0.99, 4), (0.995, 6)])
def test_training_stops_at_stop_accuracy_and_counts_solved_at_099(cell, monkeypatch, stop, trained):
    """Held-out accuracies 0.5, 0.992, 0.996 at steps 2, 4, 6: steps_to_solve is 4 (the solved
    criterion, 0.99) whatever stop_accuracy is; training ends at 4 or, with 0.995, at 6."""
    s, params = cell(eval_every=2, stop_when_solved=True, train_steps=10, stop_accuracy=stop)
    accuracies = iter([0.5, 0.992, 0.996, 0.999, 0.999])
    monkeypatch.setattr(loop, "score", lambda *a: {"loss": 0.1, "accuracy": next(accuracies)})
    m = loop.train(s, params)["metrics"]
    assert m["steps_to_solve"] == 4
    assert m["steps_trained"] == trained


def test_a_larger_heldout_set_begins_with_the_smaller_one(cell):
    s, _ = cell()
    small = evaluate.heldout_set(s.replace(heldout_sequences=300))
    large = evaluate.heldout_set(s.replace(heldout_sequences=2000))
    assert len(small) == 300 // 50 and len(large) == 2000 // 50
    for a, b in zip(small, large[: len(small)], strict=True):
        np.testing.assert_array_equal(a.x, b.x)
        np.testing.assert_array_equal(a.targets, b.targets)


def test_memory_task_reports_memory_capacity(cell):
    s, params = cell(model="esn", task="memory", seq_len=40, w_rec_scale=0.9, train_steps=4)
    out = loop.train(s, params)
    mc = out["metrics"]["memory_capacity"]
    assert 0 < mc <= s.hidden + 1e-9
    assert out["metrics"]["solved"] is False


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_gradient_stops_training(cell, monkeypatch, backend, bad):
    s, params = cell(backend=backend, train_steps=8)
    _, bk = backends.for_cell(s)
    real = bk.gradient
    calls = []

    def poisoned(*args, **kwargs):
        loss, grads, value = real(*args, **kwargs)
        calls.append(1)
        if len(calls) == 3:
            grads["weight_hh"] = grads["weight_hh"] * bad
        return loss, grads, value

    monkeypatch.setattr(bk, "gradient", poisoned)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = loop.train(s, params)
    assert out["status"] == "diverged" and out["metrics"]["diverged_at"] == 3
    assert out["curve"]["step"] == [1, 2, 3]
    assert not np.isfinite(out["curve"]["param_grad_norm"][-1])
    assert all(np.all(np.isfinite(v)) for v in out["params"].values())  # the last finite weights


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_overflowing_run_diverges_without_warnings(cell, backend):
    # relu, W = 3 I, a huge learning rate: the weights blow up within a few steps
    s, params = cell(
        backend=backend,
        init="identity",
        nonlinearity="relu",
        w_rec_scale=3.0,
        lr=1e6,
        seq_len=30,
        train_steps=20,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = loop.train(s, params)
    assert out["status"] == "diverged"
    assert out["metrics"]["diverged_at"] == len(out["curve"]["step"]) <= 20


class _Interrupt(Exception):
    pass


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_checkpoint_resume_is_identical(cell, tmp_path, monkeypatch, backend):
    s, params = cell(
        backend=backend, optimizer="adam", lr=0.01, train_steps=7, truncate={"k1": 4, "k2": 6}
    )
    whole = loop.train(s, params)
    path = str(tmp_path / "cell.ckpt.npz")
    real = loop.train_step
    calls = []

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 5:
            raise _Interrupt  # a preemption in the middle of step 5
        return real(*args)

    monkeypatch.setattr(loop, "train_step", interrupted)
    with pytest.raises(_Interrupt):
        loop.train(s, params, checkpoint=path, checkpoint_every=0.0)
    with np.load(path, allow_pickle=False) as z:
        assert z["curve/step"].tolist() == [1, 2, 3, 4]
    monkeypatch.setattr(loop, "train_step", real)
    resumed = loop.train(s, params, checkpoint=path, checkpoint_every=0.0)
    assert resumed["curve"] == whole["curve"]
    for k in params:
        np.testing.assert_array_equal(resumed["params"][k], whole["params"][k])
    timing = ("train_seconds", "train_steps_per_s")
    assert {k: v for k, v in resumed["metrics"].items() if k not in timing} == {
        k: v for k, v in whole["metrics"].items() if k not in timing
    }
    assert not (tmp_path / "cell.ckpt.npz").exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left


# a small lstm that solves adding at T = 10 within a few hundred steps
SOLVABLE = {
    "model": "lstm",
    "seq_len": 10,
    "hidden": 16,
    "batch": 20,
    "optimizer": "adam",
    "lr": 0.02,
    "clip": {"kind": "norm", "threshold": 1.0},
    "train_steps": 2000,
    "eval_every": 25,
    "stop_when_solved": True,
}


def test_lstm_stops_when_solved_at_the_same_step_in_both_backends(cell, rel_err):
    s, params = cell(**SOLVABLE)
    out = {b: loop.train(s.replace(backend=b), params) for b in ("numpy", "torch")}
    a, b = out["numpy"], out["torch"]
    step = a["metrics"]["steps_to_solve"]
    assert step is not None and step < s.train_steps and step == b["metrics"]["steps_to_solve"]
    for o in (a, b):
        m, curve = o["metrics"], o["curve"]
        assert m["steps_trained"] == step and curve["step"][-1] == step
        assert m["sequences_to_solve"] == step * s.batch
        pairs = zip(curve["step"], curve["eval_accuracy"], strict=True)
        evaluated = [(t, acc) for t, acc in pairs if acc is not None]
        assert [t for t, _ in evaluated] == list(range(25, step + 1, 25))
        assert not any(evaluate.is_solved(acc) for _, acc in evaluated[:-1])
        assert evaluate.is_solved(evaluated[-1][1])
        assert curve["eval_loss"][0] is None and m["train_steps_per_s"] > 0
    evals = [v for v in a["curve"]["eval_loss"] if v is not None]
    assert rel_err(evals, [v for v in b["curve"]["eval_loss"] if v is not None]) <= 1e-8
    # the held-out verdict and the final one on 1000 fresh sequences are separate measurements
    assert a["metrics"]["accuracy"] == pytest.approx(b["metrics"]["accuracy"], abs=1e-12)
    # without early stopping the same run reaches the same first solved step, then goes on
    on = loop.train(s.replace(stop_when_solved=False, train_steps=step + 30), params)
    assert on["metrics"]["steps_to_solve"] == step and on["metrics"]["steps_trained"] == step + 30
    assert on["curve"]["loss"][:step] == a["curve"]["loss"]


def test_solved_is_accuracy_at_least_099_up_to_rounding():
    # 297 of 300 sequences right, as the mean of six chunks' fractions, sums below 0.99
    acc = float(np.mean([0.98, 0.98, 1.0, 1.0, 0.98, 1.0]))
    assert acc < 0.99 and evaluate.is_solved(acc)
    assert not evaluate.is_solved(296 / 300) and evaluate.is_solved(1.0)


def test_never_solved_leaves_steps_to_solve_empty(cell):
    s, params = cell(eval_every=2, stop_when_solved=True, train_steps=4)
    m = loop.train(s, params)["metrics"]
    assert m["steps_to_solve"] is None and m["sequences_to_solve"] is None
    assert m["steps_trained"] == 4


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_resume_with_early_stopping_is_identical(cell, tmp_path, monkeypatch, backend):
    s, params = cell(**{**SOLVABLE, "backend": backend})
    whole = loop.train(s, params)
    stop = whole["metrics"]["steps_to_solve"]
    path = str(tmp_path / "cell.ckpt.npz")
    real, calls = loop.train_step, []

    def interrupted(*args):
        calls.append(1)
        if len(calls) == stop - 10:  # after the last unsolved evaluation
            raise _Interrupt
        return real(*args)

    monkeypatch.setattr(loop, "train_step", interrupted)
    with pytest.raises(_Interrupt):
        loop.train(s, params, checkpoint=path, checkpoint_every=0.0)
    monkeypatch.setattr(loop, "train_step", real)
    resumed = loop.train(s, params, checkpoint=path, checkpoint_every=0.0)
    assert resumed["curve"] == whole["curve"]
    for k in params:
        np.testing.assert_array_equal(resumed["params"][k], whole["params"][k])
    timing = ("train_seconds", "train_steps_per_s")
    assert {k: v for k, v in resumed["metrics"].items() if k not in timing} == {
        k: v for k, v in whole["metrics"].items() if k not in timing
    }


def test_progress_is_logged(cell, monkeypatch, caplog):
    monkeypatch.setattr(loop, "PROGRESS_EVERY", 0.0)
    s, params = cell(eval_every=2, stop_when_solved=True, train_steps=4)
    with caplog.at_level("INFO", logger="rnngrad.run.loop"):
        loop.train(s, params)
    lines = [r.getMessage() for r in caplog.records if r.name == "rnngrad.run.loop"]
    assert len(lines) == 4 and lines[0].startswith("step 1/4: loss ")
    assert "held-out accuracy -," in lines[0] and "held-out accuracy 0." in lines[1]
    assert "steps/s, ETA <= " in lines[-1]


def test_checkpoint_of_other_settings_is_not_resumed(cell, tmp_path, monkeypatch):
    s, params = cell(optimizer="adam", lr=0.01, train_steps=6)
    path = str(tmp_path / "cell.ckpt.npz")
    real, calls = loop.train_step, []

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 4:
            raise _Interrupt
        return real(*args)

    monkeypatch.setattr(loop, "train_step", interrupted)
    with pytest.raises(_Interrupt):
        loop.train(s.replace(lr=0.02), params, checkpoint=path, checkpoint_every=0.0)
    monkeypatch.setattr(loop, "train_step", real)
    # the cell's remedy changed (lr 0.02 -> 0.01) before the rerun: it starts over
    again = loop.train(s, params, checkpoint=path, checkpoint_every=0.0)
    assert again["curve"] == loop.train(s, params)["curve"]


def test_float32_cells_train_in_both_backends(cell):
    s, params = cell(dtype="float32", optimizer="adam", lr=0.003)
    out = {b: loop.train(s.replace(backend=b), params) for b in ("numpy", "torch")}
    for o in out.values():
        assert o["status"] == "ok" and o["params"]["weight_hh"].dtype == np.float64
    np.testing.assert_allclose(
        out["numpy"]["curve"]["loss"], out["torch"]["curve"]["loss"], rtol=1e-4
    )


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_lstm_learns_the_adding_problem(cell, backend):
    s, params = cell(
        backend=backend,
        model="lstm",
        hidden=32,
        batch=32,
        seq_len=50,
        optimizer="adam",
        lr=0.02,
        train_steps=250,
    )
    out = loop.train(s, params)
    assert out["status"] == "ok"
    assert out["metrics"]["normalized_loss"] < 0.2, out["metrics"]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_clipping_keeps_an_exploding_setting_finite(cell, backend):
    settings = {
        "backend": backend,
        "init": "identity",
        "nonlinearity": "relu",
        "w_rec_scale": 1.2,
        "hidden": 32,
        "batch": 32,
        "seq_len": 50,
        "lr": 0.5,
        "train_steps": 100,
    }
    s, params = cell(**settings)
    plain = loop.train(s, params)
    assert plain["status"] == "diverged"
    clipped = loop.train(s.replace(clip={"kind": "norm", "threshold": 1.0}), params)
    assert clipped["status"] == "ok"
    assert np.all(np.isfinite(clipped["curve"]["loss"])) and clipped["metrics"]["clip_fraction"] > 0
    assert np.isfinite(clipped["metrics"]["final_loss"])


def _interrupted_checkpoint(s, params, path, monkeypatch, at: int = 4) -> None:
    """Train until a preemption in the middle of step ``at``, leaving a checkpoint at ``path``."""
    real, calls = loop.train_step, []

    def interrupted(*args):
        calls.append(1)
        if len(calls) == at:
            raise _Interrupt
        return real(*args)

    monkeypatch.setattr(loop, "train_step", interrupted)
    with pytest.raises(_Interrupt):
        loop.train(s, params, checkpoint=path, checkpoint_every=0.0)
    monkeypatch.setattr(loop, "train_step", real)


@pytest.mark.parametrize("damage", ["empty", "truncated", "bit flip"])
def test_unreadable_checkpoint_is_discarded_and_training_starts_over(
    cell, tmp_path, monkeypatch, caplog, damage
):
    s, params = cell(optimizer="adam", lr=0.01, train_steps=6)
    path = tmp_path / "cell.ckpt.npz"
    _interrupted_checkpoint(s, params, str(path), monkeypatch)
    data = path.read_bytes()
    if damage == "empty":
        data = b""
    elif damage == "truncated":
        data = data[: len(data) // 2]
    else:  # one bit of the saved weights
        with np.load(path) as z:
            where = data.index(z["param/weight_hh"].tobytes())
        data = bytearray(data)
        data[where + 3] ^= 0x04
        data = bytes(data)
    path.write_bytes(data)
    with caplog.at_level(logging.INFO, logger="rnngrad.run.loop"):
        again = loop.train(s, params, checkpoint=str(path), checkpoint_every=0.0)
    assert again["curve"] == loop.train(s, params)["curve"]
    assert any(
        r.levelno == logging.WARNING
        and str(path) in r.getMessage()
        and "discarded" in r.getMessage()
        for r in caplog.records
    ), caplog.text
    assert not path.exists()


def test_checkpoint_of_other_code_is_not_resumed(cell, tmp_path, monkeypatch, caplog):
    s, params = cell(optimizer="adam", lr=0.01, train_steps=6)
    path = str(tmp_path / "cell.ckpt.npz")
    monkeypatch.setattr(checkpoint, "code_hash", lambda: "0ld0ld0ld0ld0ld0")
    _interrupted_checkpoint(s, params, path, monkeypatch)
    with np.load(path) as z:
        assert str(z["code_hash"]) == "0ld0ld0ld0ld0ld0"
    monkeypatch.undo()  # the code changed before the rerun
    calls = []
    real = loop.train_step
    monkeypatch.setattr(loop, "train_step", lambda *a: (calls.append(1), real(*a))[1])
    with caplog.at_level(logging.INFO, logger="rnngrad.run.loop"):
        again = loop.train(s, params, checkpoint=path, checkpoint_every=0.0)
    assert len(calls) == 6  # every step ran on this code
    assert again["curve"] == loop.train(s, params)["curve"]
    assert "was saved by code 0ld0ld0ld0ld0ld0" in caplog.text and path in caplog.text


def test_resume_is_logged_and_interval_comes_from_the_environment(
    cell, tmp_path, monkeypatch, caplog
):
    s, params = cell(optimizer="adam", lr=0.01, train_steps=6)
    path = str(tmp_path / "cell.ckpt.npz")
    monkeypatch.setenv(checkpoint.CHECKPOINT_EVERY_ENV, "0")
    real, calls = loop.train_step, []

    def interrupted(*args):
        calls.append(1)
        if len(calls) == 3:
            raise _Interrupt
        return real(*args)

    monkeypatch.setattr(loop, "train_step", interrupted)
    with pytest.raises(_Interrupt):
        loop.train(s, params, checkpoint=path)  # no interval given: the environment's
    monkeypatch.setattr(loop, "train_step", real)
    with caplog.at_level(logging.INFO, logger="rnngrad.run.loop"):
        loop.train(s, params, checkpoint=path)
    assert f"checkpoint {path}: resuming after step 2" in caplog.text
    monkeypatch.setenv(checkpoint.CHECKPOINT_EVERY_ENV, "soon")
    with pytest.raises(ValueError, match="RNNGRAD_CHECKPOINT_EVERY"):
        checkpoint.checkpoint_interval()


def test_torch_training_flushes_subnormal_numbers_on_every_intra_op_thread():
    # the flags are each thread's own, and torch.set_flush_denormal sets the caller's: a large
    # elementwise product, which torch splits over its pool, shows every thread's (torch's
    # own switch alone left half of it unflushed here, with two threads)
    from rnngrad.torch_backend.train import flush_denormal, set_flush_denormal

    if not set_flush_denormal(False):
        pytest.skip("this CPU cannot flush subnormal numbers")
    n = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        t = torch.full((1 << 22,), 1e-40)  # float32 subnormal numbers
        with flush_denormal():
            inside = float((t * 1.0 == 0).float().mean())
        after = float((t * 1.0 == 0).float().mean())
    finally:
        torch.set_num_threads(n)
    assert (inside, after) == (1.0, 0.0)
