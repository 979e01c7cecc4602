"""ISO weeks (Monday start) in Asia/Shanghai: the time grain of every gold table."""
from __future__ import annotations

import datetime as dt

TZ_NAME = "Asia/Shanghai"


def week_start(day: dt.date) -> dt.date:
    """Monday of the ISO week that holds ``day``."""
    return day - dt.timedelta(days=day.weekday())


def parse_date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def weeks_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """All week starts from the week of ``first`` to the week of ``last``, inclusive."""
    start, end = week_start(first), week_start(last)
    out = []
    while start <= end:
        out.append(start)
        start += dt.timedelta(days=7)
    return out


# Spring Festival (春节, first day of the lunar year): wage arrears peak in the weeks before it.
SPRING_FESTIVAL: tuple[dt.date, ...] = (
    dt.date(2020, 1, 25), dt.date(2021, 2, 12), dt.date(2022, 2, 1), dt.date(2023, 1, 22), dt.date(2024, 2, 10), dt.date(2025, 1, 29),
    dt.date(2026, 2, 17), dt.date(2027, 2, 6), dt.date(2028, 1, 26), dt.date(2029, 2, 13),
    dt.date(2030, 2, 3), dt.date(2031, 1, 23), dt.date(2032, 2, 11), dt.date(2033, 1, 31),
)


def weeks_to_spring_festival(day: dt.date) -> int:
    """Whole weeks from ``day`` until the next Spring Festival (0 in the festival's week)."""
    for festival in SPRING_FESTIVAL:
        if festival >= week_start(day):
            return (week_start(festival) - week_start(day)).days // 7
    raise ValueError(f"{day} is past the last Spring Festival known to fengqiao.core.weeks")
