"""Self-contained HTML report: inline SVG plots (matplotlib), escaped user text, no external resources."""

from __future__ import annotations

import html
import io
from datetime import datetime, timezone
from pathlib import Path

from .. import __version__
from ..analysis import Analysis, RunAnalysis
from ..io import atomic_write_text


def _svg_curves(r: RunAnalysis) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if r.monitor is None:
        return ""
    h = r.history
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
    for split, metric in h.keys():
        if metric != r.monitor.metric:
            continue
        s = h.series(split, metric, x=r.x)
        ax.plot(s.x, s.values, label=f"{split}", lw=1.5 if split == r.monitor.split else 1.0)
    if r.best and r.best.get(r.x) is not None:
        ax.axvline(r.best[r.x], color="green", ls="--", lw=1, label="best")
        ax.scatter([r.best[r.x]], [r.best["value"]], color="green", zorder=5)
    for f in r.findings:
        x = f.epoch if r.x == "epoch" else f.step
        if x is not None and f.kind != "data":
            ax.axvline(x, color="red" if f.severity.value == "critical" else "orange", lw=0.8, alpha=0.6)
    ax.set_xlabel(r.x)
    ax.set_ylabel(r.monitor.metric)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


def render_html(analysis: Analysis) -> str:
    """The report as one HTML string."""
    e = html.escape
    body = []
    for r in analysis.runs:
        items = "".join(
            f"<li class='{e(f.severity.value)}'><b>{e(f.severity.value)}</b> {e(f.kind)}: {e(f.message)}"
            + ("<ul>" + "".join(f"<li>{e(a)}</li>" for a in f.actions) + "</ul>" if f.actions else "")
            + "</li>"
            for f in r.findings
        )
        best = (f"best {e(r.monitor.label)} = {r.best['value']:.5g} at {e(r.x)} {r.best.get(r.x)}"
                if r.best and r.monitor else e(r.error or ""))
        body.append(
            f"<section><h2>{e(r.name)}</h2><p class='src'>{e(r.source)}</p><p>{best}</p>"
            f"<div class='plot'>{_svg_curves(r)}</div><ul class='findings'>{items or '<li>no findings</li>'}</ul>"
            "</section>"
        )
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<title>gapwatch report</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:960px;margin:auto;padding:1em}"
        ".plot svg{max-width:100%;height:auto}.critical{color:#b00}.warning{color:#a60}.src{color:#666}"
        "</style></head><body>"
        f"<h1>gapwatch report</h1><p>gapwatch {e(__version__)}, {now}</p>{''.join(body)}</body></html>"
    )


def write_html(analysis: Analysis, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write the report atomically; refuses to replace an existing file unless ``overwrite``."""
    return atomic_write_text(Path(path), render_html(analysis), overwrite=overwrite)
