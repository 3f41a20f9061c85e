"""Inline SVG pictures for the report: rows held per vendor over time, and copy freshness."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from html import escape

from markupsafe import Markup

from lifeboat.continuity.history import VendorHistory

# One colour per vendor, the same in both charts (readable on white, distinct in greyscale).
PALETTE = ("#635bff", "#ff7a59", "#03363d", "#d9a400", "#e62117", "#1a73e8", "#6b7280")
FRESH = "#2e9d5b"
STALE = "#d64545"


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _fmt_rows(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    return f"{value:,.0f}"


def _fmt_time(when: datetime, span: timedelta) -> str:
    return when.strftime("%H:%M" if span <= timedelta(days=2) else "%d %b")


def rows_chart(histories: list[tuple[str, VendorHistory]], now: datetime) -> Markup:
    """Small multiples: one panel per vendor, its rows held as a step line up to `now`.

    `now` is when the report is built; the axis ends at that time, never at a frozen "now".
    """
    width, height, pad = 200, 104, 8
    panels = []
    for i, (title, history) in enumerate(histories):
        points = history.rows
        body: list[str] = []
        if not points:
            body.append(
                f'<text x="{width / 2}" y="{height / 2 + 10}" text-anchor="middle" '
                'class="muted">no copy yet</text>'
            )
            latest = "—"
        else:
            start = points[0][0]
            end = max(now, points[-1][0])
            span = max((end - start).total_seconds(), 60.0)
            top = max(rows for _, rows in points) or 1
            left, right, y0, y1 = pad, width - pad, height - 22, 40

            def x(when: datetime) -> float:
                return left + (right - left) * (when - start).total_seconds() / span  # noqa: B023

            def y(rows: int) -> float:
                return y0 - (y0 - y1) * rows / top  # noqa: B023

            path = [
                f"M{x(points[0][0]):.1f},{y0:.1f}",
                f"L{x(points[0][0]):.1f},{y(points[0][1]):.1f}",
            ]
            for (_, prev), (when, rows) in itertools.pairwise(points):
                path.append(f"L{x(when):.1f},{y(prev):.1f}L{x(when):.1f},{y(rows):.1f}")
            path.append(f"L{x(end):.1f},{y(points[-1][1]):.1f}")
            line = "".join(path)
            area = f"{line}L{x(end):.1f},{y0:.1f}Z"
            body.append(f'<path d="{area}" fill="{colour(i)}" fill-opacity="0.12"/>')
            body.append(f'<path d="{line}" fill="none" stroke="{colour(i)}" stroke-width="2"/>')
            for when, rows in points:
                body.append(
                    f'<circle cx="{x(when):.1f}" cy="{y(rows):.1f}" r="2.5" fill="{colour(i)}">'
                    f"<title>{escape(when.strftime('%Y-%m-%d %H:%M UTC'))}: {rows:,} rows"
                    "</title></circle>"
                )
            labels = timedelta(seconds=span)
            body.append(
                f'<text x="{left}" y="{height - 6}" class="axis">'
                f"{escape(_fmt_time(start, labels))}</text>"
                f'<text x="{right}" y="{height - 6}" class="axis" text-anchor="end">'
                f"{escape(_fmt_time(end, labels))}</text>"
            )
            latest = _fmt_rows(points[-1][1])
        panels.append(
            f'<svg class="panel" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-label="{escape(title)} rows held">'
            f'<text x="{pad}" y="16" class="title">{escape(title)}</text>'
            # The count goes under the title: a long vendor name never runs into it.
            f'<text x="{pad}" y="31" class="value">'
            f"{escape(latest)} rows</text>{''.join(body)}</svg>"
        )
    return Markup('<div class="panels">' + "".join(panels) + "</div>")


def freshness_chart(
    lanes: list[tuple[str, list[datetime], timedelta]], now: datetime, window: timedelta
) -> Markup:
    """One lane per vendor: green while its last copy was within its RPO, red after.

    The time axis ends at `now`, the build time, labelled as a time like the other ticks.
    """
    copies = [when for _, times, _ in lanes for when in times]
    earliest = min(copies) if copies else now - timedelta(hours=1)
    start = max(earliest - (now - earliest) * 0.05, now - window)
    if now - start < timedelta(hours=1):
        start = now - timedelta(hours=1)
    span = (now - start).total_seconds()
    label_w, width, lane_h = 150, 900, 26
    right = width - 16
    height = 30 + lane_h * len(lanes) + 26

    def x(when: datetime) -> float:
        clipped = min(max(when, start), now)
        return label_w + (right - label_w) * (clipped - start).total_seconds() / span

    parts = []
    for i, (title, times, rpo) in enumerate(lanes):
        top = 24 + i * lane_h
        parts.append(
            f'<text x="{label_w - 10}" y="{top + 15}" text-anchor="end" class="lane">'
            f"{escape(title)}</text>"
            f'<rect x="{label_w}" y="{top + 4}" width="{right - label_w}" height="14" '
            f'fill="{STALE}" fill-opacity="0.18" rx="3"><title>{escape(title)}: '
            "no copy within its RPO</title></rect>"
        )
        for when in times:
            until = min(when + rpo, now)
            if until <= start:
                continue
            parts.append(
                f'<rect x="{x(when):.1f}" y="{top + 4}" width="{max(x(until) - x(when), 1):.1f}" '
                f'height="14" fill="{FRESH}" fill-opacity="0.55" rx="3"><title>'
                f"{escape(title)} copied {escape(when.strftime('%Y-%m-%d %H:%M UTC'))}, fresh "
                f"until {escape((when + rpo).strftime('%H:%M UTC'))}</title></rect>"
            )
        for when in times:
            if when >= start:
                parts.append(
                    f'<circle cx="{x(when):.1f}" cy="{top + 11}" r="3.5" fill="{colour(i)}" '
                    f'stroke="#fff" stroke-width="1"><title>{escape(title)} copied '
                    f"{escape(when.strftime('%Y-%m-%d %H:%M:%S UTC'))}</title></circle>"
                )
    bottom = 24 + lane_h * len(lanes)
    ticks = []
    for k in range(5):
        when = start + (now - start) * (k / 4)
        anchor = "start" if k == 0 else ("end" if k == 4 else "middle")
        ticks.append(
            f'<line x1="{x(when):.1f}" y1="20" x2="{x(when):.1f}" y2="{bottom}" class="grid"/>'
            f'<text x="{x(when):.1f}" y="{bottom + 16}" text-anchor="{anchor}" class="axis">'
            f"{escape(_fmt_time(when, now - start))}</text>"
        )
    legend = (
        f'<rect x="{label_w}" y="4" width="12" height="10" fill="{FRESH}" fill-opacity="0.55"/>'
        f'<text x="{label_w + 16}" y="13" class="axis">copy within RPO</text>'
        f'<rect x="{label_w + 130}" y="4" width="12" height="10" fill="{STALE}" '
        'fill-opacity="0.3"/>'
        f'<text x="{label_w + 146}" y="13" class="axis">stale or never copied</text>'
    )
    return Markup(
        f'<svg class="timeline" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="copy freshness per vendor">{legend}{"".join(ticks)}{"".join(parts)}</svg>'
    )
