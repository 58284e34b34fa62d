# Validation and input helpers. The config is validated here, before any job runs: a bad config
# stops the workflow with a message naming the key path and the value (rnngrad.study.config).
import json
import os
import re

from rnngrad.study.config import study_from_config
from rnngrad.study.plugins import cell_plugin_files, plugin_dir
from rnngrad.core.files import hold_lock
from rnngrad.study import paths
from rnngrad.study.resources import cell_resources
from rnngrad.study.status import check_cell_memory, report_config, stale_flag
from rnngrad.run.checkpoint import CHECKPOINT_EVERY_ENV

# plugins: paths are relative to the config file that lists them (the last --configfile
# that sets plugins:, else the default config)
STUDY = study_from_config(
    config, plugin_dir(["config/config.yaml", *workflow.overwrite_configfiles])
)
check_cell_memory(STUDY)  # cells estimated larger than the machine (or the config's limit)
# seconds between checkpoint saves, to the cell jobs through their environment: the cell
# rule's shell command stays as it was (a change there is Snakemake's "code" trigger and would
# rerun every cell), and no param changes (which would rerun them too)
os.environ[CHECKPOINT_EVERY_ENV] = str(STUDY.config["checkpoint_every"])


wildcard_constraints:
    study=re.escape(STUDY.name),
    cell_id=r"backend=[^/]+/remedy=[^/]+/.+",


def cell_records(wildcards):
    """Records of exactly the cells of the current grid."""
    return [str(STUDY.record_path(c)) for c in STUDY.cells]


def stale_record_flag(wildcards):
    """The cell's flag: written now for a cell whose record is stale (other settings,
    relabelled, unreadable), so newer than the record, which reruns the cell even where
    .snakemake/ is gone; dated 1970 for any other cell."""
    return stale_flag(STUDY, wildcards.cell_id)


def cell_plugins(wildcards):
    """The files of the plugins the cell uses: editing one reruns exactly its cells."""
    return cell_plugin_files(STUDY.cells[wildcards.cell_id].settings)


def cell_settings(wildcards):
    """The cell's resolved settings, its job's only parameter: a grid entry added elsewhere
    leaves it up to date; a change of its remedy reruns it."""
    return STUDY.cells[wildcards.cell_id].settings_json


def cell_resource(name):
    """A function of the wildcards giving one of rnngrad.study.resources.cell_resources."""
    return lambda wildcards: cell_resources(STUDY.cells[wildcards.cell_id].settings)[name]


def study_config_json(wildcards):
    """The validated config with its defaults, for the report."""
    return json.dumps(report_config(STUDY), sort_keys=True)


def figure_names():
    """The figures of rnngrad.report.figures, in their order (their captions need no matplotlib)."""
    from rnngrad.report.captions import CAPTIONS

    return list(CAPTIONS)


onstart:
    # one run of a study at a time: Snakemake's own locks do not hold (the first run in a
    # folder to end deletes .snakemake/locks, the other runs' locks with it)
    hold_lock(paths.fill(paths.LOCK, study=STUDY.name), f"study {STUDY.name!r}")
