"""Stage: the weekly briefing (outputs/briefings/<week>.html and latest.html) from the gold tables."""
from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

from fengqiao.lake import Lake
from fengqiao.outputs.briefing import render_briefing
from fengqiao.outputs.common import as_date

log = logging.getLogger(__name__)


def run(lake: Lake | str | os.PathLike, week_start: dt.date | str | None = None) -> Path:
    """Render the briefing of ``week_start`` (default: the latest scored week); return its path."""
    lake = lake if isinstance(lake, Lake) else Lake.at(lake)
    path = render_briefing(lake, as_date(week_start) if week_start is not None else None)
    log.info("briefing written to %s", path)
    return path
