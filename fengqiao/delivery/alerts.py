"""Alerts: one e-mail per flagged region to the justice bureau or office responsible for it, and a
signed JSON webhook when the bureau has a ``webhook_url``.

Routing (``reference/bureaus.csv``, checked on load by :func:`fengqiao.render.common.check_bureaus`: a
bad row is reported with its line and skipped): a township goes to its own justice office (司法所) when the
file lists one, else to its county's justice bureau (司法局); a county goes to its county bureau. A bureau
never receives a region of another county: such an alert is recorded as failed instead.

Isolation: each alert is planned, built and sent on its own. A failure of one (no or bad address, a
refused webhook address, an error while building or sending it) is recorded with its reason and the other
alerts still go out and are recorded. Header values are single-line: line breaks in a name never reach a
mail header.

Reference: each alert carries a random ``ack_ref`` (:func:`new_ack_ref`, stored in gold/alerts and kept
across re-runs and channels) that the bureau quotes when it answers (回复确认编号); unlike ``alert_id`` it
cannot be computed from the region, week and address.

SMTP: credentials (``FENGQIAO_SMTP_USER``) are only sent over STARTTLS (``FENGQIAO_SMTP_STARTTLS``) or SMTPS
(``FENGQIAO_SMTP_SSL``); otherwise every e-mail delivery is refused and recorded as failed. Plain SMTP without
a login stays possible (the local mail sink).

Cool-down (:func:`apply_cooldown`): a region alerted (sent) in the last ``FENGQIAO_ALERT_COOLDOWN_WEEKS``
weeks (default 4) is not alerted again unless its level rises (蓝 < 黄 < 橙 < 红).

Every attempt is recorded in ``gold/alerts`` (schema ``fengqiao.core.schemas.ALERTS``), one row per
attempt and channel (``email`` / ``webhook``). A failed attempt is retried in the same run with
exponential back-off (``FENGQIAO_ALERT_RETRY_ATTEMPTS``, default 3, after 1 s then 2 s:
``FENGQIAO_ALERT_RETRY_DELAY_SECONDS``). The alert id is a hash of region, week and recipient (an internal
key, not the bureau's reference), so re-running the step for a week sends nothing already sent on that channel; deliveries that still
failed are retried on the next run.
"""
from __future__ import annotations

import datetime as dt
import dataclasses
import hashlib
import logging
import secrets
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import pandas as pd

from fengqiao.lake import Lake, read_table, write_table
from fengqiao.core.regions import county_of
from fengqiao.core.schemas import ALERTS, columns_of
from fengqiao.core.settings import Settings

from .bureau_keys import KeyFileError, load_keys
from fengqiao.render.common import (
    LEVEL_NAMES, LEVEL_RANK, as_date, bureau_index, check_bureaus, day_label, email_problem, flagged_rows, level_of,
    one_line, probability_text, reasons_list, region_names, route, scrub, township_office_name, week_label,
    week_short_label,
)
from .webhooks import (
    DeliveryFailure, DeliveryOptions, _is_loopback, delivery_options, json_body, now_iso, post_signed, public_url,
    url_problem,
)

log = logging.getLogger(__name__)

ALERT_COLUMNS = columns_of(ALERTS)
UNROUTED_UNIT = "（未配置接收单位）"
SMTP_TIMEOUT_SEC = 20
TREND_WEEKS = 4

_ACTIONS = {
    "红": "请于48小时内组织专人赴实地开展全面排查，逐件核实相关纠纷，落实包案化解和稳控措施，并及时向当地党委政府报告。",
    "橙": "请在一周内开展重点排查，摸清矛盾纠纷底数和当事人诉求，组织调解力量提前介入，防止矛盾激化升级。",
    "黄": "请将该地区纳入日常排查重点，加强跟踪研判。",
    "蓝": "请保持关注，做好常态化排查化解。",
}


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
    flagged = flagged_rows(scores_week).drop_duplicates("region_code")
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
    suggestion = _action(level, code, names, index, is_township)
    model_version = getattr(row, "model_version", None)
    subject = (f"【{LEVEL_NAMES[level]}预警】" if level else "【风险提示】") + \
        f"{place}矛盾纠纷风险提示（{week_short_label(week)}）"
    body = _body(unit, place, code, week, level, float(row.score), reasons,
                 _trend_text(points), ref, model_version, horizon_weeks, suggestion)
    return Alert(
        alert_id=aid, region_code=code, region_name=name, county_name=county_name, week_start=week,
        risk_level=level, score=float(row.score), reasons=reasons, recipient_unit=unit,
        recipient_email=email, subject=subject, body=body,
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


def _trend_text(points) -> str | None:
    if not points:
        return None
    return " → ".join(f"{day_label(w)}当周 {n:,}件" if n is not None else f"{day_label(w)}当周 —" for w, n in points)


def _action(level: str | None, code: str, names: dict[str, str], index: dict, is_township: bool) -> str:
    action = _ACTIONS.get(level or "蓝")
    if is_township and index.get(code) is None:  # the county bureau is asked to work with the office
        action = f"请会同{township_office_name(code, names, index)}" + action.removeprefix("请")
    return action


# What a bureau is asked to answer, in exactly the codes and channels that ingest_dispositions accepts
# (fengqiao/delivery/acknowledgements.py: DISPOSITIONS; a signed file in the inbox or a signed POST).
REPLY_INSTRUCTIONS = (
    "请于收到本提示后7日内回复核查及处置结果，处置结果只填以下三种之一："
    "已核实（经核查确有风险）、已排除（经核查无风险）、已处置（已化解或已妥善处置）。",
    "回复方式：以本单位回执密钥签名后，通过回执接口提交；或将签名的回执表"
    "（确认编号、处置结果、处置时间、备注）报送回执目录。回复时请注明下列确认编号。",
)


def _body(unit: str, place: str, code: str, week: dt.date, level: str | None, score: float,
          reasons: tuple[str, ...], trend: str | None, ref: str, model_version, horizon_weeks: int,
          action: str) -> str:
    lines = [f"{unit}：", ""]
    level_text = f"{LEVEL_NAMES[level]}预警" if level else "风险提示"
    lines.append(f"经矛盾纠纷风险研判模型分析，{place}（区划代码{code}）{week_label(week)}"
                 f"被列为【{level_text}】地区，未来{horizon_weeks}周内矛盾纠纷升级的估计概率为{probability_text(score)}。")
    lines.append("")
    lines.append("主要研判依据：")
    if reasons:
        lines.extend(f"  {i}. {r}" for i, r in enumerate(reasons, start=1))
    else:
        lines.append("  （未提供）")
    lines.append("")
    if trend:
        lines.append(f"近{TREND_WEEKS}周群众诉求总量（热线、工单、人民调解合计）：")
        lines.append(f"  {trend}")
        lines.append("")
    lines.append(f"工作建议：{action}")
    lines.append("")
    lines.extend(REPLY_INSTRUCTIONS)
    lines.append(f"回复确认编号：{ref}")
    lines.append("")
    lines.append("——")
    lines.append("本提示由 Fengqiao 矛盾纠纷风险预警系统自动发送，仅含汇总统计，不含个人信息；"
                 "风险概率为模型估计，供排查参考。" + (f"模型版本：{model_version}。" if model_version else ""))
    return "\n".join(lines) + "\n"


# --- sending --------------------------------------------------------------------------------------
def build_message(alert: Alert, sender: str) -> EmailMessage:
    """A UTF-8 MIME message; the Chinese subject and display names are RFC 2047 encoded on output.

    Every header value is made single-line first, and an address that is not exactly one address is
    refused (ValueError): no value can add a header or a recipient."""
    for address in (sender, alert.recipient_email):
        if problem := email_problem(address):
            raise ValueError(f"address refused: {problem}")
    msg = EmailMessage()
    msg["Subject"] = one_line(alert.subject)
    msg["From"] = Address(display_name="矛盾纠纷风险预警系统", addr_spec=sender)
    msg["To"] = Address(display_name=one_line(alert.recipient_unit), addr_spec=alert.recipient_email)
    msg["Date"] = format_datetime(dt.datetime.now(ZoneInfo("Asia/Shanghai")))
    msg["Message-ID"] = f"<{alert.alert_id.lower().replace('-', '')}@fengqiao.alerts>"
    msg["X-Fengqiao-Alert-Id"] = one_line(alert.alert_id)
    msg["X-Fengqiao-Region-Code"] = one_line(alert.region_code)
    msg["X-Fengqiao-Week-Start"] = alert.week_start.isoformat()
    msg.set_content(alert.body, charset="utf-8")
    return msg


def _require_smtp(settings: Settings) -> None:
    if not settings.smtp_host:
        raise RuntimeError(
            "No SMTP server is configured for alerts: set FENGQIAO_SMTP_HOST (and FENGQIAO_SMTP_PORT, "
            "default 25; FENGQIAO_SMTP_SENDER; FENGQIAO_SMTP_USER and FENGQIAO_SMTP_PASSWORD if the server "
            "needs a login, then FENGQIAO_SMTP_STARTTLS=true or FENGQIAO_SMTP_SSL=true). For a demo, run "
            "fengqiao.delivery.mailsink.local_mail_sink and point FENGQIAO_SMTP_HOST/PORT at it."
        )


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
        "risk_level_name": f"{LEVEL_NAMES[alert.risk_level]}预警" if alert.risk_level else "风险提示",
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


# --- history: idempotence and cool-down ------------------------------------------------------------
def delivered(lake: Lake) -> tuple[pd.DataFrame, set[tuple[str, str]]]:
    """Existing gold/alerts rows and the (alert_id, channel) pairs recorded as sent."""
    path = lake.gold("alerts")
    if not path.exists():
        return pd.DataFrame(columns=ALERT_COLUMNS), set()
    existing = read_table(path)
    if "ack_ref" not in existing.columns:  # written before alerts carried a reference
        existing["ack_ref"] = None
    sent = existing[existing["status"] == "sent"]
    return existing, set(zip(sent["alert_id"], sent["channel"]))


def stored_refs(history: pd.DataFrame) -> dict[str, str]:
    """alert_id -> the reference already recorded for it (a re-run or another channel reuses it)."""
    if history is None or history.empty or "ack_ref" not in history.columns:
        return {}
    known = history[history["ack_ref"].notna() & (history["ack_ref"].astype(str) != "")]
    return dict(zip(known["alert_id"], known["ack_ref"].astype(str)))


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


# --- delivery channels ----------------------------------------------------------------------------
class _EmailChannel:
    name = "email"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None
        self.down: str | None = None  # the server stayed unreachable through all attempts of a delivery

    def address(self, alert: Alert) -> str | None:
        return alert.recipient_email or None

    def precheck(self, alert: Alert) -> str | None:
        if not alert.recipient_email:
            return f"no e-mail address in bureaus.csv for {alert.recipient_unit}"
        if problem := email_problem(alert.recipient_email):
            return f"recipient refused: {problem}"
        if problem := smtp_problem(self.settings):
            return problem
        if self.down:
            return f"not attempted: {self.down}"
        return None

    def send(self, alert: Alert) -> None:
        s = self.settings
        if self.smtp is None:
            try:
                self.smtp = _connect(s)
            except smtplib.SMTPNotSupportedError as exc:  # e.g. STARTTLS not offered: never fall back to clear
                raise DeliveryFailure(f"SMTP {s.smtp_host}:{s.smtp_port}: {exc}", retryable=False,
                                      unreachable=True) from None
            except smtplib.SMTPAuthenticationError as exc:  # wrong login: retrying will not help
                raise DeliveryFailure(f"SMTP {s.smtp_host}:{s.smtp_port} refused the login: {exc.smtp_code}",
                                      retryable=False, unreachable=True) from None
            except (OSError, smtplib.SMTPException) as exc:
                raise DeliveryFailure(f"SMTP {s.smtp_host}:{s.smtp_port} unavailable: {exc!r}",
                                      unreachable=True) from None
        try:
            refused = self.smtp.send_message(build_message(alert, s.smtp_sender))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryFailure(f"recipient refused: {exc.recipients}",
                                  retryable=any(400 <= c < 500 for c in codes)) from None
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            if exc.smtp_code == 421:  # the server is closing the connection
                self._reset()
            raise DeliveryFailure(f"{type(exc).__name__}: {exc.smtp_code} {text}",
                                  retryable=400 <= exc.smtp_code < 500) from None
        except (OSError, smtplib.SMTPException) as exc:
            self._reset()  # disconnected: reconnect for the next attempt
            raise DeliveryFailure(f"{type(exc).__name__}: {exc}") from None
        if refused:
            raise DeliveryFailure(f"recipient refused: {refused}", retryable=False)

    def mark_down(self, alert: Alert, detail: str) -> None:
        self.down = detail

    def _reset(self) -> None:
        if self.smtp is not None:
            _quietly_close(self.smtp)
        self.smtp = None

    def close(self) -> None:
        if self.smtp is not None:
            _quietly_close(self.smtp, quit_first=True)
        self.smtp = None


class _WebhookChannel:
    name = "webhook"

    def __init__(self, key: str | None, timeout: float):
        self.key = key
        self.timeout = timeout
        self.down: dict[str, str] = {}  # url -> why it is unreachable in this run
        self.key_problem = signing_key_problem(key)

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


def signing_key_problem(key: str | None) -> str | None:
    """Why ``key`` (FENGQIAO_WEBHOOK_KEY) cannot sign alerts: unset, or the same as a bureau's key (that
    bureau could then sign alerts of its own)."""
    if not key:
        return "FENGQIAO_WEBHOOK_KEY is not set: webhook alerts are never sent unsigned"
    try:
        bureau_keys = load_keys()
    except KeyFileError:
        return None
    if any(k.key == key for k in bureau_keys.values()):
        return "FENGQIAO_WEBHOOK_KEY is also a bureau's key: alerts are signed with a key of their own only"
    return None


def smtp_problem(settings: Settings) -> str | None:
    """Why e-mail must not be sent with these settings: a login without TLS would send the password in clear."""
    if settings.smtp_user and not (settings.smtp_starttls or settings.smtp_ssl):
        return ("refused: FENGQIAO_SMTP_USER is set but neither FENGQIAO_SMTP_STARTTLS nor FENGQIAO_SMTP_SSL: "
                "credentials are never sent in clear")
    return None


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


@dataclass
class DeliveryReport:
    attempts: pd.DataFrame      # the rows appended to gold/alerts by this run
    sent: int = 0               # deliveries (alert × channel) that ended sent
    failed: int = 0             # deliveries that ended failed after all attempts
    skipped: int = 0            # deliveries already sent by an earlier run: not sent again
    failed_attempts: int = 0    # failed rows (every failed attempt)
    by_channel: dict = field(default_factory=dict)


def deliver_alerts(alerts: list[Alert], settings: Settings, lake: Lake, options: DeliveryOptions | None = None,
                   sleep=time.sleep) -> DeliveryReport:
    """Deliver the alerts not yet delivered, on each of their channels, with retries; append one row per
    attempt to gold/alerts.

    A failure (no address, server unreachable, recipient refused) is recorded as ``failed`` with the
    reason and does not stop the other alerts; it is retried on the next run. Once a server stayed
    unreachable through all attempts of one delivery, later deliveries to it in this run fail at once.
    """
    options = options or delivery_options()
    existing, done = delivered(lake)
    refs = stored_refs(existing)
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
    if skipped:
        log.info("%d delivery(ies) already sent earlier: not sent again", skipped)
    if any(channel == "email" and alert.recipient_email for alert, channel in pending):
        _require_smtp(settings)
    channels = {"email": _EmailChannel(settings), "webhook": _WebhookChannel(settings.webhook_key,
                                                                                options.webhook_timeout)}
    rows: list[dict] = []
    report = DeliveryReport(attempts=pd.DataFrame(columns=ALERT_COLUMNS), skipped=skipped)
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
        attempts = pd.DataFrame(rows, columns=ALERT_COLUMNS)
        if not attempts.empty:
            attempts["sent_at"] = pd.to_datetime(attempts["sent_at"], utc=True)
            _append(lake, existing, attempts)
    report.attempts = attempts
    report.failed_attempts = int((attempts["status"] == "failed").sum())
    return report


def send_alerts(alerts: list[Alert], settings: Settings, lake: Lake,
                options: DeliveryOptions | None = None) -> pd.DataFrame:
    """Deliver (see :func:`deliver_alerts`) and return the rows appended to gold/alerts."""
    return deliver_alerts(alerts, settings, lake, options).attempts


def _connect(settings: Settings) -> smtplib.SMTP:
    """A connection over SMTPS or STARTTLS when configured (a server without STARTTLS is then an error, never
    a silent fall-back to clear text); a login only on an encrypted connection."""
    if settings.smtp_ssl:
        smtp = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SEC,
                                context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SEC)
    try:
        smtp.ehlo()
        if settings.smtp_starttls and not settings.smtp_ssl:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        elif not settings.smtp_ssl and not _is_loopback(settings.smtp_host):
            log.warning("SMTP to %s without TLS: set FENGQIAO_SMTP_STARTTLS or FENGQIAO_SMTP_SSL", settings.smtp_host)
        if settings.smtp_user:  # deliver_alerts never gets here without TLS (smtp_problem)
            smtp.login(settings.smtp_user, settings.smtp_password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def _quietly_close(smtp: smtplib.SMTP, quit_first: bool = False) -> None:
    try:
        if quit_first:
            smtp.quit()
        else:
            smtp.close()
    except (OSError, smtplib.SMTPException):
        smtp.close()



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


def _append(lake: Lake, existing: pd.DataFrame, attempts: pd.DataFrame) -> None:
    frames = [f for f in (existing[ALERT_COLUMNS] if not existing.empty else None, attempts) if f is not None]
    combined = pd.concat(frames, ignore_index=True)
    # Microsecond UTC timestamps and typed strings (even when a column is all null): Spark cannot
    # read Parquet nanosecond timestamps, and an all-null object column would be stored as NULL type.
    combined["sent_at"] = pd.to_datetime(combined["sent_at"], utc=True).astype("datetime64[us, UTC]")
    for col in ("alert_id", "region_code", "risk_level", "recipient_unit", "channel", "status",
                "recipient_address", "detail", "ack_ref"):
        combined[col] = combined[col].astype(object).where(combined[col].notna(), None).astype("string")
    combined["week_start"] = combined["week_start"].map(as_date)
    write_table(combined, lake, "gold", "alerts")
