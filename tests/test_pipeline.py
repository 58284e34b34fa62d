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
import zipfile
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
    "checkpoint_every": 0,  # a checkpoint every step (no cell setting: reruns nothing)
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


def test_snakemake_report_holds_tables_and_html_report(tiny_run):
    root, _ = tiny_run
    snakemake(root, "--report", "report.zip")
    with zipfile.ZipFile(root / "report.zip") as z:
        names = {Path(n).name for n in z.namelist()}
    for file in ("cells.csv", "cells.parquet", "profiles.parquet", "training.parquet", "tiny.html"):
        assert file in names
    assert "phase_diagram.png" in names


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
    for log in (root / "logs" / "tiny" / "cells").rglob("*.log"):
        assert "saved after step 5" in log.read_text()  # the config's checkpoint_every
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
    # rnngrad plan says the same (it printed "0 new" and nothing else here)
    assert plan_jobs(root, only=("cell", "tables")) == {"cell": 2, "tables": 1}


def plan_jobs(root: Path, only: tuple[str, ...] = (), study: str = "tiny") -> dict[str, int]:
    """The jobs `rnngrad plan` says snakemake will run (``only`` these rules, for a target
    short of the report)."""
    out = subprocess.run(
        ["rnngrad", "plan", "--configfile", f"config/studies/{study}.yaml"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    line = out.stdout.split("snakemake will run: ")[1].splitlines()[0]
    if line.startswith("nothing"):
        return {}
    jobs = {k: int(v) for k, v in (w.split() for w in line.split(", "))}
    return {k: v for k, v in jobs.items() if not only or k in only}


def _stale_ids(plan_text: str) -> set[str]:
    return set(re.findall(r"^stale .* s  (\S+)$", plan_text, flags=re.M))


def test_stale_records_rerun_without_snakemake_metadata(tiny_run, tmp_path):
    """.snakemake/ lost (results copied between machines), then defaults.hidden 8 -> 12:
    every record is stale; snakemake reruns them all, plan says so, tables refuse them."""
    root, _ = tiny_run
    shutil.move(root / ".snakemake", tmp_path / "metadata")
    write_study(root, {**TINY, "defaults": {**TINY["defaults"], "hidden": 12}})
    try:
        plan = subprocess.run(
            ["rnngrad", "plan", "--configfile", "config/studies/tiny.yaml"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert "6 cells, 0 new, 6 stale, 0 done" in plan and "hidden 8 -> 12" in plan
        assert _stale_ids(plan) == set(records(root))
        dry = snakemake(root, "-n")
        assert (
            job_counts(dry.stdout)
            == plan_jobs(root)
            == {"cell": 6, "tables": 1, "figures": 1, "report": 1, "all": 1}
        )
        out = subprocess.run(
            ["rnngrad", "tables", "--configfile", "config/studies/tiny.yaml"],
            cwd=root,
            capture_output=True,
            text=True,
        )
        assert out.returncode == 1 and "hidden 8 -> 12" in out.stderr
        assert "cell backend=numpy/remedy=none/seq_len=10" in out.stderr
    finally:
        write_study(root, TINY)
        shutil.rmtree(root / ".snakemake", ignore_errors=True)  # the dry run's fresh one
        shutil.move(tmp_path / "metadata", root / ".snakemake")
    assert "Nothing to be done" in snakemake(root, "-n").stdout


def test_relabelled_record_is_stale(tiny_run):
    """A record copied under another cell's name (seq_len 10's under seq_len 20's id)."""
    root, _ = tiny_run
    recs = records(root)
    a = "backend=numpy/remedy=none/seq_len=10/w_rec_scale=0.9/seed=0"
    b = "backend=numpy/remedy=none/seq_len=20/w_rec_scale=0.9/seed=0"
    shutil.copy2(recs[a], recs[b])
    plan = subprocess.run(
        ["rnngrad", "plan", "--configfile", "config/studies/tiny.yaml"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert _stale_ids(plan) == {b} and "not of the cell its name says" in plan
    dry = snakemake(root, "-n")
    assert job_counts(dry.stdout) == plan_jobs(root)
    assert job_counts(dry.stdout)["cell"] == 1 and f"cells/{b}.json" in dry.stdout
    snakemake(root)  # reruns it, once: then nothing is left to do
    assert json.loads(recs[b].read_text())["cell_id"] == b
    assert "Nothing to be done" in snakemake(root, "-n").stdout and plan_jobs(root) == {}


def test_deleted_outputs_are_listed_and_rebuilt(tiny_run):
    """A deleted record, table and figure: plan lists them, and snakemake (which said
    "Nothing to be done") rebuilds them and what follows them."""
    root, _ = tiny_run
    gone = [
        root
        / "results/tiny/cells/backend=numpy/remedy=none/seq_len=20/w_rec_scale=1.5/seed=0.json",
        root / "results/tiny/tables/cells.csv",
        root / "results/tiny/figures/phase_diagram.svg",
    ]
    for p in gone:
        p.unlink()
    plan = subprocess.run(
        ["rnngrad", "plan", "--configfile", "config/studies/tiny.yaml"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "1 new" in plan
    for p in gone[1:]:
        assert f"missing {p.relative_to(root)}" in plan
    expected = {"cell": 1, "tables": 1, "figures": 1, "report": 1, "all": 1}
    assert job_counts(snakemake(root, "-n").stdout) == plan_jobs(root) == expected
    snakemake(root)
    assert all(p.exists() for p in gone)
    assert len(pd.read_parquet(root / "results/tiny/tables/cells.parquet")) == 6
    assert plan_jobs(root) == {}


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


@pytest.mark.slow
def test_two_studies_at_once_lose_nothing(tmp_path):
    """Two studies run at once in one folder, and a second run of one of them (with
    --rerun-incomplete, which Snakemake's locks no longer stop once the other study's run
    has ended and deleted .snakemake/locks) is refused by the study's own lock."""
    a = {**TINY, "study": "tinya", "grid": {**TINY["grid"], "seq_len": [10], "w_rec_scale": [0.9]}}
    # tinyb's cells train long enough (about 5 s each) to outlast tinya's whole run
    b = {
        **TINY,
        "study": "tinyb",
        "defaults": {**TINY["defaults"], "train_steps": 8000},
        "checkpoint_every": 60,  # not every step of 8000
    }
    root = workflow_copy(tmp_path, a)
    write_study(root, b)
    runs = {
        s["study"]: subprocess.Popen(
            ["snakemake", "--cores", "1", "--configfile", f"config/studies/{s['study']}.yaml"],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for s in (a, b)
    }
    out, _ = runs["tinya"].communicate(timeout=600)
    assert runs["tinya"].returncode == 0, out
    assert not (root / ".snakemake" / "locks").exists()  # tinya's end took tinyb's locks too
    assert runs["tinyb"].poll() is None, "study tinyb ended before its second run started"
    second = snakemake(root, "--rerun-incomplete", study="tinyb", check=False)
    assert second.returncode != 0
    assert "study 'tinyb' is already being run by pid" in second.stdout + second.stderr
    out, _ = runs["tinyb"].communicate(timeout=600)
    assert runs["tinyb"].returncode == 0, out
    for name, n in (("tinya", 1), ("tinyb", 6)):
        assert len(records(root, name)) == n
        for p in records(root, name).values():
            json.loads(p.read_text())
        assert (root / "reports" / f"{name}.html").stat().st_size > 0
        assert "Nothing to be done" in snakemake(root, "-n", study=name).stdout
