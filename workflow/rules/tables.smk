rule tables:
    input:
        cell_records,
    output:
        csv=report(
            paths.table_pattern("csv"),
            caption="../report/table_cells.rst",
            category="Tables",
            labels={"table": "cells", "format": "csv"},
        ),
        cells=report(
            paths.table_pattern("cells"),
            caption="../report/table_cells.rst",
            category="Tables",
            labels={"table": "cells", "format": "parquet"},
        ),
        profiles=report(
            paths.table_pattern("profiles"),
            caption="../report/table_profiles.rst",
            category="Tables",
            labels={"table": "profiles", "format": "parquet"},
        ),
        training=report(
            paths.table_pattern("training"),
            caption="../report/table_training.rst",
            category="Tables",
            labels={"table": "training", "format": "parquet"},
        ),
    log:
        paths.stage_log("tables"),
    params:
        outdir=subpath(output.csv, parent=True),
    shell:
        "rnngrad tables --out-dir {params.outdir:q} --records {input:q} > {log:q} 2>&1"
