"""数据完整性: each feed's volume against its last 8 weeks, the days with landed files (bronze manifest),
the records quarantined by silver and why, and the outages and catch-up bursts of gold/feed_health.

A table that is missing is said in the briefing (a note), never silently skipped."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from ..common import quarantine_reason_zh, scrub
from .frames import FEED_COLUMNS, as_int, baseline_weeks, value_at

MANIFEST_MISSING = "未找到原始数据落地清单（bronze/_manifest.parquet），无法统计有数据天数和落地文件数。"
QUARANTINE_MISSING = "未找到隔离记录表（silver/quarantine），无法统计隔离记录。"
FEED_HEALTH_MISSING = "未找到数据报送监测表（gold/feed_health），无法判断各县（市、区）数据是否中断。"


def data_completeness(weekly: pd.DataFrame, week: dt.date, manifest: pd.DataFrame | None,
                      quarantine: pd.DataFrame | None, feed_health: pd.DataFrame | None,
                      county_code: str | None = None) -> dict:
    """The section's figures. ``manifest`` (feed, day) and ``quarantine`` (feed, reason, day) cover the whole
    area; ``feed_health`` (gold/feed_health) is narrowed to ``county_code``. None: the table is missing."""
    week_days = {week + dt.timedelta(days=i) for i in range(7)}
    present = [w for w in baseline_weeks(week) if w in weekly.index]

    feeds = []
    for feed, col, label in FEED_COLUMNS:
        this = as_int(value_at(weekly, week, col))
        average = float(weekly.loc[present, col].mean()) if present else None
        ratio = (this / average) if (this is not None and average) else None
        notes = []
        if ratio is not None and ratio < 0.5:
            notes.append("记录量不足近8周均值一半，可能存在断报或延迟报送")
        elif ratio is not None and ratio > 2:
            notes.append("记录量超过近8周均值两倍，请核实是否重复报送或口径变化")
        days = files = None
        if manifest is not None:
            mine = manifest[(manifest["feed"] == feed) & manifest["day"].isin(week_days)]
            days, files = int(mine["day"].nunique()), int(len(mine))
            if days < 7:
                notes.append(f"本周有{7 - days}天未收到数据")
        reasons, quarantined = [], None
        if quarantine is not None:
            mine = quarantine[(quarantine["feed"] == feed) & quarantine["day"].isin(week_days)]
            quarantined = int(len(mine))
            counts = mine["reason"].map(quarantine_reason_zh).value_counts()
            reasons = [{"reason": reason, "count": int(n)} for reason, n in counts.items()]
        # Worth a recommendation (not only a note): volume far off its average, or most days missing.
        serious = (ratio is not None and not 0.5 <= ratio <= 2) or (days is not None and days <= 4)
        feeds.append({
            "feed": feed, "label": label, "this": this, "serious": serious,
            "average": None if average is None else round(average, 1),
            "ratio": "—" if ratio is None else f"{ratio:.0%}",
            "low": ratio is not None and ratio < 0.5,
            "days": days, "files": files, "quarantined": quarantined, "reasons": reasons, "notes": notes,
        })
    return {
        "feeds": feeds,
        "baseline_weeks": len(present),
        "manifest_note": MANIFEST_MISSING if manifest is None else None,
        "quarantine_note": QUARANTINE_MISSING if quarantine is None else None,
        "issues": [f for f in feeds if f["notes"]],
        **feed_health_section(feed_health, week, county_code),
    }


def feed_health_section(health: pd.DataFrame | None, week: dt.date, county_code: str | None) -> dict:
    """Outages and catch-up bursts per feed and county this week, from gold/feed_health, in Chinese."""
    if health is None:
        return {"outages": [], "catch_ups": [], "feed_health_note": FEED_HEALTH_MISSING}
    mine = health[health["week_start"] == week]
    if county_code is not None:
        mine = mine[mine["county_code"].astype(str) == county_code]
    outages, catch_ups = [], []
    for r in mine.sort_values(["feed", "county_code"]).itertuples(index=False):
        place, feed = scrub(str(r.county_name or r.county_code)), r.feed_zh
        usual = "" if pd.isna(r.baseline_median) else f"（近8周中位数{as_int(r.baseline_median)}条）"
        if r.status in ("outage", "feed_down"):
            silent = (f"已连续{int(r.days_since_data)}天无数据" if not pd.isna(r.days_since_data)
                      and r.days_since_data >= 7 else f"仅为常态的{r.ratio:.0%}")
            scope = "全市各县（市、区）同时中断，疑为导出故障" if r.status == "feed_down" else "其他县（市、区）报送正常"
            outages.append({"feed": feed, "county": place, "status": r.status_zh,
                            "text": f"{feed}·{place}：本周{as_int(r.records)}条{usual}，{silent}，{scope}，"
                                    f"判定为数据中断；该地区本周风险评分可能偏低，不代表平稳。"})
        elif r.status == "catch_up":
            catch_ups.append({"feed": feed, "county": place, "status": r.status_zh,
                              "text": f"{feed}·{place}：本周{as_int(r.records)}条{usual}，为常态的{r.ratio:.0%}，"
                                      f"系中断后的集中补报，不代表矛盾纠纷激增。"})
    return {"outages": outages, "catch_ups": catch_ups, "feed_health_note": None}

