# rnngrad: the gradient study. Wiring only; every rule is a thin call into the rnngrad package.
from snakemake.utils import min_version

min_version("8.20")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/cells.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        str(paths.fill(paths.REPORT, study=STUDY.name)),
        # every record, table and figure too: Snakemake rebuilds a deleted one (and what follows
        # it) only when a target asks for it
        cell_records,
        expand(rules.tables.output, study=STUDY.name),
        expand(rules.figures.output, study=STUDY.name),
