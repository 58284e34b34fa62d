"""Where a study stands (rnngrad.study.status): cell states, the plan's stages, the size bound."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from test_cli import SMALL, rnngrad, small  # noqa: F401 (a fixture)

from rnngrad.report.captions import CAPTIONS
from rnngrad.run.cell import run_cell
from rnngrad.run.record import write_record
from rnngrad.study import status
from rnngrad.study.config import ConfigError, load_study, study_from_config
from rnngrad.study.resources import cell_memory_mb


def test_plan_estimates_the_stages_after_the_cells(small):  # noqa: F811
    out = rnngrad("plan", "--configfile", "config/studies/small.yaml", "--cores", "1", cwd=small)
    assert out.returncode == 0, out.stderr
    study = load_study([small / "config/studies/small.yaml"], root=small)
    p = status.plan(study, list(CAPTIONS), small)
    assert list(p.stage_seconds) == ["tables", "figures", "report"]
    assert all(s > 0 for s in p.stage_seconds.values())
    stages = sum(p.stage_seconds.values())
    assert f"{stages:.0f} s for tables, figures, report" in out.stdout
    cells = out.stdout.split("cell-seconds in all, ")[1].split(" ")[0]
    assert f"about {(float(cells) + stages) / 60:.1f} min on 1 cores" in out.stdout


def test_a_cell_of_other_settings_is_stale(small):  # noqa: F811
    study = load_study([small / "config/studies/small.yaml"], root=small)
    first = next(iter(study.cells.values()))
    path = study.record_path(first.cell_id, small)
    write_record(run_cell(first.settings, first.cell_id), path)
    assert status.cell_state(first, path) == ("done", "")
    cfg = {**SMALL, "defaults": {**SMALL["defaults"], "hidden": 5}}
    changed = study_from_config(cfg)
    state, why = status.cell_state(changed.cells[first.cell_id], path)
    assert state == "stale" and "hidden 4 -> 5" in why


def huge() -> dict:
    return {**SMALL, "defaults": {**SMALL["defaults"], "hidden": 1_000_000}}


def test_cells_larger_than_the_limit_are_refused_with_the_estimate():
    study = study_from_config(huge())
    estimate = max(cell_memory_mb(c.settings) for c in study.cells.values())
    with pytest.raises(ConfigError) as e:
        status.check_cell_memory(study)  # this machine's memory
    assert f"estimated memory {estimate:,.0f} MB" in str(e.value)
    assert "this machine's memory" in str(e.value)
    small_study = study_from_config(SMALL)
    status.check_cell_memory(small_study)  # a few hundred MB: fine here
    with pytest.raises(ConfigError, match="cell_memory_limit_mb"):
        status.check_cell_memory(study_from_config({**SMALL, "cell_memory_limit_mb": 100}))
    status.check_cell_memory(study_from_config({**huge(), "cell_memory_limit_mb": 1e12}))


def test_validate_and_plan_refuse_a_huge_cell_unless_allowed(small):  # noqa: F811
    (small / "config/studies/huge.yaml").write_text(yaml.safe_dump(huge()))
    for command in ("validate", "plan"):
        out = rnngrad(command, "--configfile", "config/studies/huge.yaml", cwd=small)
        assert out.returncode == 1 and "estimated memory" in out.stderr, out.stderr
        out = rnngrad(
            command, "--configfile", "config/studies/huge.yaml", "--allow-large-cells", cwd=small
        )
        assert out.returncode == 0, out.stderr
    out = rnngrad(
        "validate",
        "--configfile",
        "config/studies/small.yaml",
        "--max-cell-memory-mb",
        "1",
        cwd=small,
    )
    assert out.returncode == 1 and "exceeds the limit of 1 MB (--max-cell-memory-mb)" in out.stderr
    dry = subprocess.run(
        ["snakemake", "-n", "--cores", "1", "--configfile", "config/studies/huge.yaml"],
        cwd=small,
        capture_output=True,
        text=True,
    )
    assert dry.returncode != 0 and "estimated memory" in dry.stdout + dry.stderr
    assert not (small / "results").exists()
