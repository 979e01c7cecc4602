"""Stage: alert each flagged region of a scored week to its bureau (e-mail, and a signed webhook where
bureaus.csv gives one), skipping regions still in their cool-down; record attempts in gold/alerts."""
from __future__ import annotations

import datetime as dt
import logging
import os

from fengqiao.lake import Lake, read_table
from fengqiao.delivery.alerts import apply_cooldown, deliver_alerts, delivered, plan_alerts
from fengqiao.render.common import as_date, latest_scored_week, read_bureaus_checked
from fengqiao.delivery.webhooks import delivery_options
from fengqiao.core.regions import read_regions
from fengqiao.core.settings import Settings

log = logging.getLogger(__name__)


def run(lake: Lake | str | os.PathLike, settings: Settings, week_start: dt.date | str | None = None) -> dict:
    """Plan and send the alerts of ``week_start`` (default: the latest scored week).

    Returns counts: ``planned`` (flagged regions), ``suppressed_cooldown`` (not sent: alerted within the
    cool-down and the level did not rise; each decision listed under ``suppressed``), ``sent`` and
    ``failed`` (deliveries, alert × channel, as they ended in this run), ``failed_attempts`` (failed rows
    written, retries included), ``skipped`` (deliveries already sent by an earlier run), ``by_channel``,
    ``bureau_rows_skipped`` with ``bureau_problems`` (rows of bureaus.csv refused on load: ``line``,
    ``region_code``, ``reason``; the good rows are used), and the ``week_start`` handled.
    """
    lake = lake if isinstance(lake, Lake) else Lake.at(lake)
    scores = read_table(lake.gold("risk_scores"))
    week = as_date(week_start) if week_start is not None else latest_scored_week(scores)
    scores_week = scores[scores["week_start"] == week]
    if scores_week.empty:
        raise ValueError(f"gold/risk_scores has no scores for the week of {week}: score that week first")
    regions = read_regions(lake.reference / "regions.csv")
    bureaus, problems = read_bureaus_checked(lake.reference / "bureaus.csv", regions)
    for problem in problems:
        log.error("bureaus.csv line %d skipped: %s", problem["line"], problem["reason"])
    features_path = lake.gold("region_week_features")
    features = (read_table(features_path, columns=["region_code", "week_start", "total_contacts"])
                if features_path.exists() else None)
    options = delivery_options()
    alerts = plan_alerts(scores_week, bureaus, regions, features, horizon_weeks=settings.horizon_weeks)
    counts = {"week_start": week.isoformat(), "planned": len(alerts), "suppressed_cooldown": 0, "sent": 0,
              "failed": 0, "failed_attempts": 0, "skipped": 0, "by_channel": {}, "suppressed": [],
              "bureau_rows_skipped": len(problems), "bureau_problems": problems}
    if not alerts:
        log.info("no flagged region in the week of %s: no alerts", week)
        return counts
    history, _ = delivered(lake)
    to_send, suppressed = apply_cooldown(alerts, history, options.cooldown_weeks)
    counts["suppressed_cooldown"] = len(suppressed)
    counts["suppressed"] = suppressed
    if to_send:
        report = deliver_alerts(to_send, settings, lake, options)
        counts.update(sent=report.sent, failed=report.failed, failed_attempts=report.failed_attempts,
                      skipped=report.skipped, by_channel=report.by_channel)
    log.info("alerts for the week of %s: %s", week,
             {k: v for k, v in counts.items() if k not in ("suppressed", "bureau_problems")})
    return counts
