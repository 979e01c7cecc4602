"""The silver row-count check's numbers: records per day, and the bounds the recent days are judged by.

One Spark group-by gives a table's (day, records), then pandas works on that small frame; the check
itself runs as the Great Expectations suite ``silver_daily_counts`` in :mod:`jobs.silver.validate`, a
warning, not a stop.
"""
from __future__ import annotations

import datetime as dt
import math

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from fengqiao.lake import week_of_partition

# The record's own date of each silver table (the day it counts in).
DATE_COLUMNS = {"hotline_calls": "started_at", "work_orders": "created_at", "mediation_cases": "accepted_date"}
RECENT_DAYS, HISTORY_DAYS, MIN_HISTORY_DAYS = 7, 56, 14
# Weeks read for the row-count check beyond RECENT_DAYS + HISTORY_DAYS: the last record may fall on any
# day of the newest week, so one more week keeps the window whole.
COUNT_SLACK_DAYS = 7
DAY_LOW, DAY_HIGH, WEEK_LOW, WEEK_HIGH = 0.25, 4.0, 0.5, 2.0


def daily_counts(df: DataFrame, date_column: str) -> pd.DataFrame:
    """(day, records) of a silver table by its records' own date (session time zone, Asia/Shanghai)."""
    rows = df.groupBy(F.to_date(F.col(date_column)).alias("day")).count().collect()
    return pd.DataFrame([(r["day"], int(r["count"])) for r in rows if r["day"] is not None],
                        columns=["day", "records"])


def count_window(daily: pd.DataFrame, recent_days: int = RECENT_DAYS,
                 history_days: int = HISTORY_DAYS) -> tuple[pd.DataFrame, dict | None]:
    """The last ``recent_days`` calendar days (missing days as 0) with bounds from the weeks before them.

    Each recent day gets ``lower``/``upper``: DAY_LOW and DAY_HIGH (+5) × the median of the same weekday
    over the previous ``history_days`` (weekends are quieter than weekdays). The suite parameters bound
    the recent days' total: WEEK_LOW and WEEK_HIGH × the median 7-day total of that history. ``None``
    (not judged) with fewer than MIN_HISTORY_DAYS days of history.
    """
    if daily.empty:
        return pd.DataFrame({"day": [], "records": [], "lower": [], "upper": []}), None
    last = max(daily["day"])
    calendar = pd.date_range(min(daily["day"]), last, freq="D").date
    full = (daily.groupby("day")["records"].sum().reindex(calendar, fill_value=0)
            .rename_axis("day").reset_index())
    full["weekday"] = [d.weekday() for d in full["day"]]
    start = last - dt.timedelta(days=recent_days - 1)
    recent = full[full["day"] >= start].reset_index(drop=True)
    history = full[(full["day"] < start) & (full["day"] >= start - dt.timedelta(days=history_days))]
    if len(history) < MIN_HISTORY_DAYS:
        return recent.assign(lower=0, upper=0), None
    by_weekday = history.groupby("weekday")["records"].median()
    usual = recent["weekday"].map(by_weekday).fillna(float(history["records"].median()))
    recent["lower"] = [math.floor(DAY_LOW * u) for u in usual]
    recent["upper"] = [math.ceil(DAY_HIGH * u) + 5 for u in usual]
    # Medians of the 7-day totals ending on each history day with a full week behind it.
    weekly = history["records"].rolling(7).sum().dropna()
    week = float(weekly.median()) if len(weekly) else 7.0 * float(history["records"].median())
    return recent, {"week_min": math.floor(WEEK_LOW * week), "week_max": math.ceil(WEEK_HIGH * week)}


def count_partitions(names, days: int = RECENT_DAYS + HISTORY_DAYS + COUNT_SLACK_DAYS) -> list[str]:
    """The partitions the row-count check needs: weeks (named by their ISO Monday) starting at most
    ``days`` before the newest week's Monday, plus any not named by a date."""
    weeks = {name: week_of_partition(name) for name in names}
    dated = [w for w in weeks.values() if w is not None]
    if not dated:
        return sorted(weeks)
    first = max(dated) - dt.timedelta(days=days)
    return sorted(name for name, week in weeks.items() if week is None or week >= first)
