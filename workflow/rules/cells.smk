rule cell:
    input:
        stale_record_flag,
        cell_plugins,
    output:
        paths.CELL_RECORD,
    log:
        paths.CELL_LOG,
    threads: cell_resource("cpus_per_task")
    resources:
        runtime=cell_resource("runtime"),
        mem_mb=cell_resource("mem_mb"),
        cpus_per_task=cell_resource("cpus_per_task"),
    params:
        settings=cell_settings,
        # a requeued or preempted long training cell resumes from here (deleted when done)
        checkpoint=paths.CHECKPOINT,
    shell:
        "rnngrad cell --settings-json {params.settings:q} --cell-id {wildcards.cell_id:q}"
        " --out {output:q} --log {log:q} --checkpoint {params.checkpoint:q}"
