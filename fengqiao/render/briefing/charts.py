"""Trend charts (趋势) as SVG geometry: positions of lines, points and ticks; the template draws them."""
from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from ..common import day_label, flagged_rows
from .frames import as_int, value_at

TREND_WEEKS = 26


def trend_charts(weekly: pd.DataFrame, scores: pd.DataFrame, week: dt.date) -> list[dict]:
    weeks = [week - dt.timedelta(days=7 * i) for i in range(TREND_WEEKS - 1, -1, -1)]
    totals = [as_int(value_at(weekly, w, "total_contacts")) for w in weeks]
    town = scores[scores["level"] == "township"]
    scored_weeks = set(town["week_start"])
    flagged_per_week = flagged_rows(town).groupby("week_start").size()
    flagged = [int(flagged_per_week.get(w, 0)) if w in scored_weeks else None for w in weeks]
    return [
        line_chart(weeks, totals, "群众诉求总量（热线＋工单＋人民调解）", "件", "#1d39c4"),
        line_chart(weeks, flagged, "预警乡镇（街道）数", "个", "#cf1322"),
    ]


def nice_ticks(maximum: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``maximum`` (about ``count`` intervals, whole numbers)."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    step = max(1, step)
    top = math.ceil(maximum / step) * step
    return [i * step for i in range(int(round(top / step)) + 1)]


def line_chart(weeks: list[dt.date], values: list[int | None], title: str, unit: str, colour: str,
               width: int = 860, height: int = 250) -> dict:
    """Positions of a line chart's line, points and ticks; gaps where a value is missing."""
    left, right, top, bottom = 64, 20, 36, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    known = [v for v in values if v is not None]
    ticks = nice_ticks(max(known) if known else 0)
    y_max = ticks[-1]

    def x_at(i: int) -> float:
        return left + (plot_w * i / (len(weeks) - 1) if len(weeks) > 1 else plot_w / 2)

    def y_at(v: float) -> float:
        return top + plot_h - plot_h * v / y_max

    lines, segment, points = [], [], []
    for i, (w, v) in enumerate(zip(weeks, values)):
        if v is None:
            if segment:
                lines.append(" ".join(segment))
            segment = []
            continue
        x, y = round(x_at(i), 1), round(y_at(v), 1)
        segment.append(f"{x},{y}")
        points.append({"x": x, "y": y, "label": f"{day_label(w)}当周：{v:,}{unit}"})
    if segment:
        lines.append(" ".join(segment))
    step = max(1, math.ceil(len(weeks) / 9))
    x_ticks = [{"x": round(x_at(i), 1), "label": f"{w.month}/{w.day}"}
               for i, w in enumerate(weeks) if (len(weeks) - 1 - i) % step == 0]
    y_ticks = [{"y": round(y_at(t), 1), "label": f"{t:,.0f}"} for t in ticks]
    last = points[-1] if points and values and values[-1] is not None else None
    return {
        "title": title, "unit": unit, "colour": colour, "width": width, "height": height,
        "left": left, "right": width - right, "top": top, "bottom": top + plot_h,
        "lines": lines, "points": points, "x_ticks": x_ticks, "y_ticks": y_ticks, "last": last,
        "empty": not known,
        "caption": f"{full_day(weeks[0])}至{full_day(weeks[-1] + dt.timedelta(days=6))}，共{len(weeks)}周",
    }


def full_day(day: dt.date) -> str:
    return f"{day.year}年{day_label(day)}"

