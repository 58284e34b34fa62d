"""One cell, from settings to its record.

The cell runner (:mod:`~rnngrad.run.cell`), the training loop and truncation schedule
(:mod:`~rnngrad.run.loop`), optimizers and clipping (:mod:`~rnngrad.run.optim`), evaluation and
the solved criterion (:mod:`~rnngrad.run.evaluate`), checkpoints
(:mod:`~rnngrad.run.checkpoint`), wall time, FLOPs and memory (:mod:`~rnngrad.run.timing`),
plain PyTorch's speed at a cell's shape (:mod:`~rnngrad.run.plain`), provenance
(:mod:`~rnngrad.run.provenance`) and the record file (:mod:`~rnngrad.run.record`).

Imports: :mod:`rnngrad.core` and the backends through :mod:`rnngrad.backends`; never the study,
report or command layers.
"""
