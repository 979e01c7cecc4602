"""Stage: e-mail each flagged region of a scored week to its bureau; record attempts in gold/alerts."""
from __future__ import annotations

import datetime as dt
import logging
import os

from fengqiao.lake import Lake, read_table
from fengqiao.outputs.alerts import plan_alerts, send_alerts
from fengqiao.outputs.common import as_date, latest_scored_week
from fengqiao.regions import read_bureaus, read_regions
from fengqiao.settings import get_settings

log = logging.getLogger(__name__)


def run(lake: Lake | str | os.PathLike, week_start: dt.date | str | None = None) -> dict:
    """Plan and send the alerts of ``week_start`` (default: the latest scored week).

    Returns counts: ``planned``, ``sent`` and ``failed`` (attempts of this run), ``skipped``
    (already sent by an earlier run), and the ``week_start`` handled.
    """
    lake = lake if isinstance(lake, Lake) else Lake.at(lake)
    scores = read_table(lake.gold("risk_scores"))
    week = as_date(week_start) if week_start is not None else latest_scored_week(scores)
    scores_week = scores[scores["week_start"] == week]
    if scores_week.empty:
        raise ValueError(f"gold/risk_scores has no scores for the week of {week}: score that week first")
    regions = read_regions(lake.reference / "regions.csv")
    bureaus = read_bureaus(lake.reference / "bureaus.csv")
    features_path = lake.gold("region_week_features")
    features = (read_table(features_path, columns=["region_code", "week_start", "total_contacts"])
                if features_path.exists() else None)
    settings = get_settings()
    alerts = plan_alerts(scores_week, bureaus, regions, features, horizon_weeks=settings.horizon_weeks)
    counts = {"week_start": week.isoformat(), "planned": len(alerts), "sent": 0, "failed": 0, "skipped": 0}
    if not alerts:
        log.info("no flagged region in the week of %s: no alerts", week)
        return counts
    attempts = send_alerts(alerts, settings, lake)
    counts["sent"] = int((attempts["status"] == "sent").sum())
    counts["failed"] = int((attempts["status"] == "failed").sum())
    counts["skipped"] = len(alerts) - len(attempts)
    log.info("alerts for the week of %s: %s", week, counts)
    return counts
