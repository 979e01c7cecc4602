"""What is sent: one :class:`Alert` per flagged region, addressed to the bureau responsible for it, and the
JSON a bureau's webhook receives. Pure: frames in, alerts out (the stage ``jobs/outputs/alerts.py`` reads
the lake; :mod:`fengqiao.delivery.alert_channels` sends).

Routing (``reference/bureaus.csv``, checked by :func:`fengqiao.core.bureaus.check_bureaus`): a township goes
to its own justice office (司法所) when the file lists one, else to its county's justice bureau (司法局); a
county goes to its county bureau. A bureau never receives a region of another county: such an alert keeps
an empty address and a ``problem``, and is recorded as failed instead.

Isolation: each alert is planned on its own; one that cannot be built becomes a stand-in carrying the
reason, so that its failure is recorded while the others go out.

Identity: ``alert_id`` is a hash of region, week and recipient (an internal key that makes a re-run skip
what was delivered); ``ack_ref`` is a random reference (:func:`new_ack_ref`) the bureau quotes when it
answers (回复确认编号), which cannot be computed from the region, week and address.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass, field

import pandas as pd

from fengqiao.core.bureaus import bureau_index, check_bureaus, one_line, route
from fengqiao.core.regions import ALERT_LEVELS, county_of
from fengqiao.render.alert_messages import (
    REPLY_INSTRUCTIONS, TREND_WEEKS, action_text, alert_body, alert_subject, level_title, trend_text,
)
from fengqiao.render.common import (
    LEVEL_RANK, as_date, flagged_rows, level_of, reasons_list, region_names, scrub, week_label,
)

from .webhooks import now_iso

log = logging.getLogger(__name__)

UNROUTED_UNIT = "（未配置接收单位）"


@dataclass(frozen=True)
class Alert:
    alert_id: str
    region_code: str
    region_name: str
    county_name: str
    week_start: dt.date
    risk_level: str | None
    score: float
    reasons: tuple[str, ...]
    recipient_unit: str
    recipient_email: str            # empty when bureaus.csv has no address: recorded as failed
    subject: str
    body: str
    recipient_region_code: str = ""  # the bureau's own region code (county or township)
    level: str = "township"
    recipient_webhook: str = ""      # bureaus.csv webhook_url; empty: e-mail only
    trend: tuple[tuple[dt.date, int | None], ...] = ()  # total contacts of the last TREND_WEEKS weeks
    suggestion: str = ""             # 工作建议
    model_version: str | None = None
    county_code: str = field(default="")
    ack_ref: str = ""                # the random reference the bureau quotes in its answer
    problem: str = ""                # why the alert cannot be delivered at all (recorded as failed)

    @property
    def channels(self) -> tuple[str, ...]:
        """``email`` (also when there is no address at all: recorded as failed) and/or ``webhook``."""
        if self.recipient_webhook:
            return ("email", "webhook") if self.recipient_email else ("webhook",)
        return ("email",)


def alert_id_of(region_code: str, week_start: dt.date, recipient: str) -> str:
    """Deterministic id: the key that makes a re-run skip what was delivered. Not a secret and not the
    acknowledgement reference (:func:`new_ack_ref`)."""
    text = f"{region_code}|{as_date(week_start).isoformat()}|{recipient}"
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:20].upper()
    return "-".join(digest[i:i + 4] for i in range(0, 20, 4))  # 5AD3-1E36-5E1F-414D-53C5: easy to read out


def new_ack_ref() -> str:
    """An unguessable acknowledgement reference (128 random bits, 22 URL-safe characters)."""
    return secrets.token_urlsafe(16)


def with_ack_ref(alert: Alert, ref: str) -> Alert:
    """The same alert carrying reference ``ref`` (also in its body)."""
    if alert.ack_ref == ref:
        return alert
    body = alert.body.replace(alert.ack_ref, ref) if alert.ack_ref else alert.body
    return dataclasses.replace(alert, ack_ref=ref, body=body)


# --- planning -------------------------------------------------------------------------------------
def plan_alerts(scores_week: pd.DataFrame, bureaus: pd.DataFrame, regions: pd.DataFrame,
                features: pd.DataFrame | None = None, horizon_weeks: int = 4) -> list[Alert]:
    """One alert per flagged region of ``scores_week`` (rows of gold/risk_scores), addressed by bureaus.csv.

    ``features`` (gold/region_week_features) adds the last weeks' total contacts to the body.
    A region without a bureau still yields an alert, with an empty address (it is recorded as failed).
    """
    names = {code: one_line(scrub(name)) for code, name in region_names(regions).items()}
    bureaus, _ = check_bureaus(bureaus, regions)
    index = bureau_index(bureaus)
    hooks = _webhook_index(bureaus)
    # Alerts go to 司法所 and 司法局 (townships and counties); cities and the province read the briefing.
    flagged = flagged_rows(scores_week[scores_week["level"].isin(ALERT_LEVELS)]).drop_duplicates("region_code")
    totals = _totals_by_region(features, set(flagged["region_code"].astype(str)))
    alerts = []
    for row in flagged.itertuples(index=False):
        try:
            alerts.append(_plan_one(row, names, index, hooks, totals, horizon_weeks))
        except Exception as exc:  # noqa: BLE001 (one bad row must not stop the others: recorded as failed)
            log.exception("alert for region %s could not be built", row.region_code)
            alerts.append(_unbuildable(row, f"alert could not be built: {type(exc).__name__}: {one_line(exc)[:200]}"))
    alerts.sort(key=lambda a: (LEVEL_RANK.get(a.risk_level, 9), -a.score, a.region_code))
    return alerts


def _plan_one(row, names: dict, index: dict, hooks: dict, totals: dict, horizon_weeks: int) -> Alert:
    code = str(row.region_code)
    county = county_of(code)
    week = as_date(row.week_start)
    bureau = route(code, index)
    problem = ""
    if bureau is not None and county_of(bureau.region_code) != county:
        problem = f"{bureau.unit_name} ({bureau.region_code}) is a bureau of another county: not sent"
        log.error("alert for %s: %s", code, problem)
        bureau = None
    unit = bureau.unit_name if bureau else UNROUTED_UNIT
    email = bureau.email if bureau else ""
    if bureau is None and not problem:
        log.warning("no bureau in bureaus.csv for region %s or its county %s: alert recorded as failed", code, county)
    is_township = row.level == "township"
    name = names.get(code) or one_line(scrub(getattr(row, "region_name", None) or code))
    county_name = names.get(county, county)
    place = f"{county_name}{name}" if is_township else name
    level = level_of(row.risk_level)
    reasons = tuple(reasons_list(row.reasons))
    aid = alert_id_of(code, week, email or unit)
    ref = new_ack_ref()
    points = _trend_points(totals, code, week)
    suggestion = action_text(level, code, names, index, is_township)
    model_version = getattr(row, "model_version", None)
    body = alert_body(unit, place, code, week, level, float(row.score), reasons,
                      trend_text(points), ref, model_version, horizon_weeks, suggestion)
    return Alert(
        alert_id=aid, region_code=code, region_name=name, county_name=county_name, week_start=week,
        risk_level=level, score=float(row.score), reasons=reasons, recipient_unit=unit,
        recipient_email=email, subject=alert_subject(level, place, week), body=body,
        recipient_region_code=bureau.region_code if bureau else "", level=str(row.level),
        recipient_webhook=hooks.get(bureau.region_code, "") if bureau else "", trend=points,
        suggestion=suggestion, model_version=None if pd.isna(model_version) else str(model_version),
        county_code=county, ack_ref=ref, problem=problem,
    )


def _unbuildable(row, problem: str) -> Alert:
    """A stand-in for an alert that could not be built, so that its failure is recorded."""
    code = one_line(getattr(row, "region_code", ""))[:20]
    week = as_date(row.week_start)
    return Alert(alert_id=alert_id_of(code, week, UNROUTED_UNIT), region_code=code, region_name=code,
                 county_name="", week_start=week, risk_level=level_of(getattr(row, "risk_level", None)), score=0.0,
                 reasons=(), recipient_unit=UNROUTED_UNIT, recipient_email="", subject="", body="",
                 county_code=county_of(code), problem=problem)


def _totals_by_region(features: pd.DataFrame | None, codes: set[str]) -> dict[str, dict[dt.date, int]]:
    """total_contacts by region and week, for the given regions only."""
    if features is None or features.empty or "total_contacts" not in features.columns:
        return {}
    mine = features[features["region_code"].astype(str).isin(codes)]
    out: dict[str, dict[dt.date, int]] = {}
    for code, week, total in mine[["region_code", "week_start", "total_contacts"]].itertuples(index=False):
        if not pd.isna(total):
            out.setdefault(str(code), {})[as_date(week)] = int(total)
    return out


def _webhook_index(bureaus: pd.DataFrame | None) -> dict[str, str]:
    """bureaus.csv region_code -> webhook_url (non-empty only)."""
    if bureaus is None or bureaus.empty or "webhook_url" not in bureaus.columns:
        return {}
    out = {}
    for code, url in bureaus[["region_code", "webhook_url"]].itertuples(index=False):
        if isinstance(url, str) and url.strip():
            out[str(code).strip()] = url.strip()
    return out


def _trend_points(totals: dict, code: str, week: dt.date) -> tuple[tuple[dt.date, int | None], ...]:
    mine = totals.get(code)
    if not mine:
        return ()
    weeks = [week - dt.timedelta(days=7 * i) for i in range(TREND_WEEKS - 1, -1, -1)]
    return tuple((w, mine.get(w)) for w in weeks)


# --- the webhook's form ---------------------------------------------------------------------------
def webhook_payload(alert: Alert) -> dict:
    """The JSON a bureau's webhook receives: aggregates and Chinese texts only, no personal data."""
    return {
        "alert_id": alert.alert_id,
        "region_code": alert.region_code,
        "region_name": alert.region_name,
        "county_code": alert.county_code or county_of(alert.region_code),
        "county_name": alert.county_name,
        "level": alert.level,
        "week_start": alert.week_start.isoformat(),
        "week_label": week_label(alert.week_start),
        "risk_level": alert.risk_level,
        "risk_level_name": level_title(alert.risk_level),
        "score": round(float(alert.score), 4),
        "reasons": list(alert.reasons),
        "trend": [{"week_start": w.isoformat(), "total_contacts": n} for w, n in alert.trend],
        "title": alert.subject,
        "suggestion": alert.suggestion,
        "recipient_unit": alert.recipient_unit,
        "model_version": alert.model_version,
        "acknowledge_ref": alert.ack_ref,
        "acknowledge_hint": REPLY_INSTRUCTIONS[0],
        "sent_at": now_iso(),
    }
