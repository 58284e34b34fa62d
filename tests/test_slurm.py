"""The workflow on a real one-node SLURM, through the slurm profile and the executor plugin.

Needs a running SLURM (.ci/slurm-up.sh) and ``snakemake-executor-plugin-slurm`` in this Python
(``pip install -e '.[slurm]'``); .ci/run does both. Skipped with the reason where either
is missing, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from test_pipeline import REPO, workflow_copy, write_study

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

STUDY = {  # 6 NumPy cells, under a second each
    "study": "onslurm",
    "grid": {
        "backend": ["numpy"],
        "seq_len": [10, 20],
        "w_rec_scale": [0.9, 1.1, 1.5],
        "remedy": ["none"],
        "seed": [0],
    },
    "defaults": {"hidden": 8, "batch": 8, "train_steps": 5},
}
# what a CI node without accounting needs beyond the profile (docs/cluster.md, "Clusters
# without job accounting"): squeue for the status, a short first status wait, and a bundle pool
# that fits the node's 2 CPUs
CI_ARGS = [
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--resources",
    "cpus_per_task=2",
    "mem_mb=4000",
    "--group-components",
    "cells=3",
]
RUN_LIMIT_S = 300


def slurm_missing() -> str | None:
    """Why the SLURM test cannot run here, or None."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return f"snakemake-executor-plugin-slurm is not installed for {sys.executable}"
    if shutil.which("sinfo") is None:
        return "the SLURM client (sinfo) is not installed; run .ci/slurm-up.sh"
    try:
        state = subprocess.run(
            ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=30
        ).stdout.split()
    except subprocess.TimeoutExpired:
        return "sinfo got no answer from slurmctld in 30 s; run .ci/slurm-up.sh"
    if not set(state) & {"idle", "mixed", "allocated"}:
        return f"no SLURM node is up (sinfo says {state}); run .ci/slurm-up.sh"
    return None


@pytest.fixture(scope="module")
def slurm():
    reason = slurm_missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the SLURM test: {reason}")
        pytest.skip(reason)


def run_on_slurm(root: Path) -> tuple[subprocess.CompletedProcess, float]:
    """The study's cells through the slurm profile, bounded by SIGINT (on SIGTERM Snakemake
    waits for its jobs)."""
    cmd = [
        "timeout",
        "-s",
        "INT",
        str(RUN_LIMIT_S),
        sys.executable,
        "-m",
        "snakemake",
        "--workflow-profile",
        "profiles/slurm",
        "--configfile",
        "config/studies/onslurm.yaml",
        "--until",
        "cell",
        "--verbose",
        *CI_ARGS,
    ]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    assert out.returncode == 0, f"{' '.join(cmd)} exited {out.returncode}:\n{out.stderr[-6000:]}"
    return out, seconds


def submissions(log: str) -> dict[str, list[str]]:
    """{SLURM job id: the cell ids it was submitted for}, from Snakemake's verbose log (a
    bundle keeps its group id when it is resubmitted)."""
    cells = {}
    for line in log.splitlines():
        if line.startswith("sbatch call:"):
            group = re.search(r"--local-groupid '([^']+)'", line).group(1)
            cells[group] = sorted(re.findall(r"'cell:study=onslurm,cell_id=([^']+)'", line))
    jobs = re.findall(r"Job (\S+) has been submitted with SLURM jobid (\d+)", log)
    assert len(jobs) == log.count("sbatch call:"), "every sbatch call got a job id"
    return {job: cells[group] for group, job in jobs}


def job_state(job_id: str) -> str:
    out = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True)
    m = re.search(r"JobState=(\S+)", out.stdout)
    return m.group(1) if m else f"unknown ({out.stderr.strip()})"


def records(root: Path) -> set[str]:
    base = root / "results" / "onslurm" / "cells"
    return {str(p.relative_to(base).with_suffix("")) for p in base.rglob("*.json")}


def cell_ids(study: dict) -> set[str]:
    g = study["grid"]
    return {
        f"backend={b}/remedy={r}/seq_len={t}/w_rec_scale={w}/seed={s}"
        for b in g["backend"]
        for r in g["remedy"]
        for t in g["seq_len"]
        for w in g["w_rec_scale"]
        for s in g["seed"]
    }


def test_study_on_slurm_extends_and_survives_scancel(slurm, tmp_path):
    root = workflow_copy(tmp_path, STUDY)
    shutil.copytree(REPO / "profiles", root / "profiles")

    # 1. the whole study goes through sbatch, bundled, one record per cell
    out, _ = run_on_slurm(root)
    jobs = submissions(out.stderr)
    assert jobs, "no sbatch submission in the log"
    submitted = sorted(c for cells in jobs.values() for c in cells)
    assert submitted == sorted(cell_ids(STUDY))  # each cell once
    assert max(len(c) for c in jobs.values()) == 3  # bundles of group-components cells
    assert {job_state(i) for i in jobs} == {"COMPLETED"}, {i: job_state(i) for i in jobs}
    assert records(root) == cell_ids(STUDY)

    # 2. new grid entries: only the new cells are submitted
    grown = {**STUDY, "grid": {**STUDY["grid"], "seq_len": [10, 20, 30]}}
    write_study(root, grown)
    out, _ = run_on_slurm(root)
    resubmitted = sorted(c for cells in submissions(out.stderr).values() for c in cells)
    assert resubmitted == sorted(cell_ids(grown) - cell_ids(STUDY))
    assert records(root) == cell_ids(grown)

    # 3. a job cancelled by scancel is resubmitted and the study completes
    grown2 = {**grown, "grid": {**grown["grid"], "seed": [0, 1]}}
    write_study(root, grown2)
    cancelled: list[str] = []

    def cancel_first_job():
        deadline = time.monotonic() + RUN_LIMIT_S
        while not cancelled and time.monotonic() < deadline:
            ids = subprocess.run(
                ["squeue", "-h", "-o", "%i", "-t", "RUNNING"], capture_output=True, text=True
            ).stdout.split()
            if ids:
                subprocess.run(["scancel", ids[0]], check=True)
                cancelled.append(ids[0])
            time.sleep(0.2)

    canceller = threading.Thread(target=cancel_first_job, daemon=True)
    canceller.start()
    out, _ = run_on_slurm(root)
    canceller.join(timeout=5)
    assert cancelled, "no running job was seen to cancel"
    assert job_state(cancelled[0]) == "CANCELLED"
    assert "Trying to restart job" in out.stderr
    jobs = submissions(out.stderr)
    retried = [i for i in jobs if i != cancelled[0] and set(jobs[i]) & set(jobs[cancelled[0]])]
    assert retried, "the cancelled job's cells were not resubmitted"
    assert {job_state(i) for i in retried} == {"COMPLETED"}
    assert records(root) == cell_ids(grown2)

    # nothing of ours is left queued or running
    left = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True).stdout
    assert left.split() == []


def test_a_plugin_study_on_slurm(slurm, tmp_path):
    """The gradient noise example's plugin through sbatch: the plugin file is its cells' input
    on the shared file system, and their records name it."""
    study = {
        **STUDY,
        "plugins": ["plugins/grad_noise.py"],  # relative to config/studies/onslurm.yaml
        "grid": {**STUDY["grid"], "w_rec_scale": [0.9], "remedy": ["none", "grad_noise"]},
        "remedies": {"none": {}, "grad_noise": {"gradient_transform": "grad_noise"}},
    }
    root = workflow_copy(tmp_path, study)
    shutil.copytree(REPO / "profiles", root / "profiles")
    (root / "config" / "studies" / "plugins").mkdir()
    shutil.copy(
        REPO / "examples" / "plugins" / "grad_noise.py", root / "config" / "studies" / "plugins"
    )
    out, _ = run_on_slurm(root)
    jobs = submissions(out.stderr)
    assert sorted(c for cells in jobs.values() for c in cells) == sorted(cell_ids(study))
    assert {job_state(i) for i in jobs} == {"COMPLETED"}, {i: job_state(i) for i in jobs}
    assert records(root) == cell_ids(study)
    for cid in cell_ids(study):
        rec = json.loads((root / "results" / "onslurm" / "cells" / f"{cid}.json").read_text())
        sources = rec["provenance"]["plugin_sources"]
        if "remedy=grad_noise" in cid:
            assert sources.startswith(
                str(root / "config" / "studies" / "plugins" / "grad_noise.py@")
            )
            assert rec["settings"]["gradient_transform"] == "grad_noise"
        else:
            assert sources == ""
