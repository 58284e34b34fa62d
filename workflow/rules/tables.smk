rule tables:
    input:
        cell_records,
    output:
        csv="results/{study}/tables/cells.csv",
        cells="results/{study}/tables/cells.parquet",
        profiles="results/{study}/tables/profiles.parquet",
        training="results/{study}/tables/training.parquet",
    log:
        "logs/{study}/tables.log",
    params:
        outdir=subpath(output.csv, parent=True),
    shell:
        "rnngrad tables --out-dir {params.outdir:q} --records {input:q} > {log:q} 2>&1"
