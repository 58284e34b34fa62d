"""Published claims against what a study measured.

``data/published_claims.csv`` lists classic findings on vanishing and exploding gradients with
their source, the setting they hold in, the published value, ``how_to_compare`` and their
``kind``:

- an *invariant* is an identity that holds by mathematics (the Jacobian bound, the linear
  oracle, the clip rule, the closed-form baselines): a check of the code, read ``holds`` or
  ``fails`` (:mod:`~rnngrad.report.invariants`);
- a *reproduction* is a paper's empirical result, judged only on the runs under the paper's
  conditions (task variant and so its criterion, lengths, method, optimizer family, evaluation
  set) and read ``agrees``, ``differs``, ``inconclusive`` or ``not measured here`` (no run
  under those conditions) by one rule on the 95% Wilson interval of the success fraction over
  runs (:mod:`~rnngrad.report.reproductions`).

The rule, the methods recognized by their settings and the reasons' wording are in
:mod:`~rnngrad.report.verdicts`. This module holds what users call: :func:`load_claims`,
:func:`evaluate`, the claim id -> check table ``CHECKS``, the columns and the verdict
vocabularies.

Adding a claim takes one csv row and one function ``ctx -> Verdict | None`` in ``CHECKS``.

Example
-------
>>> claims = load_claims()
>>> claims.loc[claims.claim_id == "adding_baseline", "published_value"].item()
'1/6 = 0.167'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

import pandas as pd

from rnngrad.report.analysis import frame  # a table of ``tables``
from rnngrad.report.invariants import (
    _baseline,
    _bound_explode,
    _bound_vanish,
    _clip_rule,
    _esn_heuristic,
    _linear,
    _mc_bound,
    _memory_closed_form,
    _smart_init,
)
from rnngrad.report.reproductions import (
    HS_ADDING,
    HS_ORDER,
    _bptt_fails,
    _chi_boundary,
    _indrnn,
    _irnn,
    _lru_ablation,
    _lstm_solves,
    _omega,
    _orthogonal_copy,
    _temporal_order,
    _tradeoff,
)
from rnngrad.report.verdicts import Verdict, method

__all__ = [
    "CHECKS",
    "COLUMNS",
    "INVARIANT_VERDICTS",
    "KINDS",
    "REPRODUCTION_VERDICTS",
    "RESULT_COLUMNS",
    "VERDICTS",
    "Verdict",
    "evaluate",
    "load_claims",
    "method",
]

COLUMNS = (
    "claim_id",
    "source",
    "where",
    "claim",
    "setting",
    "published_value",
    "how_to_compare",
    "confidence",
    "kind",
)
KINDS = ("invariant", "reproduction")
INVARIANT_VERDICTS = ("holds", "fails")
REPRODUCTION_VERDICTS = ("agrees", "differs", "inconclusive", "not measured here")
VERDICTS = (*INVARIANT_VERDICTS, *REPRODUCTION_VERDICTS)
RESULT_COLUMNS = (
    "claim_id",
    "kind",
    "source",
    "where",
    "claim",
    "published_value",
    "conditions",
    "measured_value",
    "verdict",
    "n_runs",
    "interval_low",
    "interval_high",
    "reason",
)


def load_claims() -> pd.DataFrame:
    """The published claims, one row each, columns ``COLUMNS`` (all strings)."""
    with resources.files("rnngrad").joinpath("data", "published_claims.csv").open() as f:
        return pd.read_csv(f, dtype=str, keep_default_na=False)


def evaluate(tables: Any, study_config: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """One row per claim the study's tables can speak to (columns ``RESULT_COLUMNS``).

    Parameters
    ----------
    tables : the study's tables (``rnngrad.load(study)`` or a mapping with ``cells``,
        ``profiles`` and ``training``).
    study_config : the validated config; when its grid holds more cells than the tables (a
        partial run), every reason says so.
    """
    cells = frame(tables, "cells")
    if cells.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    ctx = {
        "cells": cells,
        "profiles": frame(tables, "profiles"),
        "training": frame(tables, "training"),
    }
    partial = _partial_note(cells, study_config)
    rows = []
    for claim in load_claims().to_dict("records"):
        check = CHECKS.get(claim["claim_id"])
        v = check(ctx) if check else None
        if v is None:
            continue
        allowed = INVARIANT_VERDICTS if claim["kind"] == "invariant" else REPRODUCTION_VERDICTS
        if v.verdict not in allowed:
            raise ValueError(f"{claim['claim_id']}: verdict {v.verdict!r} for a {claim['kind']}")
        rows.append(
            {
                **{k: claim[k] for k in ("claim_id", "kind", "source", "where", "claim")},
                "published_value": claim["published_value"],
                "conditions": v.conditions,
                "measured_value": v.measured,
                "verdict": v.verdict,
                "n_runs": v.n_runs,
                "interval_low": v.low,
                "interval_high": v.high,
                "reason": v.reason + partial,
            }
        )
    out = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    return out.astype({"n_runs": "Int64", "interval_low": float, "interval_high": float})


def _partial_note(cells: pd.DataFrame, config: Mapping[str, Any] | None) -> str:
    if not config or "grid" not in config:
        return ""
    expected = math.prod(len(v) for v in config["grid"].values())
    return f" Partial run: {len(cells)} of {expected} cells." if len(cells) < expected else ""


CHECKS: dict[str, Callable[[dict], Verdict | None]] = {
    "pascanu_bound_vanish": _bound_vanish,
    "pascanu_bound_explode": _bound_explode,
    "pascanu_linear": _linear,
    "pascanu_clip_rule": _clip_rule,
    "pascanu_omega": _omega,
    "pascanu_temporal_order": _temporal_order,
    "pascanu_smart_init": _smart_init,
    "hochreiter_adding": _lstm_solves(
        HS_ADDING, "adding", "solved at T = 100, 500 and 1000 after 74,000 to 853,000 sequences"
    ),
    "hochreiter_temporal_order": _lstm_solves(
        HS_ORDER, "temporal_order", "solved after 31,390 sequences"
    ),
    "hochreiter_bptt_fails": _bptt_fails,
    "le_irnn_adding": _irnn,
    "arjovsky_copy_baseline": _baseline(
        "copy", lambda T: 10 * math.log(8) / (T + 20), "10 ln 8 / (T + 20)"
    ),
    "adding_baseline": _baseline("adding", lambda T: 1.0 / 6.0 + 0 * T, "1/6"),
    "li_indrnn_adding": _indrnn,
    "orvieto_lru_ablation": _lru_ablation,
    "jaeger_mc_bound": _mc_bound,
    "esn_sr_heuristic": _esn_heuristic,
    "dambre_memory_nonlinearity": _tradeoff,
    "poole_chi_boundary": _chi_boundary,
    "orthogonal_copy": _orthogonal_copy,
    "zucchet_orvieto_closed_form": _memory_closed_form,
}
