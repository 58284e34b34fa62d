rule figures:
    input:
        cells=rules.tables.output.cells,
        profiles=rules.tables.output.profiles,
        training=rules.tables.output.training,
    output:
        png=[
            report(
                f"results/{{study}}/figures/{name}.png",
                caption=f"../report/{name}.rst",
                category="Figures",
            )
            for name in figure_names()
        ],
        vector=expand(
            "results/{{study}}/figures/{name}.{ext}", name=figure_names(), ext=["svg", "pdf"]
        ),
    log:
        "logs/{study}/figures.log",
    params:
        tables=subpath(input.cells, parent=True),
        outdir=lambda wildcards, output: os.path.dirname(output.png[0]),
    shell:
        "rnngrad figures --tables-dir {params.tables:q} --out-dir {params.outdir:q} > {log:q} 2>&1"
