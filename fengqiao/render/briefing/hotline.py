"""热线热点: the hotline's dispute types and townships growing fastest against their last 8 weeks, and the
townships where many calls come from repeat callers."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from features import TYPE_COUNT_COLUMNS
from fengqiao.core.regions import county_of

from ..common import count_change_text
from .frames import TYPE_LABELS_BY_COLUMN, as_int, baseline_weeks, township_rows

REPEAT_SHARE_HIGH = 0.3
REPEAT_MIN_CALLS = 10


def hotline_hotspots(features: pd.DataFrame, hotline_calls: pd.DataFrame | None, week: dt.date,
                     names: dict[str, str], county_code: str | None) -> dict:
    """热线热点: hotline types and townships growing fastest against their last 8 weeks; repeat callers.

    ``hotline_calls`` (silver, one row per call: county_code, dispute_type, week_start) gives the types;
    without it (or without calls in the area) the types of all feeds in ``features`` are used."""
    baseline = baseline_weeks(week)
    types, types_source = hotline_types(hotline_calls, week, baseline, county_code), "热线"
    if types is None:
        types_source = "全渠道"
        columns = [c for c in TYPE_COUNT_COLUMNS if c in features.columns]
        per_week = township_rows(features).groupby("week_start")[columns].sum() if columns else pd.DataFrame()
        per_week.columns = [TYPE_LABELS_BY_COLUMN[c] for c in per_week.columns]
        types = growth_rows(per_week, week, baseline) if columns else []

    town = township_rows(features)
    hotline = town.pivot_table(index="week_start", columns="region_code", values="hotline_calls", aggfunc="sum")
    places = [dict(r, name=names.get(r["label"], r["label"])) for r in growth_rows(hotline, week, baseline, minimum=10)]

    repeat, repeat_available, overall = [], "repeat_caller_share" in features.columns, None
    if repeat_available:
        week_rows = town[town["week_start"] == week]
        calls = week_rows["hotline_calls"].sum()
        if calls:
            overall = f"{(week_rows['repeat_caller_share'].fillna(0) * week_rows['hotline_calls']).sum() / calls:.1%}"
        now = town[(town["week_start"] == week) & (town["hotline_calls"] >= REPEAT_MIN_CALLS)]
        now = now[now["repeat_caller_share"] >= REPEAT_SHARE_HIGH].sort_values(
            ["repeat_caller_share", "region_code"], ascending=[False, True]).head(8)
        for r in now.itertuples(index=False):
            repeat.append({"name": names.get(r.region_code, r.region_code),
                           "county": names.get(county_of(r.region_code), ""),
                           "share": f"{r.repeat_caller_share:.0%}", "calls": as_int(r.hotline_calls),
                           "repeats": as_int(round(r.repeat_caller_share * r.hotline_calls))})
    return {"types": types[:5], "types_source": types_source, "places": places[:5], "repeat": repeat,
            "repeat_available": repeat_available, "repeat_overall": overall, "repeat_threshold": f"{REPEAT_SHARE_HIGH:.0%}"}


def hotline_types(calls: pd.DataFrame | None, week: dt.date, baseline: list[dt.date],
                  county_code: str | None) -> list[dict] | None:
    """Growth rows of hotline calls per dispute type, or None without calls to count."""
    if calls is None:
        return None
    if county_code is not None:
        calls = calls[calls["county_code"].astype(str) == county_code]
    if calls.empty:
        return None
    per_week = calls.groupby(["week_start", "dispute_type"]).size().unstack(fill_value=0)
    return growth_rows(per_week, week, baseline, minimum=3)


def growth_rows(per_week: pd.DataFrame, week: dt.date, baseline: list[dt.date], minimum: int = 3) -> list[dict]:
    """Columns of ``per_week`` (weeks × items) whose count this week most exceeds their 8-week mean."""
    if per_week.empty or week not in per_week.index:
        return []
    present = [w for w in baseline if w in per_week.index]
    this = per_week.loc[week].fillna(0)
    mean = per_week.loc[present].fillna(0).mean() if present else this * float("nan")
    previous = week - dt.timedelta(days=7)
    prev = per_week.loc[previous].fillna(0) if previous in per_week.index else None
    rows = []
    for item, value in this.items():
        if value < minimum:
            continue
        base = mean.get(item)
        ratio = None if base is None or pd.isna(base) else (float(value) + 1) / (float(base) + 1)
        if ratio is None or ratio < 1.2:
            continue
        rows.append({"label": str(item), "this": as_int(value),
                     "mean": None if base is None or pd.isna(base) else round(float(base), 1),
                     "ratio": ratio, "ratio_text": f"{ratio:.1f}倍",
                     "change": count_change_text(value, None if prev is None else prev.get(item))})
    rows.sort(key=lambda r: (-r["ratio"], -r["this"], r["label"]))
    return rows

