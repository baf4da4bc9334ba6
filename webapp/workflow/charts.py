"""Geometry of the dashboard's charts, drawn by the template as inline SVG (no script, no
chart library: the page's content security policy allows neither inline styles nor
other servers, and an SVG's presentation attributes need neither).

Coordinates are in the SVG's user units (its ``viewBox``), y pointing down.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    """One bar: its ``label``, ``value`` and CSS class ``kind``; the rectangle ``x``,
    ``y``, ``width``, ``height``; where its label (``label_x``, ``label_y``) and value
    (``value_x``, ``value_y``) are written."""

    label: str
    value: int
    kind: str
    x: float
    y: float
    width: float
    height: float
    label_x: float
    label_y: float
    value_x: float
    value_y: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    title: str

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"


def horizontal_bars(
    title: str, items: list[tuple[str, int, str]], width: int = 560, row: int = 22
) -> Chart:
    """One row per ``(label, value, kind)``: the label on the left, a bar as long as the
    value (the largest fills the space), the value after it."""
    label_width, value_width, gap = 110, 70, 4
    span = width - label_width - value_width
    top = max((value for _, value, _ in items), default=0) or 1
    bars = []
    for n, (label, value, kind) in enumerate(items):
        y = n * row
        length = span * value / top
        bars.append(
            Bar(
                label=label,
                value=value,
                kind=kind,
                x=label_width,
                y=y + gap / 2,
                width=round(length, 1),
                height=row - gap,
                label_x=label_width - 6,
                label_y=y + row * 0.7,
                value_x=round(label_width + length + 6, 1),
                value_y=y + row * 0.7,
            )
        )
    return Chart(width=width, height=max(row * len(items), row), bars=bars, title=title)


def vertical_bars(
    title: str, items: list[tuple[str, int]], width: int = 560, height: int = 160
) -> Chart:
    """One column per ``(label, value)``, left to right: labels under the columns and
    values above them; the tallest column fills the height left."""
    label_band, value_band = 18, 16
    span = height - label_band - value_band
    top = max((value for _, value in items), default=0) or 1
    step = width / max(len(items), 1)
    bars = []
    for n, (label, value) in enumerate(items):
        length = span * value / top
        x = n * step
        bars.append(
            Bar(
                label=label,
                value=value,
                kind="day",
                x=round(x + step * 0.15, 1),
                y=round(value_band + span - length, 1),
                width=round(step * 0.7, 1),
                height=round(length, 1),
                label_x=round(x + step / 2, 1),
                label_y=height - 4,
                value_x=round(x + step / 2, 1),
                value_y=round(value_band + span - length - 4, 1),
            )
        )
    return Chart(width=width, height=height, bars=bars, title=title)


@dataclass(frozen=True)
class Spark:
    """A tiny column chart in a ``width`` × ``height`` box, one ``(x, y, w, h)`` per value."""

    width: int
    height: int
    columns: list[tuple[float, float, float, float]]

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"


def sparkline(values: list[int], width: int = 140, height: int = 24) -> Spark:
    """Columns for ``values``, left to right, the largest as tall as the box; a zero gets
    a one-unit stub so that the days stay visible."""
    top = max(values, default=0) or 1
    step = width / max(len(values), 1)
    columns = []
    for n, value in enumerate(values):
        length = max(1.0, (height - 1) * value / top)
        columns.append((round(n * step + 1, 1), round(height - length, 1), round(step - 2, 1),
                        round(length, 1)))  # fmt: skip
    return Spark(width=width, height=height, columns=columns)


def duration_text(seconds: int) -> str:
    """``"2 h 05 min"``, ``"7 min"`` or ``"0 min"``."""
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
