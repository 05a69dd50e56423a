"""Inline SVG charts written here (no plotting library in the browser, nothing fetched): grouped bars
of a capability's metrics per system, and lines over a robustness sweep's settings. Each chart has a
title and a text alternative; values are also in the table next to it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

PALETTE = ("#5b6b7f", "#9aa9bb", "#1f77b4", "#d9822b", "#2ca02c", "#9467bd", "#8c564b")
W, H, LEFT, BOTTOM, TOP = 560, 240, 40, 56, 28


def _axis(title: str) -> list[str]:
    parts = [f'<text x="{LEFT}" y="16" class="title">{escape(title)}</text>']
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = TOP + (H - TOP - BOTTOM) * (1 - tick)
        parts.append(f'<line x1="{LEFT}" x2="{W - 8}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">{tick:g}</text>')
    return parts


def _legend(systems: Sequence[str]) -> list[str]:
    parts = []
    x = LEFT
    for i, system in enumerate(systems):
        parts.append(
            f'<rect x="{x}" y="{H - 14}" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>'
        )
        parts.append(f'<text x="{x + 14}" y="{H - 5}" class="tick">{escape(system)}</text>')
        x += 24 + 7 * len(system)
    return parts


def _svg(title: str, parts: list[str], summary: str) -> Markup:
    return Markup(
        f'<svg viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}" class="chart">'
        f"<title>{escape(title)}</title><desc>{escape(summary)}</desc>{''.join(parts)}</svg>"
    )


def bars(title: str, metrics: Mapping[str, Mapping[str, float | None]], keys: Sequence[str]) -> Markup:
    """Grouped bars: one group per metric in `keys` (values in [0, 1]), one bar per system."""
    systems = list(metrics)
    keys = [k for k in keys if any(isinstance(metrics[s].get(k), int | float) for s in systems)]
    if not keys or not systems:
        return Markup("")
    parts = _axis(title)
    span = (W - LEFT - 8) / len(keys)
    width = span * 0.8 / len(systems)
    plot_h = H - TOP - BOTTOM
    summary = []
    for j, key in enumerate(keys):
        x0 = LEFT + j * span + span * 0.1
        for i, system in enumerate(systems):
            value = metrics[system].get(key)
            v = min(1.0, max(0.0, float(value))) if isinstance(value, int | float) else 0.0
            h = plot_h * v
            parts.append(
                f'<rect x="{x0 + i * width:.1f}" y="{TOP + plot_h - h:.1f}" width="{width * 0.92:.1f}" '
                f'height="{h:.1f}" fill="{PALETTE[i % len(PALETTE)]}"><title>{escape(system)} {escape(key)}: '
                f"{'–' if value is None else f'{float(value):.3f}'}</title></rect>"
            )
            summary.append(f"{system} {key} {'–' if value is None else f'{float(value):.3f}'}")
        parts.append(
            f'<text x="{x0 + span * 0.4:.1f}" y="{H - BOTTOM + 14}" class="tick" text-anchor="middle">'
            f"{escape(key.replace('_', ' '))}</text>"
        )
    parts += _legend(systems)
    return _svg(title, parts, "; ".join(summary))


def lines(
    title: str, sweep: Mapping[str, Mapping[str, float]], prefix: str, order: Sequence[str] = ()
) -> Markup:
    """One line per system over the settings of one sweep (`distractors=N` or `position=P` tags)."""
    systems = list(sweep)
    labels: list[str] = []
    for values in sweep.values():
        for tag in values:
            if tag.startswith(prefix) and tag.split("=", 1)[1] not in labels:
                labels.append(tag.split("=", 1)[1])
    if not labels:
        return Markup("")
    labels.sort(key=lambda s: (order.index(s) if s in order else len(order), int(s) if s.isdigit() else 0))
    parts = _axis(title)
    plot_h = H - TOP - BOTTOM
    step = (W - LEFT - 40) / max(1, len(labels) - 1)
    xs = [LEFT + 16 + i * step for i in range(len(labels))]
    for x, label in zip(xs, labels, strict=True):
        parts.append(
            f'<text x="{x:.1f}" y="{H - BOTTOM + 14}" class="tick" text-anchor="middle">{escape(label)}</text>'
        )
    summary = []
    for i, system in enumerate(systems):
        color = PALETTE[i % len(PALETTE)]
        points = []
        for x, label in zip(xs, labels, strict=True):
            value = sweep[system].get(f"{prefix}{label}")
            if isinstance(value, int | float):
                points.append((x, TOP + plot_h * (1 - min(1.0, max(0.0, float(value)))), value, label))
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y, value, label in points:
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}"><title>{escape(system)} '
                f"{escape(prefix)}{escape(label)}: {float(value):.3f}</title></circle>"
            )
            summary.append(f"{system} {prefix}{label} {float(value):.3f}")
    parts += _legend(systems)
    return _svg(title, parts, "; ".join(summary))
