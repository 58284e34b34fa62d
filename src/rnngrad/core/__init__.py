"""The numerics' foundation, shared by both backends and everything above them.

Holds a cell's settings and their validation (:mod:`~rnngrad.core.settings`), the tasks and
their data (:mod:`~rnngrad.core.tasks`), the initial weights and the seeded random streams
(:mod:`~rnngrad.core.weights`), the gradient metrics read off a profile
(:mod:`~rnngrad.core.metrics`), the curse-of-memory metric (:mod:`~rnngrad.core.memory`),
what both backends share (:mod:`~rnngrad.core.shared`), the
echo state network's readout (:mod:`~rnngrad.core.esn`) and atomic file writes
(:mod:`~rnngrad.core.files`).

Imports: NumPy and the standard library only (and SciPy's ``linalg`` where the exprnn's matrix
exponential is taken, imported there), and nothing of rnngrad outside ``core``; torch is never
imported here.
"""
