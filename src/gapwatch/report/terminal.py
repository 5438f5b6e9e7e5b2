"""One-screen rich verdict per run, and a ranked table for sweeps.

A run's panel holds, top to bottom: the verdict headline (coloured by the worst finding), the deciding series
and why it decides (the monitor decision, :mod:`gapwatch.monitor`), the key numbers
(best, final, what training past the best cost, share of the run past the best), a sparkline of the monitored
series with the best point marked, the findings (most severe first, at most :data:`MAX_FINDINGS` rows), and
the recommended actions. User-supplied text (run names, messages) is wrapped in :class:`rich.text.Text`, so
rich markup in a run name is printed literally, never interpreted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..analysis import Analysis, RunAnalysis
from ..findings import Severity
from ..summary import Effect, RunSummary, finding_x, kind_of, summarize_run

if TYPE_CHECKING:
    from ..examples.derive import ExampleAnalysis
    from ..replay import ReplayResult

_STYLE = {Severity.INFO: "cyan", Severity.WARNING: "yellow", Severity.CRITICAL: "bold red"}
_LEVEL_STYLE = {"ok": "green", "info": "cyan", "warning": "yellow", "critical": "bold red", "error": "red"}
#: Findings listed per run panel (the rest are counted).
MAX_FINDINGS = 8
#: Recommended actions listed per run panel.
MAX_ACTIONS = 4
#: Run panels printed after a sweep table (the rest are in --json / --html).
MAX_PANELS = 5
#: Width of the sparkline (characters).
SPARK_WIDTH = 48
_BLOCKS = "▁▂▃▄▅▆▇█"


def _fmt(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return str(int(v)) if v.is_integer() else f"{v:.4g}"
    return str(v)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def sparkline(values: Sequence[float] | np.ndarray, *, width: int = SPARK_WIDTH, mark: int | None = None,
              higher_is_up: bool = True) -> Text:
    """Unicode sparkline of ``values`` resampled to at most ``width`` characters; ``mark`` (an index into
    ``values``) is drawn in green. Non-finite values are drawn as a red ``×``."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return Text("")
    n = min(width, v.size)
    edges = np.linspace(0, v.size, n + 1).astype(int)
    fin = v[np.isfinite(v)]
    lo, hi = (float(fin.min()), float(fin.max())) if fin.size else (0.0, 1.0)
    out = Text()
    mark_cell = None if mark is None else _cell_of(mark, v.size, width)
    for i in range(n):
        chunk = v[edges[i]:max(edges[i + 1], edges[i] + 1)]
        cf = chunk[np.isfinite(chunk)]
        if cf.size < chunk.size or cf.size == 0:
            out.append("×", style="red")
            continue
        c = float(cf.mean())
        lvl = 0 if hi <= lo else int(round((c - lo) / (hi - lo) * (len(_BLOCKS) - 1)))
        ch = _BLOCKS[lvl]
        out.append(ch, style="bold green" if i == mark_cell else "blue")
    return out


def _cell_of(index: int, n: int, width: int = SPARK_WIDTH) -> int:
    """The sparkline character that shows evaluation ``index`` of ``n`` (see :func:`sparkline`)."""
    cells = min(width, n)
    edges = np.linspace(0, n, cells + 1).astype(int)
    return int(min(max(np.searchsorted(edges, index, side="right") - 1, 0), cells - 1))


def verdict_line(r: RunAnalysis, s: RunSummary | None = None) -> Text:
    """The one-line answer: does it overfit, since when, what it cost."""
    s = s or r.summary or summarize_run(r)
    return Text(s.headline, style=_LEVEL_STYLE.get(s.level, ""))


def deciding_line(r: RunAnalysis) -> Text | None:
    """``decided by eval_wer (task metric wer beside loss)``: the series that judges the run and why (None when
    the run has no monitor decision)."""
    d = r.decision
    if d is None or not r.history.has(d.monitor.split, d.monitor.metric):
        return None
    name = r.history.series(d.monitor.split, d.monitor.metric).name
    return Text.assemble(("decided by ", "dim"), (name, "bold"), (f" ({d.reason})", "dim"))


def run_panel(r: RunAnalysis, s: RunSummary | None = None) -> Panel:
    """One run: verdict, key numbers, sparklines of the monitored series, findings and what to do."""
    s = s or r.summary or summarize_run(r)
    parts: list[RenderableType] = [verdict_line(r, s)]
    decides = deciding_line(r)
    if decides is not None:
        parts.append(decides)
    if r.monitor is not None and s.best_value is not None:
        parts += [_numbers_line(r, s), *_sparklines(r)]
    if r.findings:
        parts += _findings_parts(r)
    return Panel(Group(*parts), title=Text(r.name), subtitle=Text(r.source or ""), expand=True,
                 border_style=_LEVEL_STYLE.get(s.level, ""))


def _numbers_line(r: RunAnalysis, s: RunSummary) -> Text:
    return Text.assemble(
        ("best ", "dim"), (_fmt(s.best_value), "bold green"), f" @ {r.x} {_fmt(s.best_x)}", (" · ", "dim"),
        ("final ", "dim"), (_fmt(s.final_value), "bold"), (" · ", "dim"),
        ("cost ", "dim"), (("+" if s.cost else "") + _pct(s.cost), "bold red" if (s.cost or 0) >= 0.01 else "bold"),
        (" · ", "dim"), (f"{100 * s.past_best:.0f}%" if s.past_best is not None else "-", "bold"),
        (" past best", "dim"))


def _sparklines(r: RunAnalysis) -> list[RenderableType]:
    """The monitored series (best marked) and the training series of the same metric, as sparklines."""
    if r.monitor is None:
        return []
    ser = r.history.series(r.monitor.split, r.monitor.metric)
    sx, vals = ser.x, ser.values
    fin = np.isfinite(vals)
    mark = int(np.argmin(np.where(fin, r.monitor.sign * vals, np.inf))) if fin.any() else None
    span = f"  {r.x} {_fmt(float(sx[0]) if sx.size else None)}–{_fmt(float(sx[-1]) if sx.size else None)}"
    label_w = max(12, len(r.monitor.label) + 1, len("train_" + r.monitor.metric) + 1)
    out: list[RenderableType] = [
        Text.assemble((f"{r.monitor.label:<{label_w}}", "dim"), sparkline(vals, mark=mark), (span, "dim"))]
    if mark is not None:
        out.append(Text.assemble(" " * (label_w + _cell_of(mark, vals.size)), ("▲ best", "green")))
    if r.history.has("train", r.monitor.metric):
        tv = r.history.series("train", r.monitor.metric, x=r.x).values
        out.append(Text.assemble((f"{'train_' + r.monitor.metric:<{label_w}}", "dim"), sparkline(tv)))
    return out


def _findings_parts(r: RunAnalysis) -> list[RenderableType]:
    """The findings table (at most :data:`MAX_FINDINGS` rows) and the recommended actions."""
    t = Table(show_header=True, header_style="bold", expand=True, box=None, pad_edge=False)
    t.add_column("#", no_wrap=True, justify="right")
    t.add_column("severity", no_wrap=True)
    t.add_column("kind", no_wrap=True)
    t.add_column(r.x, no_wrap=True, justify="right")
    t.add_column("finding", ratio=1)
    for i, f in enumerate(r.findings[:MAX_FINDINGS], 1):
        t.add_row(str(i), Text(f.severity.value, style=_STYLE[f.severity]), Text(kind_of(f)),
                  _fmt(finding_x(f, r.x)), Text(f.message))
    parts: list[RenderableType] = [t]
    if len(r.findings) > MAX_FINDINGS:
        parts.append(Text(f"… {len(r.findings) - MAX_FINDINGS} more finding(s) in --json / --html", style="dim"))
    actions = list(dict.fromkeys(a for f in r.findings if f.severity != Severity.INFO for a in f.actions))
    if actions:
        parts.append(Text("what to do:", style="bold"))
        todo = Table.grid(padding=(0, 1))
        todo.add_column(no_wrap=True)
        todo.add_column(ratio=1)
        for a in actions[:MAX_ACTIONS]:
            todo.add_row("  •", Text(a))
        parts.append(todo)
    return parts


def sweep_table(analysis: Analysis, summaries: list[RunSummary] | None = None) -> Table:
    """Runs ranked by best monitored value (runs that cannot be analysed last), with the overfitting cost."""
    summaries = summaries or [r.summary or summarize_run(r) for r in analysis.runs]
    t = Table(title=f"{len(analysis.runs)} runs, ranked by best value", header_style="bold")
    t.add_column("#", justify="right")
    t.add_column("run", overflow="fold")
    t.add_column("monitor")
    t.add_column("best", justify="right")
    t.add_column("at", justify="right")
    t.add_column("cost", justify="right")
    t.add_column("past best", justify="right")
    t.add_column("verdict")

    def key(s: RunSummary) -> tuple[int, float]:
        if s.best_value is None:
            return (1, 0.0)
        return (0, (1.0 if s.mode == "min" else -1.0) * s.best_value)

    for i, (r, s) in enumerate(sorted(zip(analysis.runs, summaries), key=lambda t: key(t[1])), 1):
        verdict = ("overfits (earlier launch)" if s.overfitting is not None
                   and s.overfitting.evidence.get("earlier_launch") else
                   "overfits" if s.overfitting is not None else
                   "error" if s.level == "error" else
                   (s.worst.value if s.worst and s.worst != Severity.INFO else "ok"))
        t.add_row(str(i), Text(r.name), Text(s.label), _fmt(s.best_value), _fmt(s.best_x),
                  Text(_pct(s.cost), style="red" if (s.cost or 0) >= 0.01 else ""), _pct(s.past_best),
                  Text(verdict, style=_LEVEL_STYLE.get(s.level, "")))
    return t


def sweep_footer(summaries: list[RunSummary], effects: Sequence[Effect] = ()) -> list[Text]:
    """One line with the overfitting count and one with the hyperparameters most associated with it (the
    analysis' ``effects``; Holm-adjusted p < 0.05)."""
    n_over = sum(1 for s in summaries if s.overfitting is not None)
    lines = [Text(f"{n_over} of {len(summaries)} runs overfit", style="bold")]
    effects = [e for e in effects if e.kind == "numeric" and e.p_holm is not None and e.p_holm < 0.05]
    if effects:
        desc = ", ".join(f"{e.name} (ρ = {e.rho:+.2f})" for e in effects[:3])
        lines.append(Text(f"hyperparameters that go with overfitting cost: {desc}"))
    return lines


def render(analysis: Analysis, console: Console | None = None) -> None:
    """Print the verdict of every run (a ranked table first when there are several)."""
    con = console or Console()
    summaries = [r.summary or summarize_run(r) for r in analysis.runs]
    if len(analysis.runs) > 1:
        con.print(sweep_table(analysis, summaries))
        for line in sweep_footer(summaries, analysis.effects):
            con.print(line)
        # show the panels of the runs that need attention most
        def urgency(i: int) -> tuple[int, float]:
            w = summaries[i].worst
            return (-(w.rank if w is not None else -1), -(summaries[i].cost or 0.0))

        order = sorted(range(len(summaries)), key=urgency)
        for i in order[:MAX_PANELS]:
            con.print(run_panel(analysis.runs[i], summaries[i]))
        if len(analysis.runs) > MAX_PANELS:
            con.print(Text(f"… {len(analysis.runs) - MAX_PANELS} more run panels (see --json or --html)", style="dim"))
        return
    for r, s in zip(analysis.runs, summaries):
        con.print(run_panel(r, s))


def render_analysis(analysis: Analysis, html: Path | None = None, console: Console | None = None) -> None:
    """What ``gapwatch analyze`` prints: :func:`render`, then where the HTML report went (when written)."""
    con = console or Console()
    render(analysis, con)
    if html is not None:
        con.print(Text.assemble("report written to ", (str(html), "bold")))


def format_guard_event(event: object) -> str | None:
    """One rich-markup line for a live-guard event (:data:`gapwatch.guard.GuardEvent`), or None for events
    that are not printed (a decision to continue). Names, messages and metric names come from the user's
    code, so they are markup-escaped and stripped of control characters (``val_loss[/]`` prints as is)."""
    from rich.markup import escape

    from ..guard import FindingEvent, RestoreEvent, StopEvent, _where

    def safe(s: object) -> str:
        return escape("".join(c if c.isprintable() else "?" for c in str(s)))

    head = "[bold]gapwatch[/bold]"
    if isinstance(event, FindingEvent):
        f = event.finding
        style = _STYLE.get(f.severity, "")
        act = f" → {safe(f.actions[0])}" if f.actions else ""
        return (f"{head} [{style}]{f.severity.value}: {safe(f.kind)}[/{style}]{_where(f.step, f.epoch)}: "
                f"{safe(f.message)}{act}")
    if isinstance(event, StopEvent):
        return (f"{head} stop at evaluation {event.evaluation}{_where(event.step, event.epoch)}: "
                f"{safe(event.message)}; best {safe(event.metric)} = {event.best_value:.6g} at evaluation "
                f"{event.best_index}{_where(event.best_step, event.best_epoch)}")
    if isinstance(event, RestoreEvent):
        value = "" if event.value is None else f" ({event.value:.6g})"
        return (f"{head} restored the best weights: evaluation {event.index}{value}"
                f"{_where(event.step, event.epoch)}, kept in {event.where}")
    return None


# ---------------------------------------------------------------------------------------------- examples
def render_examples(a: ExampleAnalysis, path: Path, top: int = 20, console: Console | None = None) -> None:
    """What ``gapwatch examples TABLE`` prints: counts, the most suspicious examples, the prunable ones."""
    con = console or Console()
    con.print(f"[bold]{path}[/]: {a.n} examples × {a.n_epochs} epochs (early window: first {a.early})")
    if not a.cutoff_reliable:
        con.print(f"[yellow]warning:[/] the {a.default_score} scores show no separate group of suspicious "
                  f"examples (separability {a.separability:.2f}); the ranking is still informative, the cut-off "
                  "is not")
    con.print(f"likely mislabelled: [bold red]{a.likely_mislabeled.size}[/] ({a.cutoff_rule}); "
              f"memorised: {a.memorized.size}; hard: {a.hard.size}; prunable: {a.prunable.size}")
    t = Table(title=Text(f"most suspicious (by {a.default_score})"))
    for c in ("rank", "index", a.default_score, "label", "suggested", "forgetting"):
        t.add_column(c, justify="right")
    pos = {int(i): p for p, i in enumerate(a.index.tolist())}
    for r, i in enumerate(a.likely_mislabeled[:top].tolist(), 1):
        p = pos[int(i)]
        f = a.scores.get("forgetting")
        t.add_row(str(r), str(i), f"{a.scores[a.default_score][p]:.3f}",
                  "-" if a.label is None else str(int(a.label[p])),
                  str(a.suggested_relabel.get(int(i), "-")), "-" if f is None else f"{f[p]:g}")
    con.print(t)
    if a.prunable.size:
        con.print(f"easiest (prunable) first: {', '.join(str(int(i)) for i in a.prunable[:top])}")
    con.print("scores: " + ", ".join(f"{k} ({'higher' if d == 'high' else 'lower'} = more suspicious)"
                                     for k, d in ((k, _dir(k)) for k in a.scores)))


def _dir(name: str) -> str:
    from ..examples.derive import DIRECTIONS

    return str(DIRECTIONS.get(name, "high"))


# ---------------------------------------------------------------------------------------------- replay
def _at(d: Mapping[str, Any] | None) -> str:
    if d is None:
        return "—"
    parts = []
    if d.get("epoch") is not None:
        parts.append(f"epoch {d['epoch']:g}")
    if d.get("step") is not None:
        parts.append(f"step {d['step']}")
    return ", ".join(parts) or "—"


def render_replay(results: Sequence[ReplayResult], console: Console | None = None) -> None:
    """What ``gapwatch replay`` prints: per run, where the online policy would have stopped and what it restores."""
    t = Table(title="gapwatch replay — online stop policy", show_lines=False)
    for col in ("run", "monitor", "seen / logged", "stop at", "restore", "reason"):
        t.add_column(col)
    for r in results:
        if r.error:
            t.add_row(Text(r.name), "—", "0", "—", "—", Text("no held-out series", style="red"))
            continue
        mon_s = f"{r.monitor.label} ({r.monitor.mode})" if r.monitor else "—"
        rest = _at(r.restore) + (f" = {r.restore_value:.6g}" if r.restore_value is not None else "")
        stop = Text(_at(r.stop)) if r.stop is not None else Text("never (trains to the end)", style="green")
        t.add_row(Text(r.name), Text(mon_s), f"{r.seen} / {r.total}", stop, rest, Text(r.reason))
    (console or Console()).print(t)


# ---------------------------------------------------------------------------------------------- series
def render_series(rows: Sequence[Mapping[str, Any]], console: Console | None = None) -> None:
    """What ``gapwatch series`` prints: one row per logged name and how gapwatch read it."""
    t = Table(title="how gapwatch read the logged names", header_style="bold")
    for col in ("run", "name", "role", "split", "metric", "mode"):
        t.add_column(col)
    for r in rows:
        style = "" if r.get("role") == "metric" else "dim"
        cells = ("run", "name", "role", "split", "metric", "mode")
        t.add_row(*(Text(str(r.get(c) or "—"), style=style) for c in cells))
    (console or Console()).print(t)
