"""A tiny static-SVG chart renderer for the HTML report (pure Python + numpy, no matplotlib).

Why not matplotlib: a sweep report draws several charts per run, and building and serialising one
matplotlib figure per run took ~13 s for 50 runs where the whole HTML report (about 300 of these charts) took
~1 s on the same (loaded) machine (``python -m gapwatch.testing.samples bench``, see docs/report.md); the markup
of a chart is a few kilobytes. Everything that reaches the markup goes through :func:`esc` (text and attribute
values), so user-controlled names (runs, metrics, finding messages) can never become markup.

Coordinates: a chart has a ``width × height`` viewBox in user units (rendered responsively with
``width: 100%`` by the report's CSS); data are mapped linearly (or log10 on y with ``logy``) into the plot
area inside the margins. Non-finite values break lines and are marked with a small cross on the x axis
(they are evidence of instability, never silently dropped). Extreme spikes are clipped so they do not flatten
the rest of the curve; the clip is said in the chart's caption through :attr:`Chart.clipped`.

Two y axes: a line or point drawn with ``axis="right"`` is scaled on a second, linear y axis whose ticks and
label (``y2label``) are on the right-hand side, so two series in different units (a held-out loss and a task
metric) share one chart and one x axis, each on its own scale. ``ycls``/``y2cls`` colour each axis' ticks and
label like its series; a chart may carry its own legend (:meth:`Chart.key`), drawn above the plot area so the
SVG reads on its own.
"""

from __future__ import annotations

import html
import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

_CLIP_IDS = itertools.count(1)

#: Leading fraction of every line whose values are never clipped (the value at initialisation is often far
#: from the rest of the curve and is part of the story).
HEAD_FRACTION = 0.05

#: Fraction of the y range kept above the 98th percentile before spikes are clipped (see ``_y_limits``).
SPIKE_HEADROOM = 0.5


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def text_el(cls: str, label: object, *, x: float | None = None, y: float | None = None, anchor: str = "middle",
            transform: str | None = None) -> str:
    """One ``<text>`` element (``label`` escaped); placed at ``x``/``y`` or by ``transform``."""
    at = f' transform="{transform}"' if transform else f' x="{x:.1f}" y="{y:.1f}"'
    return f'<text class="{cls}"{at} text-anchor="{anchor}">{esc(label)}</text>'


def esc(text: object) -> str:
    """Escape text for HTML/SVG element content *and* attribute values (quotes included); control characters
    (invalid in XML, hence in inline SVG) are replaced by U+FFFD."""
    return html.escape(_CONTROL.sub("\ufffd", str(text)), quote=True)


def fmt_num(v: float | None, digits: int = 4) -> str:
    """Compact human number: ints without decimals, otherwise ``digits`` significant digits."""
    if v is None:
        return "–"
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not math.isfinite(f):
        return "nan" if math.isnan(f) else ("inf" if f > 0 else "-inf")
    if f.is_integer() and abs(f) < 1e15:
        return str(int(f))
    return f"{f:.{digits}g}"


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values (1, 2, 2.5, 5 × 10^k steps) covering ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n, 1)
    if not math.isfinite(raw) or raw < 1e-300 or raw < 1e-12 * max(abs(lo), abs(hi)):
        return [lo, hi]  # a span too small (or large) for round steps: just the ends
    mag = 10 ** math.floor(math.log10(raw))
    step = mag
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            step = m * mag
            break
    k0 = math.ceil(lo / step - 1e-9)
    k1 = math.floor(hi / step + 1e-9)
    if k1 - k0 > 4 * n + 10 or k0 * step + step == k0 * step:
        return [lo, hi]  # beyond float resolution: just the ends
    ticks = []
    for k in range(k0, k1 + 1):
        t = k * step
        ticks.append(0.0 if abs(t) < 1e-12 * step else t)
    return ticks


@dataclass
class _Line:
    x: np.ndarray
    y: np.ndarray
    cls: str
    width: float
    dash: str
    title: str
    axis: str = "left"


@dataclass
class _Band:
    x: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    cls: str
    title: str


@dataclass
class _Point:
    x: float
    y: float
    cls: str
    shape: str
    r: float
    title: str
    axis: str = "left"


@dataclass
class _Key:
    cls: str
    style: str  # "line", "dash", "star" or "dot"
    label: str


@dataclass
class _VLine:
    x: float
    cls: str
    title: str
    label: str
    anchor: str = "auto"


@dataclass
class _Span:
    x0: float
    x1: float
    cls: str
    title: str
    label: str


@dataclass
class _Badge:
    x: float
    text: str
    cls: str
    title: str


@dataclass
class Chart:
    """A line chart assembled from layers and rendered with :meth:`render`.

    Styling is done with CSS classes (``s-train``, ``s-val``, ``sev-critical`` …) defined in the report's
    stylesheet, so the same SVG prints and switches themes without re-rendering.
    """

    width: int = 640
    height: int = 260
    xlabel: str = ""
    ylabel: str = ""
    logy: bool = False
    compact: bool = False
    aria: str = "chart"
    zero_line: bool = False
    y2label: str = ""
    ycls: str = ""
    y2cls: str = ""
    xlim: tuple[float, float] | None = None
    lines: list[_Line] = field(default_factory=list)
    bands: list[_Band] = field(default_factory=list)
    points: list[_Point] = field(default_factory=list)
    vlines: list[_VLine] = field(default_factory=list)
    spans: list[_Span] = field(default_factory=list)
    badges: list[_Badge] = field(default_factory=list)
    keys: list[_Key] = field(default_factory=list)
    clipped: bool = False

    # ------------------------------------------------------------------ layers
    def line(self, x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, cls: str, *,
             width: float = 1.8, dash: str = "", title: str = "", axis: str = "left") -> Chart:
        """A polyline; ``axis="right"`` scales it on the right-hand y axis."""
        xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if xa.shape != ya.shape:
            raise ValueError(f"line {title!r}: x has shape {xa.shape} but y has {ya.shape}")
        self.lines.append(_Line(xa, ya, cls, width, dash, title, _axis_name(axis)))
        return self

    def band(self, x: Sequence[float] | np.ndarray, lo: Sequence[float] | np.ndarray,
             hi: Sequence[float] | np.ndarray, cls: str, *,
             title: str = "") -> Chart:
        xa, la, ha = (np.asarray(v, dtype=float) for v in (x, lo, hi))
        if not (xa.shape == la.shape == ha.shape):
            raise ValueError(f"band {title!r}: x, low and high must have the same length, got "
                             f"{xa.shape}, {la.shape}, {ha.shape}")
        self.bands.append(_Band(xa, la, ha, cls, title))
        return self

    def point(self, x: float | None, y: float | None, cls: str, *, shape: str = "circle", r: float = 4.5,
              title: str = "", axis: str = "left") -> Chart:
        """A marker (``shape``: ``"circle"``, ``"star"`` or ``"diamond"``); ``axis="right"`` as for lines."""
        if x is not None and y is not None and math.isfinite(float(x)) and math.isfinite(float(y)):
            self.points.append(_Point(float(x), float(y), cls, shape, r, title, _axis_name(axis)))
        return self

    def key(self, cls: str, style: str, label: str) -> Chart:
        """A legend entry drawn inside the SVG (``style``: one of :data:`KEY_STYLES`); entries run left to right
        above the plot area and wrap onto more rows when they do not fit its width."""
        if style not in KEY_STYLES:
            raise ValueError(f"key {label!r}: style must be one of {', '.join(KEY_STYLES)}, got {style!r}")
        self.keys.append(_Key(cls, style, label))
        return self

    @property
    def dual(self) -> bool:
        """Whether a layer is drawn on the right-hand y axis."""
        return any(ln.axis == "right" for ln in self.lines) or any(p.axis == "right" for p in self.points)

    def vline(self, x: float | None, cls: str, *, title: str = "", label: str = "",
              anchor: str = "auto") -> Chart:
        """A vertical line; ``label`` is written at its foot, left (``anchor="end"``) or right (``"start"``)
        of the line, or on the side with more room (``"auto"``)."""
        if x is not None and math.isfinite(float(x)):
            self.vlines.append(_VLine(float(x), cls, title, label, anchor))
        return self

    def span(self, x0: float | None, x1: float | None, cls: str, *, title: str = "", label: str = "") -> Chart:
        if x0 is not None and x1 is not None and math.isfinite(float(x0)) and math.isfinite(float(x1)):
            self.spans.append(_Span(float(min(x0, x1)), float(max(x0, x1)), cls, title, label))
        return self

    def badge(self, x: float | None, text: str, cls: str, *, title: str = "") -> Chart:
        if x is not None and math.isfinite(float(x)):
            self.badges.append(_Badge(float(x), text, cls, title))
        return self

    # ------------------------------------------------------------------ scales
    def _x_limits(self) -> tuple[float, float]:
        if self.xlim is not None and all(math.isfinite(v) for v in self.xlim) and self.xlim[1] > self.xlim[0]:
            return float(self.xlim[0]), float(self.xlim[1])
        xs: list[np.ndarray] = [ln.x[np.isfinite(ln.x)] for ln in self.lines]
        xs += [b.x[np.isfinite(b.x)] for b in self.bands]
        xs.append(np.array([p.x for p in self.points] + [v.x for v in self.vlines]
                           + [s.x0 for s in self.spans] + [s.x1 for s in self.spans], dtype=float))
        allx = np.concatenate(xs) if xs else np.array([])
        allx = allx[np.isfinite(allx)]
        if allx.size == 0:
            return 0.0, 1.0
        lo, hi = float(allx.min()), float(allx.max())
        if hi <= lo:
            pad = max(abs(lo) * 1e-3, 0.5)
            lo, hi = lo - pad, hi + pad
        return lo, hi

    def _y_values(self, axis: str = "left") -> tuple[np.ndarray, np.ndarray]:
        """``(body, heads)``: finite y values of ``axis``' layers (log10 with ``logy``, left axis only), where
        ``heads`` are the first :data:`HEAD_FRACTION` of every line (values at initialisation, never clipped)
        and ``body`` the rest."""
        heads: list[np.ndarray] = []
        body: list[np.ndarray] = []
        for ln in self.lines:
            if ln.axis != axis:
                continue
            k = max(1, int(math.ceil(HEAD_FRACTION * ln.y.size)))
            heads.append(ln.y[:k])
            body.append(ln.y[k:])
        if axis == "left":
            body += [b.lo for b in self.bands] + [b.hi for b in self.bands]
        body.append(np.array([p.y for p in self.points if p.axis == axis], dtype=float))
        logy = self.logy and axis == "left"

        def clean(parts: list[np.ndarray]) -> np.ndarray:
            a = np.concatenate(parts) if parts else np.array([])
            a = a[np.isfinite(a)]
            if logy:
                a = a[a > 0]
                a = np.log10(a) if a.size else a
            return cast(np.ndarray, a)

        return clean(body), clean(heads)

    def _y_limits(self, axis: str = "left") -> tuple[float, float]:
        body, heads = self._y_values(axis)
        if self.zero_line and axis == "left":
            body = np.append(body, 0.0)
        ally = np.concatenate([body, heads])
        if ally.size == 0:
            return 0.0, 1.0
        lo, hi = float(ally.min()), float(ally.max())
        if body.size >= 10:
            # robust clip of isolated spikes: keep the body of the curves readable (never the start of a curve)
            q02, q98 = (float(v) for v in np.percentile(body, [2, 98]))
            spread = max(q98 - q02, 1e-12)
            hmax = float(heads.max()) if heads.size else -math.inf
            hmin = float(heads.min()) if heads.size else math.inf
            if hi > q98 + 2 * spread and hi > hmax:
                hi = max(q98 + SPIKE_HEADROOM * spread, hmax)
                self.clipped = True
            if lo < q02 - 2 * spread and lo < hmin:
                lo = min(q02 - SPIKE_HEADROOM * spread, hmin)
                self.clipped = True
        if hi <= lo:
            pad = abs(lo) * 0.05 or 0.5
            lo, hi = lo - pad, hi + pad
        pad = (hi - lo) * 0.06
        return lo - pad, hi + pad

    # ------------------------------------------------------------------ render
    def render(self) -> str:
        """The chart as an ``<svg>`` element string (no XML declaration, no external references).

        Drawing order (later elements on top): background, grid and axes, zero line, then inside the plot-area
        clip the spans, bands and lines, then vertical lines with their labels, non-finite marks, points,
        finding badges and the frame."""
        fr = self._frame()
        clip_id = f"clip{next(_CLIP_IDS)}"
        out = self._head(fr, clip_id)
        if not self.compact:
            out += self._axes(fr)
        if self.zero_line and fr.y0 < 0 < fr.y1 and not self.logy:
            yz = float(fr.sy(0.0))
            out.append(f'<line class="zero" x1="{fr.ml}" x2="{fr.ml + fr.pw}" y1="{yz:.1f}" y2="{yz:.1f}"/>')
        lines, bad_x = self._line_marks(fr)
        out.append(f'<g clip-path="url(#{clip_id})">' + "".join(_span_mark(sp, fr) for sp in self.spans)
                   + "".join(_band_mark(bd, fr) for bd in self.bands) + "".join(lines) + "</g>")
        out += self._vline_marks(fr)
        out += [_nan_mark(xb, fr) for xb in bad_x]
        out += [_point_mark(p, fr) for p in self.points]
        out += self._key_marks(fr)
        badge_y = fr.mt - 10 if not self.compact else fr.mt + 6  # above the plot area; inside it when compact
        out += [_badge_mark(bg, fr, badge_y) for bg in self.badges]
        out.append(f'<rect class="frame" x="{fr.ml}" y="{fr.mt}" width="{fr.pw}" height="{fr.ph}" fill="none"/>')
        out.append("</svg>")
        return "".join(out)

    def _frame(self) -> _Frame:
        """Margins (compact charts have no axes; badges and an in-chart legend need a row above the plot; a
        right-hand axis needs room for its ticks and label) and the data limits."""
        if self.compact:
            ml, mr, mt, mb = 6, 6, 6, 6
        else:
            ml, mr, mt, mb = 58, 58 if self.dual else 14, 22 if self.badges else 12, 40
        if self.keys:
            rows = 1 + max(row for _, row in _key_layout(self.keys, ml, self.width - mr))
            mt = max(mt, 8 + KEY_ROW_HEIGHT * rows)
        x0, x1 = self._x_limits()
        y0, y1 = self._y_limits()
        r0, r1 = self._y_limits("right") if self.dual else (y0, y1)
        return _Frame(self.width, self.height, ml, mt, self.width - ml - mr, self.height - mt - mb, x0, x1, y0, y1,
                      self.logy, r0, r1)

    def _head(self, fr: _Frame, clip_id: str) -> list[str]:
        """The ``<svg>`` opening tag, title, plot-area clip path and background."""
        cls = f'chart{" compact" if self.compact else ""}{" wide" if fr.W >= 500 else ""}'
        return [
            f'<svg class="{cls}" viewBox="0 0 {fr.W} {fr.H}" '
            f'xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{esc(self.aria)}">',
            f'<title>{esc(self.aria)}</title>',
            f'<defs><clipPath id="{clip_id}"><rect x="{fr.ml}" y="{fr.mt}" width="{fr.pw}" height="{fr.ph}"/>'
            '</clipPath></defs>',
            f'<rect class="plotbg" x="{fr.ml}" y="{fr.mt}" width="{fr.pw}" height="{fr.ph}"/>',
        ]

    def _axes(self, fr: _Frame) -> list[str]:
        """Horizontal grid lines with y tick labels, vertical ones with x tick labels, and the axis labels (and
        the right-hand axis' ticks and label when a layer is on it)."""
        ml, mt, pw, ph = fr.ml, fr.mt, fr.pw, fr.ph
        out = []
        ycls = f" {esc(self.ycls)}" if self.ycls else ""
        for t in nice_ticks(fr.y0, fr.y1, 4):
            yy = float(mt + ph - (t - fr.y0) / (fr.y1 - fr.y0) * ph)
            lab = fmt_num(10 ** t, 3) if self.logy else fmt_num(t, 3)
            out.append(f'<line class="grid" x1="{ml}" x2="{ml + pw}" y1="{yy:.1f}" y2="{yy:.1f}"/>'
                       f'<text class="tick y1{ycls}" x="{ml - 6}" y="{yy + 4:.1f}" text-anchor="end">{esc(lab)}</text>')
        if self.dual:
            out += self._right_axis(fr)
        for t in nice_ticks(fr.x0, fr.x1, 6):
            xx = float(fr.sx(t))
            out.append(f'<line class="grid" x1="{xx:.1f}" x2="{xx:.1f}" y1="{mt}" y2="{mt + ph}"/>'
                       + text_el("tick", fmt_num(t, 4), x=xx, y=mt + ph + 16))
        if self.xlabel:
            out.append(text_el("axlabel", self.xlabel, x=ml + pw / 2, y=fr.H - 6))
        if self.ylabel:
            out.append(text_el(f"axlabel y1{ycls}", self.ylabel,
                               transform=f"translate(14 {mt + ph / 2:.1f}) rotate(-90)"))
        return out

    def _right_axis(self, fr: _Frame) -> list[str]:
        """The right-hand y axis: an axis line, short tick marks with labels and the rotated label."""
        ml, mt, pw, ph = fr.ml, fr.mt, fr.pw, fr.ph
        cls = f" {esc(self.y2cls)}" if self.y2cls else ""
        xr = ml + pw
        out = [f'<line class="axis2{cls}" x1="{xr}" x2="{xr}" y1="{mt}" y2="{mt + ph}"/>']
        for t in nice_ticks(fr.r0, fr.r1, 4):
            yy = float(fr.sy2(t))
            out.append(f'<line class="tickmark2{cls}" x1="{xr}" x2="{xr + 4}" y1="{yy:.1f}" y2="{yy:.1f}"/>'
                       + text_el(f"tick y2{cls}", fmt_num(t, 3), x=xr + 6, y=yy + 4, anchor="start"))
        if self.y2label:
            out.append(text_el(f"axlabel y2{cls}", self.y2label,
                               transform=f"translate({fr.W - 12} {mt + ph / 2:.1f}) rotate(90)"))
        return out

    def _key_marks(self, fr: _Frame) -> list[str]:
        """The in-chart legend: one row of sample marks and labels above the plot area, left to right."""
        if not self.keys:
            return []
        out = ['<g class="key">']
        layout = _key_layout(self.keys, fr.ml, fr.ml + fr.pw)  # the same rows as _frame made room for
        rows = 1 + max(row for _, row in layout)
        for k, (x, row) in zip(self.keys, layout, strict=True):
            y = fr.mt - 6 - KEY_ROW_HEIGHT * (rows - 1 - row)
            c = esc(k.cls)
            if k.style in ("line", "dash"):
                dash = ' stroke-dasharray="4 3"' if k.style == "dash" else ""
                out.append(f'<line class="{c}" x1="{x:.1f}" x2="{x + 16:.1f}" y1="{y - 4:.1f}" y2="{y - 4:.1f}" '
                           f'stroke-width="2.4"{dash}/>')
            elif k.style == "star":
                out.append(f'<polygon class="{c}" points="{_star(x + 8, y - 4, 3.2)}"/>')
            elif k.style == "diamond":
                out.append(f'<polygon class="{c}" points="{x + 8:.1f},{y - 9:.1f} {x + 13:.1f},{y - 4:.1f} '
                           f'{x + 8:.1f},{y + 1:.1f} {x + 3:.1f},{y - 4:.1f}"/>')
            else:
                out.append(f'<circle class="{c}" cx="{x + 8:.1f}" cy="{y - 4:.1f}" r="3.5"/>')
            out.append(f'<text class="keytext" x="{x + 20:.1f}" y="{y:.1f}">{esc(k.label)}</text>')
        out.append("</g>")
        return out

    def _line_marks(self, fr: _Frame) -> tuple[list[str], list[float]]:
        """Polylines broken at non-finite values (a lone finite point becomes a dot), and the plot x of every
        point whose x is finite but whose y is not (marked by :func:`_nan_mark`)."""
        out: list[str] = []
        bad_x: list[float] = []
        for ln in self.lines:
            xs = np.asarray(fr.sx(ln.x), dtype=float)
            ys = fr.sy2(ln.y) if ln.axis == "right" else fr.sy(ln.y)
            ok = np.isfinite(xs) & np.isfinite(ys)
            bad_x.extend(float(v) for v in xs[np.isfinite(xs) & ~np.isfinite(ys)])
            dash = f' stroke-dasharray="{esc(ln.dash)}"' if ln.dash else ""
            for seg in _finite_runs(xs, ys, ok):
                if len(seg) == 1:
                    cx, cy = seg[0].split(",")
                    out.append(f'<circle class="{esc(ln.cls)} dot" cx="{cx}" cy="{cy}" r="2.2"/>')
                else:
                    out.append(f'<polyline class="{esc(ln.cls)}" fill="none" stroke-width="{ln.width}"{dash} '
                               f'points="{" ".join(seg)}"><title>{esc(ln.title)}</title></polyline>')
        return out, bad_x

    def _vline_marks(self, fr: _Frame) -> list[str]:
        """Vertical lines, each with its label at the foot (not in compact charts), stacked in up to
        :data:`MAX_LABEL_ROWS` + 1 rows so labels do not overlap."""
        out = []
        placed: list[tuple[float, float, int]] = []  # label extents (x0, x1, row) to avoid overlaps
        for v in self.vlines:
            xx = float(fr.sx(v.x))
            out.append(f'<line class="{esc(v.cls)}" x1="{xx:.1f}" x2="{xx:.1f}" y1="{fr.mt}" y2="{fr.mt + fr.ph}">'
                       f'<title>{esc(v.title)}</title></line>')
            if v.label and not self.compact:
                anchor = _label_anchor(v.anchor, xx, fr)
                dx = -4 if anchor == "end" else 4
                wlab = LABEL_CHAR_WIDTH * len(v.label)
                a0 = xx + dx - (wlab if anchor == "end" else 0.0)
                row = _free_row(placed, a0, a0 + wlab)
                placed.append((a0, a0 + wlab, row))
                out.append(f'<text class="vlabel {esc(v.cls)}-t" x="{xx + dx:.1f}" '
                           f'y="{fr.mt + fr.ph - 6 - 14 * row}" text-anchor="{anchor}">{esc(v.label)}</text>')
        return out


#: Legend entry styles (:meth:`Chart.key`).
KEY_STYLES = ("line", "dash", "star", "diamond", "dot")
#: Height of one row of the in-chart legend (user units).
KEY_ROW_HEIGHT = 15
#: Rough width of one character of the in-chart legend (user units at its font size).
KEY_CHAR_WIDTH = 6.6


def _key_layout(keys: Sequence[_Key], x0: float, x1: float) -> list[tuple[float, int]]:
    """``(x, row)`` of every legend entry: left to right from ``x0``, a new row when an entry would pass
    ``x1`` (an entry wider than the row gets a row of its own)."""
    out: list[tuple[float, int]] = []
    x, row = float(x0), 0
    for k in keys:
        w = 20 + KEY_CHAR_WIDTH * len(k.label)
        if x > x0 and x + w > x1:
            x, row = float(x0), row + 1
        out.append((x, row))
        x += w + 14
    return out


def _axis_name(axis: str) -> str:
    if axis not in ("left", "right"):
        raise ValueError(f"axis must be 'left' or 'right', got {axis!r}")
    return axis


#: Rough width of one character of a vertical line's label (user units at the label font size).
LABEL_CHAR_WIDTH = 7.0
#: Extra rows a vertical line's label may move up to avoid overlapping an earlier label (then it overlaps).
MAX_LABEL_ROWS = 4


@dataclass(frozen=True)
class _Frame:
    """Plot geometry of one rendering: viewBox ``W × H``, plot area at ``(ml, mt)`` of size ``pw × ph`` (user
    units) and the data limits ``x0 … x1``, ``y0 … y1`` (log10 units on y with ``logy``)."""

    W: int
    H: int
    ml: int
    mt: int
    pw: int
    ph: int
    x0: float
    x1: float
    y0: float
    y1: float
    logy: bool
    r0: float = 0.0
    r1: float = 1.0

    def sx(self, x: np.ndarray | float) -> np.ndarray | float:
        """Data x → user units."""
        return self.ml + (np.asarray(x, dtype=float) - self.x0) / (self.x1 - self.x0) * self.pw

    def ty(self, y: np.ndarray | float) -> np.ndarray:
        """Data y → the y scale's units (log10 with ``logy``; NaN for values <= 0 there)."""
        ya = np.asarray(y, dtype=float)
        if self.logy:
            with np.errstate(divide="ignore", invalid="ignore"):
                ya = np.where(ya > 0, np.log10(np.where(ya > 0, ya, 1.0)), np.nan)
        return ya

    def sy(self, y: np.ndarray | float) -> np.ndarray:
        """Data y → user units (down is up)."""
        return self.mt + self.ph - (self.ty(y) - self.y0) / (self.y1 - self.y0) * self.ph

    def sy2(self, y: np.ndarray | float) -> np.ndarray:
        """Data y of the right-hand (linear) axis → user units."""
        return self.mt + self.ph - (np.asarray(y, dtype=float) - self.r0) / (self.r1 - self.r0) * self.ph


def _finite_runs(xs: np.ndarray, ys: np.ndarray, ok: np.ndarray) -> list[list[str]]:
    """Runs of consecutive points where ``ok`` holds, as ``"x,y"`` strings (one decimal)."""
    segs: list[list[str]] = []
    cur: list[str] = []
    for a, b, good in zip(xs, ys, ok, strict=True):
        if good:
            cur.append(f"{a:.1f},{b:.1f}")
        elif cur:
            segs.append(cur)
            cur = []
    if cur:
        segs.append(cur)
    return segs


def _label_anchor(anchor: str, xx: float, fr: _Frame) -> str:
    """Text anchor of a vertical line's label at plot x ``xx``: the requested side, or (``"auto"``) left of
    lines in the last 20% of the plot; flipped when the label would leave the plot (last / first 10%)."""
    side = anchor if anchor in ("start", "end") else ("end" if xx > fr.ml + fr.pw * 0.8 else "start")
    if side == "start" and xx > fr.ml + fr.pw * 0.9:
        return "end"
    if side == "end" and xx < fr.ml + fr.pw * 0.1:
        return "start"
    return side


def _free_row(placed: Sequence[tuple[float, float, int]], a0: float, a1: float) -> int:
    """The lowest label row (0 … :data:`MAX_LABEL_ROWS`) where ``a0 … a1`` keeps 4 units from every placed label."""
    row = 0
    while any(r == row and a0 < b1 + 4 and b0 < a1 + 4 for b0, b1, r in placed) and row < MAX_LABEL_ROWS:
        row += 1
    return row


def _span_mark(s: _Span, fr: _Frame) -> str:
    """A shaded x range, full plot height (at least 1 unit wide)."""
    a, b = float(fr.sx(s.x0)), float(fr.sx(s.x1))
    return (f'<rect class="{esc(s.cls)}" x="{a:.1f}" y="{fr.mt}" width="{max(b - a, 1.0):.1f}" '
            f'height="{fr.ph}"><title>{esc(s.title)}</title></rect>')


def _band_mark(bd: _Band, fr: _Frame) -> str:
    """A filled ``lo … hi`` polygon over the points where x, low and high are all finite ("" when none is)."""
    ok = np.isfinite(bd.x) & np.isfinite(fr.ty(bd.lo)) & np.isfinite(fr.ty(bd.hi))
    if ok.sum() < 1:
        return ""
    xs = np.asarray(fr.sx(bd.x[ok]), dtype=float)
    lo, hi = fr.sy(bd.lo[ok]), fr.sy(bd.hi[ok])
    pts = ([f"{a:.1f},{b:.1f}" for a, b in zip(xs, hi, strict=True)]
           + [f"{a:.1f},{b:.1f}" for a, b in zip(xs[::-1], lo[::-1], strict=True)])
    return f'<polygon class="{esc(bd.cls)}" points="{" ".join(pts)}"><title>{esc(bd.title)}</title></polygon>'


def _point_mark(p: _Point, fr: _Frame) -> str:
    """A circle or a star, clamped vertically into the plot area so a clipped best point stays visible (""
    when its position is not finite)."""
    px, py = float(fr.sx(p.x)), float(fr.sy2(p.y) if p.axis == "right" else fr.sy(p.y))
    if not (math.isfinite(px) and math.isfinite(py)):
        return ""
    py = min(max(py, fr.mt), fr.mt + fr.ph)
    if p.shape == "star":
        return f'<polygon class="{esc(p.cls)}" points="{_star(px, py, p.r)}"><title>{esc(p.title)}</title></polygon>'
    if p.shape == "diamond":
        r = p.r * 1.2
        pts = f"{px:.1f},{py - r:.1f} {px + r:.1f},{py:.1f} {px:.1f},{py + r:.1f} {px - r:.1f},{py:.1f}"
        return f'<polygon class="{esc(p.cls)}" points="{pts}"><title>{esc(p.title)}</title></polygon>'
    return (f'<circle class="{esc(p.cls)}" cx="{px:.1f}" cy="{py:.1f}" r="{p.r}">'
            f'<title>{esc(p.title)}</title></circle>')


def _badge_mark(bg: _Badge, fr: _Frame, by: float) -> str:
    """A numbered circle centred at height ``by`` with a dashed drop line to the x axis."""
    bx = float(fr.sx(bg.x))
    return (f'<g class="badge {esc(bg.cls)}"><title>{esc(bg.title)}</title>'
            f'<line x1="{bx:.1f}" x2="{bx:.1f}" y1="{by + 7:.1f}" y2="{fr.mt + fr.ph}"/>'
            f'<circle cx="{bx:.1f}" cy="{by:.1f}" r="8"/>'
            f'<text x="{bx:.1f}" y="{by + 3.5:.1f}" text-anchor="middle">{esc(bg.text)}</text></g>')


def _nan_mark(xb: float, fr: _Frame) -> str:
    """A small cross on the x axis at plot x ``xb`` (a non-finite value)."""
    yb = fr.mt + fr.ph
    return (f'<path class="nanmark" d="M{xb - 3:.1f},{yb - 3:.1f}l6,6m0,-6l-6,6">'
            f'<title>non-finite value (NaN/inf)</title></path>')


def _star(px: float, py: float, r: float) -> str:
    """Polygon points of a five-pointed star centred at ``(px, py)`` (outer radius 1.6 r, inner 0.7 r)."""
    pts = []
    for k in range(10):
        rr = r * 1.6 if k % 2 == 0 else r * 0.7
        ang = -math.pi / 2 + k * math.pi / 5
        pts.append(f"{px + rr * math.cos(ang):.1f},{py + rr * math.sin(ang):.1f}")
    return " ".join(pts)


def _precomputed(edges: Any, counts: Any) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        e = np.asarray(edges, dtype=float).ravel()
        c = np.asarray(counts, dtype=float).ravel()
    except (TypeError, ValueError):
        return None
    if c.size == 0 or e.size != c.size + 1 or not np.all(np.isfinite(e)) or not np.all(np.diff(e) > 0):
        return None
    return np.where(np.isfinite(c) & (c > 0), c, 0.0), e


#: Margins around a histogram's plot area (left, right, top, bottom; user units).
HIST_MARGINS = (40, 8, 8, 30)


def histogram_chart(values: Sequence[float] | np.ndarray, *, bins: int = 30, xlabel: str = "", cls: str = "hist",
                    width: int = 320, height: int = 150, marks: Sequence[float] = (), edges: Any = None,
                    counts: Any = None) -> str:
    """A histogram of ``values`` (non-finite values dropped and counted in the title) as a small SVG, or of
    precomputed ``counts`` (shape ``(k,)``) over bin ``edges`` (shape ``(k + 1,)``, increasing) when given.

    ``marks`` are x positions drawn as dashed vertical lines (e.g. a suggested cut-off)."""
    pre = _precomputed(edges, counts) if edges is not None and counts is not None else None
    v = np.asarray(values, dtype=float).ravel()
    fin = v[np.isfinite(v)]
    n_bad = int(v.size - fin.size)
    ml, mr, mt, mb = HIST_MARGINS
    pw, ph = width - ml - mr, height - mt - mb
    n_vals = int(pre[0].sum()) if pre is not None else fin.size
    title = f"{xlabel}: {n_vals} values" + (f", {n_bad} non-finite dropped" if n_bad else "")
    out = [f'<svg class="chart hist" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" '
           f'role="img" aria-label="{esc(title)}"><title>{esc(title)}</title>',
           f'<rect class="plotbg" x="{ml}" y="{mt}" width="{pw}" height="{ph}"/>']
    if pre is None and fin.size == 0:
        out.append(f'<text class="tick" x="{width / 2}" y="{height / 2}" text-anchor="middle">no finite values</text>')
        out.append("</svg>")
        return "".join(out)
    counts_a, edges_a, lo, hi = _hist_bins(fin, bins) if pre is None else (*pre, float(pre[1][0]), float(pre[1][-1]))

    def hx(x: float) -> float:
        return ml + (float(x) - lo) / (hi - lo) * pw

    cmax = max(int(counts_a.max()), 1)
    out += _hist_bars(counts_a, edges_a, hx, mt, ph, cmax, cls)
    out += [f'<text class="tick" x="{hx(t):.1f}" y="{mt + ph + 14}" text-anchor="middle">{esc(fmt_num(t, 3))}</text>'
            for t in nice_ticks(lo, hi, 4)]
    out.append(f'<text class="tick" x="{ml - 4}" y="{mt + 9}" text-anchor="end">{cmax}</text>'
               f'<text class="tick" x="{ml - 4}" y="{mt + ph}" text-anchor="end">0</text>')
    out += [f'<line class="cutoff" x1="{hx(m):.1f}" x2="{hx(m):.1f}" y1="{mt}" y2="{mt + ph}"/>'
            for m in marks if m is not None and math.isfinite(float(m)) and lo <= float(m) <= hi]
    out.append(f'<text class="axlabel" x="{ml + pw / 2:.1f}" y="{height - 3}" text-anchor="middle">'
               f'{esc(xlabel)}</text>')
    out.append(f'<rect class="frame" x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="none"/></svg>')
    return "".join(out)


def _hist_bins(fin: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    """``(counts, edges, lo, hi)`` of finite values ``fin`` (non-empty) in at most ``bins`` equal bins (no more
    bins than values); a single distinct value gets a range of ±max(0.1% of it, 0.5) around it."""
    lo, hi = float(fin.min()), float(fin.max())
    if hi <= lo:
        pad = max(abs(lo) * 1e-3, 0.5)
        lo, hi = lo - pad, hi + pad
    counts, edges = np.histogram(fin, bins=max(1, min(bins, int(fin.size))), range=(lo, hi))
    return counts, edges, lo, hi


def _hist_bars(counts: np.ndarray, edges: np.ndarray, hx: Callable[[float], float], mt: int, ph: int, cmax: int,
               cls: str) -> list[str]:
    """One bar per non-empty bin, height ∝ count (``cmax`` fills the plot height ``ph``), with its range and
    count as a tooltip; ``hx`` maps data x to user units."""
    out = []
    for i, c in enumerate(counts):
        if c == 0:
            continue
        hh = c / cmax * ph
        xa, xb = hx(edges[i]), hx(edges[i + 1])
        out.append(f'<rect class="{esc(cls)}" x="{xa:.1f}" y="{mt + ph - hh:.1f}" '
                   f'width="{max(xb - xa - 0.6, 0.6):.1f}" height="{hh:.1f}"><title>{esc(fmt_num(edges[i], 3))}'
                   f'…{esc(fmt_num(edges[i + 1], 3))}: {int(c)}</title></rect>')
    return out
