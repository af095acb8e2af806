"""Small inline SVG charts drawn on the server: no JavaScript library, no request elsewhere.

The dashboard draws what the store holds (search history, leaderboards, prediction
activity) with these; the full evaluation plots come from the HTML report when there is
one. Colours are the Okabe-Ito palette (safe for colour-blind readers); every chart has a
title, labelled axes and a ``<title>`` per point for hover text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

__all__ = ["PALETTE", "Series", "bar_chart", "line_chart", "waterfall_chart"]

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
_W, _H = 560, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 58, 16, 44, 42


@dataclass(frozen=True)
class Series:
    """One line of a line chart: ``(x, y)`` points and a legend name."""

    name: str
    points: Sequence[tuple[float, float]]
    dashed: bool = False
    markers: bool = True


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 0.01:
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return f"{value:.2e}"


def _ticks(low: float, high: float, n: int = 5) -> list[float]:
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        return [low]
    raw = (high - low) / max(n - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.ceil(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _span(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    if high == low:
        pad = abs(low) * 0.05 or 1.0
        return low - pad, high + pad
    pad = (high - low) * 0.05
    return low - pad, high + pad


def _frame(title: str, body: str, label: str) -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {_W} {_H}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<text class="chart-title" x="{_LEFT}" y="18">{escape(title)}</text>{body}</svg>'
    )


def _empty(title: str, message: str) -> Markup:
    body = (
        f'<text class="chart-empty" x="{_W / 2}" y="{_H / 2}" text-anchor="middle">'
        f"{escape(message)}</text>"
    )
    return _frame(title, body, f"{title}: {message}")


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    x_ticks: Sequence[tuple[float, str]] | None = None,
    empty: str = "no data yet",
) -> Markup:
    """An SVG line chart of one or more series (``x_ticks`` overrides the x tick labels).

    Examples
    --------
    >>> svg = line_chart("Score", [Series("cv", [(1, 0.8), (2, 0.85)])], x_label="trial",
    ...                  y_label="roc_auc")
    >>> svg.startswith("<svg") and "polyline" in svg
    True
    """
    drawn = [s for s in series if s.points]
    if not drawn:
        return _empty(title, empty)
    xs = [float(x) for s in drawn for x, _ in s.points]
    ys = [float(y) for s in drawn for _, y in s.points if math.isfinite(float(y))]
    if not ys:
        return _empty(title, empty)
    x0, x1 = (min(xs), max(xs)) if max(xs) > min(xs) else _span(xs)
    y0, y1 = _span(ys)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def px(x: float) -> float:
        return _LEFT + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return _TOP + (1 - (y - y0) / (y1 - y0)) * plot_h

    parts = [_axes(y0, y1, py, x_label, y_label)]
    ticks = x_ticks if x_ticks is not None else [(t, _fmt(t)) for t in _ticks(x0, x1)]
    for value, text in ticks:
        if x0 <= value <= x1:
            x = px(value)
            anchor = "end" if x > _W - _RIGHT - 30 else "middle"
            parts.append(
                f'<text class="tick" x="{x:.1f}" y="{_TOP + plot_h + 14}" '
                f'text-anchor="{anchor}">{escape(text)}</text>'
            )
    for i, s in enumerate(drawn):
        colour = PALETTE[i % len(PALETTE)]
        pts = [(float(x), float(y)) for x, y in s.points if math.isfinite(float(y))]
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        dash = ' stroke-dasharray="5 4"' if s.dashed else ""
        parts.append(
            f'<polyline class="series" data-series="{escape(s.name)}" fill="none" '
            f'stroke="{colour}" stroke-width="2"{dash} points="{path}"/>'
        )
        if s.markers and len(pts) <= 200:
            for x, y in pts:
                parts.append(
                    f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}">'
                    f"<title>{escape(s.name)}: {_fmt(x)}, {_fmt(y)}</title></circle>"
                )
    parts.append(_legend([s.name for s in drawn]))
    return _frame(title, "".join(parts), f"{title} ({y_label} by {x_label})")


def bar_chart(
    title: str,
    bars: Sequence[tuple[str, float]],
    *,
    value_label: str,
    empty: str = "no data yet",
) -> Markup:
    """An SVG horizontal bar chart, one bar per ``(label, value)``, in the order given.

    Examples
    --------
    >>> "<rect" in bar_chart("CV score", [("lightgbm", 0.9), ("knn", 0.8)], value_label="auc")
    True
    """
    bars = [(str(k), float(v)) for k, v in bars if v is not None and math.isfinite(float(v))]
    if not bars:
        return _empty(title, empty)
    bars = bars[:12]
    values = [v for _, v in bars]
    low = min(0.0, min(values))
    high = max(values) if max(values) > low else low + 1.0
    label_w = 150
    plot_w = _W - label_w - _RIGHT - 50
    row_h = (_H - _TOP - 20) / len(bars)
    parts = []
    for i, (label, value) in enumerate(bars):
        y = _TOP + i * row_h
        width = (value - low) / (high - low) * plot_w
        short = label if len(label) <= 24 else label[:23] + "…"
        parts.append(
            f'<text class="tick" x="{label_w - 6}" y="{y + row_h * 0.62:.1f}" '
            f'text-anchor="end">{escape(short)}</text>'
            f'<rect x="{label_w}" y="{y + row_h * 0.15:.1f}" width="{max(width, 1):.1f}" '
            f'height="{row_h * 0.7:.1f}" fill="{PALETTE[0] if i else PALETTE[1]}">'
            f"<title>{escape(label)}: {_fmt(value)}</title></rect>"
            f'<text class="tick" x="{label_w + width + 4:.1f}" y="{y + row_h * 0.62:.1f}">'
            f"{_fmt(value)}</text>"
        )
    parts.append(
        f'<text class="axis-label" x="{label_w + plot_w / 2}" y="{_H - 4}" '
        f'text-anchor="middle">{escape(value_label)}</text>'
    )
    return _frame(title, "".join(parts), f"{title} ({value_label})")


def _axes(y0: float, y1: float, py: object, x_label: str, y_label: str) -> str:
    plot_h = _H - _TOP - _BOTTOM
    parts = [
        f'<line class="axis" x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{_TOP + plot_h}"/>',
        f'<line class="axis" x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{_W - _RIGHT}" '
        f'y2="{_TOP + plot_h}"/>',
    ]
    for t in _ticks(y0, y1):
        y = py(t)  # type: ignore[operator]
        parts.append(
            f'<line class="grid" x1="{_LEFT}" y1="{y:.1f}" x2="{_W - _RIGHT}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(t)}</text>'
        )
    parts.append(
        f'<text class="axis-label" x="{_LEFT + (_W - _LEFT - _RIGHT) / 2}" y="{_H - 6}" '
        f'text-anchor="middle">{escape(x_label)}</text>'
        f'<text class="axis-label" transform="translate(14 {_TOP + plot_h / 2}) rotate(-90)" '
        f'text-anchor="middle">{escape(y_label)}</text>'
    )
    return "".join(parts)


def _legend(names: Sequence[str]) -> str:
    """One row of legend entries under the title, left to right."""
    if len(names) < 2:
        return ""
    parts = []
    x = float(_LEFT)
    for i, name in enumerate(names):
        text = name if len(name) <= 18 else name[:17] + "…"
        parts.append(
            f'<rect x="{x:.0f}" y="27" width="12" height="4" fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text class="tick" x="{x + 16:.0f}" y="33">{escape(text)}</text>'
        )
        x += 6 * len(text) + 32
    return "".join(parts)


def waterfall_chart(
    title: str,
    base: float,
    contributions: Sequence[tuple[str, float]],
    *,
    value_label: str,
    top: int = 12,
) -> Markup:
    """An SVG waterfall: from ``base``, each column's contribution as a bar that moves the
    running total (up in vermillion, down in blue), largest first; the smallest are summed
    into one bar, and the last line is the output (``base`` plus every contribution).

    Examples
    --------
    >>> svg = waterfall_chart("Why", 0.38, [("Sex", -0.2), ("Age", 0.05)], value_label="p")
    >>> svg.count("<rect"), "0.23" in svg
    (2, True)
    """
    items = [(str(k), float(v)) for k, v in contributions if math.isfinite(float(v))]
    items.sort(key=lambda kv: -abs(kv[1]))
    if len(items) > top:
        rest = items[top - 1 :]
        items = [*items[: top - 1], (f"{len(rest)} other columns", sum(v for _, v in rest))]
    output = base + sum(v for _, v in items)
    totals = [base]
    for _, v in items:
        totals.append(totals[-1] + v)
    low, high = _span(totals)
    label_w, value_w = 170, 58
    plot_w = _W - label_w - _RIGHT - value_w
    rows = len(items) + 2  # base, the bars, the output
    row_h = min(24.0, (max(_H, 60 + 22 * rows) - _TOP - 30) / rows)
    height = _TOP + rows * row_h + 30

    def px(x: float) -> float:
        return label_w + (x - low) / (high - low) * plot_w

    parts = []
    for t in _ticks(low, high):
        x = px(t)
        parts.append(
            f'<line class="grid" x1="{x:.1f}" y1="{_TOP - 4}" x2="{x:.1f}" '
            f'y2="{_TOP + rows * row_h:.1f}"/><text class="tick" x="{x:.1f}" '
            f'y="{_TOP + rows * row_h + 12:.1f}" text-anchor="middle">{_fmt(t)}</text>'
        )

    def label(y: float, text: str, value: str, bold: bool = False) -> str:
        weight = ' font-weight="600"' if bold else ""
        short = text if len(text) <= 26 else text[:25] + "…"
        return (
            f'<text class="tick"{weight} x="{label_w - 6}" y="{y + row_h * 0.62:.1f}" '
            f'text-anchor="end">{escape(short)}</text><text class="tick"{weight} '
            f'x="{_W - _RIGHT}" y="{y + row_h * 0.62:.1f}" text-anchor="end">{value}</text>'
        )

    def marker(y: float, x: float, what: str) -> str:
        return (
            f'<line x1="{px(x):.1f}" y1="{y + 2:.1f}" x2="{px(x):.1f}" y2="{y + row_h - 2:.1f}" '
            f'stroke="#000" stroke-width="2"><title>{escape(what)}: {_fmt(x)}</title></line>'
        )

    parts.append(label(_TOP, "base value", _fmt(base), bold=True) + marker(_TOP, base, "base"))
    for i, (name, v) in enumerate(items):
        y = _TOP + (i + 1) * row_h
        start, end = totals[i], totals[i + 1]
        left, width = px(min(start, end)), max(abs(px(end) - px(start)), 1.0)
        colour = PALETTE[5] if v > 0 else PALETTE[0]
        parts.append(
            label(y, name, ("+" if v > 0 else "") + _fmt(v))
            + f'<rect data-column="{escape(name)}" x="{left:.1f}" y="{y + row_h * 0.15:.1f}" '
            f'width="{width:.1f}" height="{row_h * 0.7:.1f}" fill="{colour}">'
            f"<title>{escape(name)}: {'+' if v > 0 else ''}{_fmt(v)}</title></rect>"
            f'<line class="grid" x1="{px(end):.1f}" y1="{y + row_h * 0.85:.1f}" '
            f'x2="{px(end):.1f}" y2="{y + row_h * 1.15:.1f}" stroke="#8c96a3"/>'
        )
    y = _TOP + (len(items) + 1) * row_h
    parts.append(label(y, value_label, _fmt(output), bold=True) + marker(y, output, value_label))
    parts.append(
        f'<text class="axis-label" x="{label_w + plot_w / 2}" y="{height - 4:.0f}" '
        f'text-anchor="middle">{escape(value_label)}</text>'
    )
    return Markup(
        f'<svg class="chart waterfall" viewBox="0 0 {_W} {height:.0f}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f'<text class="chart-title" x="{_LEFT}" y="18">{escape(title)}</text>'
        + "".join(parts)
        + "</svg>"
    )
