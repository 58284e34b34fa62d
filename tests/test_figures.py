"""Figures build from tables shaped as docs/tables.md says, with real NumPy gradient profiles."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from rnngrad.core import memory, theory
from rnngrad.core.settings import CellSettings
from rnngrad.core.tasks import baseline_loss, make_batch, spec
from rnngrad.core.weights import data_stream, init_params
from rnngrad.report import (
    analysis,
    analysis_theory,
    analysis_training,
    fig_gradients,
    fig_theory,
    fig_training,
    figstyle,
    figures,
)
from rnngrad.run.cell import measure_profile

REMEDIES = {
    "none": {},
    "clip_norm": {"clip": {"kind": "norm", "threshold": 1.0}},
    "truncated_bptt": {"truncate": {"k1": 1, "k2": 5}},
    "orthogonal_init": {"init": "orthogonal"},
    "identity_init": {"init": "identity", "nonlinearity": "relu"},
    "sigmoid": {"nonlinearity": "sigmoid"},
}
# remedies that learn the task at each length in the synthetic training results
LEARNS = {
    "none": (10,),
    "clip_norm": (10,),
    "truncated_bptt": (10,),
    "orthogonal_init": (10, 30),
    "identity_init": (10, 30),
    "sigmoid": (),
}
TRAIN_STEPS = 20


def cell_id(s: CellSettings) -> str:
    return (
        f"backend={s.backend}/remedy={s.remedy}/seq_len={s.seq_len}/"
        f"w_rec_scale={s.w_rec_scale:g}/seed={s.seed}"
    )


def make_tables(
    seeds=(0, 1),
    backends=("numpy", "torch"),
    trained=True,
    seq_lens=(10, 30),
    scales=(0.5, 1.0, 1.5, 3.0),
    remedies=tuple(REMEDIES),
    hidden=8,
):
    """Study tables (docs/tables.md) of a small grid: init (and trained) profiles measured by the
    NumPy backend; torch cells copy them with rounding-sized differences (larger in chaotic
    cells); training results are synthetic but follow the same shapes and types."""
    rng = np.random.default_rng(1)
    cells, profiles, training = [], [], []
    for remedy in remedies:
        for L in seq_lens:
            for w in scales:
                for seed in seeds:
                    base = {
                        "seq_len": L,
                        "w_rec_scale": w,
                        "seed": seed,
                        "remedy": remedy,
                        "hidden": hidden,
                        "batch": 4,
                        "task": "adding",
                        "train_steps": TRAIN_STEPS if trained else 0,
                        **REMEDIES[remedy],
                    }
                    s0 = CellSettings.from_dict({**base, "backend": "numpy"})
                    sp = spec(s0.task, L, hidden)
                    params = init_params(s0, sp.n_in, sp.n_out)
                    probe = make_batch(s0.task, L, s0.batch, data_stream(s0, "probe"), hidden)
                    m, prof = measure_profile(s0, params, probe)
                    if trained:  # a stand-in for trained weights: W_rec shrunk a little
                        tp = {**params, "weight_hh": 0.9 * params["weight_hh"]}
                        mt, proft = measure_profile(s0, tp, probe)
                    for backend in backends:
                        s = CellSettings.from_dict({**base, "backend": backend})
                        cid = cell_id(s)
                        chaotic = m["lyapunov_max"] > 0
                        eps = 0.0 if backend == "numpy" else (1e-5 if chaotic else 1e-15)
                        row = {"cell_id": cid, "steps": probe.steps, **s.flat()}
                        row.update(theory.cell_mean_field(s0, params, probe.x))
                        for k, v in m.items():
                            if k != "finite":
                                row[f"init_{k}"] = v * (1 + eps) if isinstance(v, float) else v
                        phases = [("init", prof)]
                        if trained:
                            row.update({f"trained_{k}": v for k, v in mt.items() if k != "finite"})
                            phases.append(("trained", proft))
                            base_loss = baseline_loss(s.task, L)
                            solved = L in LEARNS[remedy]
                            norm_loss = (0.01 if solved else 0.9) * (1 + 0.1 * rng.random())
                            curve = base_loss * np.geomspace(1.0, norm_loss, TRAIN_STEPS)
                            clipped = (s.clip is not None) & (
                                rng.random(TRAIN_STEPS) < (0.9 if w > 1 else 0.1)
                            )
                            training.append(
                                pd.DataFrame(
                                    {
                                        "cell_id": cid,
                                        "step": np.arange(TRAIN_STEPS),
                                        "loss": curve,
                                        "param_grad_norm": rng.lognormal(0, 1, TRAIN_STEPS) * w,
                                        "clipped": clipped,
                                        "penalty": 0.0,
                                    }
                                )
                            )
                            row.update(
                                {
                                    "final_loss": curve[-1],
                                    "accuracy": 1.0 if solved else 0.3,
                                    "baseline_loss": base_loss,
                                    "normalized_loss": curve[-1] / base_loss,
                                    "solved": solved,
                                    "clip_fraction": clipped.mean(),
                                    "max_grad_norm": 3.0 * w,
                                    "diverged_at": np.nan,
                                    "train_seconds": 0.1,
                                    "steps_trained": TRAIN_STEPS,
                                    "steps_to_solve": TRAIN_STEPS if solved else None,
                                }
                            )
                        row.update(
                            {
                                "status": "ok" if m["finite"] else "exploded",
                                "runtime_s": 0.5 + (backend == "torch"),
                                "overhead_s": 0.2 + 1.3 * (backend == "torch"),
                                "rnngrad_version": "0.1.0",
                                "code_hash": "abc123",
                                "numpy_version": np.__version__,
                                "torch_version": "2.13.0",
                                "git_commit": "deadbeef",
                                "settings_hash": f"h{len(cells)}",
                                "host": "testhost",
                            }
                        )
                        cells.append(row)
                        for phase, p in phases:
                            gn = np.asarray(p["grad_norm"]) * (1 + eps * (phase == "init"))
                            profiles.append(
                                pd.DataFrame(
                                    {
                                        "cell_id": cid,
                                        "phase": phase,
                                        "lag": p["lag"],
                                        "grad_norm": gn,
                                        "jacobian_norm": p["jacobian_norm"],
                                        "weight_grad_norm": p["weight_grad_norm"],
                                        "jacobian_sv_median": p["jacobian_sv_median"],
                                        "jacobian_sv_min": p["jacobian_sv_min"],
                                    }
                                )
                            )
    training_df = (
        pd.concat(training, ignore_index=True)
        if training
        else pd.DataFrame(
            {
                "cell_id": pd.Series(dtype=str),
                "step": pd.Series(dtype=int),
                "loss": pd.Series(dtype=float),
                "param_grad_norm": pd.Series(dtype=float),
                "clipped": pd.Series(dtype=bool),
                "penalty": pd.Series(dtype=float),
            }
        )
    )
    return {
        "cells": pd.DataFrame(cells),
        "profiles": pd.concat(profiles, ignore_index=True),
        "training": training_df,
    }


@pytest.fixture(scope="module")
def tables():
    return make_tables()


def test_every_figure_draws_from_full_tables(tables):
    for name, plot in figures.FIGURES.items():
        # memory-task cells only, and several hidden sizes only (tests below)
        if name in ("memory_capacity", "mean_field_size"):
            assert plot(tables) is None
            continue
        fig = plot(tables)
        assert isinstance(fig, Figure), name
        assert fig.axes, name


def test_memory_capacity_figure():
    rows = [
        {
            "cell_id": f"{nl}{i}{seed}",
            "hidden": 20,
            "w_rec_scale": sc,
            "nonlinearity": nl,
            "init": "gaussian",
            "seed": seed,
            "memory_capacity": 20 * sc * (0.9 if nl == "tanh" else 1),
        }
        for i, sc in enumerate((0.5, 0.9, 1.1))
        for nl in ("linear", "tanh")
        for seed in (0, 1)
    ]
    fig = fig_training.plot_memory_capacity({"cells": pd.DataFrame(rows)})
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 4  # two reservoirs, the MC = N line and the scale-1 line
    assert ax.get_ylabel() == "memory capacity / N"
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [0.5, 0.9, 1.1])


def test_figures_without_training_one_seed_one_backend():
    t = make_tables(
        seeds=(0,),
        backends=("numpy",),
        trained=False,
        seq_lens=(10,),
        scales=(0.9, 1.2),
        remedies=("none",),
    )
    drawn = {name: plot(t) for name, plot in figures.FIGURES.items()}
    for name in ("remedy_decay", "solved_vs_seq_len", "training_curves", "backend_agreement"):
        assert drawn[name] is None, name
    for name in (
        "unrolled",
        "phase_diagram",
        "decay_curves",
        "weight_grad_norm",
        "theory",
        "speed",
    ):
        assert isinstance(drawn[name], Figure), name
    assert "one seed" in analysis.seed_note(t["cells"])


def test_empty_tables_give_placeholders(tmp_path):
    empty = {"cells": pd.DataFrame(), "profiles": pd.DataFrame(), "training": pd.DataFrame()}
    paths = figures.save_all(empty, tmp_path)
    assert len(paths) == 3 * len(figures.FIGURES)
    assert all(p.stat().st_size > 0 for p in paths)
    assert figstyle.NO_DATA in (tmp_path / "phase_diagram.svg").read_text()


def test_save_all_writes_atomically(tmp_path, monkeypatch):
    """A run killed while it saves a figure leaves the figure as it was, never a truncated
    one (SIGKILL of `rnngrad figures` used to leave a 0-byte SVG)."""
    empty = {"cells": pd.DataFrame(), "profiles": pd.DataFrame(), "training": pd.DataFrame()}
    figures.save_all(empty, tmp_path)
    whole = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def killed(self, fname, **kwargs):
        with open(fname, "wb") as f:
            f.write(b"\x89PNG")  # the first bytes, then the process dies
        raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "savefig", killed)
    with pytest.raises(KeyboardInterrupt):
        figures.save_all(empty, tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == whole
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_save_all_writes_three_formats(tmp_path):
    small = make_tables(
        seeds=(0,), seq_lens=(10,), scales=(0.5, 2.0), remedies=("none", "clip_norm")
    )
    paths = figures.save_all(small, tmp_path)
    names = {p.name for p in paths}
    for name in figures.FIGURES:
        for ext in ("png", "svg", "pdf"):
            assert f"{name}.{ext}" in names
    assert (tmp_path / "phase_diagram.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "phase_diagram.pdf").read_bytes()[:4] == b"%PDF"


def test_regimes_are_vanishing_stable_exploding(tables):
    picks = analysis.pick_regimes(tables["cells"])
    labels = [label for label, _ in picks]
    assert labels == ["vanishing", "stable", "exploding"]
    r = [row["init_log10_grad_ratio"] for _, row in picks]
    assert r[0] < 0 < r[2] and abs(r[1]) <= min(abs(r[0]), abs(r[2]))


def test_regimes_take_the_exploding_cell_from_another_remedy():
    # tanh cells of remedy none never explode here; only the ReLU IRNN at scale 2 does
    none = make_tables(
        seeds=(0,),
        backends=("numpy",),
        trained=False,
        seq_lens=(10,),
        scales=(0.3, 1.5),
        remedies=("none",),
    )
    irnn = make_tables(
        seeds=(0,),
        backends=("numpy",),
        trained=False,
        seq_lens=(10,),
        scales=(0.3, 2.0),
        remedies=("identity_init",),
    )
    t = {k: pd.concat([none[k], irnn[k]], ignore_index=True) for k in ("cells", "profiles")}
    assert (none["cells"]["init_log10_grad_ratio"] <= analysis.REGIME_LOG10).all()
    picks = analysis.pick_regimes(t["cells"])
    assert [label for label, _ in picks] == ["vanishing", "stable", "exploding"]
    assert [row["remedy"] for _, row in picks] == ["none", "none", "identity_init"]
    assert picks[2][1]["init_log10_grad_ratio"] == t["cells"]["init_log10_grad_ratio"].max()
    fig = fig_gradients.plot_unrolled(t)
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")]
    assert len(titles) == 3 and "remedy identity_init (relu)" in titles[2]


def test_normalized_loss_axis_is_capped():
    t = make_tables(
        seeds=(0, 1),
        backends=("numpy",),
        seq_lens=(10, 30),
        scales=(0.5, 1.0),
        remedies=("none", "identity_init"),
    )
    cells = t["cells"].copy()
    blown = (cells["remedy"] == "identity_init") & (cells["seq_len"] == 30) & (cells["seed"] == 1)
    cells.loc[blown, "normalized_loss"] = 1e32
    ax = fig_training.plot_solved_vs_seq_len({**t, "cells": cells}).axes[0]
    assert ax.get_yscale() == "log"
    lo, hi = ax.get_ylim()
    assert hi == figstyle.LOSS_CAP and lo < 0.01
    assert "cut off" in ax.get_title(loc="right")
    marks = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert [m.get_offsets().tolist() for m in marks] == [[[30, figstyle.LOSS_CAP]]]
    ax = fig_training.plot_solved_vs_seq_len(t).axes[0]  # nothing above the cap: axis as before
    assert ax.get_ylim()[1] < figstyle.LOSS_CAP and not ax.get_title(loc="right")


def test_remedy_colours_fixed_and_distinct():
    known = [figstyle.remedy_colour(r) for r in analysis.REMEDY_ORDER]
    assert len(set(known)) == len(known)
    assert figstyle.remedy_colour("my_remedy") == figstyle.remedy_colour("my_remedy")
    assert analysis.remedy_order(["lstm", "zzz", "none", "aaa"]) == ["none", "lstm", "aaa", "zzz"]


def test_backend_agreement_verdicts(tables):
    ag = analysis.backend_agreement(tables)
    assert len(ag) == len(tables["cells"]) // 2
    # non-chaotic pairs differ by ~1e-15: they agree; chaotic ones (1e-5 apart here) are
    # flagged as chaotic
    assert set(ag.loc[ag["lyapunov_max"] <= 0, "verdict"]) == {"agree"}
    assert set(ag.loc[ag["lyapunov_max"] > 0, "verdict"]) <= {"chaotic"}
    # a pair with a positive exponent (an IRNN at s > 1 grows, linearly) that agrees to
    # rounding agrees: it is not called chaotic; one 1e-6 apart is
    row = {
        "seq_len": 50,
        "remedy": "identity_init",
        "w_rec_scale": 1.5,
        "seed": 0,
        "dtype": "float64",
        "init_lyapunov_max": math.log(1.5),
        "init_decay_rate": math.log10(1.5),
    }
    pair = pd.DataFrame(
        [
            {**row, "backend": b, "cell_id": f"backend={b}/remedy=identity_init"}
            for b in ("numpy", "torch")
        ]
    )
    pair.loc[1, "init_decay_rate"] *= 1 + 2e-15
    assert list(analysis.backend_agreement({"cells": pair})["verdict"]) == ["agree"]
    pair.loc[1, "init_decay_rate"] *= 1 + 1e-6
    assert list(analysis.backend_agreement({"cells": pair})["verdict"]) == ["chaotic"]
    # a relative difference of 1e-6 in a non-chaotic pair is a disagreement
    cells = tables["cells"].copy()
    i = cells.index[(cells["backend"] == "torch") & (cells["init_lyapunov_max"] < 0)][0]
    cells.loc[i, "init_decay_rate"] *= 1 + 1e-6
    ag2 = analysis.backend_agreement({**tables, "cells": cells})
    assert (ag2["verdict"] == "disagree").sum() == 1
    assert ag2.loc[ag2["verdict"] == "disagree", "max_rel_diff"].iloc[0] == pytest.approx(
        1e-6, rel=1e-3
    )


def test_rel_diff_tolerance():
    r, ok = analysis.rel_diff(
        [1.0, 0.0, np.inf, np.nan, 1.0], [1 + 2e-9, 5e-13, np.inf, np.nan, 1.1]
    )
    assert ok.tolist() == [True, True, True, True, False]
    assert r[2] == 0 and r[3] == 0 and r[4] == pytest.approx(0.1 / 1.1)


def test_best_lr_picks_the_lr_that_solves():
    cells = pd.DataFrame(
        {
            "remedy": ["none"] * 4,
            "seq_len": [10] * 4,
            "lr": [0.1, 0.1, 0.01, 0.01],
            "solved": [0.0, 0.0, 1.0, 1.0],
            "normalized_loss": [0.9, 0.8, 0.01, 0.02],
        }
    )
    best = analysis_training.best_lr(cells)
    assert set(best["lr"]) == {0.01}
    assert analysis_training.lr_note(cells)


def test_theory_bound_holds_on_measured_jacobians(tables):
    # the line the theory figure draws: ||ds_T/ds_{T-k}|| <= (gamma * sigma_max)^k (Pascanu et al.)
    c = tables["cells"].set_index("cell_id")
    p = (
        tables["profiles"]
        .query("phase == 'init'")
        .join(c[["nonlinearity", "init_spectral_norm"]], on="cell_id")
    )
    bound = p["lag"] * np.log10(p["nonlinearity"].map(analysis.GAMMA) * p["init_spectral_norm"])
    assert (np.log10(p["jacobian_norm"]) <= bound + 1e-9).all()


def test_snakemake_captions_match():
    # workflow/report/<name>.rst are the captions Snakemake's report shows: the same text
    import textwrap
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "workflow" / "report"
    for name, caption in figures.CAPTIONS.items():
        assert (folder / f"{name}.rst").read_text() == textwrap.fill(caption, 100) + "\n", name
    assert list(figures.CAPTIONS) == list(figures.FIGURES)


def test_speed_figure_shows_gemm_share_and_memory_in_state_arrays():
    rows = [
        {
            "cell_id": f"{b}{T}{H}",
            "backend": b,
            "seq_len": T,
            "steps": T,
            "hidden": H,
            "batch": 4,
            "dtype": "float64",
            "init_profile_seconds": 1e-6 * T * H,
            "init_profile_gflops": 5.0,
            "gemm_gflops": 10.0,
            "init_profile_peak_mb": 2 * (T + 1) * 4 * H * 8 / 1e6,
            "overhead_s": 0.2,
        }
        for b in ("numpy", "torch")
        for T in (100, 1000)
        for H in (32, 64)
    ]
    fig = fig_training.plot_speed({"cells": pd.DataFrame(rows)})
    share, memory = fig.axes[3], fig.axes[4]
    assert "GEMM" in share.get_ylabel() and "state array" in memory.get_ylabel()
    np.testing.assert_allclose(share.get_lines()[0].get_ydata(), [50.0, 50.0])  # 5 of 10 GFLOP/s
    np.testing.assert_allclose(memory.get_lines()[0].get_ydata(), [2.0, 2.0])  # two arrays
    assert "slope 1.00" in fig.axes[0].get_legend().get_texts()[0].get_text()  # time linear in T


def test_steps_to_solve_figure_counts_fresh_set_success():
    base = {"train_steps": 1000, "batch": 20, "eval_every": 100, "seed": 0, "status": "ok"}
    rows = [
        # stopped at its first solved held-out evaluation, 0.988 on the fresh set: not solved
        {
            "remedy": "lstm",
            "seq_len": 50,
            "steps_to_solve": 400,
            "steps_trained": 400,
            "solved": False,
            "accuracy": 0.988,
        },
        {
            "remedy": "lstm",
            "seq_len": 100,
            "steps_to_solve": 700,
            "steps_trained": 700,
            "solved": True,
            "accuracy": 0.995,
        },
        {
            "remedy": "none",
            "seq_len": 50,
            "steps_to_solve": None,
            "steps_trained": 1000,
            "solved": False,
            "accuracy": 0.3,
        },
        {
            "remedy": "none",
            "seq_len": 100,
            "steps_to_solve": None,
            "steps_trained": 12,
            "solved": False,
            "accuracy": 0.0,
            "status": "diverged",
        },
    ]
    cells = pd.DataFrame(
        [{**base, **r, "final_loss": 0.1, "cell_id": str(i)} for i, r in enumerate(rows)]
    )
    cells["steps_to_solve"] = cells["steps_to_solve"].astype("Int64")
    # only the fresh evaluation set judges, whether or not a held-out set stopped training
    assert list(analysis.succeeded(cells)) == [False, True, False, False]
    assert list(analysis.succeeded(cells.assign(eval_every=0))) == [False, True, False, False]
    fig = fig_training.plot_steps_to_solve({"cells": cells})
    left, right = fig.axes[:2]
    # a line per remedy in the fixed order (none first)
    assert [list(line.get_ydata()) for line in left.get_lines()] == [[0.0, 0.0], [0.0, 1.0]]
    assert list(right.get_lines()[1].get_ydata()) == [400, 700]  # lstm's median steps to solve
    assert "1 diverged" in fig._suptitle.get_text()
    assert fig_training.plot_steps_to_solve({"cells": cells.drop(columns="steps_to_solve")}) is None


def test_steps_to_solve_axis_spans_the_budget_when_no_run_solved():
    """Every run ended at the budget (the default study's T = 50): the log axis must still
    have a range around the budget, not the singular one matplotlib widens at random."""
    base = {"train_steps": 300, "batch": 32, "eval_every": 50, "seed": 0, "status": "ok"}
    cells = pd.DataFrame(
        [
            {
                **base,
                "remedy": rem,
                "seq_len": T,
                "steps_to_solve": None,
                "steps_trained": 300,
                "solved": False,
                "accuracy": 0.5,
                "final_loss": 0.1,
                "cell_id": f"{rem}{T}",
            }
            for rem in ("none", "lstm")
            for T in (10, 50)
        ]
    )
    cells["steps_to_solve"] = cells["steps_to_solve"].astype("Int64")
    right = fig_training.plot_steps_to_solve({"cells": cells}).axes[1]
    low, high = right.get_ylim()
    assert low < 300 < high and 1.2 < high / low < 3  # a range one can read, around it


# -- mean field against measurement -----------------------------------------------------------
def _condition_cells():
    rows = []
    for backend in ("numpy", "torch"):
        for remedy, init in (
            ("none", "gaussian"),
            ("clip_norm", "gaussian"),
            ("orthogonal_init", "orthogonal"),
        ):
            rows.append(
                {
                    "cell_id": f"backend={backend}/remedy={remedy}/seq_len=10/w_rec_scale=1/seed=0",
                    "backend": backend,
                    "remedy": remedy,
                    "seq_len": 10,
                    "w_rec_scale": 1.0,
                    "seed": 0,
                    "model": "rnn",
                    "init": init,
                    "nonlinearity": "tanh",
                    "init_decay_rate": -0.1,
                }
            )
    return pd.DataFrame(rows)


def test_remedies_that_share_an_init_share_a_panel():
    c = _condition_cells()
    names = analysis_theory.init_conditions(c)
    assert names.iloc[0] == names.iloc[1] == "none, clip_norm"
    assert names.iloc[2] == "orthogonal_init"
    _, panels = analysis_theory.decay_panels(c)
    assert panels == [("none, clip_norm", "numpy"), ("orthogonal_init", "numpy")]
    # torch gets a panel where it differs from numpy, and only there
    c.loc[(c["backend"] == "torch") & (c["remedy"] == "orthogonal_init"), "init_decay_rate"] = -0.2
    _, panels = analysis_theory.decay_panels(c)
    assert ("orthogonal_init", "torch") in panels and ("none, clip_norm", "torch") not in panels


def test_conditions_named_alike_are_told_apart():
    c = pd.DataFrame(
        {"remedy": ["none", "none"], "nonlinearity": ["tanh", "sigmoid"], "init": ["gaussian"] * 2}
    )
    assert list(analysis_theory.init_conditions(c)) == ["none (tanh)", "none (sigmoid)"]


@pytest.mark.parametrize(
    ("nonlinearity", "edge"), [("tanh", 1.0), ("relu", 2**0.5), ("linear", 1.0)]
)
def test_mean_field_boundary_without_input(nonlinearity, edge):
    # no input: q* = 0 below the edge, where chi = sigma_w^2 phi'(0)^2 (relu: 1/2)
    row = pd.Series({"nonlinearity": nonlinearity, "ratio": 1.0, "sigma_u": 0.0, "sigma_b": 0.0})
    assert analysis_theory.mean_field_boundary(row) == pytest.approx(edge, rel=1e-8)
    scales = np.array([0.5, 0.9])
    want = np.log10(scales * (1 if nonlinearity != "relu" else 0.5**0.5))
    np.testing.assert_allclose(analysis_theory.mean_field_curve(row, scales), want, atol=1e-12)


def test_phase_diagram_colours_the_per_step_decay(tables):
    fig = fig_gradients.plot_phase_diagram(tables)
    cells = tables["cells"]
    numpy_none = cells[(cells["backend"] == "numpy") & (cells["remedy"] == "none")]
    want = numpy_none.groupby(["w_rec_scale", "seq_len"])["init_decay_rate"].median()
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {f"{v:.2f}" for v in want} <= texts
    # the dashed chi = 1 line of the mean field is drawn on the panel of a random W_rec
    assert any(line.get_linestyle() == "--" for line in fig.axes[0].get_lines())


def test_mean_field_size_figure_needs_several_sizes():
    rows = [
        {
            "cell_id": f"c{n}{s}{seed}",
            "backend": "numpy",
            "remedy": "none",
            "seq_len": 50,
            "w_rec_scale": s,
            "seed": seed,
            "hidden": n,
            "model": "rnn",
            "init": "orthogonal",
            "nonlinearity": "tanh",
            "sigma_w": s,
            "sigma_u": 0.5,
            "sigma_b": 0.0,
            "mf_chi": 0.5,
            "mf_decay_rate": -0.1,
            "init_decay_rate": -0.1 + 0.3 / n**0.5,
        }
        for n in (16, 64, 256)
        for s in (0.5, 1.0)
        for seed in (0, 1)
    ]
    fig = fig_theory.plot_mean_field_size({"cells": pd.DataFrame(rows)})
    line = fig.axes[0].get_lines()[0]
    np.testing.assert_allclose(line.get_ydata(), 0.3 / np.array([4.0, 8.0, 16.0]), rtol=1e-12)
    assert fig_theory.plot_mean_field_size({"cells": pd.DataFrame(rows[:4])}) is None


def test_curse_of_memory_figure_draws_the_closed_forms_and_non_decaying_cells():
    rows = [
        {
            "cell_id": f"{rem}{sc}{seed}",
            "remedy": rem,
            "seq_len": 100,
            "w_rec_scale": sc,
            "seed": seed,
            "init_jacobian_decay_rate": np.log10(sc) if rem == "none" else 0.0,
            "init_memory_sensitivity": float(memory.closed_form(sc)) * (1 + 0.1 * seed),
        }
        for sc in (0.5, 0.9)
        for rem in ("none", "antisymmetric")
        for seed in (0, 1)
    ]
    fig = fig_theory.plot_curse_of_memory({"cells": pd.DataFrame(rows)})
    ax = fig.axes[0]
    solid = ax.get_lines()[0]  # the closed form, at lambda = exp(-1 / tau)
    tau, y = solid.get_xdata(), solid.get_ydata()
    np.testing.assert_allclose(y, memory.closed_form(np.exp(-1 / tau)))
    points = {line.get_label(): line for line in ax.get_lines()[2:]}
    # tau = -1 / ln(lambda) for a decay rate of log10(lambda) per step
    np.testing.assert_allclose(points["none"].get_xdata(), -1 / np.log([0.5, 0.9]))
    assert set(points["antisymmetric (no decay: tau beyond T)"].get_xdata()) == {tau.max()}


def test_mean_field_figure_of_a_study_of_several_models_and_tasks():
    """The mean field's panels are named as the decay panels are, over the whole study: a study
    of several models and tasks (the modern study) once named them otherwise and drew nothing."""
    from rnngrad.run.cell import run_cell
    from rnngrad.study.tables import build_tables

    base = {"seq_len": 12, "hidden": 8, "batch": 4, "train_steps": 0, "jacobian": False}
    records = [
        run_cell(CellSettings.from_dict({**base, **extra, "w_rec_scale": s}), f"c{i}{s}")
        for i, extra in enumerate(
            [{"task": "adding"}, {"task": "copy"}, {"model": "lstm", "remedy": "lstm"}]
        )
        for s in (0.5, 1.0)
    ]
    fig = figures.FIGURES["mean_field"](build_tables(records))
    assert isinstance(fig, Figure) and len(fig.axes) >= 2  # a panel for each rnn task
