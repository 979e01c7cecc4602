"""Helpers shared by the briefing and the alerts: week labels, warning levels, changes in words, and a
last scrub of text that leaves the lake for people. (Who receives what: :mod:`fengqiao.core.bureaus`.)
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from fengqiao.core.privacy import mask_text
from models.reasons import COUNTS_ONLY_BELOW

# Warning levels, most severe first, with the colours local rules use for them.
LEVELS = ("红", "橙", "黄", "蓝")
LEVEL_RANK = {level: i for i, level in enumerate(LEVELS)}
LEVEL_COLOURS = {"红": "#cf1322", "橙": "#fa8c16", "黄": "#fadb14", "蓝": "#1677ff"}
LEVEL_TEXT_COLOURS = {"红": "#ffffff", "橙": "#ffffff", "黄": "#262626", "蓝": "#ffffff"}
LEVEL_NAMES = {"红": "红色", "橙": "橙色", "黄": "黄色", "蓝": "蓝色"}


# --- weeks ----------------------------------------------------------------------------------------
def as_date(value) -> dt.date:
    """A date from a date, datetime, pandas Timestamp or ISO string."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(str(value)).date()


def day_label(day: dt.date) -> str:
    return f"{day.month}月{day.day}日"


def week_label(week_start: dt.date) -> str:
    """``2025年第12周（3月17日—3月23日）`` for the ISO week starting on ``week_start``."""
    iso_year, iso_week, _ = week_start.isocalendar()
    return f"{iso_year}年第{iso_week}周（{day_label(week_start)}—{day_label(week_start + dt.timedelta(days=6))}）"


def week_short_label(week_start: dt.date) -> str:
    """``2025年第12周`` (for subjects)."""
    iso_year, iso_week, _ = week_start.isocalendar()
    return f"{iso_year}年第{iso_week}周"


def latest_scored_week(scores: pd.DataFrame) -> dt.date:
    if scores.empty:
        raise ValueError("gold/risk_scores holds no rows: run the scoring stage first")
    return max(as_date(w) for w in scores["week_start"].unique())


# --- values ---------------------------------------------------------------------------------------
def probability_text(score) -> str:
    """A 0-1 score as a percentage: ``63%``, or ``3.4%`` below 10 %."""
    if score is None or pd.isna(score):
        return "—"
    score = float(score)
    return f"{score:.0%}" if score >= 0.1 else f"{score:.1%}"


def change_ratio(this, previous) -> float | None:
    """Week-on-week change (0.12 = +12 %); None when there is no base to compare with."""
    if this is None or previous is None or pd.isna(this) or pd.isna(previous) or previous == 0:
        return None
    return (float(this) - float(previous)) / float(previous)


def small_counts(this, previous) -> bool:
    """Both counts known and under 10 records a week, where a percentage misleads ("↑300.0%" of 1)."""
    if this is None or previous is None or pd.isna(this) or pd.isna(previous):
        return False
    return max(float(this), float(previous)) < COUNTS_ONLY_BELOW


@dataclass(frozen=True)
class ChangeWording:
    """How a change is written: in a table cell (:data:`ARROWS`) or in a sentence (:data:`WORDS`)."""
    up: str
    down: str
    unknown: str             # nothing to compare with
    small: str               # both counts under COUNTS_ONLY_BELOW; ``{previous}`` and ``{this}`` filled in
    small_needs_base: bool   # a sentence calls a change from 0 "无可比数据" rather than "由0件变为4件"


ARROWS = ChangeWording("↑", "↓", "—", "{previous}→{this}件", small_needs_base=False)
WORDS = ChangeWording("上升", "下降", "无可比数据", "由{previous}件变为{this}件", small_needs_base=True)


def count_change_text(this, previous, wording: ChangeWording = ARROWS) -> str:
    """Week-on-week change of a count: a percentage from 10 records a week up, below that both counts
    ("1→4件" in a table, "由1件变为4件" in a sentence with :data:`WORDS`)."""
    ratio = change_ratio(this, previous)
    if small_counts(this, previous) and (ratio is not None or not wording.small_needs_base):
        return wording.small.format(previous=int(previous), this=int(this))
    return change_text(ratio, wording)


def change_text(ratio: float | None, wording: ChangeWording = ARROWS) -> str:
    if ratio is None:
        return wording.unknown
    if abs(ratio) < 0.0005:
        return "持平"
    return f"{wording.up if ratio > 0 else wording.down}{abs(ratio):.1%}"


def level_of(value) -> str | None:
    return value if isinstance(value, str) and value in LEVEL_RANK else None


def flagged_rows(scores: pd.DataFrame) -> pd.DataFrame:
    """Rows of gold/risk_scores with ``flagged`` true (null counts as not flagged)."""
    return scores[scores["flagged"].fillna(False).astype(bool)]


# --- personal data: a last guard -------------------------------------------------------------------
def scrub(text) -> str:
    """Gold holds aggregates only, but reasons and names are text written by other stages: mask
    anything shaped like a phone, ID or bank card number, address or cued name (fengqiao.core.privacy)
    before it reaches a briefing or a mail."""
    return mask_text("" if text is None else str(text))


# Quarantine reason codes (silver's "code[:field] | text") in the briefing's language.
QUARANTINE_REASONS_ZH = {
    "malformed_record": "记录格式损坏（行被截断、引号或列数错误）",
    "missing_required_field": "必填字段为空",
    "unparseable_date": "日期时间格式无法识别",
    "invalid_region_code": "区划代码不是12位数字",
    "unknown_region_code": "区划代码不在区划表中",
    "missing_region_code": "缺少区划代码且地址无法定位到乡镇",
    "stray_header_row": "文件中间夹带表头行",
    "unparseable_amount": "涉案金额无法识别",
    "unparseable_integer": "整数字段内容有误",
    "unknown_dispute_type": "纠纷类型不在15类之内",
    "unreadable_file": "文件无表头或编码无法识别，整个文件未入库",
    # The row-level rules of the silver suites, checked as each record is parsed (jobs/silver/rules.py).
    "null_value": "必填字段为空",
    "out_of_range": "数值或日期超出合理范围",
    "not_in_allowed_set": "取值不在规定范围内",
    "pattern_mismatch": "格式不符合规定",
    "forbidden_pattern": "含有不应出现的内容（如未脱敏的号码）",
    "order_violation": "时间先后矛盾（如办结早于受理）",
}


def quarantine_reason_zh(reason) -> str:
    """``unparseable_date:受理日期 | …`` -> ``日期时间格式无法识别（受理日期）``; unknown codes pass through masked."""
    if not isinstance(reason, str) or not reason.strip():
        return "未注明"
    code = reason.split("|", 1)[0].strip()
    base, _, field = code.partition(":")
    label = QUARANTINE_REASONS_ZH.get(base)
    if label is None:
        return scrub(reason)
    return f"{label}（{field}）" if field else label


def reasons_list(value) -> list[str]:
    """The ``reasons`` cell (list, numpy array, string or null) as a list of scrubbed strings."""
    if value is None:
        return []
    if isinstance(value, str):
        items = [value]
    else:
        try:
            items = list(value)
        except TypeError:
            items = [] if pd.isna(value) else [value]
    return [scrub(item) for item in items if item is not None and str(item).strip()]


# --- regions ---------------------------------------------------------------------------------------
def region_names(regions: pd.DataFrame) -> dict[str, str]:
    return dict(zip(regions["code"], regions["name"]))


def top_area_name(regions: pd.DataFrame) -> str:
    """Name of the one unit that covers the whole drop: its city for a city's drop (even when regions.csv also
    lists the province above it), its province for a province's; "全辖区" when neither is single."""
    for level in ("city", "province"):
        rows = regions[regions["level"] == level]
        if len(rows) == 1:
            return str(rows["name"].iloc[0])
    return "全辖区"
