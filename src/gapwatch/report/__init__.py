"""Outputs: the rich terminal verdict and the self-contained HTML report.

* :func:`gapwatch.report.html.render_html` / :func:`~gapwatch.report.html.write_html` — one self-contained HTML
  file (inline SVG and CSS, no scripts, nothing loaded from the network) for a run or a sweep;
* :func:`gapwatch.report.terminal.render` — one-screen verdict per run, ranked table for sweeps;
* (JSON documents and their schemas are :mod:`gapwatch.documents`.)

Submodules are imported lazily by their users (the CLI imports the HTML renderer only for ``--html``).
"""
