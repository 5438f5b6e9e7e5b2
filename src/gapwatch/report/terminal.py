"""One-screen rich verdict per run, and a table for sweeps."""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..analysis import Analysis, RunAnalysis
from ..findings import Severity

_STYLE = {Severity.INFO: "cyan", Severity.WARNING: "yellow", Severity.CRITICAL: "bold red"}


def _fmt(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else f"{v:.4g}"
    return str(v)


def verdict_line(r: RunAnalysis) -> Text:
    """The one-line answer: does it overfit, since when, what it cost."""
    if r.error:
        return Text(f"cannot analyse: {r.error}", style="red")
    of = next((f for f in r.findings if f.kind == "overfitting"), None)
    if of is not None:
        ev = of.evidence
        where = f"{r.x} {_fmt(ev.get(f'best_{r.x}'))}"
        return Text.assemble(
            ("OVERFITTING ", _STYLE[of.severity]),
            f"since {where}: {r.monitor.label if r.monitor else ''} got "
            f"{100 * ev.get('relative_degradation', 0):.1f}% worse over the last "
            f"{ev.get('evaluations_after_best')} evaluations ({100 * ev.get('fraction_of_run_after_best', 0):.0f}% "
            "of the run was spent past the best point)",
        )
    worst = r.worst_severity
    if worst is None or worst == Severity.INFO:
        return Text("no overfitting found", style="green")
    return Text(f"no overfitting, but {sum(f.severity != Severity.INFO for f in r.findings)} issue(s) below",
                style="yellow")


def run_panel(r: RunAnalysis) -> Panel:
    parts: list[object] = [verdict_line(r)]
    if r.best and r.monitor:
        parts.append(Text(
            f"best {r.monitor.label} = {_fmt(r.best.get('value'))} at {r.x} {_fmt(r.best.get(r.x))}"
            + (f" (step {_fmt(r.best.get('step'))})" if r.x == "epoch" and r.best.get("step") is not None else ""),
            style="bold"))
    if r.findings:
        t = Table(show_header=True, header_style="bold", expand=True, box=None)
        t.add_column("severity", no_wrap=True)
        t.add_column("kind", no_wrap=True)
        t.add_column(r.x, no_wrap=True)
        t.add_column("finding")
        for f in r.findings:
            t.add_row(Text(f.severity.value, style=_STYLE[f.severity]), f.kind,
                      _fmt(f.epoch if r.x == "epoch" else f.step), Text(f.message))
        parts.append(t)
        actions = list(dict.fromkeys(a for f in r.findings if f.severity != Severity.INFO for a in f.actions))
        if actions:
            parts.append(Text("what to do:", style="bold"))
            for a in actions[:5]:
                parts.append(Text(f"  • {a}"))
    return Panel(Group(*parts), title=Text(r.name), subtitle=Text(r.source or ""), expand=True)  # type: ignore[arg-type]


def render(analysis: Analysis, console: Console | None = None) -> None:
    """Print the verdict of every run (a ranked table first when there are several)."""
    con = console or Console()
    if len(analysis.runs) > 1:
        con.print(sweep_table(analysis))
    for r in analysis.runs[:20]:
        con.print(run_panel(r))
    if len(analysis.runs) > 20:
        con.print(f"... {len(analysis.runs) - 20} more runs (see --json or --html)")


def sweep_table(analysis: Analysis) -> Table:
    t = Table(title=f"{len(analysis.runs)} runs", header_style="bold")
    t.add_column("run")
    t.add_column("best")
    t.add_column("at")
    t.add_column("overfitting cost")
    t.add_column("worst finding")
    def key(r: RunAnalysis) -> float:
        if not r.best or r.best.get("value") is None or not r.monitor:
            return float("inf")
        return r.monitor.sign * float(r.best["value"])
    for r in sorted(analysis.runs, key=key):
        of = next((f for f in r.findings if f.kind == "overfitting"), None)
        cost = f"{100 * of.evidence['relative_degradation']:.1f}%" if of else "-"
        w = r.worst_severity
        t.add_row(Text(r.name), _fmt(r.best.get("value") if r.best else None),
                  _fmt(r.best.get(r.x) if r.best else None), cost,
                  Text(w.value, style=_STYLE[w]) if w else Text("none", style="green"))
    return t
