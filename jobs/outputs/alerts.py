"""Stage: alert each flagged region of a scored week to its bureau (e-mail, and a signed webhook where
bureaus.csv gives one), skipping regions still in their cool-down; record attempts in gold/alerts.

The parts: :mod:`fengqiao.delivery.alert_plan` (who gets which alert), :mod:`fengqiao.render.alert_messages`
(its words), :mod:`fengqiao.delivery.alert_history` (cool-down, what was already sent),
:mod:`fengqiao.delivery.alert_channels` (sending with retries) and :mod:`jobs.gold.alert_log` (gold/alerts).
Every attempt is recorded, one row per attempt and channel; re-running the step for a week sends nothing
already sent on that channel, and deliveries that still failed are retried on the next run.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import time

import pandas as pd
import pyarrow.dataset as ds

from fengqiao.core.bureaus import read_bureaus_checked
from fengqiao.core.regions import ALERT_LEVELS, read_regions
from fengqiao.core.settings import Settings
from fengqiao.delivery.alert_channels import ALERT_COLUMNS, DeliveryReport, attempts_frame, send_pending
from fengqiao.delivery.alert_history import apply_cooldown, pending_deliveries
from fengqiao.delivery.alert_plan import Alert, plan_alerts
from fengqiao.delivery.webhooks import DeliveryOptions, delivery_options
from fengqiao.lake import Lake, read_table
from fengqiao.render.common import as_date, latest_scored_week
from jobs.gold.alert_log import append_attempts, read_alert_log

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
    features = (read_table(features_path, columns=["region_code", "week_start", "total_contacts"],
                           filters=ds.field("level").isin(list(ALERT_LEVELS)))
                if features_path.exists() else None)
    options = delivery_options(settings)
    alerts = plan_alerts(scores_week, bureaus, regions, features, horizon_weeks=settings.horizon_weeks)
    counts = {"week_start": week.isoformat(), "planned": len(alerts), "suppressed_cooldown": 0, "sent": 0,
              "failed": 0, "failed_attempts": 0, "skipped": 0, "by_channel": {}, "suppressed": [],
              "bureau_rows_skipped": len(problems), "bureau_problems": problems}
    if not alerts:
        log.info("no flagged region in the week of %s: no alerts", week)
        return counts
    history = read_alert_log(lake)
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


def deliver_alerts(alerts: list[Alert], settings: Settings, lake: Lake, options: DeliveryOptions | None = None,
                   sleep=time.sleep) -> DeliveryReport:
    """Deliver the alerts not yet delivered, on each of their channels, with retries; append one row per
    attempt to gold/alerts.

    A failure (no address, server unreachable, recipient refused) is recorded as ``failed`` with the
    reason and does not stop the other alerts; it is retried on the next run. Once a server stayed
    unreachable through all attempts of one delivery, later deliveries to it in this run fail at once.
    The attempts made are recorded even when the run is interrupted.
    """
    options = options or delivery_options(settings)
    existing = read_alert_log(lake)
    pending, skipped = pending_deliveries(alerts, existing)
    if skipped:
        log.info("%d delivery(ies) already sent earlier: not sent again", skipped)
    rows: list[dict] = []
    report = DeliveryReport(attempts=pd.DataFrame(columns=ALERT_COLUMNS), skipped=skipped)
    try:
        send_pending(pending, settings, options, rows, report, sleep)
    finally:
        attempts = attempts_frame(rows)
        if not attempts.empty:
            append_attempts(lake, existing, attempts)
    report.attempts = attempts
    report.failed_attempts = int((attempts["status"] == "failed").sum())
    return report


def send_alerts(alerts: list[Alert], settings: Settings, lake: Lake,
                options: DeliveryOptions | None = None) -> pd.DataFrame:
    """Deliver (see :func:`deliver_alerts`) and return the rows appended to gold/alerts."""
    return deliver_alerts(alerts, settings, lake, options).attempts
