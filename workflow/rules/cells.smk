rule cell:
    input:
        stale_record_flag,
    output:
        "results/{study}/cells/{cell_id}.json",
    log:
        "logs/{study}/cells/{cell_id}.log",
    threads: cell_resource("cpus_per_task")
    resources:
        runtime=cell_resource("runtime"),
        mem_mb=cell_resource("mem_mb"),
        cpus_per_task=cell_resource("cpus_per_task"),
    params:
        settings=cell_settings,
        # a requeued or preempted long training cell resumes from here (deleted when done)
        checkpoint="results/{study}/checkpoints/{cell_id}.npz",
    shell:
        "rnngrad cell --settings-json {params.settings:q} --cell-id {wildcards.cell_id:q}"
        " --out {output:q} --log {log:q} --checkpoint {params.checkpoint:q}"
