"""The ready studies under config/studies/: each validates through rnngrad.study.config (merged over
config/config.yaml, as `snakemake --configfile` merges it) and expands to the grid its paper
calls for; each has a cluster variant with at least its laptop budget."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnngrad.core.weights import init_params
from rnngrad.report.claims import method
from rnngrad.study.config import load_study
from rnngrad.study.tables import cells_table

REPO = Path(__file__).resolve().parents[1]
STUDIES = ("pascanu2013", "le2015", "bengio1994", "esn_memory", "modern")


def study(name: str):
    return load_study([REPO / "config" / "studies" / f"{name}.yaml"], root=REPO)


def cells(name: str):
    """The study's cells as a cells table would hold their settings (no metrics)."""
    s = study(name)
    records = [
        {
            "cell_id": c.cell_id,
            "settings": c.settings.to_dict(),
            "steps": c.settings.steps,
            "metrics": {},
            "provenance": {},
        }
        for c in s.cells.values()
    ]
    return cells_table(records)


@pytest.mark.parametrize("name", [*STUDIES, *(f"{n}_cluster" for n in STUDIES)])
def test_study_validates_and_is_named_after_its_file(name):
    s = study(name)
    assert s.name == name
    assert len(s.cells) > 0


@pytest.mark.parametrize("name", STUDIES)
def test_cluster_variant_has_at_least_the_laptop_budget(name):
    laptop, cluster = cells(name), cells(f"{name}_cluster")
    assert cluster["seed"].nunique() >= max(5, laptop["seed"].nunique())
    assert cluster["train_steps"].max() >= laptop["train_steps"].max()
    assert cluster["seq_len"].max() >= laptop["seq_len"].max()
    assert set(laptop["remedy"]) <= set(cluster["remedy"])


@pytest.mark.parametrize("name", ["pascanu2013", "pascanu2013_adam", "le2015", "le2015_sgd"])
def test_reproduction_studies_have_five_seeds(name):
    assert cells(name)["seed"].nunique() >= 5


def test_pascanu2013_grid():
    # paper-faithful: SGD at lr 0.01, batch 20, the smart tanh init, trained until solved
    c = cells("pascanu2013")
    assert (c["hidden"] == 50).all() and (c["task"] == "temporal_order").all()
    assert (c["model"] == "rnn").all() and (c["lr"] == 0.01).all() and (c["batch"] == 20).all()
    assert (c["optimizer"] == "sgd").all() and c["seq_len"].min() == 50
    assert c["stop_when_solved"].all() and (c["eval_every"] >= 1).all()
    assert (c["train_steps"] >= 40000).all()  # SGD-CR solved T=50 near 40,000 steps before
    assert (c["eval_sequences"] >= 10000).all()  # their code's evaluation set
    m = method(c)
    assert set(m) == {"SGD", "SGD-CR"}
    assert (c.loc[m != "SGD", "clip_threshold"] == 1.0).all()  # clipping by norm at 1
    weights = c.loc[m == "SGD-CR", "penalty_weight"]
    assert ((weights >= 2) & (weights <= 4)).all()
    assert (c["nonlinearity"] == "tanh").all() and (c["init"] == "sparse").all()
    # the smart tanh init as trainingRNNs RNN.py lines 125-138
    assert (c["w_rec_scale"] == 0.95).all() and (c["input_scale"] == 0.01).all()
    st = study("pascanu2013")
    cell = next(iter(st.cells.values()))
    p = init_params(cell.settings, 6, 4)
    W = p["weight_hh"]
    assert np.all((W != 0).sum(axis=0) == 15)  # 15 nonzero entries per row of their W_hh
    assert max(abs(np.linalg.eigvals(W))) == pytest.approx(0.95, rel=1e-12)
    assert np.std(p["weight_ih"]) == pytest.approx(0.01, rel=0.2)
    assert np.std(p["weight_out"]) == pytest.approx(0.01, rel=0.2)
    # the cluster variant runs the paper's three inits: sigmoid, basic tanh and smart tanh
    cl = cells("pascanu2013_cluster")
    variants = set(zip(cl["nonlinearity"], cl["init"], strict=False))
    assert {("sigmoid", "gaussian"), ("tanh", "gaussian"), ("tanh", "sparse")} <= variants
    per = cl.groupby(["nonlinearity", "init", "remedy", "seq_len"]).size()
    assert (per == cl["seed"].nunique()).all() and cl["seq_len"].max() >= 200


def test_pascanu2013_adam_is_named_adam_not_sgd():
    c = cells("pascanu2013_adam")
    assert (c["optimizer"] == "adam").all() and c["stop_when_solved"].all()
    assert set(method(c)) == {"Adam", "Adam-C", "Adam-CR"}


@pytest.mark.parametrize("name", ["le2015", "le2015_sgd"])
def test_le2015_grid(name):
    c = cells(name)
    assert (c["task"] == "adding").all()
    m = method(c)
    tanh = "Adam-C" if name == "le2015" else "SGD-C"
    assert set(m) == {"IRNN", tanh, "LSTM"}
    irnn = c[m == "IRNN"]
    assert (irnn["init"] == "identity").all() and (irnn["nonlinearity"] == "relu").all()
    assert (irnn["w_rec_scale"] == 1.0).all() and (irnn["input_scale"] == 0.001).all()
    assert (c.loc[m == tanh, "nonlinearity"] == "tanh").all()
    assert c["seq_len"].nunique() >= 3  # growing T
    assert len(c) == 3 * c["seq_len"].nunique() * c["seed"].nunique()
    assert c["stop_when_solved"].all()
    if name == "le2015_sgd":  # Le et al.'s optimizer and minibatch
        assert (c["optimizer"] == "sgd").all() and (c["batch"] == 16).all()


def test_bengio1994_grid():
    c = cells("bengio1994")
    assert (c["train_steps"] == 0).all() and c["jacobian"].all()
    assert {"tanh", "sigmoid"} <= set(c["nonlinearity"])
    # scales on both sides of 1/gamma for both nonlinearities (1 for tanh, 4 for sigmoid)
    assert c["w_rec_scale"].min() < 1 and c["w_rec_scale"].max() > 4
    assert c["w_rec_scale"].nunique() >= 10
    # the exact oracle of the linear rnn: orthogonal W_rec, one loss at the last step
    assert ((c["nonlinearity"] == "linear") & (c["init"] == "orthogonal")).any()
    assert c["task"].isin(["adding", "temporal_order", "digits"]).all()


def test_esn_memory_grid():
    c = cells("esn_memory")
    assert (c["model"] == "esn").all() and (c["task"] == "memory").all()
    assert set(c["nonlinearity"]) == {"linear", "tanh"}
    assert c["jacobian"].all() and (c["train_steps"] > 0).all()
    # spectral radii below, near and above 1
    assert c["w_rec_scale"].min() <= 0.1 and (c["w_rec_scale"] > 1).any()
    assert ((c["w_rec_scale"] >= 0.9) & (c["w_rec_scale"] < 1)).sum() >= 2
    # the readout's ridge sets MC below radius 0.9 (docs/studies.md): a visible axis, in both
    assert c["ridge"].nunique() >= 3 and cells("esn_memory_cluster")["ridge"].nunique() >= 3


@pytest.mark.parametrize("name", ["modern", "modern_cluster"])
def test_modern_grid(name):
    """The classic models and today's remedies on the adding and copy tasks from T = 100 on,
    at least 3 seeds, steps to solve (stop when solved); the IndRNN and the LRU as their papers
    set them up."""
    c = cells(name)
    assert set(method(c)) >= {"Adam-C", "IRNN", "LSTM", "GRU", "IndRNN", "LRU"}
    assert {"exprnn", "antisymmetric"} <= set(c["model"])
    assert set(c["task"]) == {"adding", "copy"}
    assert c["seq_len"].min() == 100 and c["seq_len"].nunique() >= 2
    assert c["seed"].nunique() >= 3 and c["stop_when_solved"].all()
    ind = c[c["model"] == "indrnn"]  # Li et al.'s 2 layers of 128 relu units
    assert (ind["layers"] == 2).all() and (ind["nonlinearity"] == "relu").all()
    assert (ind["hidden"] == 128).all()
    lru = c[c["model"] == "lru"]  # a ring near the unit circle
    assert (lru["w_rec_scale"] <= 1).all() and (lru["r_min"] >= 0.99).all()
