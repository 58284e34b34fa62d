rule figures:
    input:
        cells=rules.tables.output.cells,
        profiles=rules.tables.output.profiles,
        training=rules.tables.output.training,
    output:
        png=[
            report(
                f"{paths.FIGURES_DIR}/{name}.png",
                caption=f"../report/{name}.rst",
                category="Figures",
            )
            for name in figure_names()
        ],
        vector=expand(
            f"{paths.FIGURES_DIR}/{{name}}.{{ext}}",
            name=figure_names(),
            ext=[e for e in paths.FIGURE_FORMATS if e != "png"],
            allow_missing=True,
        ),
    log:
        paths.stage_log("figures"),
    params:
        tables=subpath(input.cells, parent=True),
        outdir=lambda wildcards, output: os.path.dirname(output.png[0]),
    shell:
        "rnngrad figures --tables-dir {params.tables:q} --out-dir {params.outdir:q} > {log:q} 2>&1"
