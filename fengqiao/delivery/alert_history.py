"""Decisions taken from the record of earlier alerts (the rows of ``gold/alerts``, read by the stage):
what is still to be delivered, which reference an alert keeps, and the cool-down.

Idempotence: a delivery (alert × channel) recorded as ``sent`` is never sent again; deliveries that
failed are retried on the next run. An alert keeps the reference recorded for it (a re-run or another
channel reuses it).

Cool-down (:func:`apply_cooldown`): a region alerted (sent) in the last ``FENGQIAO_ALERT_COOLDOWN_WEEKS``
weeks (default 4) is not alerted again unless its level rises (蓝 < 黄 < 橙 < 红).
"""
from __future__ import annotations

import datetime as dt
import logging

import pandas as pd

from fengqiao.render.common import LEVEL_RANK, as_date, level_of

from .alert_plan import Alert, new_ack_ref, with_ack_ref

log = logging.getLogger(__name__)


def sent_deliveries(history: pd.DataFrame) -> set[tuple[str, str]]:
    """The (alert_id, channel) pairs recorded as sent."""
    sent = history[history["status"] == "sent"]
    return set(zip(sent["alert_id"], sent["channel"]))


def stored_refs(history: pd.DataFrame) -> dict[str, str]:
    """alert_id -> the reference already recorded for it (a re-run or another channel reuses it)."""
    if history is None or history.empty or "ack_ref" not in history.columns:
        return {}
    known = history[history["ack_ref"].notna() & (history["ack_ref"].astype(str) != "")]
    return dict(zip(known["alert_id"], known["ack_ref"].astype(str)))


def pending_deliveries(alerts: list[Alert], history: pd.DataFrame) -> tuple[list[tuple[Alert, str]], int]:
    """(alert, channel) pairs still to deliver, each alert once and carrying its recorded reference, and
    how many deliveries were skipped because an earlier run sent them."""
    done = sent_deliveries(history)
    refs = stored_refs(history)
    unique = [with_ack_ref(a, refs.get(a.alert_id) or a.ack_ref or new_ack_ref())
              for a in {a.alert_id: a for a in alerts}.values()]
    pending: list[tuple[Alert, str]] = []
    skipped = 0
    for alert in unique:
        for channel in alert.channels:
            if (alert.alert_id, channel) in done:
                skipped += 1
            else:
                pending.append((alert, channel))
    return pending, skipped


def _rank(level) -> int:
    """Severity rank: 0 = 红 … 3 = 蓝, 4 = no colour (a smaller number is more severe)."""
    return LEVEL_RANK.get(level_of(level), len(LEVEL_RANK))


def apply_cooldown(alerts: list[Alert], history: pd.DataFrame, cooldown_weeks: int) -> tuple[list[Alert], list[dict]]:
    """Drop alerts for regions already alerted (a ``sent`` row in ``history``, gold/alerts) in one of
    the ``cooldown_weeks`` - 1 weeks before the alert's week, unless the level is now higher than the
    highest level sent in that window. Returns the alerts to send and one decision per suppressed alert.

    With the default 4 weeks, a region alerted in week W is not alerted again in W+1..W+3 at the same
    or a lower level; it can be in W+4. Alerts of the same week are not touched (idempotence handles them).
    """
    if cooldown_weeks <= 0 or history is None or history.empty or not alerts:
        return list(alerts), []
    sent = history[history["status"] == "sent"][["region_code", "week_start", "risk_level"]].copy()
    sent["region_code"] = sent["region_code"].astype(str)
    sent["week_start"] = sent["week_start"].map(as_date)
    by_region = {code: rows for code, rows in sent.groupby("region_code")}
    keep, suppressed = [], []
    for alert in alerts:
        rows = by_region.get(alert.region_code)
        if rows is not None:
            earliest = alert.week_start - dt.timedelta(days=7 * (cooldown_weeks - 1))
            window = rows[(rows["week_start"] < alert.week_start) & (rows["week_start"] >= earliest)]
        else:
            window = None
        if window is None or window.empty:
            keep.append(alert)
            continue
        ranks = window["risk_level"].map(_rank)
        top = window.loc[ranks.idxmin()]
        if _rank(alert.risk_level) < int(ranks.min()):
            log.info("region %s: level rose from %s (alerted %s) to %s within the cool-down: alerted again",
                     alert.region_code, top["risk_level"] or "无", top["week_start"], alert.risk_level)
            keep.append(alert)
            continue
        last = window.loc[window["week_start"].idxmax()]
        decision = {
            "alert_id": alert.alert_id, "region_code": alert.region_code,
            "week_start": alert.week_start.isoformat(), "risk_level": alert.risk_level,
            "last_alert_week": as_date(last["week_start"]).isoformat(), "last_risk_level": level_of(last["risk_level"]),
            "highest_level_in_cooldown": level_of(top["risk_level"]),
            "reason": f"alerted within the {cooldown_weeks}-week cool-down and the level did not rise",
        }
        log.info("cool-down: region %s (%s) not alerted again: %s", alert.region_code, alert.risk_level or "无",
                 decision)
        suppressed.append(decision)
    return keep, suppressed
