"""Sending planned alerts on their channels (``email`` / ``webhook``), with retries, one attempt row each.

Each delivery (alert × channel) is attempted on its own. A failure (no or bad address, a refused webhook
address, an error while building or sending) ends as a ``failed`` row with its reason and never stops the
others. A failed attempt is retried in the same run with exponential back-off
(``FENGQIAO_ALERT_RETRY_ATTEMPTS``, default 3, after 1 s then 2 s: ``FENGQIAO_ALERT_RETRY_DELAY_SECONDS``);
once a server stayed unreachable through all attempts of one delivery, later deliveries to it in this run
fail at once.

Webhooks are signed with the alert signing key (``FENGQIAO_WEBHOOK_KEY``), which must never be a bureau's
key. The rows have the columns of ``gold/alerts`` (schema ``fengqiao.core.schemas.ALERTS``); the stage
``jobs/outputs/alerts.py`` records them.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fengqiao.core.bureaus import one_line, url_problem
from fengqiao.core.schemas import ALERTS, columns_of
from fengqiao.core.settings import Settings

from .alert_plan import Alert, webhook_payload
from .bureau_keys import KeyFileError, load_keys
from .smtp import EmailChannel, require_smtp
from .webhooks import DeliveryFailure, DeliveryOptions, json_body, post_signed, public_url

log = logging.getLogger(__name__)

ALERT_COLUMNS = columns_of(ALERTS)


class WebhookChannel:
    name = "webhook"

    def __init__(self, key: str | None, timeout: float, bureau_keys_file: Path | None):
        self.key = key
        self.timeout = timeout
        self.down: dict[str, str] = {}  # url -> why it is unreachable in this run
        self.key_problem = signing_key_problem(key, bureau_keys_file)

    def address(self, alert: Alert) -> str | None:
        return public_url(alert.recipient_webhook) if alert.recipient_webhook else None

    def precheck(self, alert: Alert) -> str | None:
        if self.key_problem:
            return self.key_problem
        problem = url_problem(alert.recipient_webhook)
        if problem:
            return problem
        if alert.recipient_webhook in self.down:
            return f"not attempted: {self.down[alert.recipient_webhook]}"
        return None

    def send(self, alert: Alert) -> None:
        post_signed(alert.recipient_webhook, json_body(webhook_payload(alert)), self.key, self.timeout)

    def mark_down(self, alert: Alert, detail: str) -> None:
        self.down[alert.recipient_webhook] = detail

    def close(self) -> None:
        pass


def signing_key_problem(key: str | None, bureau_keys_file: Path | None) -> str | None:
    """Why ``key`` (FENGQIAO_WEBHOOK_KEY) cannot sign alerts: unset, or the same as a bureau's key (that
    bureau could then sign alerts of its own)."""
    if not key:
        return "FENGQIAO_WEBHOOK_KEY is not set: webhook alerts are never sent unsigned"
    try:
        bureau_keys = load_keys(bureau_keys_file)
    except KeyFileError:
        return None
    if any(k.key == key for k in bureau_keys.values()):
        return "FENGQIAO_WEBHOOK_KEY is also a bureau's key: alerts are signed with a key of their own only"
    return None


@dataclass
class DeliveryReport:
    attempts: pd.DataFrame      # the rows appended to gold/alerts by this run
    sent: int = 0               # deliveries (alert × channel) that ended sent
    failed: int = 0             # deliveries that ended failed after all attempts
    skipped: int = 0            # deliveries already sent by an earlier run: not sent again
    failed_attempts: int = 0    # failed rows (every failed attempt)
    by_channel: dict = field(default_factory=dict)


def send_pending(pending: list[tuple[Alert, str]], settings: Settings, options: DeliveryOptions,
                 rows: list[dict], report: DeliveryReport, sleep) -> None:
    """Deliver each (alert, channel name) of ``pending``; one row per attempt is appended to ``rows`` as it
    happens (so that the caller can record them also when this is interrupted) and ``report`` counted."""
    if any(channel == "email" and alert.recipient_email for alert, channel in pending):
        require_smtp(settings)
    channels = {"email": EmailChannel(settings),
                "webhook": WebhookChannel(settings.webhook_key, options.webhook_timeout, settings.bureau_keys_file)}
    try:
        for alert, name in pending:
            ok = _deliver(alert, channels[name], options, rows, sleep)
            report.sent += ok
            report.failed += not ok
            stats = report.by_channel.setdefault(name, {"sent": 0, "failed": 0})
            stats["sent" if ok else "failed"] += 1
    finally:
        for channel in channels.values():
            channel.close()


def attempts_frame(rows: list[dict]) -> pd.DataFrame:
    """The attempt rows with the columns of gold/alerts (``sent_at`` as UTC timestamps)."""
    attempts = pd.DataFrame(rows, columns=ALERT_COLUMNS)
    if not attempts.empty:
        attempts["sent_at"] = pd.to_datetime(attempts["sent_at"], utc=True)
    return attempts


def _attempt(channel, alert: Alert) -> None:
    """One send; any error (e.g. a value the mail library refuses) becomes a failure of this alert only."""
    try:
        channel.send(alert)
    except DeliveryFailure:
        raise
    except Exception as exc:  # noqa: BLE001
        raise DeliveryFailure(f"{type(exc).__name__}: {one_line(exc)[:200]}", retryable=False) from None


def _deliver(alert: Alert, channel, options: DeliveryOptions, rows: list[dict], sleep) -> bool:
    """Up to ``options.retry_attempts`` attempts with exponential back-off; one row per attempt.

    Any error of this alert (not only a delivery failure) ends as a failed row: it never stops the others."""
    try:
        address = channel.address(alert)
        problem = alert.problem or channel.precheck(alert)
    except Exception as exc:  # noqa: BLE001
        address, problem = None, f"refused: {type(exc).__name__}: {one_line(exc)[:200]}"
    if problem:
        rows.append(_row(alert, "failed", problem, channel.name, address))
        return False
    attempts = options.retry_attempts
    for attempt in range(1, attempts + 1):
        try:
            _attempt(channel, alert)
        except DeliveryFailure as failure:
            last = attempt == attempts or not failure.retryable
            rows.append(_row(alert, "failed", f"attempt {attempt}/{attempts}: {failure.detail}", channel.name, address))
            log.warning("alert %s via %s, attempt %d/%d failed: %s", alert.alert_id, channel.name, attempt, attempts,
                        failure.detail)
            if last:
                if failure.unreachable:
                    channel.mark_down(alert, f"{failure.detail} (after {attempt} attempt(s))")
                return False
            sleep(options.delay_after(attempt))
            continue
        rows.append(_row(alert, "sent", None if attempt == 1 else f"delivered on attempt {attempt}/{attempts}",
                         channel.name, address))
        return True
    return False


def _row(alert: Alert, status: str, detail: str | None, channel: str = "email",
         address: str | None = None) -> dict:
    return {
        "alert_id": alert.alert_id,
        "region_code": alert.region_code,
        "week_start": alert.week_start,
        "risk_level": alert.risk_level,
        "recipient_unit": alert.recipient_unit,
        "channel": channel,
        "sent_at": pd.Timestamp.now(tz="UTC"),  # time of the attempt
        "status": status,
        "recipient_address": address,
        "detail": None if detail is None else one_line(detail),
        "ack_ref": alert.ack_ref or None,
    }
