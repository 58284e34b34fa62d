"""The ``rnngrad`` command: one cell, a study's grid and cost, and its tables, figures and report
rebuilt outside Snakemake.

Imports are lazy, so ``rnngrad cell`` for a NumPy cell never imports torch (nor pandas or
matplotlib), and ``rnngrad validate`` stays quick.

Example
-------
::

    rnngrad cell seq_len=100 w_rec_scale=1.1 train_steps=0   # one cell, metrics as JSON
    rnngrad plan --configfile config/studies/paper.yaml       # its cells, what is new, the cost
    rnngrad report                                            # reports/default.html again
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from pathlib import Path

# subcommands whose own module parses the rest of the command line
PASS_THROUGH = {
    "cell": ("rnngrad.cell", "run one cell: key=value settings, or the pipeline's --settings-json"),
    "bench": ("rnngrad.bench", "benchmark the backends"),
}


def _study(args):
    from rnngrad.config import load_study

    return load_study(args.configfile, args.root)


def _study_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--configfile",
        action="append",
        default=[],
        metavar="YAML",
        help="a study file merged over ROOT/config/config.yaml, key by key, as with "
        "snakemake --configfile (repeatable)",
    )
    p.add_argument("--root", default=".", help="the workflow's folder (default: .)")


def cmd_validate(args) -> int:
    study = _study(args)
    print(f"ok: study {study.name!r}, {len(study.cells)} cells")
    return 0


def cmd_grid(args) -> int:
    for cell_id in _study(args).cells:
        print(cell_id)
    return 0


def cmd_plan(args) -> int:
    from rnngrad.resources import cell_resources

    study = _study(args)
    total = new_total = 0.0
    n_new = 0
    for cell_id, cell in study.cells.items():
        seconds = cell_resources(cell.settings)["estimated_seconds"]
        new = not study.record_path(cell_id, args.root).exists()
        total += seconds
        if new:
            n_new += 1
            new_total += seconds
        print(f"{'new ' if new else 'done'} {seconds:9.2f} s  {cell_id}")
    cores = max(1, args.cores)
    print(
        f"study {study.name!r}: {len(study.cells)} cells, {n_new} new; estimated "
        f"{total:.0f} cell-seconds in all, {new_total:.0f} for the new cells "
        f"(about {new_total / cores / 60:.1f} min on {cores} cores)"
    )
    return 0


def cmd_tables(args) -> int:
    from rnngrad import tables

    try:
        if args.records:
            paths, outdir = args.records, Path(args.out_dir or ".")
        else:
            study = _study(args)
            paths = [study.record_path(c, args.root) for c in study.cells]
            missing = [p for p in paths if not p.exists()]
            if missing:
                raise tables.RecordError(
                    f"{missing[0]}: no record yet for {len(missing)} of "
                    f"{len(paths)} cells (run snakemake first)"
                )
            outdir = Path(args.out_dir or tables.tables_dir(study.name, args.root))
        built = tables.build_tables(tables.read_records(paths))
    except tables.RecordError as e:
        print(f"rnngrad tables: {e}", file=sys.stderr)
        return 1
    for path in tables.write_tables(built, outdir):
        print(f"wrote {path}")
    return 0


def _study_dirs(args, figures_dir: str | None) -> tuple[str, Path, Path, dict]:
    """Study name, tables and figures folders, and config: from --tables-dir (and --config-json)
    when given, else from the study's config."""
    if args.tables_dir:
        config = json.loads(args.config_json) if getattr(args, "config_json", None) else {}
        name = getattr(args, "study", None) or config.get("study", "default")
        tables_dir = Path(args.tables_dir)
        return name, tables_dir, Path(figures_dir or tables_dir.parent / "figures"), config
    study = _study(args)
    base = Path(args.root) / "results" / study.name
    return study.name, base / "tables", Path(figures_dir or base / "figures"), study.config


def cmd_figures(args) -> int:
    from rnngrad import figures, tables

    _, tables_dir, outdir, _ = _study_dirs(args, args.out_dir)
    for path in figures.save_all(tables.read_tables(tables_dir), outdir):
        print(f"wrote {path}")
    return 0


def cmd_report(args) -> int:
    from rnngrad.report import build_report

    name, tables_dir, figures_dir, config = _study_dirs(args, args.figures_dir)
    out = Path(args.out or Path(args.root) / "reports" / f"{name}.html")
    build_report(name, tables_dir, figures_dir, out, config)
    print(f"wrote {out}")
    return 0


def cmd_compare(args) -> int:
    from rnngrad.compare import build_compare

    root = Path(args.root)
    out = Path(args.out or root / "reports" / f"compare-{'-'.join(args.studies)}.html")
    try:
        build_compare(args.studies, out, {s: root / "results" / s / "tables" for s in args.studies})
    except ValueError as e:
        print(f"rnngrad compare: {e}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="rnngrad", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, text) in PASS_THROUGH.items():
        sub.add_parser(name, help=text, add_help=False)

    p = sub.add_parser("validate", help="check a study config (exit 1 naming key and value)")
    _study_options(p)
    p.set_defaults(run=cmd_validate)

    p = sub.add_parser("grid", help="list a study's cell ids in grid order")
    _study_options(p)
    p.set_defaults(run=cmd_grid)

    p = sub.add_parser("plan", help="list a study's cells, which are new, and estimated seconds")
    _study_options(p)
    p.add_argument(
        "--cores",
        type=int,
        default=os.cpu_count() or 1,
        help="cores for the wall-time estimate (default: this machine's)",
    )
    p.set_defaults(run=cmd_plan)

    p = sub.add_parser("tables", help="(re)build results/<study>/tables/ from the cell records")
    _study_options(p)
    p.add_argument(
        "--records",
        nargs="+",
        metavar="JSON",
        help="these records instead of the study's (the pipeline's rule)",
    )
    p.add_argument("--out-dir", help="output folder (default: results/<study>/tables)")
    p.set_defaults(run=cmd_tables)

    p = sub.add_parser("figures", help="(re)draw results/<study>/figures/ from the tables")
    _study_options(p)
    p.add_argument("--tables-dir", help="tables folder (default: the study's)")
    p.add_argument("--out-dir", help="output folder (default: results/<study>/figures)")
    p.set_defaults(run=cmd_figures)

    p = sub.add_parser("report", help="(re)build reports/<study>.html from tables and figures")
    _study_options(p)
    p.add_argument("--study", help="study name (with --tables-dir)")
    p.add_argument("--tables-dir", help="tables folder (default: the study's)")
    p.add_argument("--figures-dir", help="figures folder (default: the study's)")
    p.add_argument("--config-json", help="the validated config as JSON (the pipeline's rule)")
    p.add_argument("--out", help="output file (default: reports/<study>.html)")
    p.set_defaults(run=cmd_report)

    p = sub.add_parser("compare", help="one report over two or more studies, side by side")
    p.add_argument("studies", nargs="+", metavar="STUDY", help="studies with results/STUDY/tables")
    p.add_argument("--root", default=".", help="the workflow's folder (default: .)")
    p.add_argument("--out", help="output file (default: reports/compare-STUDY-STUDY.html)")
    p.set_defaults(run=cmd_compare)
    return ap


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in PASS_THROUGH:
        module = importlib.import_module(PASS_THROUGH[argv[0]][0])
        return module.main(argv[1:])
    args = parser().parse_args(argv)
    from rnngrad.settings import SettingsError  # ConfigError is one

    try:
        return args.run(args)
    except (SettingsError, FileNotFoundError) as e:
        print(f"rnngrad {args.command}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
