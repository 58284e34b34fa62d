"""rnngrad: run one cell, list a study's grid and cost, rebuild its tables, figures and report.

examples:
  rnngrad cell seq_len=100 w_rec_scale=1.1 train_steps=0     one cell, its metrics as JSON
  rnngrad cell --help                                         every setting: type, default, meaning
  rnngrad plan --configfile config/studies/bengio1994.yaml    a study's cells, what is new, the cost
  rnngrad report                                              reports/default.html again

exit codes: 0 done; 1 bad input (config, settings, records; one line naming the key and value);
2 bad usage (unknown option or command); 3 an unexpected error (a traceback: a bug to report).
"""

# Imports are lazy, so `rnngrad cell` for a NumPy cell never imports torch (nor pandas or
# matplotlib), and `rnngrad validate` stays quick.

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import logging
import math
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from rnngrad._version import __version__
from rnngrad.study import status

OK, BAD_INPUT, USAGE, CRASH = 0, 1, 2, 3  # exit codes (argparse exits USAGE itself)

# units of the data dictionary that only restate a setting's type (not shown in cell --help)
TYPE_UNITS = ("1", "category", "mapping", "bool", "integer", "text")

# subcommands whose own module parses the rest of the command line
PASS_THROUGH = {
    "bench": ("rnngrad.bench.profile", "benchmark the backends"),
}


def parse_assignments(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` words to a settings mapping; values are YAML (``clip={kind: norm,
    threshold: 1}``), dotted keys build nested ones (``clip.threshold=0.5``)."""
    import yaml

    from rnngrad.core.validation import SettingsError, shown
    from rnngrad.study.config import yaml_load

    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise SettingsError(f"{shown(pair)}: expected key=value")
        try:
            value = yaml_load(raw) if raw else None  # YAML 1.2 floats: ridge=1e-6 is a number
        except yaml.YAMLError as e:
            raise SettingsError(f"{key}: not a valid YAML value (value {shown(raw)})") from e
        head, _, sub = key.partition(".")
        if sub:
            nested = out.setdefault(head, {})
            if not isinstance(nested, dict):
                raise SettingsError(f"{key}: {head} is already set to {shown(nested)}")
            nested[sub] = value
        else:
            out[key] = value
    return out


def _yaml_word(value: Any) -> str:
    """A default as it is typed on the command line (YAML): null, true, 1e-06, norm."""
    return json.dumps(value) if not isinstance(value, str) else value


def settings_help() -> str:
    """Every settable key of a cell with its type, default, allowed values, unit and meaning,
    from the dataclasses of :mod:`rnngrad.core.settings` (their fields' ``help`` and ``unit``)."""
    from rnngrad.core.choices import CHOICES
    from rnngrad.core.settings import NESTED, CellSettings

    defaults = CellSettings().to_dict()
    rows: list[tuple[str, str, str, str]] = []

    def add(key: str, f: dataclasses.Field, typ: str, default: Any) -> None:
        meaning = f.metadata.get("help", "")
        if f.metadata.get("unit") not in (None, *TYPE_UNITS):
            meaning += f" [{f.metadata['unit']}]"
        if key in CHOICES:
            meaning += f" (one of {', '.join(CHOICES[key])})"
        rows.append((key, typ, _yaml_word(default), meaning.strip()))

    for f in dataclasses.fields(CellSettings):
        if f.name in ("extra_axes", "plugins"):  # set by a config (grid, plugins:), not by hand
            continue
        if f.name in NESTED:
            add(f.name, f, "mapping or null", defaults[f.name])
            sub_defaults = dataclasses.asdict(NESTED[f.name]())
            for g in dataclasses.fields(NESTED[f.name]):
                add(f"{f.name}.{g.name}", g, str(g.type), sub_defaults[g.name])
        else:
            add(f.name, f, str(f.type), defaults[f.name])
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [
        "settings (key=value, the value in YAML; a mapping's keys also as key.sub=value;",
        "a mapping's sub-keys default to the values shown when it is set):",
    ]
    for key, typ, default, meaning in rows:
        lines.append(
            f"  {key:<{width[0]}}  {typ:<{width[1]}}  {default:<{width[2]}}  {meaning}".rstrip()
        )
    return "\n".join(lines)


def _strict(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, inf) as None: strict JSON prints null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def _cell_settings(args):
    """The cell's settings: --settings-json, then the key=value words over it."""
    from rnngrad.core.settings import CellSettings
    from rnngrad.core.validation import SettingsError

    try:
        values = json.loads(args.settings_json) if args.settings_json else {}
    except json.JSONDecodeError as e:
        raise SettingsError(f"--settings-json: not valid JSON ({e})") from e
    if not isinstance(values, dict):
        raise SettingsError(f"--settings-json: must be a JSON object (value {values!r})")
    values.update(parse_assignments(args.assignments))
    if values.get("plugins"):  # the plugins the cell uses, before their names validate
        from rnngrad.plugins.load import load_declared

        load_declared(values["plugins"])
    return CellSettings.from_dict(values)


def cmd_cell(args) -> int:
    from rnngrad.core.validation import SettingsError

    try:
        s = _cell_settings(args)
    except SettingsError as e:
        if args.log:  # the pipeline's log of the cell says why it stopped too
            Path(args.log).parent.mkdir(parents=True, exist_ok=True)
            with open(args.log, "a") as f:
                f.write(f"rnngrad cell: {e}\n")
        raise
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if args.log:
        Path(args.log).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(args.log, mode="a"))
    logging.basicConfig(
        level=logging.INFO,
        handlers=handlers,
        force=True,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from rnngrad.run.cell import run_cell
    from rnngrad.run.record import write_record
    from rnngrad.run.timing import keep_freed_memory

    keep_freed_memory()  # a training step's arrays are reused, not faulted in anew each step
    log = logging.getLogger("rnngrad.run.cell")
    try:
        record = run_cell(s, args.cell_id, args.checkpoint, args.checkpoint_every)
    except Exception:  # the traceback goes to the cell's log too
        log.exception("cell %s failed (exit %d)", args.cell_id, CRASH)
        return CRASH
    if args.out:
        write_record(record, args.out)
        log.info("wrote %s", args.out)
    else:
        shown = {"cell_id": record["cell_id"], "steps": record["steps"], **record["metrics"]}
        if args.profile:
            shown["profiles"] = record["profiles"]
        print(json.dumps(_strict(shown), indent=2, allow_nan=False))
    return OK


def _study(args):
    from rnngrad.study.config import load_study

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
    if not args.allow_large_cells:
        status.check_cell_memory(study, args.max_cell_memory_mb)
    print(f"ok: study {study.name!r}, {len(study.cells)} cells")
    return OK


def cmd_grid(args) -> int:
    for cell_id in _study(args).cells:
        print(cell_id)
    return OK


def cmd_plan(args) -> int:
    study = _study(args)
    if not args.allow_large_cells:
        status.check_cell_memory(study, args.max_cell_memory_mb)
    from rnngrad.report.captions import CAPTIONS

    status.print_plan(study, list(CAPTIONS), args.root, args.cores)
    return OK


def cmd_tables(args) -> int:
    from rnngrad.study import tables

    try:
        if args.records:
            paths, outdir = args.records, Path(args.out_dir or ".")
        else:
            study = _study(args)
            paths = status.current_records(study, args.root)
            outdir = Path(args.out_dir or tables.tables_dir(study.name, args.root))
        built = tables.build_tables(tables.read_records(paths))
    except tables.RecordError as e:
        print(f"rnngrad tables: {e}", file=sys.stderr)
        return BAD_INPUT
    for path in tables.write_tables(built, outdir):
        print(f"wrote {path}")
    return OK


def _study_dirs(args, figures_dir: str | None) -> tuple[str, Path, Path, dict]:
    """Study name, tables and figures folders, and config: from --tables-dir (and --config-json)
    when given, else from the study's config."""
    if args.tables_dir:
        config = json.loads(args.config_json) if getattr(args, "config_json", None) else {}
        name = getattr(args, "study", None) or config.get("study", "default")
        tables_dir = Path(args.tables_dir)
        return name, tables_dir, Path(figures_dir or tables_dir.parent / "figures"), config
    from rnngrad.study import paths

    study = _study(args)
    tables_dir = paths.fill(paths.TABLES_DIR, args.root, study=study.name)
    figures = Path(figures_dir or paths.fill(paths.FIGURES_DIR, args.root, study=study.name))
    return study.name, tables_dir, figures, study.config


def cmd_figures(args) -> int:
    from rnngrad.report import figures
    from rnngrad.study import tables

    _, tables_dir, outdir, _ = _study_dirs(args, args.out_dir)
    for path in figures.save_all(tables.read_tables(tables_dir), outdir):
        print(f"wrote {path}")
    return OK


def cmd_report(args) -> int:
    from rnngrad.report.page import build_report
    from rnngrad.study import paths

    name, tables_dir, figures_dir, config = _study_dirs(args, args.figures_dir)
    out = Path(args.out or paths.fill(paths.REPORT, args.root, study=name))
    build_report(name, tables_dir, figures_dir, out, config)
    print(f"wrote {out}")
    return OK


def cmd_compare(args) -> int:
    from rnngrad.report.compare import build_compare
    from rnngrad.study import paths

    root = Path(args.root)
    out = Path(args.out or paths.fill(paths.COMPARE, root, studies="-".join(args.studies)))
    try:
        dirs = {s: paths.fill(paths.TABLES_DIR, root, study=s) for s in args.studies}
        build_compare(args.studies, out, dirs)
    except ValueError as e:
        print(f"rnngrad compare: {e}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="rnngrad",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    ap.add_argument("--version", action="version", version=f"rnngrad {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, text: str, run=None, **kwargs) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text, allow_abbrev=False, **kwargs)
        p.set_defaults(run=run)
        return p

    p = command(
        "cell",
        "run one cell: key=value settings, or the pipeline's --settings-json",
        cmd_cell,
        epilog=settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "assignments",
        nargs="*",
        metavar="key=value",
        help="settings (listed below), e.g. seq_len=100 w_rec_scale=1.1 clip.kind=norm "
        "clip.threshold=1",
    )
    p.add_argument(
        "--settings-json",
        metavar="JSON",
        help="settings as a JSON object (merged under the key=value words)",
    )
    p.add_argument("--cell-id", default="cli", help="the cell's id (default: cli)")
    p.add_argument(
        "--out",
        metavar="PATH",
        help="write the whole record (JSON) here, atomically, instead of printing the metrics",
    )
    p.add_argument("--log", metavar="PATH", help="append the cell's log here (and to stderr)")
    p.add_argument("--checkpoint", metavar="PATH", help="training checkpoint (resumed if present)")
    p.add_argument(
        "--checkpoint-every",
        type=float,
        metavar="SECONDS",
        help="seconds between checkpoint saves (default: $RNNGRAD_CHECKPOINT_EVERY, else 60)",
    )
    p.add_argument("--profile", action="store_true", help="print the per-lag profiles too")

    for name, (_, text) in PASS_THROUGH.items():
        sub.add_parser(name, help=text, add_help=False, allow_abbrev=False)

    p = command("validate", "check a study config (exit 1 naming key and value)", cmd_validate)
    _study_options(p)
    status.memory_options(p)

    p = command("grid", "list a study's cell ids in grid order", cmd_grid)
    _study_options(p)

    p = command(
        "plan",
        "list a study's cells (new, stale or done), what snakemake will run, the cost",
        cmd_plan,
    )
    _study_options(p)
    status.memory_options(p)
    p.add_argument(
        "--cores",
        type=int,
        default=os.cpu_count() or 1,
        help="cores for the wall-time estimate (default: this machine's)",
    )

    p = command("tables", "(re)build results/<study>/tables/ from the cell records", cmd_tables)
    _study_options(p)
    p.add_argument(
        "--records",
        nargs="+",
        metavar="JSON",
        help="these records instead of the study's (the pipeline's rule)",
    )
    p.add_argument("--out-dir", help="output folder (default: results/<study>/tables)")

    p = command("figures", "(re)draw results/<study>/figures/ from the tables", cmd_figures)
    _study_options(p)
    p.add_argument("--tables-dir", help="tables folder (default: the study's)")
    p.add_argument("--out-dir", help="output folder (default: results/<study>/figures)")

    p = command("report", "(re)build reports/<study>.html from tables and figures", cmd_report)
    _study_options(p)
    p.add_argument("--study", help="study name (with --tables-dir)")
    p.add_argument("--tables-dir", help="tables folder (default: the study's)")
    p.add_argument("--figures-dir", help="figures folder (default: the study's)")
    p.add_argument("--config-json", help="the validated config as JSON (the pipeline's rule)")
    p.add_argument("--out", help="output file (default: reports/<study>.html)")

    p = command("compare", "one report over two or more studies, side by side", cmd_compare)
    p.add_argument("studies", nargs="+", metavar="STUDY", help="studies with results/STUDY/tables")
    p.add_argument("--root", default=".", help="the workflow's folder (default: .)")
    p.add_argument("--out", help="output file (default: reports/compare-STUDY-STUDY.html)")
    return ap


def main(argv: list[str] | None = None) -> int:
    """Run a command; returns its exit code (argparse exits 2 itself on bad usage)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in PASS_THROUGH:
        module = importlib.import_module(PASS_THROUGH[argv[0]][0])
        return module.main(argv[1:])
    ap = parser()
    args, extra = ap.parse_known_args(argv)
    if args.command == "cell":  # key=value words may also follow the options
        args.assignments += [w for w in extra if not w.startswith("-")]
        extra = [w for w in extra if w.startswith("-")]
    if extra:
        ap.error(f"unrecognized arguments: {' '.join(extra)}")
    from rnngrad.core.validation import SettingsError  # ConfigError is one

    try:
        return args.run(args)
    except (SettingsError, FileNotFoundError) as e:
        print(f"rnngrad {args.command}: {e}", file=sys.stderr)
        return BAD_INPUT
    except Exception:
        traceback.print_exc()
        print(f"rnngrad {args.command}: unexpected error (exit {CRASH})", file=sys.stderr)
        return CRASH
