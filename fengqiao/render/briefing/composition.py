"""What the week's contacts are made of and where they come from: sources (来源构成), dispute types
(类型分布) and the map with the county edition's township ranking (区域分布)."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from features import TYPE_COUNT_COLUMNS

from ..common import LEVEL_RANK, change_ratio, count_change_text, flagged_rows, level_of
from ..maps import choropleth
from .frames import (
    FEED_COLUMNS, TYPE_LABELS_BY_COLUMN, as_float, as_int, direction, percent_text, share_of, township_rows,
    value_at,
)

TOP_TYPES = 8


def source_mix(weekly: pd.DataFrame, week: dt.date) -> list[dict]:
    """Each feed's share of all contacts, this week and last (来源构成)."""
    previous = week - dt.timedelta(days=7)
    total_this, total_prev = value_at(weekly, week, "total_contacts"), value_at(weekly, previous, "total_contacts")
    out = []
    for _, col, label in FEED_COLUMNS:
        this, prev = value_at(weekly, week, col), value_at(weekly, previous, col)
        share = share_of(this, total_this)
        share_prev = share_of(prev, total_prev)
        diff = None if share is None or share_prev is None else (share - share_prev) * 100
        out.append({
            "label": label, "this": as_int(this), "previous": as_int(prev),
            "share": percent_text(share), "share_previous": percent_text(share_prev),
            "share_change": "—" if diff is None else ("持平" if abs(diff) < 0.05 else f"{diff:+.1f}"),
            "bar": 0 if share is None else round(share * 100, 1),
            "change": count_change_text(this, prev), "direction": direction(change_ratio(this, prev)),
        })
    return out


def type_distribution(features: pd.DataFrame, week: dt.date) -> dict:
    """The week's most frequent dispute types over all feeds, summed over townships (类型分布)."""
    columns = [c for c in TYPE_COUNT_COLUMNS if c in features.columns]
    if not columns:
        return {"available": False, "rows": []}
    per_week = township_rows(features).groupby("week_start")[columns].sum()
    previous = week - dt.timedelta(days=7)
    if week not in per_week.index:
        return {"available": False, "rows": []}
    this = per_week.loc[week]
    prev = per_week.loc[previous] if previous in per_week.index else None
    total = float(this.sum())
    top = this.sort_values(ascending=False, kind="stable")
    top = top[top > 0].head(TOP_TYPES)
    widest = float(top.max()) if len(top) else 1.0
    rows = []
    for col, value in top.items():
        before = None if prev is None else prev[col]
        ratio = change_ratio(value, before)
        rows.append({"label": TYPE_LABELS_BY_COLUMN[col], "this": as_int(value), "previous": as_int(before),
                     "share": percent_text(share_of(value, total)), "change": count_change_text(value, before), "direction": direction(ratio),
                     "bar": round(100 * float(value) / widest, 1) if widest else 0})
    return {"available": True, "rows": rows, "total": as_int(total)}


def regional(regions: pd.DataFrame, features: pd.DataFrame, week_scores: pd.DataFrame, week: dt.date,
             names: dict[str, str], counties: list[dict], county_code: str | None) -> dict:
    """The map (counties by contacts per 10,000 residents, townships by risk level) and, in a
    county's edition, the ranking of its townships (区域分布)."""
    population = dict(zip(regions["code"], pd.to_numeric(regions["population"], errors="coerce")))
    townships = regions[regions["level"] == "township"]
    town_pop = pd.to_numeric(townships["population"], errors="coerce").groupby(townships["parent_code"]).sum()
    map_counties = []
    for c in counties:
        pop = population.get(c["code"])
        if pop is None or pd.isna(pop) or pop <= 0:
            pop = town_pop.get(c["code"])
        rate = (c["this"] / pop * 10_000) if (c["this"] is not None and pop and not pd.isna(pop)) else None
        c["rate"] = "—" if rate is None else f"{rate:.1f}"
        map_counties.append({"code": c["code"], "name": c["name"], "rate": rate, "highest": c["highest"]})
    levels = {str(r.region_code): level_of(r.risk_level) for r in flagged_rows(week_scores).itertuples(index=False)}
    points = [{"name": names.get(r.code, r.code), "lat": as_float(r.lat), "lon": as_float(r.lon),
               "level": levels.get(r.code)} for r in townships.itertuples(index=False)]
    ranking = []
    if county_code is not None:
        town = features[(features["level"] == "township") & (features["week_start"] == week)]
        prev = features[(features["level"] == "township") & (features["week_start"] == week - dt.timedelta(days=7))]
        prev_totals = dict(zip(prev["region_code"], prev["total_contacts"]))
        for r in town.itertuples(index=False):
            pop = population.get(r.region_code)
            rate = r.total_contacts / pop * 10_000 if pop and not pd.isna(pop) and pop > 0 else None
            ratio = change_ratio(r.total_contacts, prev_totals.get(r.region_code))
            ranking.append({"code": r.region_code, "name": names.get(r.region_code, r.region_code),
                            "this": as_int(r.total_contacts), "rate": "—" if rate is None else f"{rate:.1f}",
                            "rate_value": rate or 0, "direction": direction(ratio),
                            "change": count_change_text(r.total_contacts, prev_totals.get(r.region_code)),
                            "level": levels.get(r.region_code)})
        ranking.sort(key=lambda t: (LEVEL_RANK.get(t["level"], 9), -t["rate_value"], t["code"]))
    return {"map": choropleth(map_counties, points), "townships": ranking}

