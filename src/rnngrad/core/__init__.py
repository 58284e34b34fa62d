"""The numerics' foundation, shared by both backends and everything above them.

Holds a cell's settings (:mod:`~rnngrad.core.settings`), their validation
(:mod:`~rnngrad.core.validation`) and the closed sets of values they take
(:mod:`~rnngrad.core.choices`), the tasks and their data (:mod:`~rnngrad.core.tasks`), the initial
weights and the seeded random streams (:mod:`~rnngrad.core.weights`), the gradient metrics read off
a profile (:mod:`~rnngrad.core.metrics`), the curse-of-memory metric (:mod:`~rnngrad.core.memory`),
what both backends share (:mod:`~rnngrad.core.shared`; the log-scale their backward passes carry
gradients with, :mod:`~rnngrad.core.logscale`), the echo state network's readout
(:mod:`~rnngrad.core.esn`), the mean-field theory of a cell at initialization
(:mod:`~rnngrad.core.theory`) and atomic file writes (:mod:`~rnngrad.core.files`).

Imports: NumPy, SciPy (the mean field's quadrature and root finder; ``linalg`` where the exprnn's
matrix exponential is taken, imported there) and the standard library only, and nothing of
rnngrad outside ``core``; torch is never imported here.
"""
