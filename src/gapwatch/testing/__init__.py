"""Generators with known ground truth, for gapwatch's tests and for users' own tests of their pipelines.

* :mod:`gapwatch.testing.synth` — generated training curves of 13 families (overfitting, double descent,
  grokking, memorisation, instability, …) with the onset each detector should report.
* :mod:`gapwatch.testing.samples` — analysed runs, sweeps, findings of every kind, a forecast and an example
  summary, for rendering reports without a log (screenshots, documentation, report tests).

Nothing here is measured data, and nothing in gapwatch's analysis imports it.
"""
