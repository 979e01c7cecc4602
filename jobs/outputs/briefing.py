"""Stage: the weekly briefing from the gold tables.

City-wide: outputs/briefings/<week>.html and .pdf (copied to latest.html and latest.pdf); one edition
per county: outputs/briefings/county/<county_code>/<week>.html and .pdf.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

from fengqiao.lake import Lake
from fengqiao.render.briefing import render_briefing, render_county_briefings
from fengqiao.render.common import as_date

log = logging.getLogger(__name__)


def run(lake: Lake | str | os.PathLike, week_start: dt.date | str | None = None) -> Path:
    """Render the briefing of ``week_start`` (default: the latest scored week) as HTML and PDF, city-wide
    and per county; return the city-wide HTML's path."""
    lake = lake if isinstance(lake, Lake) else Lake.at(lake)
    week = as_date(week_start) if week_start is not None else None
    path = render_briefing(lake, week)
    log.info("briefing written to %s (and %s)", path, path.with_suffix(".pdf").name)
    county_paths = render_county_briefings(lake, week)
    log.info("%d county editions written under %s", len(county_paths), lake.briefings / "county")
    return path
