rule report:
    input:
        cells=rules.tables.output.cells,
        profiles=rules.tables.output.profiles,
        training=rules.tables.output.training,
        figures=rules.figures.output.png,
    output:
        report(
            "reports/{study}.html",
            caption="../report/html_report.rst",
            category="Report",
            labels={"file": "the study's HTML report"},
        ),
    log:
        "logs/{study}/report.log",
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
            expand(
                "results/{other}/tables/{table}.parquet",
                other=STUDY.config["compare"],
                table=["cells", "profiles", "training"],
            ),
        output:
            f"reports/compare-{'-'.join(STUDY.config['compare'])}.html",
        log:
            f"logs/{STUDY.name}/compare.log",
        params:
            studies=" ".join(STUDY.config["compare"]),
        shell:
            "rnngrad compare {params.studies} --out {output:q} > {log:q} 2>&1"
