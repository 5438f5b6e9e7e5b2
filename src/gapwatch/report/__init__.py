"""Outputs: the rich terminal verdict, the self-contained HTML report and the published JSON Schemas.

* :func:`gapwatch.report.html.render_html` / :func:`~gapwatch.report.html.write_html` — one self-contained HTML
  file (inline SVG and CSS, no scripts, nothing loaded from the network) for a run or a sweep;
* :func:`gapwatch.report.terminal.render` — one-screen verdict per run, ranked table for sweeps;
* :func:`gapwatch.report.schemas.validate` — check a ``gapwatch.*/1`` JSON document against its schema.

Submodules are imported lazily by their users (the CLI imports the HTML renderer only for ``--html``).
"""
