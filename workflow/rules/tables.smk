rule tables:
    input:
        cell_records,
    output:
        csv=report(
            "results/{study}/tables/cells.csv",
            caption="../report/table_cells.rst",
            category="Tables",
            labels={"table": "cells", "format": "csv"},
        ),
        cells=report(
            "results/{study}/tables/cells.parquet",
            caption="../report/table_cells.rst",
            category="Tables",
            labels={"table": "cells", "format": "parquet"},
        ),
        profiles=report(
            "results/{study}/tables/profiles.parquet",
            caption="../report/table_profiles.rst",
            category="Tables",
            labels={"table": "profiles", "format": "parquet"},
        ),
        training=report(
            "results/{study}/tables/training.parquet",
            caption="../report/table_training.rst",
            category="Tables",
            labels={"table": "training", "format": "parquet"},
        ),
    log:
        "logs/{study}/tables.log",
    params:
        outdir=subpath(output.csv, parent=True),
    shell:
        "rnngrad tables --out-dir {params.outdir:q} --records {input:q} > {log:q} 2>&1"
