"""What a study shows: derived tables, verdicts, figures and the HTML pages.

Derived tables (:mod:`~rnngrad.report.analysis`, with :mod:`~rnngrad.report.analysis_training`
and :mod:`~rnngrad.report.analysis_theory`), published claims and their verdicts
(:mod:`~rnngrad.report.claims`, with the verdict machinery in :mod:`~rnngrad.report.verdicts`
and the checks in :mod:`~rnngrad.report.invariants` and :mod:`~rnngrad.report.reproductions`),
the figures (:mod:`~rnngrad.report.figures`: the registry; the plots in
:mod:`~rnngrad.report.fig_gradients`, :mod:`~rnngrad.report.fig_theory` and
:mod:`~rnngrad.report.fig_training`) with their style (:mod:`~rnngrad.report.figstyle`) and
captions (:mod:`~rnngrad.report.captions`), the page's data (:mod:`~rnngrad.report.pagedata`)
and interactive charts (:mod:`~rnngrad.report.charts`), the report
(:mod:`~rnngrad.report.page`) with its embedded figures (:mod:`~rnngrad.report.images`) and the
comparison of studies (:mod:`~rnngrad.report.compare`).

Imports: :mod:`rnngrad.core`, :mod:`rnngrad.run` (provenance) and :mod:`rnngrad.study` (the
tables); ``analysis*``, ``claims`` and the claims' modules import no matplotlib, and nothing
here chooses a matplotlib backend.
"""
