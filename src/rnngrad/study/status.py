"""Where a study stands, from its files alone: each cell new, stale or done, the outputs that
are missing, and what a run of the workflow will do (what ``snakemake -n`` schedules), with its
estimated cost; and the size bound on cells.

A cell is *done* when its record is whole and says consistently which cell it is (see
:func:`rnngrad.run.cell.check_record`) and was made by the cell's current settings (its
``settings_hash``); *stale* when the record exists but is not done; *new* when there is none.
Snakemake reruns a stale cell because its job then takes an input that is newer than the
record, a flag saying why (:func:`stale_flag`): this holds without ``.snakemake/`` (lost when
results are copied between machines), where Snakemake's own "params have changed" cannot see
it. The workflow's ``all`` asks for every record, table and
figure, so a deleted one is rebuilt (Snakemake does not rebuild a missing intermediate file
when what follows it is up to date), and so are the stages after it (their inputs are newer).

Example
-------
>>> from rnngrad.study.config import load_study
>>> p = plan(load_study(), ["phase_diagram"], ".")  # doctest: +SKIP
>>> p.jobs  # doctest: +SKIP
{'cell': 80, 'tables': 1, 'figures': 1, 'report': 1, 'all': 1}
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from rnngrad.study import paths
from rnngrad.study.config import Cell, ConfigError, Study
from rnngrad.study.plugins import plugin_notes

STATES = ("new", "stale", "done")
# what the stages after the cells cost (seconds), a fixed start plus a share per cell. The
# starts: the tiny study (6 cells) took 2.9, 23 and 5.0 s wall at a load of 12 on 2 vCPUs,
# about 6 times an idle core's; the shares per cell are rough (reading records, drawing
# more points) and not yet measured on a large study
STAGE_SECONDS = {"tables": (1.5, 4e-3), "figures": (8.0, 2e-3), "report": (2.0, 1e-3)}
REPORT_CONFIG_IGNORED = ("checkpoint_every", "cell_memory_limit_mb")  # change no result


# -- cells --------------------------------------------------------------------------------------
def cell_state(cell: Cell, path: str | os.PathLike) -> tuple[str, str]:
    """The state of a cell (new, stale or done) from its record at ``path``, and why."""
    from rnngrad.run.provenance import settings_hash
    from rnngrad.run.record import RecordError, check_record, read_record

    path = Path(path)
    if not path.exists():
        return "new", "no record"
    try:
        s = check_record(read_record(path), path)
    except (RecordError, OSError, ValueError) as e:
        return "stale", str(e)
    if settings_hash(s) != settings_hash(cell.settings):
        old, new = s.flat(), cell.settings.flat()
        changed = [f"{k} {old[k]!r} -> {new[k]!r}" for k in new if old.get(k) != new[k]]
        return "stale", "made by other settings: " + ", ".join(changed or ["(its hash)"])
    return "done", ""


def stale_reason(study: Study, cell_id: str, root: str | os.PathLike = ".") -> str:
    """Why the record of a cell is stale, or "" when it is missing or done."""
    state, why = cell_state(study.cells[cell_id], study.record_path(cell_id, root))
    return why if state == "stale" else ""


def stale_flag(study: Study, cell_id: str, root: str | os.PathLike = ".") -> str:
    """The workflow's input of a cell's job, ``results/<study>/stale/<cell id>.flag``: for a
    stale cell written now, saying why (newer than the record, so Snakemake reruns the cell by
    its mtime rule, with or without .snakemake/); for any other cell dated 1970 (older than
    any record), so that nothing reruns. Every cell has one, so the set of its job's inputs
    never changes (a change would be Snakemake's "input" rerun trigger)."""
    path = paths.fill(paths.STALE_FLAG, study=study.name, cell_id=cell_id)
    full = Path(root) / path
    full.parent.mkdir(parents=True, exist_ok=True)
    why = stale_reason(study, cell_id, root)
    if why:  # no fsync, no rename: only its time stamp counts (thousands at a parse)
        full.write_text(why + "\n")
    else:
        full.touch()
        os.utime(full, (0, 0))
    return str(path)


def current_records(study: Study, root: str | os.PathLike = ".") -> list[Path]:
    """The record of every cell of ``study``, in grid order; a missing or stale one is a
    :class:`rnngrad.run.cell.RecordError` naming the cell and why (the tables hold only records
    of the cells' current settings)."""
    from rnngrad.run.record import RecordError

    records, bad = [], {}
    for cell_id, cell in study.cells.items():
        path = study.record_path(cell_id, root)
        state, why = cell_state(cell, path)
        if state != "done":
            bad[cell_id] = f"{state}: {why}"
        records.append(path)
    if bad:
        first = next(iter(bad))
        raise RecordError(
            f"cell {first}: {bad[first]}"
            + (f" (and {len(bad) - 1} more cells)" if len(bad) > 1 else "")
            + "; run snakemake first (`rnngrad plan` lists them)"
        )
    return records


# -- stages -------------------------------------------------------------------------------------
def stage_outputs(
    study: Study, figures: list[str], root: str | os.PathLike = "."
) -> dict[str, list[Path]]:
    """The files each stage after the cells writes (the workflow's outputs); ``figures`` are
    the report's figure names (:data:`rnngrad.report.captions.CAPTIONS`)."""
    return {
        "tables": paths.table_paths(study.name, root),
        "figures": paths.figure_paths(study.name, figures, root),
        "report": [paths.fill(paths.REPORT, root, study=study.name)],
    }


@dataclass
class Plan:
    states: dict[str, tuple[str, str]]  # cell id -> (state, why)
    jobs: dict[str, int]  # rule -> jobs Snakemake will run, in the order of the Job stats
    missing: list[Path] = field(default_factory=list)  # outputs of the stages that are gone
    stage_seconds: dict[str, float] = field(default_factory=dict)  # of the stages that run


def plan(study: Study, figures: list[str], root: str | os.PathLike = ".") -> Plan:
    """What ``snakemake`` will run for ``study`` in ``root``, predicted from the files alone
    (``figures``: the report's figure names).

    A cell runs when new or stale; a stage after the cells when one before it runs, one of its
    outputs is missing, or an input is newer than its oldest output (Snakemake's mtime rule).
    """
    states = {c: cell_state(cell, study.record_path(c, root)) for c, cell in study.cells.items()}
    n = {s: sum(1 for st, _ in states.values() if st == s) for s in STATES}
    outputs = stage_outputs(study, figures, root)
    records = [study.record_path(c, root) for c in study.cells]
    inputs = {
        "tables": records,
        "figures": outputs["tables"][1:],
        "report": [*outputs["tables"][1:], *(p for p in outputs["figures"] if p.suffix == ".png")],
    }
    jobs: dict[str, int] = {}
    if n["new"] + n["stale"]:
        jobs["cell"] = n["new"] + n["stale"]
    missing = [p for stage in outputs.values() for p in stage if not p.exists()]
    upstream = bool(jobs)
    seconds = {}
    for stage in ("tables", "figures", "report"):
        outs = outputs[stage]
        if upstream or any(not p.exists() for p in outs) or _newer(inputs[stage], outs):
            jobs[stage] = 1
            a, b = STAGE_SECONDS[stage]
            seconds[stage] = a + b * len(study.cells)
            upstream = True
    if jobs:
        jobs["all"] = 1
    return Plan(states, jobs, missing, seconds)


def _newer(inputs: list[Path], outputs: list[Path]) -> bool:
    have = [p.stat().st_mtime for p in inputs if p.exists()]
    outs = [p.stat().st_mtime for p in outputs if p.exists()]
    return bool(have and outs) and max(have) > min(outs)


def print_plan(
    study: Study, figures: list[str], root: str | os.PathLike = ".", cores: int = 1
) -> None:
    """Print each cell's state and estimated seconds, why a stale one is stale, the missing
    outputs, and the jobs Snakemake will run with their estimated cost."""
    from rnngrad.study.resources import cell_resources

    p = plan(study, figures, root)
    total = todo = 0.0
    for cell_id, cell in study.cells.items():
        seconds = cell_resources(cell.settings)["estimated_seconds"]
        state, why = p.states[cell_id]
        total += seconds
        todo += seconds if state != "done" else 0.0
        print(
            f"{state:5} {seconds:9.2f} s  {cell_id}"
            + (f"\n        {why}" if state == "stale" else "")
        )
    for path in p.missing:
        print(f"missing {path}")
    counts = {s: sum(1 for st, _ in p.states.values() if st == s) for s in STATES}
    stages = sum(p.stage_seconds.values())
    cores = max(1, cores)
    print(
        f"study {study.name!r}: {len(study.cells)} cells, {counts['new']} new, "
        f"{counts['stale']} stale, {counts['done']} done; estimated {total:.0f} cell-seconds "
        f"in all, {todo:.0f} for the cells to run, {stages:.0f} s for "
        + (", ".join(p.stage_seconds) or "no stage")
        + f" (about {(todo / cores + stages) / 60:.1f} min on {cores} cores)"
    )
    if p.jobs:
        print("snakemake will run: " + ", ".join(f"{k} {v}" for k, v in p.jobs.items()))
    else:
        print("snakemake will run: nothing (all outputs present and up to date)")


# -- size bound ---------------------------------------------------------------------------------
def machine_memory_mb() -> float:
    """This machine's physical memory in MB (10^6 bytes)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e6


def check_cell_memory(study: Study, limit_mb: float | None = None) -> None:
    """Refuse cells whose estimated memory (rnngrad.study.resources.cell_memory_mb) exceeds
    ``limit_mb``, else the config's ``cell_memory_limit_mb``, else this machine's memory.

    Raises
    ------
    ConfigError
        naming the largest such cell, its estimate and the limit, and how to change it.
    """
    from rnngrad.study.resources import cell_memory_mb

    if limit_mb is not None:
        source = "--max-cell-memory-mb"
    elif study.config.get("cell_memory_limit_mb") is not None:
        limit_mb, source = float(study.config["cell_memory_limit_mb"]), "cell_memory_limit_mb"
    else:
        limit_mb, source = machine_memory_mb(), "this machine's memory"
    over = {
        c: m for c, cell in study.cells.items() if (m := cell_memory_mb(cell.settings)) > limit_mb
    }
    if over:
        worst = max(over, key=over.get)
        more = f" and {len(over) - 1} more cells" if len(over) > 1 else ""
        raise ConfigError(
            f"cell {worst}{more}: estimated memory {over[worst]:,.0f} MB exceeds the limit "
            f"of {limit_mb:,.0f} MB ({source}); make the cell smaller, or set "
            "cell_memory_limit_mb in the config to the memory of the nodes that run it, or "
            "pass --allow-large-cells"
        )


def memory_options(p) -> None:
    """The size bound's options of ``rnngrad validate`` and ``rnngrad plan``."""
    p.add_argument(
        "--max-cell-memory-mb",
        type=float,
        metavar="MB",
        help="refuse cells estimated larger (default: the config's cell_memory_limit_mb, "
        "else this machine's memory)",
    )
    p.add_argument(
        "--allow-large-cells", action="store_true", help="accept cells of any estimated memory"
    )


def report_config(study: Study) -> dict:
    """The validated config the report shows: without the keys that change no result (so that
    changing them reruns no report either), with ``plugin_notes``, what the report says of
    each plugin the cells use (rnngrad.study.plugins.plugin_notes)."""
    out = {k: v for k, v in study.config.items() if k not in REPORT_CONFIG_IGNORED}
    notes = plugin_notes(study.cells.values())
    if notes:
        out["plugin_notes"] = notes
    return out
