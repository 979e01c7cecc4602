"""Editions by level (五级): the province edition ranks its cities, a city edition its counties, a county
edition its townships and lists villages where disputes keep coming back.

Which editions a drop gets follows from its townships' codes: a drop that spans several cities has a province
edition at the top and one edition per city; a one-city drop's top edition is that city's. Every county has
its own edition. This module gives the rows only the province and county editions show; the rest of the page
is the same for every edition, narrowed to its area (:func:`fengqiao.render.briefing.build_context`).
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from fengqiao.core.disputes import DISPUTE_TYPES
from fengqiao.core.regions import city_of, township_of

from ..common import LEVEL_RANK, change_ratio, count_change_text, flagged_rows, level_of, probability_text
from .frames import as_int, direction

EDITION_LABELS = {"province": "全省版", "city": "全市版", "county": "分县版"}
# A village "keeps coming back" when records name it in at least this many of the last VILLAGE_WEEKS weeks
# and at least VILLAGE_MIN_RECORDS times in all.
VILLAGE_WEEKS, VILLAGE_MIN_WEEKS, VILLAGE_MIN_RECORDS, VILLAGE_ROWS = 4, 2, 3, 15


def city_codes(regions: pd.DataFrame) -> list[str]:
    """The cities above the townships of regions.csv (12-digit codes)."""
    towns = regions.loc[regions["level"] == "township", "code"].astype(str)
    return sorted({city_of(code) for code in towns})


def narrow_to_city(frame: pd.DataFrame, city_code: str, column: str = "region_code") -> pd.DataFrame:
    """Rows of ``frame`` inside the city (its own row, counties, townships, villages), by code prefix."""
    return frame[frame[column].astype(str).str[:4] == city_code[:4]]


def city_rows(regions: pd.DataFrame, features: pd.DataFrame, week_scores: pd.DataFrame, week: dt.date,
              names: dict[str, str]) -> list[dict]:
    """One row per city: contacts and their change, its score, flagged townships and the highest level."""
    cities = features[features["level"] == "city"].set_index(["region_code", "week_start"])["total_contacts"]
    scores = week_scores[week_scores["level"] == "city"].set_index("region_code")["score"]
    flagged = flagged_rows(week_scores[week_scores["level"] == "township"])
    towns = regions[regions["level"] == "township"]
    previous = week - dt.timedelta(days=7)
    out = []
    for code in city_codes(regions):
        this, prev = cities.get((code, week)), cities.get((code, previous))
        mine = narrow_to_city(flagged, code)
        levels = [lvl for lvl in (level_of(v) for v in mine["risk_level"]) if lvl]
        highest = min(levels, key=LEVEL_RANK.get) if levels else None
        score = scores.get(code)
        out.append({
            "code": code, "name": names.get(code, code),
            "townships": len(narrow_to_city(towns, code, column="code")),
            "this": as_int(this), "change": count_change_text(this, prev), "direction": direction(change_ratio(this, prev)),
            "flagged_townships": int(len(mine)), "highest": highest,
            "probability": probability_text(score) if score is not None and not pd.isna(score) else "—",
            "top_townships": "、".join(names.get(str(c), str(c)) for c in mine.sort_values("score", ascending=False)
                                       ["region_code"].head(3)),
        })
    out.sort(key=lambda r: (LEVEL_RANK.get(r["highest"], 9), -r["flagged_townships"], -(r["this"] or 0), r["code"]))
    for rank, row in enumerate(out, start=1):
        row["rank"] = rank
    return out


def repeat_villages(features: pd.DataFrame, week: dt.date, names: dict[str, str]) -> list[dict]:
    """Villages (村/社区) whose records recur: named in >= VILLAGE_MIN_WEEKS of the last VILLAGE_WEEKS weeks and
    >= VILLAGE_MIN_RECORDS records in all, most records first. Empty where no export names villages."""
    first = week - dt.timedelta(weeks=VILLAGE_WEEKS - 1)
    villages = features[(features["level"] == "village") & (features["week_start"] >= first)
                        & (features["week_start"] <= week)]
    if villages.empty:
        return []
    type_cols = [f"type_{slug}" for _, slug in DISPUTE_TYPES if f"type_{slug}" in villages]
    labels = {f"type_{slug}": label for label, slug in DISPUTE_TYPES}
    out = []
    for code, rows in villages.groupby(villages["region_code"].astype(str)):
        total, weeks_named = int(rows["total_contacts"].sum()), int((rows["total_contacts"] > 0).sum())
        if weeks_named < VILLAGE_MIN_WEEKS or total < VILLAGE_MIN_RECORDS:
            continue
        types = rows[type_cols].sum() if type_cols else pd.Series(dtype=float)
        main = labels.get(types.idxmax()) if len(types) and types.max() > 0 else "—"
        this = rows.loc[rows["week_start"] == week, "total_contacts"]
        out.append({"code": code, "name": names.get(code, code), "township": names.get(township_of(code), ""),
                    "this": int(this.sum()) if len(this) else 0, "total": total, "weeks": weeks_named,
                    "main_type": main})
    out.sort(key=lambda v: (-v["total"], -v["weeks"], v["code"]))
    return out[:VILLAGE_ROWS]
