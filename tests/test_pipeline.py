"""The Snakemake pipeline end to end, on copies of the repository's workflow with tiny studies."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
TINY = {  # 6 NumPy cells, a second each at most
    "study": "tiny",
    "grid": {
        "backend": ["numpy"],
        "seq_len": [10, 20],
        "w_rec_scale": [0.9, 1.1, 1.5],
        "remedy": ["none"],
        "seed": [0],
    },
    "defaults": {"hidden": 8, "batch": 8, "train_steps": 5},
}
# columns that differ between two runs of the same cells: wall times, and where and from which
# checkout state they ran (the package may be edited between two runs in a working checkout)
UNREPEATABLE = re.compile(
    r"(seconds|runtime_s|overhead_s|gflops|peak_mb|_per_s)$|^(host|code_hash|git_commit)$"
)


def workflow_copy(root: Path, study: dict | None = None) -> Path:
    """The repository's Snakefile, workflow/ and config/config.yaml under ``root``, plus
    ``config/studies/<name>.yaml`` holding ``study`` if given."""
    shutil.copy(REPO / "Snakefile", root / "Snakefile")
    shutil.copytree(REPO / "workflow", root / "workflow")
    (root / "config" / "studies").mkdir(parents=True)
    shutil.copy(REPO / "config" / "config.yaml", root / "config" / "config.yaml")
    if study is not None:
        write_study(root, study)
    return root


def write_study(root: Path, study: dict) -> Path:
    path = root / "config" / "studies" / f"{study['study']}.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def snakemake(root: Path, *args: str, study: str = "tiny", check: bool = True):
    cmd = ["snakemake", "--cores", "2", *args, "--configfile", f"config/studies/{study}.yaml"]
    out = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=600)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")
    return out


def job_counts(dry_run_output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count}."""
    block = dry_run_output.split("Job stats:")[1].split("\n\n")[0]
    rows = [line.split() for line in block.strip().splitlines()[2:]]
    return {r[0]: int(r[1]) for r in rows if len(r) == 2 and r[0] != "total"}


def records(root: Path, study: str = "tiny") -> dict[str, Path]:
    base = root / "results" / study / "cells"
    return {str(p.relative_to(base))[: -len(".json")]: p for p in base.rglob("*.json")}


def incomplete(root: Path) -> set[str]:
    """Outputs Snakemake has marked incomplete (started, not recorded as finished): their
    markers under .snakemake/incomplete/ are named by the path in URL-safe base64."""
    marks = root / ".snakemake" / "incomplete"
    if not marks.is_dir():
        return set()
    return {
        base64.urlsafe_b64decode(p.name).decode()
        for p in marks.iterdir()
        if p.is_file() and p.name != "migration_underway"
    }


def finished(root: Path) -> dict[str, int]:
    """Records of finished cell jobs and their mtimes. A record can be whole on disk while its
    job is not yet recorded as finished: such a job is incomplete and reruns."""
    started = incomplete(root)
    return {
        k: p.stat().st_mtime_ns
        for k, p in records(root).items()
        if str(p.relative_to(root)) not in started
    }


def assert_same_tables(a: Path, b: Path) -> None:
    """Tables of two runs agree in every column but wall times and provenance of place."""
    for name in ("cells", "profiles", "training"):
        x, y = (pd.read_parquet(d / f"{name}.parquet") for d in (a, b))
        drop = [c for c in x.columns if UNREPEATABLE.search(c)]
        key = ["cell_id"] + [c for c in ("phase", "lag", "step") if c in x.columns]
        x, y = (t.drop(columns=drop).sort_values(key).reset_index(drop=True) for t in (x, y))
        pd.testing.assert_frame_equal(x, y)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One full run of the tiny study (cells, tables, figures, report)."""
    root = workflow_copy(tmp_path_factory.mktemp("pipeline"), TINY)
    out = snakemake(root)
    return root, out


def test_runs_end_to_end(tiny_run):
    root, _ = tiny_run
    assert len(records(root)) == 6
    for p in records(root).values():
        json.loads(p.read_text())
    tables = root / "results" / "tiny" / "tables"
    cells = pd.read_csv(tables / "cells.csv")
    assert sorted(cells.cell_id) == sorted(records(root))
    assert set(cells.seq_len) == {10, 20} and set(cells.status) <= {"ok", "exploded", "diverged"}
    for name in ("cells", "profiles", "training"):
        assert (tables / f"{name}.parquet").exists()
    assert (root / "reports" / "tiny.html").stat().st_size > 0
    assert (root / "results" / "tiny" / "figures" / "phase_diagram.png").exists()
    for rule_log in ("tables", "figures", "report"):
        assert (root / "logs" / "tiny" / f"{rule_log}.log").exists()
    assert len(list((root / "logs" / "tiny" / "cells").rglob("*.log"))) == 6
    assert not (root / "results" / "default").exists()  # the study file names its outputs


def test_rerun_does_nothing(tiny_run):
    root, _ = tiny_run
    out = snakemake(root, "-n")
    assert "Nothing to be done" in out.stdout + out.stderr


def test_new_grid_entries_schedule_only_new_cells(tiny_run):
    root, _ = tiny_run
    study = json.loads(json.dumps(TINY))  # a deep copy
    study["grid"]["seq_len"].append(30)
    study["grid"]["seed"].append(1)
    before = set(records(root))
    write_study(root, study)
    try:
        out = snakemake(root, "-n")
    finally:
        write_study(root, TINY)
    # 3 seq_len x 3 scales x 2 seeds = 18 cells, 6 of which exist
    assert job_counts(out.stdout) == {"cell": 12, "tables": 1, "figures": 1, "report": 1, "all": 1}
    scheduled = set(
        re.findall(r"results/tiny/cells/(\S+)\.json", out.stdout.split("rule tables")[0])
    )
    assert len(scheduled) == 12 and not scheduled & before


def test_changing_a_remedy_reruns_exactly_its_cells(tmp_path):
    study = {
        **TINY,
        "grid": {**TINY["grid"], "remedy": ["none", "clip_norm"], "w_rec_scale": [0.9]},
        "defaults": {**TINY["defaults"]},
    }
    root = workflow_copy(tmp_path, study)
    snakemake(root, "results/tiny/tables/cells.csv")
    study["remedies"] = {"clip_norm": {"clip": {"kind": "norm", "threshold": 0.5}}}
    write_study(root, study)
    out = snakemake(root, "-n", "results/tiny/tables/cells.csv")
    assert job_counts(out.stdout) == {"cell": 2, "tables": 1}
    assert set(re.findall(r"cells/(\S+)\.json", out.stdout.split("rule tables")[0])) == {
        f"backend=numpy/remedy=clip_norm/seq_len={n}/w_rec_scale=0.9/seed=0" for n in (10, 20)
    }


@pytest.mark.slow
def test_sigkill_then_unlock_and_rerun_incomplete(tmp_path):
    study = {
        **TINY,
        "grid": {**TINY["grid"], "seq_len": [10, 20, 30, 40]},
        "defaults": {**TINY["defaults"], "train_steps": 30},
    }  # 12 cells
    target = "results/tiny/tables/cells.csv"
    (tmp_path / "reference").mkdir()
    (tmp_path / "killed").mkdir()
    reference = workflow_copy(tmp_path / "reference", study)
    snakemake(reference, target)

    root = workflow_copy(tmp_path / "killed", study)
    cmd = ["snakemake", "--cores", "2", target, "--configfile", "config/studies/tiny.yaml"]
    log_path = tmp_path / "killed.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        cmd, cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 120
    while len(finished(root)) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    if proc.poll() is not None:
        raise AssertionError("the run ended before the kill:\n" + log_path.read_text())
    os.killpg(proc.pid, signal.SIGKILL)  # the whole run: snakemake and its cell jobs
    proc.wait()
    log.close()
    done = finished(root)
    assert 3 <= len(done) < 12, "the kill should land mid-way"
    assert not (root / target).exists()
    for p in records(root).values():
        json.loads(p.read_text())  # no corrupt record: each is written atomically

    snakemake(root, "--unlock", target)
    snakemake(root, "--rerun-incomplete", target)
    after = records(root)
    assert len(after) == 12
    assert {k: after[k].stat().st_mtime_ns for k in done} == done  # none recomputed
    assert_same_tables(root / "results/tiny/tables", reference / "results/tiny/tables")


def test_lint_asks_only_for_conda_environments():
    out = subprocess.run(["snakemake", "--lint"], cwd=REPO, capture_output=True, text=True)
    lints = [
        line.strip() for line in (out.stdout + out.stderr).splitlines() if line.startswith("    * ")
    ]
    assert lints, "expected the conda wish for each rule"
    assert set(lints) == {"* Specify a conda environment or container for each rule.:"}
    rules = re.findall(r"Lints for rule (\w+)", out.stdout + out.stderr)
    assert sorted(rules) == ["cell", "figures", "report", "tables"]
