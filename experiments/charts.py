"""Server-side SVG charts for the dashboards: no JavaScript, no CDN, readable in any browser."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from html import escape

# Colour-blind-safe (Okabe–Ito); the control is always the first series, in grey-blue.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442")


def line_chart_svg(
    *,
    series: Mapping[str, Sequence[tuple[dt.date, float | None]]],
    title: str,
    y_format: Callable[[float], str] = lambda v: f"{v:.3g}",
    width: int = 720,
    height: int = 280,
) -> str:
    """A line per series over days, with y grid, day ticks and a legend; missing values are gaps."""
    margin_left, margin_right, margin_top, margin_bottom = 64, 140, 28, 36
    plot_w, plot_h = width - margin_left - margin_right, height - margin_top - margin_bottom
    days = sorted({day for points in series.values() for day, _ in points})
    values = [v for points in series.values() for _, v in points if v is not None]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}" class="experiment-chart" font-family="sans-serif" font-size="11">',
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
    for i, (name, points) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
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
