"""Bar charts as inline SVG, drawn on the server: no chart library, no script, CSP-clean.

Every piece of text (labels can come from alerts) goes through ``escape`` here (bidi
controls dropped, then ``markupsafe.escape``); the
result is marked safe only as a whole. Colours come from classes styled in app.css, so the
charts follow the page's palette; each chart has a <title> and <desc> for screen readers
(the pages put the same figures in a table beside it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup
from markupsafe import escape as _escape

from bot.webview.templating import shown


def escape(value: object) -> Markup:
    """Text for the SVG: bidi and control characters dropped (``shown``), then escaped."""
    return _escape(shown(value))

WIDTH = 640
HEIGHT = 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 40


def _nice_max(value: float) -> float:
    """A round upper bound for the axis (1, 2, 5 × 10^n) at or above ``value``."""
    if value <= 0:
        return 1.0
    step = 1.0
    while step * 10 <= value:
        step *= 10
    while step > value * 10:
        step /= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= value:
            return step * factor
    return step * 10


def _open(title: str, desc: str, chart_id: str, height: int = HEIGHT) -> list[str]:
    return [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(desc)}</desc>',
    ]


def _axis(top: float, fmt: Callable[[float], str], height: int = HEIGHT) -> list[str]:
    parts = []
    plot = height - TOP - BOTTOM
    for tick in range(5):
        value = top * tick / 4
        y = TOP + plot - plot * tick / 4
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(fmt(value))}</text>')
    return parts


def _legend(names: Sequence[str], classes: Sequence[str], height: int = HEIGHT) -> list[str]:
    parts = []
    x = LEFT
    for name, css in zip(names, classes, strict=True):
        parts.append(f'<rect class="{escape(css)}" x="{x}" y="{height - 14}" width="10" height="10"/>')
        parts.append(f'<text class="legend" x="{x + 14}" y="{height - 5}">{escape(name)}</text>')
        x += 24 + 8 * len(name)
    return parts


def stacked_bars(
    categories: Sequence[str], series: dict[str, list[int]], classes: dict[str, str], *, title: str, desc: str, chart_id: str
) -> Markup:
    """One bar per category, stacked by series (incidents per week by severity)."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(categories))]
    top = _nice_max(max(totals, default=0))
    parts = [*_open(title, desc, chart_id), *_axis(top, lambda v: f"{v:g}")]
    plot = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(categories))
    for i, category in enumerate(categories):
        x = LEFT + slot * i + slot * 0.15
        y = float(TOP + plot)
        for name, values in series.items():
            if values[i]:
                h = plot * values[i] / top
                y -= h
                parts.append(
                    f'<rect class="{escape(classes[name])}" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}">'
                    f"<title>{escape(category)}: {values[i]} {escape(name)}</title></rect>"
                )
        parts.append(f'<text class="tick" x="{x + slot * 0.35:.1f}" y="{TOP + plot + 14}" text-anchor="middle">{escape(category)}</text>')
    parts += _legend(list(series), [classes[name] for name in series])
    parts.append("</svg>")
    return Markup("".join(parts))


def grouped_bars(
    categories: Sequence[str],
    series: dict[str, list[float | None]],
    classes: dict[str, str],
    fmt: Callable[[float], str],
    *,
    title: str,
    desc: str,
    chart_id: str,
) -> Markup:
    """Side-by-side bars per category; a missing value (None) leaves a gap."""
    values = [value for row in series.values() for value in row if value is not None]
    top = _nice_max(max(values, default=0))
    parts = [*_open(title, desc, chart_id), *_axis(top, fmt)]
    plot = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(1, len(categories))
    width = slot * 0.8 / max(1, len(series))
    for i, category in enumerate(categories):
        x = LEFT + slot * i + slot * 0.1
        for name, row in series.items():
            value = row[i]
            if value is not None:
                h = max(1.0, plot * value / top)
                parts.append(
                    f'<rect class="{escape(classes[name])}" x="{x:.1f}" y="{TOP + plot - h:.1f}" width="{width:.1f}" height="{h:.1f}">'
                    f"<title>{escape(category)}: {escape(name)} {escape(fmt(value))}</title></rect>"
                )
            x += width
        parts.append(f'<text class="tick" x="{LEFT + slot * i + slot / 2:.1f}" y="{TOP + plot + 14}" text-anchor="middle">{escape(category)}</text>')
    parts += _legend(list(series), [classes[name] for name in series])
    parts.append("</svg>")
    return Markup("".join(parts))


def horizontal_bars(items: Sequence[tuple[str, float]], fmt: Callable[[float], str], *, title: str, desc: str, chart_id: str, css: str = "bar") -> Markup:
    """One labelled bar per item, longest first as given (levels, noisy alert groups)."""
    row = 24
    height = TOP + row * max(1, len(items)) + 8
    top = _nice_max(max((value for _, value in items), default=0))
    label_width = 220
    parts = _open(title, desc, chart_id, height)
    span = WIDTH - label_width - RIGHT - 60
    for i, (label, value) in enumerate(items):
        y = TOP + row * i
        shown = label if len(label) <= 32 else label[:31] + "…"
        w = max(1.0, span * value / top)
        parts.append(f'<text class="tick" x="{label_width - 6}" y="{y + 15}" text-anchor="end">{escape(shown)}</text>')
        parts.append(
            f'<rect class="{escape(css)}" x="{label_width}" y="{y + 3}" width="{w:.1f}" height="{row - 8}">'
            f"<title>{escape(label)}: {escape(fmt(value))}</title></rect>"
        )
        parts.append(f'<text class="value" x="{label_width + w + 6:.1f}" y="{y + 15}">{escape(fmt(value))}</text>')
    if not items:
        parts.append(f'<text class="tick" x="{LEFT}" y="{TOP + 15}">nothing in this period</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
