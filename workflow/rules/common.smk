# Validation and input helpers. The config is validated here, before any job runs: a bad config
# stops the workflow with a message naming the key path and the value (rnngrad.config).
import json
import os
import re

from rnngrad.config import study_from_config
from rnngrad.resources import cell_resources

STUDY = study_from_config(config)


wildcard_constraints:
    study=re.escape(STUDY.name),
    cell_id=r"backend=[^/]+/remedy=[^/]+/.+",


def cell_records(wildcards):
    """Records of exactly the cells of the current grid."""
    return [str(STUDY.record_path(c)) for c in STUDY.cells]


def cell_settings(wildcards):
    """The cell's resolved settings, its job's only parameter: a grid entry added elsewhere
    leaves it up to date; a change of its remedy reruns it."""
    return STUDY.cells[wildcards.cell_id].settings_json


def cell_resource(name):
    """A function of the wildcards giving one of rnngrad.resources.cell_resources."""
    return lambda wildcards: cell_resources(STUDY.cells[wildcards.cell_id].settings)[name]


def study_config_json(wildcards):
    """The validated config with its defaults, for the report."""
    return json.dumps(STUDY.config, sort_keys=True)


def figure_names():
    """The figures of rnngrad.figures, in their order (their captions need no matplotlib)."""
    from rnngrad.captions import CAPTIONS

    return list(CAPTIONS)
