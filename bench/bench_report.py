"""Time report rendering: analysis vs HTML rendering vs terminal rendering for generated sweeps, and for
comparison one matplotlib SVG figure per run (the first report's approach).

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/bench_report.py`` (prints markdown table rows; needs matplotlib,
which is a benchmark-only dependency: ``pip install matplotlib``).
"""

from __future__ import annotations

import io
import time
from typing import Any

from gapwatch.analysis import Analysis, analyze
from gapwatch.testing.samples import sweep_history


def bench(sizes: tuple[int, ...] = (50, 200), repeats: int = 3) -> list[str]:
    """Markdown table rows: seconds to analyse, render HTML, render the terminal report, and draw matplotlib."""
    from rich.console import Console

    from gapwatch.report.html import render_html
    from gapwatch.report.terminal import render

    def best_of(fn: Any) -> float:
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        return min(ts)

    rows = ["| runs | analyze (s) | HTML render (s) | HTML size (kB) | terminal render (s) | "
            "matplotlib SVG, one figure per run (s) |", "|---:|---:|---:|---:|---:|---:|"]
    for n in sizes:
        h = sweep_history(n)
        t0 = time.perf_counter()
        a = analyze(h, forecast=False, examples=False)
        t_an = time.perf_counter() - t0
        t_html = best_of(lambda a=a: render_html(a))
        size = len(render_html(a).encode()) / 1e3
        t_term = best_of(lambda a=a: render(a, Console(file=io.StringIO(), width=120)))
        t_mpl = best_of(lambda a=a: _matplotlib_figures(a))
        rows.append(f"| {n} | {t_an:.2f} | {t_html:.2f} | {size:.0f} | {t_term:.2f} | {t_mpl:.2f} |")
    return rows


def _matplotlib_figures(a: Analysis) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for r in a.runs:
        if r.monitor is None:
            continue
        fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
        for split, metric in r.history.keys():  # noqa: SIM118 - a History, not a dict
            if metric == r.monitor.metric:
                s = r.history.series(split, metric, x=r.x)
                ax.plot(s.x, s.values, label=split)
        ax.legend()
        buf = io.StringIO()
        fig.savefig(buf, format="svg")
        plt.close(fig)


if __name__ == "__main__":
    print("\n".join(bench()))
