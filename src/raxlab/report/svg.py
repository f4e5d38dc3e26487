"""A small SVG plotting kit: axes (linear or log), lines, points, error bars, reference
lines, a marked point, stacked bars, legends. Pure Python, no JavaScript, so a report
works offline from file:// and prints exactly as it shows.

All text passes through `esc` here (XML escaping), so a user string in a series name or an
axis label stays text. Every data mark carries class "mark" (the browser test counts them);
legend entries carry class "legend".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape
from typing import Callable

from raxlab.textsafe import clean

# Okabe-Ito: distinguishable with the common colour-vision deficiencies (yellow left out: too pale on white).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
MARKERS = ("circle", "square", "triangle", "diamond")
LEGEND_COLS, LEGEND_W, LEGEND_CHARS = 2, 290, 40  # 40 characters of 12 px text fit in 290 px
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"'


def esc(text) -> str:
    return escape(clean(text), quote=True)


def _f(v: float) -> str:
    return f"{v:.1f}"


@dataclass
class Axis:
    label: str
    log: bool = False
    fmt: Callable[[float], str] = lambda v: f"{v:g}"
    base: int = 10  # log axes: tick at powers of this
    lo: float | None = None  # fixed range; None: from the data
    hi: float | None = None
    zero: bool = False  # linear axes: include 0


def _linear_ticks(lo: float, hi: float) -> list[float]:
    step = _nice_step(hi - lo)
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step + 1e-9) + 1)]


def _nice_step(span: float, n: int = 5) -> float:
    raw = span / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


class _Scale:
    def __init__(self, axis: Axis, values: list[float], a: float, b: float):
        vals = [v for v in values if v is not None and math.isfinite(v) and (v > 0 or not axis.log)]
        lo = axis.lo if axis.lo is not None else min(vals, default=1.0)
        hi = axis.hi if axis.hi is not None else max(vals, default=1.0)
        if axis.zero and not axis.log:
            lo, hi = min(lo, 0.0), max(hi, 0.0)
        self.axis, self.a, self.b = axis, a, b
        self.lo, self.hi = self._pad(lo, hi)

    def _pad(self, lo: float, hi: float) -> tuple[float, float]:
        if self.axis.log:
            lo, hi = math.log(lo, self.axis.base), math.log(hi, self.axis.base)
            if hi - lo < 1e-9:
                lo, hi = lo - 0.5, hi + 0.5
            pad = 0.06 * (hi - lo)
            return lo - pad, hi + pad
        if hi - lo < 1e-12:
            lo, hi = (lo - 1, hi + 1) if lo == 0 else (lo * 0.9, hi * 1.1) if lo > 0 else (lo * 1.1, hi * 0.9)
        pad = 0.06 * (hi - lo)
        return (lo if self.axis.zero and lo == 0 else lo - pad), hi + pad

    def __call__(self, v: float) -> float:
        t = math.log(v, self.axis.base) if self.axis.log else v
        return self.a + (t - self.lo) / (self.hi - self.lo) * (self.b - self.a)

    def ticks(self) -> list[float]:
        if not self.axis.log:
            return _linear_ticks(self.lo, self.hi)
        k0, k1 = math.ceil(self.lo - 1e-9), math.floor(self.hi + 1e-9)
        ks = list(range(k0, k1 + 1))
        if len(ks) >= 3 or (len(ks) == 2 and self.axis.base == 2):  # batch sizes: powers of two only
            stride = max(1, math.ceil(len(ks) / 8))
            return [float(self.axis.base) ** k for k in ks[::stride]]
        # less than ~2 decades shown: 1-2-5 steps (base 10) or plain linear steps inside the range
        lo, hi = self.axis.base ** self.lo, self.axis.base ** self.hi
        if self.axis.base == 10:
            steps = [m * 10.0**k for k in range(k0 - 1, k1 + 1) for m in (1, 2, 5) if lo <= m * 10.0**k <= hi]
            if len(steps) >= 3:
                return steps
        return [t for t in _linear_ticks(lo, hi) if t > 0]


def marker(shape: str, x: float, y: float, color: str, r: float = 4.0, cls: str = "mark", tip: str = "") -> str:
    title = f"<title>{esc(tip)}</title>" if tip else ""
    if shape == "square":
        body = f'<rect class="{cls}" x="{_f(x - r)}" y="{_f(y - r)}" width="{_f(2 * r)}" height="{_f(2 * r)}" fill="{color}">'
        return body + title + "</rect>"
    if shape in ("triangle", "diamond", "star"):
        pts = _polygon(shape, x, y, r)
        return f'<polygon class="{cls}" points="{pts}" fill="{color}" stroke="#222" stroke-width="0.6">{title}</polygon>'
    return f'<circle class="{cls}" cx="{_f(x)}" cy="{_f(y)}" r="{_f(r)}" fill="{color}">{title}</circle>'


def _polygon(shape: str, x: float, y: float, r: float) -> str:
    if shape == "triangle":
        pts = [(x, y - r * 1.2), (x + r * 1.1, y + r * 0.8), (x - r * 1.1, y + r * 0.8)]
    elif shape == "diamond":
        pts = [(x, y - r * 1.3), (x + r, y), (x, y + r * 1.3), (x - r, y)]
    else:  # a five-pointed star for "the recommendation"
        pts = [(x + (r if i % 2 == 0 else r * 0.45) * math.sin(i * math.pi / 5),
                y - (r if i % 2 == 0 else r * 0.45) * math.cos(i * math.pi / 5)) for i in range(10)]
    return " ".join(f"{_f(a)},{_f(b)}" for a, b in pts)


@dataclass
class _Item:
    name: str
    color: str
    shape: str | None
    dash: bool
    svg: list[str] = field(default_factory=list)


class Plot:
    """An x-y chart. Add series, then `render()`; empty plots render a 'no data' note."""

    W, H = 680, 360
    LEFT, RIGHT, TOP, BOTTOM = 74, 18, 14, 48

    def __init__(self, x: Axis, y: Axis, desc: str = "", width: int = 680):
        self.x, self.y, self.desc, self.W = x, y, desc, width
        self.cols = max(1, (width - self.LEFT) // LEGEND_W)
        self.series: list[tuple] = []  # (kind, xs, ys, extra)
        self.refs: list[tuple] = []
        self.legend: list[_Item] = []

    def _style(self, i: int | None, color: str | None, shape: str | None):
        n = len(self.legend) if i is None else i
        return color or PALETTE[n % len(PALETTE)], shape or MARKERS[n % len(MARKERS)]

    def line(self, xs, ys, name: str, *, color=None, shape=None, dash=False, markers=True, tips=None, index=None):
        color, shape = self._style(index, color, shape)
        self.series.append(("line", list(xs), list(ys), dict(color=color, shape=shape if markers else None,
                                                              dash=dash, tips=tips)))
        self.legend.append(_Item(name, color, shape if markers else None, dash))

    def points(self, xs, ys, name: str, *, color=None, shape=None, tips=None, index=None, r=4.0):
        color, shape = self._style(index, color, shape)
        self.series.append(("points", list(xs), list(ys), dict(color=color, shape=shape, tips=tips, r=r)))
        self.legend.append(_Item(name, color, shape, False))

    def errorbars(self, xs, lo, hi, *, color="#555"):
        self.series.append(("err", list(xs), list(zip(lo, hi)), dict(color=color)))

    def star(self, x: float, y: float, name: str, color: str = "#E69F00"):
        self.series.append(("star", [x], [y], dict(color=color, name=name)))
        self.legend.append(_Item(name, color, "star", False))

    def vline(self, x: float, text: str):
        self.refs.append(("v", x, text))

    def hline(self, y: float, text: str):
        self.refs.append(("h", y, text))

    def _values(self, which: int) -> list[float]:
        vals = []
        for kind, xs, ys, _ in self.series:
            if which == 0:
                vals += xs
            else:
                vals += [v for pair in ys for v in pair] if kind == "err" else ys
        vals += [v for k, v, _ in self.refs if (k == "v") == (which == 0)]
        return [v for v in vals if v is not None]

    def render(self) -> str:
        leg_rows = math.ceil(len(self.legend) / self.cols)
        height = self.H + 20 * leg_rows + 8  # room for the last legend row's descenders
        x0, x1, y0, y1 = self.LEFT, self.W - self.RIGHT, self.H - self.BOTTOM, self.TOP
        sx = _Scale(self.x, self._values(0), x0, x1)
        sy = _Scale(self.y, self._values(1), y0, y1)
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.W} {height}" width="100%" '
               f'role="img" {FONT} font-size="12"><desc>{esc(self.desc)}</desc>',
               f'<rect x="{x0}" y="{y1}" width="{x1 - x0}" height="{y0 - y1}" fill="#fff" stroke="#bbb"/>']
        out += self._grid(sx, sy, x0, x1, y0, y1)
        clip = f"plot{id(self)}"
        out.append(f'<clipPath id="{clip}"><rect x="{x0}" y="{y1}" width="{x1 - x0}" height="{y0 - y1}"/></clipPath>')
        out.append(f'<g clip-path="url(#{clip})">')
        out += self._refs(sx, sy, x0, x1, y0, y1)
        for kind, xs, ys, extra in self.series:
            out += self._draw(kind, xs, ys, extra, sx, sy)
        out.append("</g>")
        out += self._legend(self.H + 4)
        out.append("</svg>")
        return "\n".join(out)

    def _grid(self, sx, sy, x0, x1, y0, y1) -> list[str]:
        out = []
        for t in sx.ticks():
            px = sx(t)
            if x0 - 0.5 <= px <= x1 + 0.5:
                out.append(f'<line x1="{_f(px)}" y1="{y1}" x2="{_f(px)}" y2="{y0}" stroke="#eee"/>'
                           f'<text x="{_f(px)}" y="{y0 + 16}" text-anchor="middle">{esc(self.x.fmt(t))}</text>')
        for t in sy.ticks():
            py = sy(t)
            if y1 - 0.5 <= py <= y0 + 0.5:
                out.append(f'<line x1="{x0}" y1="{_f(py)}" x2="{x1}" y2="{_f(py)}" stroke="#eee"/>'
                           f'<text x="{x0 - 6}" y="{_f(py + 4)}" text-anchor="end">{esc(self.y.fmt(t))}</text>')
        out.append(f'<text x="{(x0 + x1) / 2:.0f}" y="{y0 + 36}" text-anchor="middle" font-weight="600">'
                   f'{esc(self.x.label)}</text>')
        out.append(f'<text transform="translate(16 {(y0 + y1) / 2:.0f}) rotate(-90)" text-anchor="middle" '
                   f'font-weight="600">{esc(self.y.label)}</text>')
        return out

    def _refs(self, sx, sy, x0, x1, y0, y1) -> list[str]:
        out = []
        for kind, v, text in self.refs:
            if kind == "v":
                p = sx(v)
                out.append(f'<line x1="{_f(p)}" y1="{y1}" x2="{_f(p)}" y2="{y0}" stroke="#777" stroke-dasharray="6 4"/>'
                           f'<text x="{_f(p + 4)}" y="{y1 + 14}" fill="#444">{esc(text)}</text>')
            else:
                p = sy(v)
                out.append(f'<line x1="{x0}" y1="{_f(p)}" x2="{x1}" y2="{_f(p)}" stroke="#777" stroke-dasharray="6 4"/>'
                           f'<text x="{x1 - 4}" y="{_f(p - 5)}" text-anchor="end" fill="#444">{esc(text)}</text>')
        return out

    def _draw(self, kind, xs, ys, extra, sx, sy) -> list[str]:
        ok = [(x, y, i) for i, (x, y) in enumerate(zip(xs, ys))
              if x is not None and y is not None and (not self.x.log or x > 0)
              and (kind == "err" or not self.y.log or y > 0)]
        tips = extra.get("tips") or [""] * len(xs)
        if kind == "err":
            return [f'<line class="mark" x1="{_f(sx(x))}" y1="{_f(sy(lo))}" x2="{_f(sx(x))}" y2="{_f(sy(hi))}" '
                    f'stroke="{extra["color"]}" stroke-width="1.5"/>' for x, (lo, hi), _ in ok
                    if lo is not None and hi is not None and (not self.y.log or lo > 0)]
        if kind == "star":
            return [marker("star", sx(x), sy(y), extra["color"], r=10, tip=extra["name"]) for x, y, _ in ok]
        out = []
        if kind == "line" and len(ok) > 1:
            pts = " ".join(f"{_f(sx(x))},{_f(sy(y))}" for x, y, _ in ok)
            dash = ' stroke-dasharray="7 4"' if extra["dash"] else ""
            out.append(f'<polyline class="mark" points="{pts}" fill="none" stroke="{extra["color"]}" '
                       f'stroke-width="2"{dash}/>')
        if extra.get("shape"):
            out += [marker(extra["shape"], sx(x), sy(y), extra["color"], r=extra.get("r", 4.0), tip=tips[i])
                    for x, y, i in ok]
        return out

    def _legend(self, top: float) -> list[str]:
        out = []
        for i, item in enumerate(self.legend):
            x, y = self.LEFT + (i % self.cols) * LEGEND_W, top + 20 * (i // self.cols) + 10
            out.append(f'<g class="legend">')
            if item.shape is None or item.dash:
                dash = ' stroke-dasharray="7 4"' if item.dash else ""
                out.append(f'<line x1="{x}" y1="{y}" x2="{x + 22}" y2="{y}" stroke="{item.color}" stroke-width="2"{dash}/>')
            if item.shape:
                out.append(marker(item.shape, x + 11, y, item.color, r=7 if item.shape == "star" else 4, cls="key"))
            out.append(f'<text x="{x + 28}" y="{y + 4}">{esc(_clip(item.name, LEGEND_CHARS))}</text></g>')
        return out


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


BAR, BAR_GAP, BAR_LEFT, BAR_TOP = 22, 12, 230, 10  # bar height, gap, label column, top margin (px)


def stacked_bars(categories: list[str], segments: list[tuple[str, list[float | None]]], *,
                 value_fmt: Callable[[float], str], axis_label: str, markers: list[tuple[str, list]] = (),
                 limit: tuple[str, float] | None = None, desc: str = "") -> str:
    """Horizontal stacked bars, one per category; `markers` are per-category ticks (e.g. a
    measured peak), `limit` a vertical line (e.g. the GPU's memory)."""
    W, h_plot = 680, len(categories) * (BAR + BAR_GAP)
    n_leg = len(segments) + len(markers) + (1 if limit else 0)
    height = BAR_TOP + h_plot + 52 + 20 * math.ceil(n_leg / LEGEND_COLS)
    totals = [sum(v for _, vals in segments if (v := vals[i]) is not None) for i in range(len(categories))]
    extra = [v for _, vals in markers for v in vals if v is not None] + ([limit[1]] if limit else [])
    scale = _Scale(Axis(axis_label, zero=True), totals + extra, BAR_LEFT, W - 24)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" width="100%" role="img" '
           f'{FONT} font-size="12"><desc>{esc(desc)}</desc>', *_bar_axis(scale, h_plot, value_fmt, axis_label)]
    for i, cat in enumerate(categories):
        out += _bar_row(scale, BAR_TOP + i * (BAR + BAR_GAP), cat, [(n, v[i]) for n, v in segments],
                        [(n, v[i]) for n, v in markers], value_fmt)
    if limit:
        px = scale(limit[1])
        out.append(f'<line x1="{_f(px)}" y1="{BAR_TOP - 4}" x2="{_f(px)}" y2="{BAR_TOP + h_plot}" stroke="#D55E00" '
                   f'stroke-dasharray="6 4" stroke-width="2"/>')
    out += _bar_legend(segments, markers, limit, BAR_TOP + h_plot + 50, BAR_LEFT)
    out.append("</svg>")
    return "\n".join(out)


def _bar_axis(scale: _Scale, h_plot: float, value_fmt, axis_label: str) -> list[str]:
    out = []
    for t in scale.ticks():
        px = scale(t)
        out.append(f'<line x1="{_f(px)}" y1="{BAR_TOP}" x2="{_f(px)}" y2="{BAR_TOP + h_plot}" stroke="#eee"/>'
                   f'<text x="{_f(px)}" y="{BAR_TOP + h_plot + 14}" text-anchor="middle">{esc(value_fmt(t))}</text>')
    out.append(f'<text x="{(scale.a + scale.b) / 2:.0f}" y="{BAR_TOP + h_plot + 32}" text-anchor="middle" '
               f'font-weight="600">{esc(axis_label)}</text>')
    return out


def _bar_row(scale: _Scale, y: float, cat: str, parts: list[tuple[str, float | None]],
             ticks: list[tuple[str, float | None]], value_fmt) -> list[str]:
    """One category: its label, its parts stacked left to right, its marker ticks."""
    out = [f'<text x="{BAR_LEFT - 6}" y="{y + BAR / 2 + 4:.0f}" text-anchor="end">{esc(_clip(cat, 34))}</text>']
    acc = 0.0
    for j, (name, v) in enumerate(parts):
        if not v:
            continue
        x_a, x_b = scale(acc), scale(acc + v)
        acc += v
        out.append(f'<rect class="mark" x="{_f(x_a)}" y="{y}" width="{_f(max(x_b - x_a, 0.5))}" height="{BAR}" '
                   f'fill="{PALETTE[j % len(PALETTE)]}"><title>{esc(cat)}: {esc(name)} {esc(value_fmt(v))}</title></rect>')
    for name, v in ticks:
        if v is not None:
            px = scale(v)
            out.append(f'<line class="mark" x1="{_f(px)}" y1="{y - 3}" x2="{_f(px)}" y2="{y + BAR + 3}" stroke="#000" '
                       f'stroke-width="3"><title>{esc(cat)}: {esc(name)} {esc(value_fmt(v))}</title></line>')
    return out


def _bar_legend(segments, markers, limit, y0: float, left: int) -> list[str]:
    items = [(n, f'<rect x="0" y="-6" width="14" height="12" fill="{PALETTE[j % len(PALETTE)]}"/>')
             for j, (n, _) in enumerate(segments)]
    items += [(n, '<line x1="7" y1="-8" x2="7" y2="8" stroke="#000" stroke-width="3"/>') for n, _ in markers]
    if limit:
        items.append((limit[0], '<line x1="0" y1="0" x2="16" y2="0" stroke="#D55E00" stroke-dasharray="6 4" stroke-width="2"/>'))
    out = []
    for i, (name, icon) in enumerate(items):
        x, y = 20 + (i % LEGEND_COLS) * (LEGEND_W + 30), y0 + 20 * (i // LEGEND_COLS)
        out.append(f'<g class="legend" transform="translate({x} {y})">{icon}'
                   f'<text x="20" y="4">{esc(_clip(name, LEGEND_CHARS + 4))}</text></g>')
    return out
