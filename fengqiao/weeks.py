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
