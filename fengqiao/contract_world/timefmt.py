"""Timestamp formats: ISO 8601 with the +08:00 offset (hotline, orders) and the registry's local format."""
from __future__ import annotations

import datetime as dt


def iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="seconds") + "+08:00"  # isoformat: C speed, strftime is several times slower


def local(t: dt.datetime) -> str:
    """The mediation registry's 更新时间: local time, no offset (its server runs on Beijing time)."""
    return t.isoformat(sep=" ", timespec="seconds")


def hand_date(d: dt.date, style: int) -> str:
    """The four ways hand-kept systems write a date: 2025-03-04, 2025/3/4, 2025年3月4日, 20250304."""
    if style == 0:
        return d.isoformat()
    if style == 1:
        return f"{d.year}/{d.month}/{d.day}"
    if style == 2:
        return f"{d.year}年{d.month}月{d.day}日"
    return d.strftime("%Y%m%d")
