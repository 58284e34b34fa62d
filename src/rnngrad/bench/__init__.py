"""Benchmarks of the backends, run as ``rnngrad bench``.

The profile bench (:mod:`~rnngrad.bench.profile`: one gradient profile per implementation and
shape, against plain ``torch.nn.RNN``; its summary and table, :mod:`~rnngrad.bench.summary`) and
the training bench (:mod:`~rnngrad.bench.train`: training steps per second against plain PyTorch),
each measuring in worker processes; what both share (:mod:`~rnngrad.bench.common`).

Imports: anything below the commands; only :mod:`rnngrad.cli` imports this package.
"""
