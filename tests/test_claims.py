"""rnngrad.report.claims: the published claims as data, and verdicts on tables built to agree and to
differ, plus one end-to-end check on real cells against closed forms."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from rnngrad.core.memory import closed_form
from rnngrad.core.settings import CellSettings
from rnngrad.report import analysis, claims
from rnngrad.run.cell import run_cell
from rnngrad.study.tables import build_tables


# -- the data -----------------------------------------------------------------------------------
def test_csv_keeps_its_columns_and_sources():
    c = claims.load_claims()
    assert tuple(c.columns) == claims.COLUMNS
    assert c["claim_id"].is_unique
    assert (c["source"].str.len() > 0).all() and (c["how_to_compare"].str.len() > 0).all()
    text = " ".join(c["source"])
    for author in ("Pascanu", "Hochreiter", "Le Jaitly Hinton", "Jaeger", "Arjovsky", "Dambre"):
        assert author in text
    assert set(claims.CHECKS) <= set(c["claim_id"])


# -- synthetic tables -----------------------------------------------------------------------------
def cell(i: int, **kw) -> dict:
    row = {
        "cell_id": f"c{i}",
        "backend": "numpy",
        "remedy": "none",
        "seq_len": 50,
        "w_rec_scale": 1.0,
        "seed": 0,
        "model": "rnn",
        "nonlinearity": "tanh",
        "init": "gaussian",
        "input_scale": 1.0,
        "hidden": 50,
        "task": "temporal_order",
        "batch": 20,
        "train_steps": 1000,
        "ridge": 1e-6,
        "clip_kind": None,
        "clip_threshold": np.nan,
        "penalty_kind": None,
        "penalty_weight": np.nan,
        "truncate_k1": None,
        "accuracy": 0.3,
        "solved": False,
        "normalized_loss": 0.9,
        "baseline_loss": math.log(4),
        "init_spectral_norm": 1.0,
        "init_spectral_radius": 1.0,
        "init_log10_grad_ratio": -1.0,
        "init_decay_rate": -0.01,
        "init_jacobian_decay_rate": -0.01,
        "trained_decay_rate": -0.01,
        "trained_spectral_norm": 1.0,
        "memory_capacity": np.nan,
        "status": "ok",
    }
    row.update(kw)
    return row


def tables(rows, profiles=None, training=None) -> dict:
    return {
        "cells": pd.DataFrame(rows),
        "profiles": profiles if profiles is not None else pd.DataFrame(),
        "training": training if training is not None else pd.DataFrame(),
    }


def verdict(t, claim_id: str, config=None) -> pd.Series:
    out = claims.evaluate(t, config)
    assert set(out["verdict"]) <= set(claims.VERDICTS)
    row = out[out["claim_id"] == claim_id]
    assert len(row) == 1, f"{claim_id} not evaluated: {list(out['claim_id'])}"
    return row.iloc[0]


CLIP = {"clip_kind": "norm", "clip_threshold": 1.0}
OMEGA = dict(CLIP, penalty_kind="pascanu", penalty_weight=2.0)


def pascanu_rows(cr_solves: bool) -> list[dict]:
    rows, i = [], 0
    for T in (50, 100, 200):
        for seed in (0, 1):
            for extra, solves in (({}, T == 50), (CLIP, T <= 100), (OMEGA, cr_solves)):
                rows.append(
                    cell(
                        i,
                        seq_len=T,
                        seed=seed,
                        solved=solves,
                        accuracy=1.0 if solves else 0.4,
                        **extra,
                    )
                )
                i += 1
    return rows


def test_temporal_order_agrees_when_sgd_cr_solves_every_length():
    r = verdict(tables(pascanu_rows(True)), "pascanu_temporal_order")
    assert r["verdict"] == "agrees"
    assert "SGD-CR T=50: 1.00, T=100: 1.00, T=200: 1.00" in r["measured_value"]
    assert "SGD T=50: 1.00, T=100: 0.00" in r["measured_value"]


def test_temporal_order_differs_with_the_budget_as_reason():
    r = verdict(tables(pascanu_rows(False)), "pascanu_temporal_order")
    assert r["verdict"] == "differs"
    assert "1,000 steps x 20 = 20,000 sequences" in r["reason"]


def test_a_claim_about_sgd_is_not_judged_on_adam_runs():
    rows = [{**r, "optimizer": "adam"} for r in pascanu_rows(True)]
    r = verdict(tables(rows), "pascanu_temporal_order")
    assert r["verdict"] == "not measured here"
    assert "(Adam, Adam-C, Adam-CR): adam," in r["reason"]
    # mixed: only the SGD runs count, and the reason says which runs those were
    mixed = pascanu_rows(False) + [
        {**r, "cell_id": f"a{i}", "optimizer": "adam"} for i, r in enumerate(pascanu_rows(True))
    ]
    r = verdict(tables(mixed), "pascanu_temporal_order")
    assert (
        r["verdict"] == "differs" and "Judged on 18 runs (SGD, SGD-C, SGD-CR): sgd," in r["reason"]
    )


def test_sgd_c_or_sgd_cr_solving_within_50_to_200_agrees():
    # SGD-C solves every run at T=50 (the only length here), SGD-CR one of two, SGD none
    rows = [
        cell(i, seed=s, solved=ok, accuracy=1.0 if ok else 0.4, **extra)
        for i, (s, ok, extra) in enumerate(
            [
                *[(0, False, {}), (1, False, {}), (0, True, CLIP), (1, True, CLIP)],
                *[(0, True, OMEGA), (1, False, OMEGA)],
            ]
        )
    ]
    r = verdict(tables(rows), "pascanu_temporal_order")
    assert r["verdict"] == "agrees"
    assert "SGD: 2 unsolved" in r["reason"] and "SGD-C: 2 solved" in r["reason"]


def test_held_out_success_counts_for_runs_stopped_when_solved():
    # stopped at the first solved evaluation, the final accuracy on other sequences is 0.988
    early = {"eval_every": 100, "stop_when_solved": True, "steps_trained": 700}
    rows = [
        cell(
            i,
            task="adding",
            model="lstm",
            seq_len=T,
            accuracy=0.988,
            solved=False,
            steps_to_solve=700,
            **early,
        )
        for i, T in enumerate((50, 100))
    ]
    r = verdict(tables(rows), "hochreiter_adding")
    assert r["verdict"] == "agrees" and "2 solved at step 700 (final accuracy 0.988" in r["reason"]
    assert "stopping at the first solved evaluation (every 100 steps)" in r["reason"]
    rows = [{**r, "steps_to_solve": None} for r in rows]
    r = verdict(tables(rows), "hochreiter_adding")
    assert r["verdict"] == "differs" and "2 unsolved after 700 steps" in r["reason"]


def adding_rows(irnn_reach: int, tanh_reach: int) -> list[dict]:
    rows, i = [], 0
    for T in (50, 100, 150):
        for extra, r in (
            (dict(init="identity", nonlinearity="relu", **CLIP), irnn_reach),
            (CLIP, tanh_reach),
            (dict(model="lstm", **CLIP), 150),
        ):
            rows.append(
                cell(i, task="adding", seq_len=T, solved=T <= r, baseline_loss=1 / 6, **extra)
            )
            i += 1
    return rows


@pytest.mark.parametrize(
    "irnn, tanh, expected", [(150, 50, "agrees"), (50, 100, "differs"), (0, 0, "differs")]
)
def test_irnn_reaches_longer_t(irnn, tanh, expected):
    r = verdict(tables(adding_rows(irnn, tanh)), "le_irnn_adding")
    assert r["verdict"] == expected
    assert f"IRNN {irnn or 'none'}, tanh RNN {tanh or 'none'}" in r["measured_value"]


def test_lstm_adding_and_adding_baseline():
    t = tables(adding_rows(150, 50))
    assert verdict(t, "hochreiter_adding")["verdict"] == "agrees"
    assert verdict(t, "adding_baseline")["verdict"] == "agrees"
    rows = adding_rows(150, 50)
    rows[0]["baseline_loss"] = 0.25
    assert verdict(tables(rows), "adding_baseline")["verdict"] == "differs"
    rows = [r for r in adding_rows(150, 50) if r["model"] == "lstm"]
    rows[-1]["solved"] = False
    assert verdict(tables(rows), "hochreiter_adding")["verdict"] == "differs"


def test_bptt_fails():
    rows = [cell(i, seq_len=T) for i, T in enumerate((50, 100, 200))]
    assert verdict(tables(rows), "hochreiter_bptt_fails")["verdict"] == "agrees"
    rows[2]["solved"] = True
    assert verdict(tables(rows), "hochreiter_bptt_fails")["verdict"] == "differs"
    rows = [cell(i, seq_len=T, **CLIP) for i, T in enumerate((50, 100, 200))]  # SGD-C: still BPTT
    assert (
        "0 of 2 tanh rnn cells" in verdict(tables(rows), "hochreiter_bptt_fails")["measured_value"]
    )
    rows = [cell(i, seq_len=T, **OMEGA) for i, T in enumerate((50, 100, 200))]
    assert "hochreiter_bptt_fails" not in set(claims.evaluate(tables(rows))["claim_id"])


def esn_rows(mc_linear: float, mc_tanh: float) -> list[dict]:
    return [
        cell(
            0,
            model="esn",
            task="memory",
            nonlinearity="linear",
            memory_capacity=mc_linear,
            init_spectral_norm=0.9,
            init_spectral_radius=0.8,
            init_jacobian_decay_rate=-0.05,
        ),
        cell(
            1,
            model="esn",
            task="memory",
            nonlinearity="tanh",
            memory_capacity=mc_tanh,
            init_spectral_norm=0.9,
            init_spectral_radius=0.8,
            init_jacobian_decay_rate=-0.05,
        ),
    ]


@pytest.mark.parametrize(
    "lin, tanh, expected",
    [(49.0, 30.0, "agrees"), (35.0, 30.0, "differs"), (49.0, 55.0, "differs")],
)
def test_memory_capacity(lin, tanh, expected):
    r = verdict(tables(esn_rows(lin, tanh)), "jaeger_mc_bound")
    assert r["verdict"] == expected
    assert f"linear {lin / 50:.3f}" in r["measured_value"]


@pytest.mark.parametrize("lin, tanh, expected", [(49.0, 30.0, "agrees"), (30.0, 35.0, "differs")])
def test_memory_nonlinearity_tradeoff(lin, tanh, expected):
    assert verdict(tables(esn_rows(lin, tanh)), "dambre_memory_nonlinearity")["verdict"] == expected


def test_esn_sufficient_condition():
    rows = [
        *esn_rows(49.0, 30.0),
        cell(
            2,
            model="esn",
            task="memory",
            init_spectral_norm=1.6,
            init_spectral_radius=1.1,
            init_jacobian_decay_rate=-0.01,
        ),
    ]
    r = verdict(tables(rows), "esn_sr_heuristic")
    assert r["verdict"] == "agrees" and "rho >= 1: 1 of 1 fade" in r["measured_value"]
    rows[0]["init_jacobian_decay_rate"] = 0.02  # sigma_max < 1 but growing: impossible
    assert verdict(tables(rows), "esn_sr_heuristic")["verdict"] == "differs"
    for r in rows:
        r["init_jacobian_decay_rate"] = np.nan
    assert verdict(tables(rows), "esn_sr_heuristic")["verdict"] == "not measured here"


def bound_tables(excess: float, nonlinearity: str = "sigmoid", sigma: float = 2.0):
    """One cell with jacobian_norm[k] = (gamma sigma)^k, times `excess` at lag 5."""
    q = claims.GAMMA[nonlinearity] * sigma
    lags = np.arange(20)
    jn = q**lags
    jn[5] *= excess
    prof = pd.DataFrame(
        {
            "cell_id": "c0",
            "phase": "init",
            "lag": lags,
            "grad_norm": jn,
            "jacobian_norm": jn,
            "weight_grad_norm": jn,
        }
    )
    return tables(
        [
            cell(
                0,
                nonlinearity=nonlinearity,
                init_spectral_norm=sigma,
                init_log10_grad_ratio=19 * math.log10(q),
            )
        ],
        prof,
    )


def test_pascanu_bound_vanish():
    assert verdict(bound_tables(0.5), "pascanu_bound_vanish")["verdict"] == "agrees"
    r = verdict(bound_tables(1.5), "pascanu_bound_vanish")
    assert r["verdict"] == "differs" and "0 of 1 cell-phases" in r["measured_value"]
    t = bound_tables(0.5)
    t["profiles"]["jacobian_norm"] = np.nan
    assert verdict(t, "pascanu_bound_vanish")["verdict"] == "not measured here"


def test_pascanu_bound_explode():
    # sigmoid with sigma 2: gamma sigma = 1/2, yet the gradient grows: the bound forbids it
    t = bound_tables(1.0)
    assert verdict(t, "pascanu_bound_explode")["verdict"] == "agrees"
    t["cells"]["init_log10_grad_ratio"] = 0.5
    assert verdict(t, "pascanu_bound_explode")["verdict"] == "differs"
    # sigma 8 (gamma sigma = 2) may explode
    t = bound_tables(1.0, sigma=8.0)
    t["cells"]["init_log10_grad_ratio"] = 3.0
    r = verdict(t, "pascanu_bound_explode")
    assert r["verdict"] == "agrees" and "1 of 1 above" in r["measured_value"]


def test_linear_oracle():
    rows = [
        cell(
            i,
            nonlinearity="linear",
            init="orthogonal",
            w_rec_scale=s,
            init_decay_rate=math.log10(s),
        )
        for i, s in enumerate((0.5, 1.0, 2.0))
    ]
    assert verdict(tables(rows), "pascanu_linear")["verdict"] == "agrees"
    rows[1]["init_decay_rate"] = 1e-4
    assert verdict(tables(rows), "pascanu_linear")["verdict"] == "differs"


def test_clip_rule():
    rows = [cell(0, **CLIP)]
    tr = pd.DataFrame(
        {
            "cell_id": "c0",
            "step": [1, 2, 3],
            "loss": 1.0,
            "param_grad_norm": [0.5, 2.0, 1.0],
            "clipped": [False, True, False],
            "penalty": 0.0,
        }
    )
    assert verdict(tables(rows, training=tr), "pascanu_clip_rule")["verdict"] == "agrees"
    tr.loc[2, "clipped"] = True  # at exactly the threshold Algorithm 1 does not rescale
    r = verdict(tables(rows, training=tr), "pascanu_clip_rule")
    assert r["verdict"] == "differs" and "1 steps where" in r["measured_value"]


def test_omega_keeps_the_factor_nearer_one():
    rows = [cell(0, **CLIP, trained_decay_rate=-0.05), cell(1, **OMEGA, trained_decay_rate=-0.01)]
    assert verdict(tables(rows), "pascanu_omega")["verdict"] == "agrees"
    rows[1]["trained_decay_rate"] = -0.1
    assert verdict(tables(rows), "pascanu_omega")["verdict"] == "differs"


def test_smart_init():
    rows = [cell(0, init="sparse", w_rec_scale=0.95, init_spectral_radius=0.95, input_scale=0.1)]
    assert verdict(tables(rows), "pascanu_smart_init")["verdict"] == "agrees"
    rows[0].update(w_rec_scale=1.2, init_spectral_radius=1.2)
    assert verdict(tables(rows), "pascanu_smart_init")["verdict"] == "differs"


def test_copy_baseline():
    rows = [cell(0, task="copy", seq_len=30, baseline_loss=10 * math.log(8) / 50)]
    assert verdict(tables(rows), "arjovsky_copy_baseline")["verdict"] == "agrees"
    rows[0]["baseline_loss"] = 10 * math.log(8) / 30
    assert verdict(tables(rows), "arjovsky_copy_baseline")["verdict"] == "differs"


def test_only_claims_the_tables_speak_to_and_partial_runs():
    out = claims.evaluate(tables(esn_rows(49.0, 30.0)))
    assert set(out["claim_id"]) == {
        "jaeger_mc_bound",
        "esn_sr_heuristic",
        "dambre_memory_nonlinearity",
    }
    assert tuple(out.columns) == claims.RESULT_COLUMNS
    config = {
        "grid": {
            "backend": ["numpy"],
            "seq_len": [500],
            "w_rec_scale": [0.5, 0.9],
            "remedy": ["esn"],
            "seed": [0],
            "nonlinearity": ["linear", "tanh"],
        }
    }
    r = verdict(tables(esn_rows(49.0, 30.0)), "jaeger_mc_bound", config)
    assert "Partial run: 2 of 4 cells." in r["reason"]
    assert claims.evaluate(tables([])).empty


# -- end to end: real cells against closed forms -------------------------------------------------
def test_real_cells_meet_the_bound_and_the_linear_oracle():
    records = []
    for i, (nl, init, s) in enumerate(
        [
            ("linear", "orthogonal", 0.8),
            ("linear", "orthogonal", 1.3),
            ("tanh", "gaussian", 0.7),
            ("sigmoid", "gaussian", 3.0),
        ]
    ):
        settings = CellSettings.from_dict(
            {
                "seq_len": 20,
                "hidden": 8,
                "batch": 4,
                "train_steps": 0,
                "w_rec_scale": s,
                "nonlinearity": nl,
                "init": init,
            }
        )
        records.append(run_cell(settings, f"c{i}"))
    out = claims.evaluate(build_tables(records)).set_index("claim_id")
    for claim_id in ("pascanu_linear", "pascanu_bound_vanish", "pascanu_bound_explode"):
        assert out.at[claim_id, "verdict"] == "agrees", out.loc[claim_id].to_dict()


@pytest.mark.slow  # draws every figure of the report
def test_report_section_lists_verdicts_escaped(tmp_path):
    from rnngrad.report.page import build_report
    from rnngrad.study.tables import write_tables

    settings = CellSettings.from_dict(
        {
            "seq_len": 12,
            "hidden": 4,
            "batch": 2,
            "train_steps": 0,
            "w_rec_scale": 0.5,
            "nonlinearity": "linear",
            "init": "orthogonal",
        }
    )
    write_tables(build_tables([run_cell(settings, "c0")]), tmp_path / "tables")
    html = build_report("demo", tmp_path / "tables", None, tmp_path / "demo.html").read_text()
    section = html[
        html.index('id="published"') : html.index("</section>", html.index('id="published"'))
    ]
    assert "pascanu_linear" not in section  # ids stay internal; the claim text is shown
    assert "exact: decay_rate" not in section
    assert "lambda_1 &lt; 1/gamma" in section  # published values are escaped
    assert analysis.VERDICT_COLOURS["agrees"] in section and "differs" not in section


def copy_rows(ortho_solved: int, n: int, lstm_loss: float = 1.0) -> list[dict]:
    rows = []
    for m in ("exprnn", "lstm"):
        for seed in range(n):
            ok = m == "exprnn" and seed < ortho_solved
            rows.append(
                cell(
                    len(rows),
                    model=m,
                    task="copy",
                    seed=seed,
                    seq_len=100,
                    solved=ok,
                    accuracy=1.0 if ok else 0.0,
                    normalized_loss=0.01 if ok else (lstm_loss if m == "lstm" else 0.95),
                )
            )
    return rows


def test_methods_name_the_new_models():
    rows = [cell(0, model="exprnn"), cell(1, model="antisymmetric"), cell(2, model="lstm")]
    m = claims.method(pd.DataFrame(rows))
    assert list(m) == ["expRNN", "AntisymmetricRNN", "LSTM"]


@pytest.mark.parametrize(
    "ortho_solved,n,lstm_loss,expected",
    [
        (5, 5, 1.0, "agrees"),  # 5/5: Wilson [0.57, 1] above 0/5's [0, 0.43]
        (2, 5, 1.0, "differs"),
        (5, 5, 0.5, "differs"),  # the lstm left the baseline
        (3, 3, 1.0, "not measured here"),  # fewer than 5 runs each
    ],
)
def test_orthogonal_copy_with_wilson_intervals(ortho_solved, n, lstm_loss, expected):
    v = verdict(tables(copy_rows(ortho_solved, n, lstm_loss)), "orthogonal_copy")
    assert v["verdict"] == expected
    assert "95% interval" in v["measured_value"]


def test_memory_closed_form():
    lams = [0.5, 0.9, 0.95]
    rows = [
        cell(
            i,
            model="esn",
            task="memory",
            nonlinearity="linear",
            init="identity",
            leak=1.0,
            w_rec_scale=lam,
            init_memory_sensitivity=float(closed_form(lam)) * f,
        )
        for i, (lam, f) in enumerate(zip(lams, (0.8, 1.05, 1.3), strict=True))
    ]
    assert verdict(tables(rows), "zucchet_orvieto_closed_form")["verdict"] == "agrees"
    for r in rows:
        r["init_memory_sensitivity"] *= 1.5
    assert verdict(tables(rows), "zucchet_orvieto_closed_form")["verdict"] == "differs"


def modern_rows(T: int, indrnn_solved: int, lru_solved: int, tanh_solved: int, n: int = 5):
    """n seeds each of the indrnn, the lru and the tanh rnn on the adding task at T."""
    rows = []
    for name, extra, k in (
        ("indrnn", {"model": "indrnn", "nonlinearity": "relu"}, indrnn_solved),
        ("lru", {"model": "lru", "nonlinearity": "linear"}, lru_solved),
        ("none", {}, tanh_solved),
    ):
        for seed in range(n):
            rows.append(
                cell(
                    len(rows),
                    remedy=name,
                    task="adding",
                    seq_len=T,
                    seed=seed,
                    solved=seed < k,
                    baseline_loss=1 / 6,
                    **extra,
                )
            )
    return rows


@pytest.mark.parametrize(
    "T, n, k, expected",
    [
        (1000, 5, 5, "agrees"),
        (1000, 5, 1, "differs"),
        (1000, 3, 3, "not measured here"),  # fewer than 5 runs
        (500, 5, 5, "not measured here"),  # shorter than the claim's T
    ],
)
def test_indrnn_at_t_1000_with_wilson_intervals(T, n, k, expected):
    r = verdict(tables(modern_rows(T, k, 0, 0, n)), "li_indrnn_adding")
    assert r["verdict"] == expected
    # Wilson 95%: 5/5 [0.57, 1], 1/5 [0.04, 0.62], 3/3 [0.44, 1]
    interval = {(5, 5): "0.57 to 1.00", (1, 5): "0.04 to 0.62", (3, 3): "0.44 to 1.00"}[k, n]
    assert r["measured_value"] == f"IndRNN T={T}: {k} of {n} solved (95% interval {interval})"


@pytest.mark.parametrize("lru, tanh, expected", [(3, 0, "agrees"), (1, 1, "differs")])
def test_lru_against_the_tanh_rnn(lru, tanh, expected):
    r = verdict(tables(modern_rows(500, 0, lru, tanh, 3)), "orvieto_lru_ablation")
    assert r["verdict"] == expected
    assert r["measured_value"] == f"adding T=500: LRU {lru}/3, tanh RNN {tanh}/3"
