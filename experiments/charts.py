"""Server-side SVG charts for the dashboards: no JavaScript, no CDN, readable in any browser."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

# Colour-blind-safe (Okabe–Ito); the control is always the first series, in grey-blue.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442")
# Verdict colours from the same palette: green a win, vermillion a loss, grey undecided.
VERDICT_COLOURS = {"win": "#009E73", "lose": "#D55E00", "inconclusive": "#8a8a8a"}


def line_chart_svg(
    *,
    series: Mapping[str, Sequence[tuple[dt.date, float | None]]],
    title: str,
    y_format: Callable[[float], str] = lambda v: f"{v:.3g}",
    width: int = 720,
    height: int = 280,
    bands: Mapping[str, Sequence[tuple[dt.date, float, float]]] | None = None,
    css_class: str = "experiment-chart",
) -> str:
    """A line per series over days, with y grid, day ticks and a legend; missing values are gaps.

    `bands` (series name → day, low, high) shade an interval around a series, with a line at 0."""
    bands = bands or {}
    margin_left, margin_right, margin_top, margin_bottom = 64, 140, 28, 36
    plot_w, plot_h = width - margin_left - margin_right, height - margin_top - margin_bottom
    days = sorted({day for points in series.values() for day, _ in points})
    values = [v for points in series.values() for _, v in points if v is not None]
    values += [v for band in bands.values() for _, low, high in band for v in (low, high)]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" class="{css_class}" font-family="sans-serif" font-size="11">',
        f'<text x="{margin_left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    if not days or not values:
        parts.append(f'<text x="{margin_left}" y="{margin_top + plot_h / 2}">No data yet.</text></svg>')
        return "".join(parts)
    low, high = min(0.0, min(values)), max(values)
    high = high if high > low else low + 1.0
    first, span = days[0], max((days[-1] - days[0]).days, 1)

    def x(day: dt.date) -> float:
        return margin_left + plot_w * ((day - first).days / span if len(days) > 1 else 0.5)

    def y(value: float) -> float:
        return margin_top + plot_h * (1 - (value - low) / (high - low))

    for i in range(5):
        value = low + (high - low) * i / 4
        parts.append(
            f'<line x1="{margin_left}" x2="{margin_left + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            'stroke="#ddd"/>'
            f'<text x="{margin_left - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{escape(y_format(value))}</text>'
        )
    step = max(1, len(days) // 6)
    for day in days[::step]:
        parts.append(
            f'<text x="{x(day):.1f}" y="{height - 12}" text-anchor="middle">{day:%d %b}</text>'
            f'<line x1="{x(day):.1f}" x2="{x(day):.1f}" y1="{margin_top + plot_h}" y2="{margin_top + plot_h + 4}" '
            'stroke="#666"/>'
        )
    parts.append(
        f'<rect x="{margin_left}" y="{margin_top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>'
    )
    if bands and low < 0 < high:
        parts.append(
            f'<line x1="{margin_left}" x2="{margin_left + plot_w}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#333"/>'
        )
    for i, (name, points) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        band = bands.get(name, ())
        if band:
            outline = [(x(d), y(hi)) for d, _, hi in band] + [(x(d), y(lo)) for d, lo, _ in reversed(band)]
            coords = " ".join(f"{px:.1f},{py:.1f}" for px, py in outline)
            parts.append(f'<polygon class="band" points="{coords}" fill="{colour}" fill-opacity="0.18" stroke="none"/>')
        coords = " ".join(f"{x(day):.1f},{y(value):.1f}" for day, value in points if value is not None)
        parts.append(
            f'<polyline class="series" data-series="{escape(name)}" points="{coords}" fill="none" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        for day, value in points:
            if value is not None:
                parts.append(f'<circle cx="{x(day):.1f}" cy="{y(value):.1f}" r="2.5" fill="{colour}"/>')
        legend_y = margin_top + 14 + 18 * i
        parts.append(
            f'<rect x="{width - margin_right + 12}" y="{legend_y - 9}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{width - margin_right + 30}" y="{legend_y + 1}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class LiftBar:
    """One row of the lift chart: a label, the point estimate and its interval, and the verdict."""

    label: str
    value: float
    low: float
    high: float
    verdict: str  # a key of VERDICT_COLOURS


def lift_chart_svg(*, bars: Sequence[LiftBar], title: str, width: int = 600) -> str:
    """Horizontal interval bars of relative lift around a zero line (a forest plot), coloured by
    verdict, each labelled with its estimate; the axis is symmetric so left and right read alike."""
    label_w, value_w, margin_top, row_h = 190, 150, 28, 24
    height = margin_top + row_h * max(len(bars), 1) + 30
    plot_w = width - label_w - value_w
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" class="lift-chart" font-family="sans-serif" font-size="11">',
        f'<text x="0" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    if not bars:
        parts.append(f'<text x="0" y="{margin_top + 14}">No comparison yet.</text></svg>')
        return "".join(parts)
    widest = max(max(abs(b.low), abs(b.high)) for b in bars)
    # round ticks (±step, ±2 step) wide enough for the widest interval
    step = next((s for s in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0) if 2 * s >= widest), widest / 2)
    extent = 2 * step * 1.05

    def x(value: float) -> float:
        return label_w + plot_w * (value + extent) / (2 * extent)

    bottom = margin_top + row_h * len(bars)
    for value in (-2 * step, -step, 0.0, step, 2 * step):
        parts.append(
            f'<line x1="{x(value):.1f}" x2="{x(value):.1f}" y1="{margin_top}" y2="{bottom}" '
            f'stroke="{"#333" if value == 0 else "#e3e3e3"}"/>'
            f'<text x="{x(value):.1f}" y="{bottom + 14}" text-anchor="middle">{value:+.0%}</text>'
        )
    for i, bar in enumerate(bars):
        cy = margin_top + row_h * i + row_h / 2
        colour = VERDICT_COLOURS.get(bar.verdict, VERDICT_COLOURS["inconclusive"])
        parts.append(
            f'<g class="lift-bar" data-verdict="{escape(bar.verdict)}">'
            f'<text x="0" y="{cy + 4:.1f}">{escape(bar.label)}</text>'
            f'<rect x="{x(bar.low):.1f}" y="{cy - 5:.1f}" width="{max(x(bar.high) - x(bar.low), 1):.1f}" height="10" '
            f'fill="{colour}" fill-opacity="0.35" stroke="{colour}"/>'
            f'<circle cx="{x(bar.value):.1f}" cy="{cy:.1f}" r="4" fill="{colour}"/>'
            f'<text x="{label_w + plot_w + 8}" y="{cy + 4:.1f}" fill="{colour}" font-weight="bold">'
            f"{bar.value:+.1%} [{bar.low:+.1%}, {bar.high:+.1%}]</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)
