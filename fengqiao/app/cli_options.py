"""What the ``fengqiao`` commands share: the choices their options take, the checks of dates given on
the command line (one clear error line before any work starts), and the terminal output."""
from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Optional

import typer

from fengqiao.core.weeks import week_start


class Scale(str, Enum):
    small = "small"
    city = "city"
    province = "province"


class World(str, Enum):
    home = "home"
    contract = "contract"


class Protocol(str, Enum):
    equal_capacity = "equal-capacity"
    as_sent = "as-sent"
    both = "both"


def echo(message: str) -> None:
    typer.echo(message, err=False)


def iso_date(value: Optional[str]) -> Optional[str]:
    """Option callback: a YYYY-MM-DD date, or one clear error line before any work starts."""
    if value is None:
        return None
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)")
    return value


def monday(value: Optional[str]) -> Optional[str]:
    """Option callback: a YYYY-MM-DD date that is a Monday (weeks start on Monday everywhere)."""
    if iso_date(value) is None:
        return None
    day = dt.date.fromisoformat(value)
    if week_start(day) != day:
        raise typer.BadParameter(f"{value} is not a Monday (its week starts on {week_start(day)})")
    return value
