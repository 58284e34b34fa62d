rule report:
    input:
        cells=rules.tables.output.cells,
        profiles=rules.tables.output.profiles,
        training=rules.tables.output.training,
        figures=rules.figures.output.png,
    output:
        report(
            paths.REPORT,
            caption="../report/html_report.rst",
            category="Report",
            labels={"file": "the study's HTML report"},
        ),
    log:
        paths.stage_log("report"),
    params:
        tables=subpath(input.cells, parent=True),
        figures=lambda wildcards, input: os.path.dirname(input.figures[0]),
        config=study_config_json,
    shell:
        "rnngrad report --study {wildcards.study:q} --tables-dir {params.tables:q}"
        " --figures-dir {params.figures:q} --config-json {params.config:q} --out {output:q}"
        " > {log:q} 2>&1"


if STUDY.config["compare"]:

    rule compare:
        input:
            [
                paths.fill(paths.table_pattern(t), study=other)
                for other in STUDY.config["compare"]
                for t in paths.TABLES
            ],
        output:
            str(paths.fill(paths.COMPARE, studies="-".join(STUDY.config["compare"]))),
        log:
            str(paths.fill(paths.stage_log("compare"), study=STUDY.name)),
        params:
            studies=" ".join(STUDY.config["compare"]),
        shell:
            "rnngrad compare {params.studies} --out {output:q} > {log:q} 2>&1"
