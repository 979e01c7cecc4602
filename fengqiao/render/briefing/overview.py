"""The briefing's first sections: the overview with its lead text (总体态势), the flagged places
(重点风险区域) and the counties' table."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from fengqiao.core.regions import county_of

from ..common import (
    LEVEL_NAMES, LEVEL_RANK, LEVELS, WORDS, change_ratio, count_change_text, flagged_rows, level_of,
    probability_text, reasons_list, scrub,
)
from ..maps import sparkline
from .frames import FEED_COLUMNS, as_int, base_level, direction, value_at

SPARK_WEEKS = 12
LEVEL_SCOPES = (("township", "乡镇（街道）"), ("county", "县（市、区）"))


def overview(weekly: pd.DataFrame, week_scores: pd.DataFrame, week: dt.date, flagged: list[dict]) -> dict:
    """Each feed this week, last week and a year ago; flagged places per level and scope; the lead text."""
    previous = week - dt.timedelta(days=7)
    year_ago = week - dt.timedelta(weeks=52)  # the same ISO week a year earlier (52 weeks keeps the weekday)
    feeds = []
    for _, col, label in (*FEED_COLUMNS, (None, "total_contacts", "合计")):
        this, prev, last_year = (value_at(weekly, w, col) for w in (week, previous, year_ago))
        ratio, yoy = change_ratio(this, prev), change_ratio(this, last_year)
        feeds.append({"label": label, "this": as_int(this), "previous": as_int(prev), "change": count_change_text(this, prev),
                      "direction": direction(ratio), "is_total": col == "total_contacts",
                      "year_ago": as_int(last_year), "yoy": count_change_text(this, last_year), "yoy_direction": direction(yoy)})

    level_table = []
    for scope, scope_label in LEVEL_SCOPES:
        rows = flagged_rows(week_scores[week_scores["level"] == scope])
        counts = {level: int((rows["risk_level"] == level).sum()) for level in LEVELS}
        level_table.append({"scope": scope_label, "counts": counts, "total": int(len(rows)),
                            "scored": int((week_scores["level"] == scope).sum())})

    total = feeds[-1]
    town = level_table[0]
    parts = [f"{LEVEL_NAMES[level]}{town['counts'][level]}个" for level in LEVELS if town["counts"][level]]
    if total["this"] is None:
        lead = "本周暂无汇总诉求数据。"
    else:
        lead = f"本周共汇聚群众诉求{total['this']:,}件（热线、工单、人民调解合计）"
        lead += f"，环比{count_change_text(total['this'], total['previous'], WORDS)}"
        if total["year_ago"] is not None:
            lead += f"，同比{count_change_text(total['this'], total['year_ago'], WORDS)}"
        lead += "。"
    if town["total"]:
        lead += f"研判发现风险乡镇（街道）{town['total']}个" + (f"，其中{'、'.join(parts)}" if parts else "") + "。"
    else:
        lead += "本周未发现需预警的乡镇（街道）。"
    if level_table[1]["total"]:
        lead += f"另有{level_table[1]['total']}个县（市、区）整体风险偏高。"
    top = [f for f in flagged if f["risk_level"] == "红"]
    if top:
        lead += "红色预警地区：" + "、".join(f["full_name"] for f in top) + "，请重点关注。"
    return {"feeds": feeds, "levels": level_table, "lead": lead}


def hotspots(week_scores: pd.DataFrame, features: pd.DataFrame, week: dt.date,
             names: dict[str, str]) -> list[dict]:
    """The flagged places of the week, most severe first, with reasons, contacts and a 12-week sparkline."""
    rows = flagged_rows(week_scores)
    region_totals = features.set_index(["region_code", "week_start"])["total_contacts"]
    region_totals = region_totals[~region_totals.index.duplicated()]
    previous = week - dt.timedelta(days=7)
    out = []
    for row in rows.itertuples(index=False):
        code = str(row.region_code)
        county = county_of(code)
        is_township = row.level == "township"
        name = names.get(code) or scrub(getattr(row, "region_name", None) or code)
        this, prev = region_totals.get((code, week)), region_totals.get((code, previous))
        level = level_of(row.risk_level)
        spark_weeks = [week - dt.timedelta(days=7 * i) for i in range(SPARK_WEEKS - 1, -1, -1)]
        spark_values = [as_int(region_totals.get((code, w))) for w in spark_weeks]
        out.append({
            "spark": sparkline(spark_values),
            "region_code": code,
            "county_code": county,
            "county_name": names.get(county, county),
            "township_name": name if is_township else "—（县级整体）",
            "full_name": (names.get(county, "") + name) if is_township else name,
            "is_township": is_township,
            "risk_level": level,
            "level_name": LEVEL_NAMES.get(level, "未定级"),
            "score": float(row.score),
            "probability": probability_text(row.score),
            "reasons": reasons_list(row.reasons),
            "contacts": as_int(this),
            "contacts_change": count_change_text(this, prev),
        })
    out.sort(key=lambda r: (LEVEL_RANK.get(r["risk_level"], 9), -r["score"], r["region_code"]))
    for rank, row in enumerate(out, start=1):
        row["rank"] = rank
    return out


def county_rows(regions: pd.DataFrame, features: pd.DataFrame, week_scores: pd.DataFrame,
                week: dt.date, names: dict[str, str]) -> list[dict]:
    """One row per county: contacts and their change, flagged townships, highest level (ranked by it)."""
    county_codes = sorted(regions.loc[regions["level"] == "county", "code"])
    per_week = base_level(features).groupby(["county_code", "week_start"])["total_contacts"].sum()
    flagged = flagged_rows(week_scores)
    townships = regions[regions["level"] == "township"]
    previous = week - dt.timedelta(days=7)
    out = []
    for code in county_codes:
        this, prev = per_week.get((code, week)), per_week.get((code, previous))
        mine = flagged[flagged["region_code"].map(county_of) == code]
        levels = [lvl for lvl in (level_of(v) for v in mine["risk_level"]) if lvl]
        highest = min(levels, key=LEVEL_RANK.get) if levels else None
        ratio = change_ratio(this, prev)
        out.append({
            "code": code,
            "name": names.get(code, code),
            "townships": int((townships["parent_code"] == code).sum()),
            "this": as_int(this),
            "change": count_change_text(this, prev),
            "direction": direction(ratio),
            "flagged_townships": int((mine["level"] == "township").sum()),
            "county_flagged": bool((mine["level"] == "county").any()),
            "highest": highest,
        })
    out.sort(key=lambda r: (LEVEL_RANK.get(r["highest"], 9), -r["flagged_townships"], -(r["this"] or 0), r["code"]))
    return out

