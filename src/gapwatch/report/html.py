"""Self-contained HTML report: one file, inline static SVG, inline CSS, no scripts, no external resources.

Layout of a single run: a verdict banner (the answer in one line) with the deciding series and why it decides
under it, key numbers (best, final, what training past the best cost, share of the run spent past the best),
the monitored curves of every split with the best point, the overfitting onset and numbered markers for every
finding, the held-out loss and the task metric on one chart with two y axes (when the run logs both), one
small chart per held-out set on a shared x axis (when it has several; the sets that regressed are marked),
the generalisation gap over time, the other metrics, a forecast band when the run carries a ``forecast``
entry, a per-example section when it carries ``examples``, and the findings with evidence, actions and
references.

A sweep (several runs) adds an overview first: runs ranked by best value and by overfitting cost, small
multiples of every run's curves, and which hyperparameters go with overfitting (``History.meta``); every run's
full section follows, collapsed.

Safety: every string that comes from a user file (run names, sources, metric and split names, finding
messages, evidence keys and values, hyperparameters, example metadata) is escaped with :func:`esc`; thumbnails
are only embedded after their bytes decode as base64 PNG. The document loads nothing: no ``<script>``, no
external stylesheet, font or image (images are ``data:`` URIs).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .. import __version__
from ..analysis import Analysis, RunAnalysis
from ..findings import Finding, FindingKind, Severity
from ..io import atomic_write_text
from ..summary import Effect, RunSummary, finding_x, kind_of, summarize_run
from .svg import Chart, esc, fmt_num, histogram_chart

if TYPE_CHECKING:
    from ..examples.summary import ExampleSummary
    from ..forecast.core import Forecast
    from ..monitor import Monitor

#: Most runs whose full section is included in a sweep report (the overview always covers every run).
MAX_DETAILED_RUNS = 200
#: Other (non-monitored) metrics drawn per run.
MAX_OTHER_METRICS = 4
#: Rows of the most-suspicious-examples table.
MAX_EXAMPLE_ROWS = 20
#: Largest thumbnail accepted (bytes after base64 decoding).
MAX_THUMBNAIL_BYTES = 256 * 1024
#: Evidence entries that are long series are summarised instead of printed (values).
MAX_EVIDENCE_LIST = 8

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_B64 = re.compile(r"^[A-Za-z0-9+/\s]*={0,2}\s*$")

CSS = """
:root{--fg:#1d2330;--mut:#5b6577;--bg:#f6f7f9;--card:#fff;--line:#e3e6eb;--crit:#c62828;--warn:#b35c00;
--info:#1565c0;--ok:#2e7d32;--train:#8a94a6;--val:#1f6feb;--test:#8250df;--h0:#0f9d8a;--h1:#d9480f;
--h2:#c2255c;--h3:#5c940d;--best:#2e9e44}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);
background:var(--bg)}
main{max-width:1040px;margin:0 auto;padding:16px}
header.top{display:flex;flex-wrap:wrap;align-items:baseline;justify-content:space-between;gap:4px 16px;
margin-bottom:10px}
header.top h1{font-size:20px;margin:0}
header.top .meta{color:var(--mut);font-size:13px}
h2{font-size:19px;margin:0;overflow-wrap:anywhere}
h3{font-size:15px;margin:18px 0 6px;color:var(--fg)}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px;margin:0 0 16px}
.src{color:var(--mut);font-size:12.5px;overflow-wrap:anywhere;margin:2px 0 8px}
.verdict{border-radius:8px;padding:10px 12px;font-weight:600;font-size:16px;margin:8px 0 12px;
border-left:6px solid var(--ok);background:#eef7ef}
.verdict.critical{border-color:var(--crit);background:#fdecec}.verdict.warning{border-color:var(--warn);
background:#fff4e5}.verdict.info{border-color:var(--info);background:#e9f1fb}.verdict.error{border-color:#666;
background:#eee}
.verdict small{display:block;font-weight:400;font-size:13.5px;color:var(--mut);margin-top:2px}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(130px,1fr));gap:8px;margin:0 0 10px}
.kpi{border:1px solid var(--line);border-radius:8px;padding:6px 10px}
.kpi b{display:block;font-size:18px}.kpi span{font-size:12px;color:var(--mut)}
.kpi.bad b{color:var(--crit)}.kpi.good b{color:var(--ok)}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12.5px;color:var(--mut);margin:4px 0}
.legend i{display:inline-block;width:18px;height:0;border-top:3px solid;vertical-align:middle;margin-right:5px}
.legend i.dash{border-top-style:dashed}.legend i.box{height:10px;border:0;opacity:.5}
.legend i.star{border:0;width:auto;height:auto;color:var(--best);font-style:normal;font-size:14px;margin-right:3px;
vertical-align:baseline;line-height:1}
.grid2{display:grid;grid-template-columns:repeat(auto-fill,minmax(max(280px,calc(50% - 18px)),1fr));gap:10px 18px}
svg.chart{width:100%;height:auto;display:block;font-size:11.5px}
svg .plotbg{fill:#fff}svg .frame{stroke:#c9ced6;stroke-width:1}
svg .grid{stroke:#eef0f3;stroke-width:1}svg .tick{fill:#6b7385;font-size:11px}
svg .axlabel{fill:#4b5467;font-size:12px}svg .zero{stroke:#9aa3b2;stroke-width:1;stroke-dasharray:3 3}
svg polyline{stroke-linejoin:round;stroke-linecap:round}
svg .s-train{stroke:var(--train);fill:var(--train)}svg .s-val{stroke:var(--val);fill:var(--val)}
svg .s-test{stroke:var(--test);fill:var(--test)}svg .s-h0{stroke:var(--h0);fill:var(--h0)}
svg .s-h1{stroke:var(--h1);fill:var(--h1)}svg .s-h2{stroke:var(--h2);fill:var(--h2)}
svg .s-h3{stroke:var(--h3);fill:var(--h3)}svg polyline.s-train,svg polyline.s-val,svg polyline.s-test,
svg polyline.s-h0,svg polyline.s-h1,svg polyline.s-h2,svg polyline.s-h3{fill:none}
svg .best{fill:var(--best);stroke:#fff;stroke-width:1}
svg .onset{stroke:var(--crit);stroke-width:1.4;stroke-dasharray:5 3}svg .onset-t{fill:var(--crit);font-size:11px}
svg .schedline{stroke:var(--mut);stroke-width:1;stroke-dasharray:1 3}svg .schedline-t{fill:var(--mut);font-size:10px}
svg .bestline{stroke:var(--best);stroke-width:1.2;stroke-dasharray:2 3}svg .bestline-t{fill:var(--best);font-size:11px}
svg .zone{fill:var(--crit);opacity:.07}svg .fczone{fill:var(--val);opacity:.05}
svg .fc-band{fill:var(--val);opacity:.18;stroke:none}svg polyline.fc-med{stroke:var(--val);fill:none}
svg .fc-best{fill:#f3c400;opacity:.25}
svg .gap{stroke:var(--crit);fill:none}svg .gapfill{fill:var(--crit);opacity:.12;stroke:none}
svg .nanmark{stroke:var(--crit);stroke-width:1.6}
svg .badge circle{stroke:#fff;stroke-width:1.2}svg .badge text{fill:#fff;font-size:10px;font-weight:700}
svg .badge line{stroke-width:1;stroke-dasharray:2 2;opacity:.55}
svg .sev-critical circle{fill:var(--crit)}svg .sev-critical line{stroke:var(--crit)}
svg .sev-warning circle{fill:var(--warn)}svg .sev-warning line{stroke:var(--warn)}
svg .sev-info circle{fill:var(--info)}svg .sev-info line{stroke:var(--info)}
svg .hist{fill:var(--val);opacity:.8}svg .cutoff{stroke:var(--crit);stroke-dasharray:4 3}
svg .axis2,svg .tickmark2{stroke:#c9ced6;stroke-width:1}svg .keytext{fill:#4b5467;font-size:11.5px}
svg text.t-val{fill:var(--val)}svg text.t-h1{fill:var(--h1)}svg line.t-val{stroke:var(--val)}
svg line.t-h1{stroke:var(--h1)}svg .bestmark{stroke:#fff;stroke-width:1}
svg .best2line{stroke:var(--h1);stroke-width:1.2;stroke-dasharray:2 3}svg .best2line-t{fill:var(--h1);font-size:11px}
.decides{font-size:13.5px;color:var(--mut);margin:-4px 0 12px}.decides b{color:var(--fg)}
.sets{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:8px 12px}
.setm{margin:0;border:1px solid var(--line);border-top:4px solid var(--ok);border-radius:6px;padding:4px 6px}
.setm.deciding{border-top-color:var(--val)}.setm.regressed{border-top-color:var(--crit)}
.setm figcaption{font-size:12px;overflow-wrap:anywhere}.setm figcaption .st{color:var(--mut)}
.setm.regressed figcaption .st{color:var(--crit);font-weight:600}
svg.compact .plotbg{fill:#fbfbfc}
.note{font-size:12.5px;color:var(--mut);margin:4px 0}
ol.findings{list-style:none;padding:0;margin:0}
ol.findings>li{border:1px solid var(--line);border-left:5px solid var(--info);border-radius:8px;padding:8px 12px;
margin:0 0 8px}
ol.findings>li.critical{border-left-color:var(--crit)}ol.findings>li.warning{border-left-color:var(--warn)}
.fhead{display:flex;flex-wrap:wrap;gap:6px;align-items:center}
.num{display:inline-block;min-width:20px;height:20px;border-radius:10px;color:#fff;font-size:11.5px;font-weight:700;
text-align:center;line-height:20px;padding:0 5px;background:var(--info)}
.num.critical{background:var(--crit)}.num.warning{background:var(--warn)}
.sev{font-size:11px;text-transform:uppercase;letter-spacing:.04em;font-weight:700;color:var(--info)}
.sev.critical{color:var(--crit)}.sev.warning{color:var(--warn)}
.kind{font-weight:600}.where{color:var(--mut);font-size:13px}
.msg{margin:4px 0;overflow-wrap:anywhere}
details.more summary{cursor:pointer;color:var(--mut);font-size:13px}
dl.ev{display:grid;grid-template-columns:max-content 1fr;gap:1px 12px;font-size:12.5px;margin:6px 0}
dl.ev dt{color:var(--mut)}dl.ev dd{margin:0;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
ul.actions{margin:4px 0 2px 0;padding-left:20px}ul.refs{margin:2px 0;padding-left:20px;font-size:12.5px;
color:var(--mut)}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-size:12px;color:var(--mut);font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums;
white-space:nowrap}
td.run{overflow-wrap:anywhere;max-width:320px}
.tablewrap{overflow-x:auto}
.bar{display:inline-block;height:8px;border-radius:4px;background:var(--crit);opacity:.75;vertical-align:middle;
margin-right:6px}
.bar.neg{background:var(--ok)}
.pill{display:inline-block;border-radius:9px;padding:0 7px;font-size:11.5px;font-weight:600;color:#fff;
background:var(--ok)}
.pill.critical{background:var(--crit)}.pill.warning{background:var(--warn)}.pill.info{background:var(--info)}
.pill.error{background:#777}
.multiples{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:8px}
.mult{border:1px solid var(--line);border-top:4px solid var(--ok);border-radius:6px;padding:4px 6px;
color:inherit;text-decoration:none;display:block;background:#fff}
.mult.critical{border-top-color:var(--crit)}.mult.warning{border-top-color:var(--warn)}
.mult.info{border-top-color:var(--info)}.mult.error{border-top-color:#777}
.mult .t{font-size:11.5px;font-weight:600;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.mult .s{font-size:11px;color:var(--mut)}
.tiles{display:flex;flex-wrap:wrap;gap:8px}.tiles .kpi{min-width:120px}
.thumbs{display:flex;flex-wrap:wrap;gap:8px}
.thumbs figure{margin:0;text-align:center;font-size:11px;color:var(--mut)}
.thumbs img{width:56px;height:56px;image-rendering:pixelated;border:1px solid var(--line);border-radius:4px}
section.run>details>summary{cursor:pointer;list-style:none}
section.run>details>summary::-webkit-details-marker{display:none}
section.run>details>summary h2:before{content:"\\25B8  ";color:var(--mut)}
section.run>details[open]>summary h2:before{content:"\\25BE  "}
footer{color:var(--mut);font-size:12px;text-align:center;margin:20px 0}
@media (max-width:600px){main{padding:8px}.card{padding:10px;border-radius:8px}body{font-size:14px}
.verdict{font-size:15px}.kpi b{font-size:16px}svg.chart{font-size:13px}.grid2{grid-template-columns:1fr}
th,td{padding:3px 5px}.hide-s{display:none}td .bar{display:none}td.run{min-width:9em}
svg.wide .tick{font-size:19px}svg.wide .axlabel{font-size:20px}svg.wide .vlabel{font-size:18px}}
@media print{body{background:#fff;font-size:11pt}main{max-width:none;padding:0}
.card{break-inside:avoid;border-color:#bbb;box-shadow:none}section.run:has(>details[open]){break-before:page}
section.run:first-of-type{break-before:auto}section.run{break-inside:auto}a{color:inherit;text-decoration:none}
.multiples{grid-template-columns:repeat(5,1fr)}.sets{grid-template-columns:repeat(3,1fr)}.verdict,.pill,.num,.bar{-webkit-print-color-adjust:exact;
print-color-adjust:exact}}
"""


# ---------------------------------------------------------------------------------------------- helpers
def _split_class(split: str, monitored: str, others: list[str]) -> str:
    if split in ("train", "val", "test"):
        return f"s-{split}"
    if split == monitored:
        return "s-val"
    if split not in others:
        others.append(split)
    return f"s-h{others.index(split) % 4}"


def _anchor(i: int) -> str:
    return f"run-{i}"


def _pct(v: float | None, digits: int = 1) -> str:
    return "–" if v is None else f"{100 * v:.{digits}f}%"


def _fx(v: Any) -> str:
    return fmt_num(v, 4)


def _legend(items: Sequence[tuple[str, str, str]]) -> str:
    """``(css colour var, style, label)`` → HTML legend (style: line, dash, box, star)."""
    parts = []
    for color, style, label in items:
        if style == "star":
            parts.append(f'<span><i class="star">&#9733;</i>{esc(label)}</span>')
        elif style == "box":
            parts.append(f'<span><i class="box" style="background:{color}"></i>{esc(label)}</span>')
        else:
            cls = ' class="dash"' if style == "dash" else ""
            parts.append(f'<span><i{cls} style="border-color:{color}"></i>{esc(label)}</span>')
    return '<div class="legend">' + "".join(parts) + "</div>"


_SPLIT_COLOR = {"s-train": "var(--train)", "s-val": "var(--val)", "s-test": "var(--test)", "s-h0": "var(--h0)",
                "s-h1": "var(--h1)", "s-h2": "var(--h2)", "s-h3": "var(--h3)"}


class _Curves:
    """The run's series on its x axis, read from the run's (memoised) lookup index."""

    def __init__(self, r: RunAnalysis) -> None:
        self.h, self.x = r.history, r.x

    def keys(self) -> list[tuple[str, str]]:
        return self.h.keys()

    def has(self, split: str, metric: str) -> bool:
        return self.h.has(split, metric)

    def get(self, split: str, metric: str) -> tuple[np.ndarray, np.ndarray, str]:
        """``(x, values, original name)``, shapes ``(n,)``."""
        s = self.h.series(split, metric, x=self.x)
        return s.x, s.values, s.name

    def splits_of(self, metric: str) -> list[str]:
        """Splits that logged ``metric``: train first, then val, then the others in order of appearance."""
        order = {"train": 0, "val": 1}
        return sorted((sp for sp, m in self.keys() if m == metric), key=lambda sp: order.get(sp, 2))

    def aligned(self, metric: str, base: str, other: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x, base values, other values)`` on the finite x of ``base``; each ``other`` value is the last one
        logged at or before that x (NaN when none)."""
        bx, bv, _ = self.get(base, metric)
        ox, ov, _ = self.get(other, metric)
        keep = np.isfinite(bx)
        bx, bv = bx[keep], bv[keep]
        ok = np.isfinite(ox)
        order = np.argsort(ox[ok], kind="stable")
        ox, ov = ox[ok][order], ov[ok][order]
        pos = np.searchsorted(ox, bx, side="right") - 1
        matched = np.where(pos >= 0, ov[np.clip(pos, 0, max(ov.size - 1, 0))] if ov.size else np.nan, np.nan)
        return bx, bv, np.asarray(matched, dtype=float)


def _curves(r: RunAnalysis, s: RunSummary) -> _Curves:
    return _Curves(r)


def _use_log(values: list[np.ndarray]) -> bool:
    v = np.concatenate([a[np.isfinite(a)] for a in values]) if values else np.array([])
    return bool(v.size > 3 and np.all(v > 0) and v.max() / max(v.min(), 1e-300) > 50)


# ---------------------------------------------------------------------------------------------- run charts
def _monitor(r: RunAnalysis) -> Monitor:
    """The run's monitor; the charts are only drawn for runs that have one (an internal invariant)."""
    if r.monitor is None:  # an internal invariant, not user input
        raise RuntimeError("gapwatch internal error: r.monitor is unset")
    return r.monitor


def main_chart(r: RunAnalysis, s: RunSummary, numbered: Sequence[tuple[int, Finding]]) -> tuple[str, str]:
    """The monitored metric of every split with best point, onset, finding badges and forecast band.

    Returns ``(legend_html, svg)``; the svg is followed by a note when extreme values were clipped."""
    mon = _monitor(r)
    cv = _curves(r, s)
    series = [(sp, cv.get(sp, mon.metric)) for sp in cv.splits_of(mon.metric)]
    logy = _use_log([ser[1] for _, ser in series])
    ch = Chart(width=680, height=290, xlabel=r.x, ylabel=f"{mon.metric}" + (" (log)" if logy else ""), logy=logy,
               aria=f"{r.name}: {mon.metric} per {r.x} for {', '.join(sp for sp, _ in series)}")
    if s.onset_x is not None and s.final_x is not None:
        ch.span(s.onset_x, s.final_x, "zone", title=f"overfitting from {r.x} {_fx(s.onset_x)}")
    fc = _forecast_arrays(r.forecast)
    if fc is not None:
        _draw_forecast(ch, fc, s.final_x, r.x)
    legend = _draw_splits(ch, series, mon.split)
    if fc is not None:
        legend.append(("var(--val)", "box", "forecast 10–90%"))
    legend += _draw_best_and_onset(ch, r, s)
    legend += _draw_schedule_events(ch, r)
    for i, f in numbered:
        ch.badge(finding_x(f, r.x), str(i), f"sev-{f.severity.value}",
                 title=f"#{i} {f.severity.value} {kind_of(f)}: {f.message}")
    if fc is not None and fc[4] is not None:
        legend.append(("#f3c400", "box", "predicted best"))
    svg = ch.render()
    if ch.clipped:
        svg += '<p class="note">Extreme values are clipped so the rest of the curve stays readable.</p>'
    return _legend(legend), svg


#: A drawable forecast: x, 10/50/90% quantiles (each shape ``(h,)``) and the predicted best's 80% x interval.
_ForecastArrays = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[float, float] | None]


def _draw_forecast(ch: Chart, fc: _ForecastArrays, last_x: float | None, xname: str) -> None:
    """The forecast's zone past the last evaluation, its 10–90% band, its median and the predicted best's
    interval (see :func:`_forecast_arrays` for ``fc``)."""
    fx, q10, q50, q90, fbest = fc
    if last_x is not None and fx.size:
        ch.span(last_x, float(fx[-1]), "fczone", title="forecast")
    ch.band(fx, q10, q90, "fc-band", title="forecast 10–90% band")
    ch.line(fx, q50, "fc-med", width=1.6, dash="5 4", title="forecast median")
    if fbest is not None:
        lo, hi = fbest
        ch.span(lo, hi, "fc-best", title=f"predicted best {xname} {_fx(lo)}–{_fx(hi)}")


def _draw_splits(ch: Chart, series: Sequence[tuple[str, tuple[np.ndarray, np.ndarray, str]]],
                 monitored: str) -> list[tuple[str, str, str]]:
    """One line per split of the monitored metric (the monitored split thicker); returns their legend items."""
    others: list[str] = []
    legend = []
    for sp, (sx_, sv_, sname) in series:
        cls = _split_class(sp, monitored, others)
        mon = sp == monitored
        ch.line(sx_, sv_, cls, width=2.4 if mon else 1.5, title=f"{sp} {sname}")
        legend.append((_SPLIT_COLOR[cls], "line", f"{sp}" + (" (monitored)" if mon else "")))
    return legend


def _draw_best_and_onset(ch: Chart, r: RunAnalysis, s: RunSummary) -> list[tuple[str, str, str]]:
    """The best point (a star on a dotted line) and the overfitting onset (a dashed line, unless it is the best
    point); returns their legend items."""
    legend = []
    if s.best_x is not None:
        ch.vline(s.best_x, "bestline", title=f"best at {r.x} {_fx(s.best_x)}", label=f"best {_fx(s.best_x)}",
                 anchor="end")
        ch.point(s.best_x, s.best_value, "best", shape="star", r=5,
                 title=f"best {_monitor(r).label} = {_fx(s.best_value)} at {r.x} {_fx(s.best_x)}")
        legend.append(("var(--best)", "star", "best"))
    if s.onset_x is not None and s.onset_x != s.best_x:
        ch.vline(s.onset_x, "onset", title=f"overfitting onset at {r.x} {_fx(s.onset_x)}",
                 label=f"onset {_fx(s.onset_x)}", anchor="start")
        legend.append(("var(--crit)", "dash", "overfitting onset"))
    return legend


#: Most schedule events drawn on a run's chart (an SGDR run restarts many times; the first ones are labelled).
MAX_DRAWN_EVENTS = 12
_EVENT_WORDS = {"rewarm": "LR re-warm", "drop": "LR drop", "augmentation": "mosaic off"}


def _draw_schedule_events(ch: Chart, r: RunAnalysis) -> list[tuple[str, str, str]]:
    """Deliberate schedule changes (:mod:`gapwatch.schedule`: learning-rate re-warms and drops, ``close_mosaic``)
    as thin grey lines on the run's axis; returns their legend item."""
    from ..schedule import events

    if r.history is None or r.name not in r.history.meta:
        return []
    drawn = 0
    for e in events(r.history, r.name)[:MAX_DRAWN_EVENTS]:
        x = e.step if r.x == "step" else e.epoch
        if not math.isfinite(x):
            continue
        word = _EVENT_WORDS.get(e.kind, e.kind)
        ch.vline(x, "schedline", title=f"{word} at {r.x} {_fx(x)} ({e.name}: {_fx(e.before)} → {_fx(e.after)})",
                 label=word if drawn < 3 else "", anchor="start")
        drawn += 1
    return [("var(--mut)", "dash", "schedule change")] if drawn else []


def _forecast_arrays(fc: Forecast | None) -> _ForecastArrays | None:
    """The forecast's x, 10/50/90% quantiles and the predicted best's 80% interval; None when nothing to draw."""
    if fc is None or not all(k in fc.quantiles for k in ("0.1", "0.5", "0.9")) or np.size(fc.x) == 0:
        return None
    lo, hi = float(fc.best.get("low", math.nan)), float(fc.best.get("high", math.nan))
    bb = (lo, hi) if math.isfinite(lo) and math.isfinite(hi) else None
    return (np.asarray(fc.x, dtype=float), *(np.asarray(fc.quantiles[k], dtype=float)
                                              for k in ("0.1", "0.5", "0.9")), bb)  # type: ignore[return-value]


def _best_index(values: np.ndarray, x: np.ndarray, sign: float) -> int | None:
    """Index of the best finite value (with a finite x) of a series, the first on ties; None when none."""
    ok = np.isfinite(values) & np.isfinite(x)
    if not ok.any():
        return None
    return int(np.argmin(np.where(ok, sign * values, np.inf)))


def _finding_x(ev: Any, xname: str) -> float | None:
    """The ``xname`` position of an evidence point ``{"step", "epoch"}`` (None when absent)."""
    if not isinstance(ev, Mapping):
        return None
    v = ev.get(xname)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def loss_metric_pair(r: RunAnalysis) -> tuple[Monitor, Monitor] | None:
    """``(deciding series, other series)`` for the two-axis chart: the deciding set's task metric and its
    held-out loss (:func:`gapwatch.monitor.companions`), the deciding one first; None unless the run logs both."""
    from ..monitor import companions

    mon = r.monitor
    if mon is None:
        return None
    loss, task = companions(r.history, mon)
    if loss is None or task is None or (loss.split, loss.metric) == (task.split, task.metric):
        return None
    if (mon.split, mon.metric) == (task.split, task.metric):
        return task, loss
    if (mon.split, mon.metric) == (loss.split, loss.metric):
        return loss, task
    return None


def disagreement_chart(r: RunAnalysis, s: RunSummary) -> str:
    """The deciding series (left y axis) and its set's other series — the held-out loss beside a task metric,
    or the reverse — (right y axis) on one chart, each on its own scale, with the best point of each, where they
    diverged (a ``metric_disagreement`` finding's evidence) and a legend inside the SVG; "" when the run does
    not log both."""
    pair = loss_metric_pair(r)
    if pair is None:
        return ""
    dec, oth = pair
    cv = _curves(r, s)
    dx, dv, dname = cv.get(dec.split, dec.metric)
    ox, ov, oname = cv.get(oth.split, oth.metric)
    if not (np.isfinite(dv).any() and np.isfinite(ov).any()):
        return ""
    ch = Chart(width=680, height=270, xlabel=r.x, ylabel=f"{dname} (deciding)", y2label=oname, ycls="t-val",
               y2cls="t-h1", aria=f"{r.name}: {dname} (left axis) and {oname} (right axis) per {r.x}")
    ch.line(dx, dv, "s-val", width=2.4, title=f"{dname} (deciding, left axis)")
    ch.line(ox, ov, "s-h1", width=1.8, dash="6 3", title=f"{oname} (right axis)", axis="right")
    bd, bo = _best_index(dv, dx, dec.sign), _best_index(ov, ox, oth.sign)
    if bd is not None:
        ch.vline(float(dx[bd]), "bestline", title=f"best {dname} at {r.x} {_fx(dx[bd])}",
                 label=f"best {_fx(dx[bd])}", anchor="end")
        ch.point(float(dx[bd]), float(dv[bd]), "best", shape="star", r=5,
                 title=f"best {dname} = {_fx(dv[bd])} at {r.x} {_fx(dx[bd])}")
    if bo is not None:
        same = bd is not None and float(dx[bd]) == float(ox[bo])  # one line and label when both bests coincide
        ch.vline(float(ox[bo]), "best2line", title=f"best {oname} at {r.x} {_fx(ox[bo])}",
                 label="" if same else f"best {_fx(ox[bo])}", anchor="start")
        ch.point(float(ox[bo]), float(ov[bo]), "s-h1 bestmark", shape="diamond", r=4.5, axis="right",
                 title=f"best {oname} = {_fx(ov[bo])} at {r.x} {_fx(ox[bo])}")
    ch.key("s-val", "line", f"{dname} (deciding, left axis)").key("best", "star", "its best")
    ch.key("s-h1", "dash", f"{oname} (right axis)").key("s-h1 bestmark", "diamond", "its best")
    dis = next((f for f in r.findings if f.kind == FindingKind.METRIC_DISAGREEMENT), None)
    note = (f"<p class='note'>{esc(dname)} decides the verdict, the best point and the restore point; "
            f"{esc(oname)} is evidence. Each has its own scale (left and right axis).</p>")
    if dis is not None:
        note = (f"<p class='note'>They disagree: {esc(dis.message)}.</p>" + note)
    return (f"<h3>{esc(dname)} and {esc(oname)} on their own axes</h3>" + ch.render() + note)


class SetPanel(NamedTuple):
    """One held-out set's small multiple: ``heldout_set`` (``"val/b"``), the drawn series' logged ``name``,
    ``status`` (``"deciding"``, ``"regressed"`` or ``"ok"``), a one-line ``note`` and the ``svg``."""

    heldout_set: str
    name: str
    status: str
    note: str
    svg: str


#: Most held-out sets drawn as small multiples (the rest are counted in a note).
MAX_SET_PANELS = 12


def _set_series(r: RunAnalysis) -> list[Monitor]:
    """One series per held-out set, the deciding set first: the deciding series, then on every other set the
    same measure when it logs it, else its task metric (best-ranked), else its loss (``test`` only when test
    decides; per-task accuracies of a continual-learning log are not sets). Every later choice in order of
    appearance."""
    from ..monitor import heldout_roles, role_of

    mon = _monitor(r)
    me = role_of(mon.split, mon.metric)
    chosen: dict[str, tuple[tuple[bool, bool, int, bool], Monitor]] = {}
    for ro in heldout_roles(r.history):
        if ro.heldout_set == me.heldout_set or ro.role not in ("task", "loss"):
            continue
        if ro.split == "test" and mon.split != "test":
            continue
        key = (ro.measure != me.measure, ro.role != "task", ro.rank, ro.qualified)
        cur = chosen.get(ro.heldout_set)
        if cur is None or key < cur[0]:
            chosen[ro.heldout_set] = (key, ro.monitor())
    return [mon] + [m for _, m in chosen.values()]


def _regressed_sets(r: RunAnalysis) -> dict[str, tuple[float | None, float | None]]:
    """``{held-out set: (x it fell behind from, degradation in standard errors)}`` of the sets the findings say
    regressed: every ``heldout_regression`` finding's degraded sets, and the deciding set at the overfitting
    onset when an ``overfitting`` finding judged it."""
    from ..monitor import role_of

    out: dict[str, tuple[float | None, float | None]] = {}
    for f in r.findings:
        if f.kind != FindingKind.HELDOUT_REGRESSION:
            continue
        rows = f.evidence.get("degraded_sets")
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, Mapping) and isinstance(row.get("set"), str):
                z = row.get("degrade_z")
                out.setdefault(row["set"], (_finding_x(row.get("fell_behind"), r.x),
                                            float(z) if isinstance(z, (int, float)) else None))
    of = next((f for f in r.findings if f.kind == FindingKind.OVERFITTING), None)
    if of is not None and r.monitor is not None:
        onset = of.evidence.get(f"onset_{r.x}")
        x = float(onset) if isinstance(onset, (int, float)) and math.isfinite(onset) else finding_x(of, r.x)
        z = of.evidence.get("z")
        out.setdefault(role_of(r.monitor.split, r.monitor.metric).heldout_set,
                       (x, float(z) if isinstance(z, (int, float)) else None))
    return out


def set_panels(r: RunAnalysis, s: RunSummary) -> list[SetPanel]:
    """One small chart per held-out set (see :func:`_set_series`) on one shared x range, each with its best
    point; a set that regressed (:func:`_regressed_sets`) is shaded from where it fell behind. Empty unless the
    run has two or more held-out sets."""
    from ..monitor import role_of

    if r.monitor is None:
        return []
    mons = _set_series(r)
    if len(mons) < 2:
        return []
    cv = _curves(r, s)
    data = [(m, *cv.get(m.split, m.metric)) for m in mons[:MAX_SET_PANELS]]
    xs = np.concatenate([x[np.isfinite(x)] for _, x, _, _ in data])
    xlim = (float(xs.min()), float(xs.max())) if xs.size else None
    regressed = _regressed_sets(r)
    panels = []
    for i, (m, x, v, name) in enumerate(data):
        hset = role_of(m.split, m.metric).heldout_set
        fell = regressed.get(hset)
        status = "regressed" if fell is not None else ("deciding" if i == 0 else "ok")
        ch = Chart(width=300, height=150, xlabel=r.x, ylabel=m.metric, xlim=xlim,
                   aria=f"{r.name}: held-out set {hset}, {name} per {r.x} ({status})")
        if fell is not None and fell[0] is not None and xlim is not None:
            ch.span(fell[0], xlim[1], "zone", title=f"{hset} fell behind from {r.x} {_fx(fell[0])}")
            ch.vline(fell[0], "onset", title=f"{hset} fell behind from {r.x} {_fx(fell[0])}",
                     label=f"fell behind {_fx(fell[0])}", anchor="start")
        ch.line(x, v, "s-val" if i == 0 else "s-h0", width=1.8, title=name)
        b = _best_index(v, x, m.sign)
        if b is not None:
            ch.point(float(x[b]), float(v[b]), "best", shape="star", r=4,
                     title=f"best {name} = {_fx(v[b])} at {r.x} {_fx(x[b])}")
        note = ("deciding set" if i == 0 else "") + (", " if i == 0 and fell is not None else "")
        if fell is not None:
            z = f", {fell[1]:.1f} s.e. below its best" if fell[1] is not None else ""
            note += f"regressed from {r.x} {_fx(fell[0])}{z}" if fell[0] is not None else f"regressed{z}"
        elif i:
            note = "no regression finding"
        panels.append(SetPanel(hset, name, status, note, ch.render()))
    return panels


def heldout_sets_html(r: RunAnalysis, s: RunSummary) -> str:
    """The held-out sets section: :func:`set_panels` in a grid ("" when the run has fewer than two sets)."""
    panels = set_panels(r, s)
    if not panels:
        return ""
    figs = "".join(
        f"<figure class='setm {esc(p.status)}' data-set='{esc(p.heldout_set)}'><figcaption><b>{esc(p.heldout_set)}"
        f"</b> · {esc(p.name)} <span class='st'>{esc(p.note)}</span></figcaption>{p.svg}</figure>"
        for p in panels)
    n_sets = len(_set_series(r))
    more = (f"<p class='note'>{n_sets - MAX_SET_PANELS} more set(s) not drawn.</p>"
            if n_sets > MAX_SET_PANELS else "")
    return (f"<h3>Held-out sets ({n_sets})</h3><p class='note'>One chart per held-out set on the same {esc(r.x)} "
            "range; a red top edge and shading mark a set that fell behind its best (per the findings).</p>"
            f"<div class='sets'>{figs}</div>{more}")


def gap_chart(r: RunAnalysis, s: RunSummary) -> str:
    """Held-out minus train of the monitored metric over time, in "worse on held-out is up" units."""
    mon = _monitor(r)
    metric = mon.metric
    cv = _curves(r, s)
    if not cv.has("train", metric):
        return ""
    held = [sp for sp in cv.splits_of(metric) if sp != "train"]
    ch = Chart(width=680, height=190, xlabel=r.x, ylabel="gap", zero_line=True,
               aria=f"{r.name}: generalisation gap of {metric} (held-out minus train)")
    others: list[str] = []
    legend = []
    drawn = False
    for sp in held:
        x, held_v, train_v = cv.aligned(metric, sp, "train")
        gap = mon.sign * (held_v - train_v)
        if not np.isfinite(gap).any():
            continue
        cls = _split_class(sp, mon.split, others)
        if sp == mon.split:
            pos = np.where(np.isfinite(gap), np.maximum(gap, 0.0), 0.0)
            ch.band(x, np.zeros_like(pos), pos, "gapfill", title="held-out worse than train")
        label = f"{sp} − train" if mon.mode == "min" else f"train − {sp}"  # same sign as the plotted gap
        ch.line(x, gap, cls, width=2.0 if sp == mon.split else 1.3, title=label)
        legend.append((_SPLIT_COLOR[cls], "line", label))
        drawn = True
    if not drawn:
        return ""
    return (_legend(legend) + ch.render()
            + f'<p class="note">Gap = {"held-out − train" if mon.mode == "min" else "train − held-out"} '
              f'{esc(metric)}: up means the model does worse on unseen data than on its training data.</p>')


def other_metric_charts(r: RunAnalysis, s: RunSummary) -> str:
    """Small charts of the metrics that are not monitored (accuracy next to loss, …)."""
    mon = _monitor(r)
    cv = _curves(r, s)
    metrics = [m for m in dict.fromkeys(m for _, m in cv.keys()) if m != mon.metric]  # noqa: SIM118  # not a dict
    out = []
    for m in metrics[:MAX_OTHER_METRICS]:
        others: list[str] = []
        splits = cv.splits_of(m)
        ch = Chart(width=340, height=180, xlabel=r.x, ylabel=m, aria=f"{r.name}: {m} per {r.x}")
        leg = []
        for sp in splits:
            sx_, sv_, sname = cv.get(sp, m)
            cls = _split_class(sp, mon.split, others)
            ch.line(sx_, sv_, cls, width=1.6, title=f"{sp} {sname}")
            leg.append((_SPLIT_COLOR[cls], "line", sp))
        ch.vline(_summary_best_x(r), "bestline", title="best point of the monitored metric")
        out.append(f"<div><h3>{esc(m)}</h3>{_legend(leg)}{ch.render()}</div>")
    if not out:
        return ""
    more = len(metrics) - MAX_OTHER_METRICS
    tail = f'<p class="note">{more} more metric(s) not drawn.</p>' if more > 0 else ""
    return '<div class="grid2">' + "".join(out) + "</div>" + tail


def _summary_best_x(r: RunAnalysis) -> float | None:
    if not r.best:
        return None
    v = r.best.at(r.x)
    return float(v) if isinstance(v, (int, float)) else None


# ---------------------------------------------------------------------------------------------- findings
def _ev_value(v: Any) -> str:
    """One evidence value as escaped HTML: yes/no, a compact number, a list (summarised past
    :data:`MAX_EVIDENCE_LIST` entries), a mapping (its first :data:`MAX_EVIDENCE_LIST` entries) or text."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)) or v is None:
        return esc(_fx(v))
    if isinstance(v, (list, tuple)):
        return esc(_ev_list(v))
    if isinstance(v, Mapping):
        return "; ".join(f"{esc(k)}: {_ev_value(x)}" for k, x in list(v.items())[:MAX_EVIDENCE_LIST])
    return esc(v)


def _ev_item(x: Any) -> str:
    return _fx(x) if isinstance(x, (int, float)) else str(x)


def _ev_list(v: Sequence[Any]) -> str:
    """A list of evidence values as text (not escaped): all of them when short; past :data:`MAX_EVIDENCE_LIST`
    entries, a numeric series as its length, ends and range, anything else as its first entries."""
    if len(v) <= MAX_EVIDENCE_LIST:
        return ", ".join(_ev_item(x) for x in v)
    nums = [x for x in v if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(float(x))]
    if nums and len(nums) == len([x for x in v if x is not None]):
        return (f"{len(v)} values, from {_fx(nums[0])} to {_fx(nums[-1])} "
                f"(min {_fx(min(nums))}, max {_fx(max(nums))})")
    return f"{len(v)} values: " + ", ".join(_ev_item(x) for x in v[:MAX_EVIDENCE_LIST]) + ", …"


def findings_html(r: RunAnalysis, numbered: Sequence[tuple[int, Finding]]) -> str:
    """The numbered findings list (severity, kind, where, message, actions, evidence and references)."""
    if not numbered:
        return '<p class="note">No findings: nothing suggests overfitting or another problem in this run.</p>'
    return '<ol class="findings">' + "".join(_finding_item(r, i, f) for i, f in numbered) + "</ol>"


def _finding_item(r: RunAnalysis, i: int, f: Finding) -> str:
    """Finding number ``i`` of run ``r`` as a list item with id ``f-<run>-<i>`` (the number on its chart badge)."""
    sev = f.severity.value
    fxp = finding_x(f, r.x)
    where = f'<span class="where">at {esc(r.x)} {esc(_fx(fxp))}</span>' if fxp is not None else ""
    ev = ""
    if f.evidence:
        rows = "".join(f"<dt>{esc(k)}</dt><dd>{_ev_value(v)}</dd>" for k, v in f.evidence.items())
        ev = (f'<details class="more"><summary>evidence ({len(f.evidence)})</summary><dl class="ev">{rows}</dl>'
              '</details>')
    acts = ("<ul class='actions'>" + "".join(f"<li>{esc(a)}</li>" for a in f.actions) + "</ul>") if f.actions else ""
    return (f'<li class="{esc(sev)}" id="{esc(f"f-{r.name}-{i}")}"><div class="fhead">'
            f'<span class="num {esc(sev)}">{i}</span><span class="sev {esc(sev)}">{esc(sev)}</span>'
            f'<span class="kind">{esc(kind_of(f).replace("_", " "))}</span>'
            f"{where}</div><p class='msg'>{esc(f.message)}</p>{acts}{ev}{_references(f.references)}</li>")


def _references(refs: Sequence[str]) -> str:
    """A collapsed list of references (paper titles); empty when there are none."""
    if not refs:
        return ""
    return ("<details class='more'><summary>references</summary><ul class='refs'>"
            + "".join(f"<li>{esc(x)}</li>" for x in refs) + "</ul></details>")


# ---------------------------------------------------------------------------------------------- forecast, examples
def forecast_html(r: RunAnalysis) -> str:
    """Key numbers of the run's forecast (P(best behind), predicted best, median at the horizon)."""
    fc = r.forecast
    if fc is None:
        return ""
    parts = []
    p = float(fc.p_best_behind)
    if math.isfinite(p):
        parts.append(f"<div class='kpi'><b>{100 * p:.0f}%</b><span>chance the best is already behind</span></div>")
    best = fc.best
    if best:
        parts.append(f"<div class='kpi'><b>{esc(r.x)} {esc(_fx(best.get('x')))}</b><span>predicted best "
                     f"({esc(_fx(best.get('low')))}–{esc(_fx(best.get('high')))})</span></div>")
    med = fc.quantiles.get("0.5")
    if med is not None and np.size(med):
        parts.append(f"<div class='kpi'><b>{esc(_fx(float(med[-1])))}</b><span>forecast median at the horizon"
                     "</span></div>")
    if not parts:
        return ""
    return (f"<h3>Forecast</h3><div class='tiles'>{''.join(parts)}</div><p class='note'>Predictive distribution of "
            f"the monitored metric from the first {esc(_fx(fc.observed))} evaluations; the band on the curve is "
            "its 10–90% range.</p>")


def _thumbnail(data: Any) -> str | None:
    """A validated ``data:image/png;base64,…`` URI, or None."""
    if not isinstance(data, str):
        return None
    s = data.split(",", 1)[1] if data.startswith("data:image/png;base64,") else data
    if len(s) > MAX_THUMBNAIL_BYTES * 4 // 3 + 8 or not _B64.match(s):
        return None
    try:
        raw = base64.b64decode(s, validate=False)
    except (binascii.Error, ValueError):
        return None
    if not raw.startswith(_PNG_MAGIC):
        return None
    return "data:image/png;base64," + base64.b64encode(raw).decode("ascii")


def _cell(v: Any) -> str:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return f"<td class='n'>{esc(_fx(v))}</td>"
    return f"<td>{esc('' if v is None else v)}</td>"


def examples_html(r: RunAnalysis) -> str:
    """The per-example section from the run's :class:`~gapwatch.examples.summary.ExampleSummary`: counts, a
    histogram per score (with the cut-off), the most suspicious examples (score, label, suggested label,
    thumbnail when known) and the references."""
    ex = r.examples
    if ex is None:
        return ""
    intro = ("<p class='note'>Per-example training dynamics: which training examples the network struggles with, "
             "memorises or could drop.</p>")
    if ex.error is not None:
        return (f"<div class='card'><h2>Examples</h2>{intro}<p class='note'>The per-example table "
                f"{esc(ex.path)} could not be read: {esc(ex.error)}</p></div>")
    tiles = _example_tiles(ex)
    hists = []
    for k, hd in ex.histograms.items():
        d = hd.get("direction")
        lab = f"{k}" + (f" ({'low' if d == 'low' else 'high'} = suspicious)" if d in ("low", "high") else "")
        marks = [ex.cutoff] if k == ex.default_score and ex.cutoff is not None else []
        hists.append(f"<div><h3>{esc(k)}</h3>"
                     f"{histogram_chart((), edges=hd.get('edges'), counts=hd.get('counts'), xlabel=lab, marks=marks)}"
                     "</div>")
    thumbs = {i: u for i, u in ((i, _thumbnail(v)) for i, v in ex.thumbnails.items()) if u is not None}
    table = _suspicious_table(ex.top_suspicious[:MAX_EXAMPLE_ROWS], thumbs)
    rule = f"<p class='note'>Cut-off: {esc(ex.cutoff_rule)}.</p>" if ex.cutoff_rule else ""
    ref_html = _references(ex.references)
    return (f"<div class='card'><h2>Examples</h2>{intro}<div class='tiles'>{''.join(tiles)}</div>{rule}"
            f"<div class='grid2'>{''.join(hists)}</div>{table}{ref_html}</div>")


def _example_tiles(ex: ExampleSummary) -> list[str]:
    tiles = [f"<div class='kpi'><b>{esc(_fx(ex.n))}</b><span>examples</span></div>",
             f"<div class='kpi'><b>{esc(_fx(ex.epochs))}</b><span>epochs recorded</span></div>"]
    for k, c in ex.counts.items():
        share = f" ({100 * c / ex.n:.1f}%)" if ex.n else ""
        tiles.append(f"<div class='kpi'><b>{esc(_fx(c))}</b><span>{esc(k.replace('_', ' '))}{esc(share)}"
                     "</span></div>")
    return tiles


def _suspicious_table(rows: Sequence[Mapping[str, Any]], thumbs: Mapping[int, str]) -> str:
    if not rows:
        return ""
    cols = list(dict.fromkeys(k for row in rows for k in row if k != "index"))[:8]
    head = ("<tr><th class='n'>#</th><th class='n'>example</th>" + ("<th>image</th>" if thumbs else "")
            + "".join(f"<th>{esc(c)}</th>" for c in cols) + "</tr>")
    body = []
    for rank, row in enumerate(rows, 1):
        rid = row.get("index")
        cells = [f"<td class='n'>{rank}</td>{_cell(rid)}"]
        if thumbs:
            uri = thumbs.get(rid) if isinstance(rid, int) else None
            cells.append(f"<td><img src='{uri}' alt='example {esc(rid)}' width='40' height='40' "
                         "style='image-rendering:pixelated'></td>" if uri else "<td></td>")
        cells += [_cell(row.get(c)) for c in cols]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<h3>Most suspicious examples</h3><div class='tablewrap'><table>{head}{''.join(body)}</table></div>"


# ---------------------------------------------------------------------------------------------- sections
def _kpis(r: RunAnalysis, s: RunSummary) -> str:
    if r.monitor is None:
        return ""
    k = []
    k.append(f"<div class='kpi good'><b>{esc(_fx(s.best_value))}</b><span>best {esc(s.label)} at {esc(r.x)} "
             f"{esc(_fx(s.best_x))}</span></div>")
    k.append(f"<div class='kpi'><b>{esc(_fx(s.final_value))}</b><span>final, at {esc(r.x)} {esc(_fx(s.final_x))}"
             f"</span></div>")
    bad = " bad" if s.cost and s.cost >= 0.01 else ""
    k.append(f"<div class='kpi{bad}'><b>{'+' if s.cost else ''}{_pct(s.cost)}</b><span>final vs best "
             "(what training past the best cost)</span></div>")
    k.append(f"<div class='kpi'><b>{_pct(s.past_best, 0)}</b><span>of the run spent past the best</span></div>")
    return "<div class='kpis'>" + "".join(k) + "</div>"


def _numbered(r: RunAnalysis) -> list[tuple[int, Finding]]:
    return [(i, f) for i, f in enumerate(r.findings, 1)]


def deciding_html(r: RunAnalysis) -> str:
    """The line under the verdict naming the deciding series, why it decides and the evidence series ("" when
    the run has no monitor decision)."""
    d = r.decision
    if d is None or r.monitor is None or not r.history.has(d.monitor.split, d.monitor.metric):
        return ""
    name = r.history.series(d.monitor.split, d.monitor.metric).name
    ev = [r.history.series(m.split, m.metric).name for m in d.evidence if r.history.has(m.split, m.metric)]
    what = "lower is better" if d.monitor.mode == "min" else "higher is better"
    tail = f" Evidence: {', '.join(ev)}." if ev else ""
    return (f"<p class='decides'>Decided by <b>{esc(name)}</b> ({esc(what)}): {esc(d.reason)}.{esc(tail)}</p>")


def run_section(r: RunAnalysis, s: RunSummary, idx: int, *, collapsible: bool) -> str:
    numbered = _numbered(r)
    head = (f"<h2>{esc(r.name)}</h2>")
    src = (f"<p class='src'>{esc(r.source)}" + (f" · monitored: {esc(s.label)} ({esc(s.mode)})" if s.label else "")
           + "</p>")
    sub = ""
    if s.overfitting is not None:
        ev = s.overfitting.evidence
        bits = []
        if s.onset_x is not None:
            bits.append(f"onset at {r.x} {_fx(s.onset_x)}")
        if isinstance(ev.get("evaluations_after_best"), int):
            bits.append(f"{ev['evaluations_after_best']} evaluations past the best")
        if isinstance(ev.get("gap_final"), (int, float)) and isinstance(ev.get("gap_at_best"), (int, float)):
            bits.append(f"gap {_fx(ev['gap_at_best'])} → {_fx(ev['gap_final'])}")
        if isinstance(ev.get("z"), (int, float)):
            bits.append(f"z = {float(ev['z']):.1f}")
        sub = "<small>" + esc("; ".join(bits)) + ". Restore the best checkpoint (see actions below).</small>"
    verdict = f"<div class='verdict {esc(s.level)}'>{esc(s.headline)}{sub}</div>"
    body = [verdict, deciding_html(r)]
    findings = f"<h3>Findings ({len(numbered)})</h3>" + findings_html(r, numbered)
    if r.monitor is not None and s.best_value is not None:
        body.append(_kpis(r, s))
        legend, svg = main_chart(r, s, numbered)
        body.append(f"<h3>{esc(r.monitor.metric)} over {esc(r.x)}s</h3>{legend}{svg}")
        body.append(disagreement_chart(r, s))
        body.append(heldout_sets_html(r, s))
        body.append(forecast_html(r))
        gap = gap_chart(r, s)
        if gap:
            body.append(f"<h3>Generalisation gap</h3>{gap}")
        body.append(findings)
        other = other_metric_charts(r, s)
        if other:
            body.append("<h3>Other metrics</h3>" + other)
    else:
        body.append(findings)
    content = "".join(body)
    ex = examples_html(r)
    if collapsible:
        inner = (f"<details{' open' if idx == 0 else ''}><summary>{head}</summary>{src}{content}</details>")
    else:
        inner = head + src + content
    return f"<section class='run card' id='{_anchor(idx)}'>{inner}</section>{ex}"


# ---------------------------------------------------------------------------------------------- sweep overview
def small_multiple(r: RunAnalysis, s: RunSummary, idx: int) -> str:
    """A ~170 px card with the run's train and monitored curves, best point and onset (one small SVG)."""
    svg = ""
    if r.monitor is not None:
        ch = Chart(width=170, height=80, compact=True, aria=f"{r.name}: {s.label}")
        cv = _curves(r, s)
        splits = [sp for sp in ("train", r.monitor.split) if cv.has(sp, r.monitor.metric)]
        data = {sp: cv.get(sp, r.monitor.metric) for sp in splits}
        ch.logy = _use_log([d[1] for d in data.values()])
        if s.onset_x is not None and s.final_x is not None:
            ch.span(s.onset_x, s.final_x, "zone")
        for sp in splits:
            sx_, sv_, _ = data[sp]
            cls = "s-train" if sp == "train" else "s-val"
            ch.line(sx_, sv_, cls, width=1.2 if sp == "train" else 1.8, title=sp)
        ch.point(s.best_x, s.best_value, "best", shape="star", r=3, title="best")
        svg = ch.render()
    lvl = s.level
    cost = f"+{_pct(s.cost)}" if s.cost else "0%"
    return (f"<a class='mult {esc(lvl)}' href='#{_anchor(idx)}' title='{esc(r.name)}'>"
            f"<div class='t'>{esc(r.name)}</div>{svg}<div class='s'>best {esc(_fx(s.best_value))} · cost {cost}"
            "</div></a>")


def _rank_table(rows: list[tuple[int, RunAnalysis, RunSummary]], *, by: str, limit: int | None = None) -> str:
    """Ranked runs; beyond ``limit`` rows the rest go into a collapsed "all runs" block (no JS needed)."""
    if limit is not None and len(rows) > limit + 3:
        rest = _rank_table(rows, by=by)
        return (_rank_table(rows[:limit], by=by) + f"<details class='more'><summary>all {len(rows)} runs</summary>"
                f"{rest}</details>")
    head = ("<tr><th>#</th><th>run</th><th class='n'>best</th><th class='n hide-s'>at</th>"
            "<th class='n hide-s'>final</th><th>overfitting cost</th><th class='n hide-s'>past best</th>"
            "<th>verdict</th></tr>")
    body = []
    maxc = max([s.cost or 0.0 for _, _, s in rows] + [1e-12])
    for rank, (i, r, s) in enumerate(rows, 1):
        w = 0 if not s.cost else max(2, int(60 * (s.cost / maxc)))
        bar = f"<span class='bar' style='width:{w}px'></span>" if w else ""
        pill = (s.worst.value if s.worst else "ok") if s.level != "error" else "error"
        label = "overfits" if s.overfitting is not None else ("error" if s.level == "error" else
                                                                  (s.worst.value if s.worst and s.worst != Severity.INFO
                                                                   else "ok"))
        body.append(
            f"<tr><td class='n'>{rank}</td><td class='run'><a href='#{_anchor(i)}'>{esc(r.name)}</a></td>"
            f"<td class='n'>{esc(_fx(s.best_value))}</td><td class='n hide-s'>{esc(_fx(s.best_x))}</td>"
            f"<td class='n hide-s'>{esc(_fx(s.final_value))}</td><td class='n' style='text-align:left'>{bar}"
            f"{_pct(s.cost)}</td><td class='n hide-s'>{_pct(s.past_best, 0)}</td>"
            f"<td><span class='pill {esc(pill)}'>{esc(label)}</span></td></tr>")
    return f"<div class='tablewrap'><table aria-label='runs ranked by {esc(by)}'>{head}{''.join(body)}</table></div>"


#: Hyperparameters listed in the sweep's effects table (the strongest associations first).
MAX_EFFECT_ROWS = 20
#: |Spearman ρ| above which a numeric hyperparameter is described as going with more / less overfitting
#: (a moderate rank correlation; below it the table says "no clear relation").
CLEAR_RHO = 0.3


def _effects_html(effects: Sequence[Effect], n_runs: int) -> str:
    if not effects:
        return ("<p class='note'>No hyperparameters found in the logs (HF <code>TrainingArguments</code>, Lightning "
                "<code>hparams.yaml</code>, or a run's metadata), or they do not vary across runs.</p>")
    rows = [_numeric_effect_row(e) if e.kind == "numeric" else _categorical_effect_row(e)
            for e in effects[:MAX_EFFECT_ROWS]]
    return ("<div class='tablewrap'><table aria-label='hyperparameters and overfitting'><tr><th>hyperparameter</th>"
            "<th>association with overfitting cost</th><th>detail</th></tr>" + "".join(rows) + "</table></div>"
            "<p class='note'>Numeric: Spearman rank correlation between the hyperparameter and the overfitting cost "
            "(final vs best); Holm-adjusted p-values because many hyperparameters are tested at once. Categorical: "
            "share of runs that overfit per value. Associations in a sweep are not causes: hyperparameters that were "
            "varied together are confounded.</p>")


def _numeric_effect_row(e: Effect) -> str:
    """Spearman ρ with the overfitting cost as a bar (green when negative), its reading, the Holm-adjusted p
    and ρ with the best value."""
    rho = e.rho or 0.0
    w = int(50 * abs(rho))
    bar = f"<span class='bar{' neg' if rho < 0 else ''}' style='width:{w}px'></span>"
    sig = "" if e.p_holm is None else f"p = {e.p_holm:.2g} (Holm)"
    what = ("higher → overfits more" if rho > CLEAR_RHO else "higher → overfits less" if rho < -CLEAR_RHO
            else "no clear relation")
    best = ("" if e.rho_best is None else
            f"; with best value (lower is better) ρ = {e.rho_best:+.2f}")
    return (f"<tr><td class='run'>{esc(e.name)}</td><td>{bar}ρ = {rho:+.2f}</td>"
            f"<td>{esc(what)}<br><span class='note'>{esc(sig)}{esc(best)}; {e.n} runs</span></td></tr>")


def _categorical_effect_row(e: Effect) -> str:
    """The spread of overfitting rates between levels as a bar, then every level's overfit share and median
    cost."""
    lv = "<br>".join(f"{esc(_level_value(x['value']))}: {x['overfit']}/{x['runs']} overfit, median cost "
                     f"{_pct(x['median_cost'])}" for x in e.levels)
    w = int(50 * e.strength)
    return (f"<tr><td class='run'>{esc(e.name)}</td><td><span class='bar' style='width:{w}px'></span>"
            f"Δ rate {100 * e.strength:.0f} pts</td><td>{lv}</td></tr>")


def _level_value(v: Any) -> Any:
    return _fx(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


_Row = tuple[int, RunAnalysis, RunSummary]


class _SweepRanks(NamedTuple):
    """How a sweep's runs are ranked: ``ok`` (runs with a best value), ``main_label`` (the monitored series
    most of them share), ``by_best`` (those runs, best first), ``by_cost`` (every ``ok`` run, highest overfitting
    cost first), ``n_labels`` (distinct monitored series) and ``order`` (run indices for the small multiples:
    ``by_best``, then every other run in input order)."""

    ok: list[_Row]
    main_label: str
    by_best: list[_Row]
    by_cost: list[_Row]
    n_labels: int
    order: list[int]


def _rank_sweep(analysis: Analysis, summaries: list[RunSummary]) -> _SweepRanks:
    """Rank the runs (``summaries[i]`` belongs to ``analysis.runs[i]``): see :class:`_SweepRanks`."""
    runs = list(enumerate(zip(analysis.runs, summaries, strict=True)))
    ok = [(i, r, s) for i, (r, s) in runs if s.best_value is not None]
    labels = list(dict.fromkeys(s.label for _, _, s in ok))
    main_label = _most_common(labels, [s.label for _, _, s in ok])
    same = [(i, r, s) for i, r, s in ok if s.label == main_label]
    by_best = sorted(same, key=lambda t: (1 if t[2].mode == "min" else -1) * float(t[2].best_value or 0.0))
    by_cost = sorted(ok, key=lambda t: -(t[2].cost or 0.0))
    order = [i for i, _, _ in by_best] + [i for i, (_, s) in runs if s.label != main_label or s.best_value is None]
    return _SweepRanks(ok, main_label, by_best, by_cost, len(labels), order)


def _most_common(labels: list[str], seen: list[str]) -> str:
    """The label of ``labels`` that occurs most often in ``seen`` (the first one on ties; ``""`` when none)."""
    return max(labels, key=seen.count) if labels else ""


def _sweep_tiles(summaries: list[RunSummary]) -> str:
    """Key numbers of a sweep: runs, how many overfit, how many have a critical finding, the median cost and
    (when any) how many could not be analysed."""
    n_over = sum(1 for s in summaries if s.overfitting is not None)
    n_crit = sum(1 for s in summaries if s.worst == Severity.CRITICAL)
    n_err = sum(1 for s in summaries if s.level == "error")
    costs = [s.cost for s in summaries if s.cost is not None]
    med = float(np.median(costs)) if costs else None
    return (f"<div class='kpis'><div class='kpi'><b>{len(summaries)}</b><span>runs</span></div>"
            f"<div class='kpi{' bad' if n_over else ' good'}'><b>{n_over}</b><span>overfit</span></div>"
            f"<div class='kpi{' bad' if n_crit else ''}'><b>{n_crit}</b><span>with a critical finding</span></div>"
            f"<div class='kpi'><b>{_pct(med)}</b><span>median cost (final vs best)</span></div>"
            + (f"<div class='kpi'><b>{n_err}</b><span>could not be analysed</span></div>" if n_err else "")
            + "</div>")


def _sweep_verdict(ranks: _SweepRanks, summaries: list[RunSummary]) -> str:
    """The sweep's banner: the best run and how many runs overfit (empty when no run has a best value)."""
    if not ranks.by_best:
        return ""
    n_over = sum(1 for s in summaries if s.overfitting is not None)
    _, r, s = ranks.by_best[0]
    return (f"<div class='verdict {esc('warning' if n_over else 'ok')}'>Best run: {esc(r.name)} "
            f"({esc(s.label)} {esc(_fx(s.best_value))} at {esc(r.x)} {esc(_fx(s.best_x))}). "
            f"{n_over} of {len(summaries)} runs overfit.</div>")


def sweep_overview(analysis: Analysis, summaries: list[RunSummary]) -> str:
    """The sweep's overview cards: verdict and key numbers, runs ranked by best value, hyperparameter effects,
    runs ranked by overfitting cost and every run as a small multiple."""
    ranks = _rank_sweep(analysis, summaries)
    main_label = ranks.main_label
    other_note = ""
    if ranks.n_labels > 1:
        n_same = len(ranks.by_best)
        other_note = (f"<p class='note'>Ranked among the {n_same} runs that monitor {esc(main_label)}; "
                      f"{len(ranks.ok) - n_same} run(s) monitor another metric.</p>")
    mults = "".join(small_multiple(analysis.runs[i], summaries[i], i) for i in ranks.order)
    return (
        f"<section class='card'><h2>Sweep overview</h2>{_sweep_verdict(ranks, summaries)}{_sweep_tiles(summaries)}"
        "</section>"
        f"<section class='card'><h2>Runs ranked by best {esc(main_label)}</h2>{other_note}"
        f"{_rank_table(ranks.by_best, by='best value', limit=10)}</section>"
        f"<section class='card'><h2>Hyperparameters and overfitting</h2>"
        f"{_effects_html(analysis.effects, len(summaries))}</section>"
        f"<section class='card'><h2>What overfitting cost each run</h2><p class='note'>Cost = how much worse the final "
        f"evaluation is than the best one (relative). The runs that lost most by training too long come first.</p>"
        f"{_rank_table(ranks.by_cost, by='overfitting cost', limit=10)}</section>"
        f"<section class='card'><h2>All runs at a glance</h2>"
        f"{_legend(_MULT_LEGEND)}<div class='multiples'>{mults}</div></section>"
    )


_MULT_LEGEND = [("var(--train)", "line", "train"), ("var(--val)", "line", "monitored held-out"),
                ("var(--best)", "star", "best"), ("var(--crit)", "box", "overfitting")]


# ---------------------------------------------------------------------------------------------- document
def render_html(analysis: Analysis, *, title: str | None = None, generated: datetime | None = None) -> str:
    """The report as one self-contained HTML string (see module docstring)."""
    summaries = [r.summary or summarize_run(r) for r in analysis.runs]
    sweep = len(analysis.runs) > 1
    parts: list[str] = []
    if sweep:
        parts.append(sweep_overview(analysis, summaries))
    shown = list(zip(analysis.runs, summaries, strict=True))[:MAX_DETAILED_RUNS if sweep else None]
    for i, (r, s) in enumerate(shown):
        parts.append(run_section(r, s, i, collapsible=sweep))
    if sweep and len(analysis.runs) > MAX_DETAILED_RUNS:
        parts.append(f"<p class='note'>{len(analysis.runs) - MAX_DETAILED_RUNS} more runs are in the tables above; "
                     "their details are in the JSON output (--json).</p>")
    now = (generated or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    if title is None:
        title = (f"gapwatch: {analysis.runs[0].name}" if len(analysis.runs) == 1
                 else f"gapwatch: {len(analysis.runs)} runs")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "img-src data:\">"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main>"
        f"<header class='top'><h1>{esc(title)}</h1><span class='meta'>gapwatch {esc(__version__)} · {esc(now)}"
        "</span></header>"
        + "".join(parts)
        + "<footer>Generated by gapwatch. Self-contained: no scripts, nothing loaded from the network.</footer>"
        "</main></body></html>"
    )


def write_html(analysis: Analysis, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write the report atomically; refuses to replace an existing file unless ``overwrite``, and never a log
    the analysis read (``--html <the input log> --force``), a link, a directory or a device."""
    inputs: list[str | Path] = []
    for r in analysis.runs:
        if r.source:
            inputs.append(r.source)
            meta = r.history.meta.get(r.name, {}) if r.history is not None else {}
            files = meta.get("tensorboard_files")  # a run directory's event files
            inputs += [Path(r.source) / str(f) for f in files] if isinstance(files, list) else []
    return atomic_write_text(Path(path), render_html(analysis), overwrite=overwrite, inputs=inputs)
