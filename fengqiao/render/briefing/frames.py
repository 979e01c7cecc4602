"""Shared ground of the briefing's sections: the feeds and their count columns, the rows that add up to
the whole area, and small conversions of the numbers read off the frames."""
from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from fengqiao.core.disputes import DISPUTE_TYPES

BASELINE_WEEKS = 8
TYPE_LABELS_BY_COLUMN = {f"type_{slug}": label for label, slug in DISPUTE_TYPES}

# (feed as in the lake, its count column in region_week_features, its name in the briefing)
FEED_COLUMNS = (
    ("hotline", "hotline_calls", "热线来电（12348/12345）"),
    ("workorders", "work_orders", "工单"),
    ("mediation", "mediation_cases", "人民调解案件"),
)

COUNT_COLUMNS = [col for _, col, _ in FEED_COLUMNS] + ["total_contacts"]


def base_level(features: pd.DataFrame) -> pd.DataFrame:
    """Rows that add up to the whole area once: counties when published, else townships."""
    counties = features[features["level"] == "county"]
    return counties if not counties.empty else features[features["level"] == "township"]


def weekly_totals(features: pd.DataFrame) -> pd.DataFrame:
    base = base_level(features)
    return base.groupby("week_start")[COUNT_COLUMNS].sum()


def township_rows(features: pd.DataFrame) -> pd.DataFrame:
    towns = features[features["level"] == "township"]
    return towns if not towns.empty else base_level(features)


def value_at(frame: pd.DataFrame, week: dt.date, col: str):
    return frame.at[week, col] if week in frame.index else None


def baseline_weeks(week: dt.date) -> list[dt.date]:
    """The BASELINE_WEEKS weeks before ``week``, latest first."""
    return [week - dt.timedelta(days=7 * i) for i in range(1, BASELINE_WEEKS + 1)]


def as_int(value) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def as_float(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def share_of(part, whole) -> float | None:
    if part is None or whole is None or pd.isna(part) or pd.isna(whole) or not whole:
        return None
    return float(part) / float(whole)


def percent_text(share: float | None) -> str:
    return "—" if share is None else f"{share:.1%}"


def direction(ratio: float | None) -> str:
    if ratio is None or abs(ratio) < 0.0005:
        return "flat"
    return "up" if ratio > 0 else "down"

