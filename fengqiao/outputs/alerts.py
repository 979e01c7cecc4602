"""Alerts: one e-mail per flagged region to the justice bureau or office responsible for it.

Routing (``reference/bureaus.csv``): a township goes to its own justice office (司法所) when the
file lists one, else to its county's justice bureau (司法局); a county goes to its county bureau.
A bureau never receives a region of another county.

Every attempt is recorded in ``gold/alerts`` (schema ``fengqiao.schemas.ALERTS``). The alert id is a
hash of region, week and recipient, so re-running the step for a week sends nothing already sent;
failed attempts are retried on the next run.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import pandas as pd

from fengqiao.lake import Lake, read_table, write_table
from fengqiao.regions import county_of
from fengqiao.schemas import ALERTS, columns_of
from fengqiao.settings import Settings

from .common import (
    LEVEL_NAMES, LEVEL_RANK, as_date, bureau_index, day_label, flagged_rows, level_of, probability_text, reasons_list,
    region_names, route, scrub, township_office_name, week_label, week_short_label,
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


def alert_id_of(region_code: str, week_start: dt.date, recipient: str) -> str:
    """Deterministic id (also the acknowledgement reference in the mail)."""
    text = f"{region_code}|{as_date(week_start).isoformat()}|{recipient}"
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:20].upper()
    return "-".join(digest[i:i + 4] for i in range(0, 20, 4))  # 5AD3-1E36-5E1F-414D-53C5: easy to read out


# --- planning -------------------------------------------------------------------------------------
def plan_alerts(scores_week: pd.DataFrame, bureaus: pd.DataFrame, regions: pd.DataFrame,
                features: pd.DataFrame | None = None, horizon_weeks: int = 4) -> list[Alert]:
    """One alert per flagged region of ``scores_week`` (rows of gold/risk_scores), addressed by bureaus.csv.

    ``features`` (gold/region_week_features) adds the last weeks' total contacts to the body.
    A region without a bureau still yields an alert, with an empty address (it is recorded as failed).
    """
    names = {code: scrub(name) for code, name in region_names(regions).items()}
    index = bureau_index(bureaus)
    flagged = flagged_rows(scores_week).drop_duplicates("region_code")
    totals = _totals_by_region(features, set(flagged["region_code"].astype(str)))
    alerts = []
    for row in flagged.itertuples(index=False):
        code = str(row.region_code)
        county = county_of(code)
        week = as_date(row.week_start)
        bureau = route(code, index)
        if bureau is not None and county_of(bureau.region_code) != county:
            raise AssertionError(f"{bureau.unit_name} ({bureau.region_code}) would receive {code} of another county")
        unit = bureau.unit_name if bureau else UNROUTED_UNIT
        email = bureau.email if bureau else ""
        if bureau is None:
            log.warning("no bureau in bureaus.csv for region %s or its county %s: alert recorded as failed",
                        code, county)
        is_township = row.level == "township"
        name = names.get(code) or scrub(getattr(row, "region_name", None) or code)
        county_name = names.get(county, county)
        place = f"{county_name}{name}" if is_township else name
        level = level_of(row.risk_level)
        reasons = tuple(reasons_list(row.reasons))
        aid = alert_id_of(code, week, email or unit)
        subject = (f"【{LEVEL_NAMES[level]}预警】" if level else "【风险提示】") + \
            f"{place}矛盾纠纷风险提示（{week_short_label(week)}）"
        body = _body(unit, place, code, week, level, float(row.score), reasons,
                     _trend(totals, code, week), aid, getattr(row, "model_version", None), horizon_weeks,
                     names, index, is_township)
        alerts.append(Alert(
            alert_id=aid, region_code=code, region_name=name, county_name=county_name, week_start=week,
            risk_level=level, score=float(row.score), reasons=reasons, recipient_unit=unit,
            recipient_email=email, subject=subject, body=body,
            recipient_region_code=bureau.region_code if bureau else "", level=str(row.level),
        ))
    alerts.sort(key=lambda a: (LEVEL_RANK.get(a.risk_level, 9), -a.score, a.region_code))
    return alerts


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


def _trend(totals: dict, code: str, week: dt.date) -> str | None:
    mine = totals.get(code)
    if not mine:
        return None
    weeks = [week - dt.timedelta(days=7 * i) for i in range(TREND_WEEKS - 1, -1, -1)]
    return " → ".join(f"{day_label(w)}当周 {mine[w]:,}件" if w in mine else f"{day_label(w)}当周 —" for w in weeks)


def _body(unit: str, place: str, code: str, week: dt.date, level: str | None, score: float,
          reasons: tuple[str, ...], trend: str | None, aid: str, model_version, horizon_weeks: int,
          names: dict[str, str], index: dict, is_township: bool) -> str:
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
    action = _ACTIONS.get(level or "蓝")
    if is_township and index.get(code) is None:  # the county bureau is asked to work with the office
        action = f"请会同{township_office_name(code, names, index)}" + action.removeprefix("请")
    lines.append(f"工作建议：{action}")
    lines.append("")
    lines.append("请于收到本提示后7日内回复核查及处置情况（如已化解、正在化解、经核查无风险等），回复时请注明确认编号。")
    lines.append(f"回复确认编号：{aid}")
    lines.append("")
    lines.append("——")
    lines.append("本提示由 Fengqiao 矛盾纠纷风险预警系统自动发送，仅含汇总统计，不含个人信息；"
                 "风险概率为模型估计，供排查参考。" + (f"模型版本：{model_version}。" if model_version else ""))
    return "\n".join(lines) + "\n"


# --- sending --------------------------------------------------------------------------------------
def build_message(alert: Alert, sender: str) -> EmailMessage:
    """A UTF-8 MIME message; the Chinese subject and display names are RFC 2047 encoded on output."""
    msg = EmailMessage()
    msg["Subject"] = alert.subject
    msg["From"] = Address(display_name="矛盾纠纷风险预警系统", addr_spec=sender)
    msg["To"] = Address(display_name=alert.recipient_unit, addr_spec=alert.recipient_email)
    msg["Date"] = format_datetime(dt.datetime.now(ZoneInfo("Asia/Shanghai")))
    msg["Message-ID"] = f"<{alert.alert_id.lower().replace('-', '')}@fengqiao.alerts>"
    msg["X-Fengqiao-Alert-Id"] = alert.alert_id
    msg["X-Fengqiao-Region-Code"] = alert.region_code
    msg["X-Fengqiao-Week-Start"] = alert.week_start.isoformat()
    msg.set_content(alert.body, charset="utf-8")
    return msg


def _require_smtp(settings: Settings) -> None:
    if not settings.smtp_host:
        raise RuntimeError(
            "No SMTP server is configured for alerts: set FENGQIAO_SMTP_HOST (and FENGQIAO_SMTP_PORT, "
            "default 25; FENGQIAO_SMTP_SENDER; FENGQIAO_SMTP_USER and FENGQIAO_SMTP_PASSWORD if the server "
            "needs a login; FENGQIAO_SMTP_STARTTLS=true for STARTTLS). For a demo, run "
            "fengqiao.outputs.mailsink.local_mail_sink and point FENGQIAO_SMTP_HOST/PORT at it."
        )


def already_sent(lake: Lake) -> tuple[pd.DataFrame, set[str]]:
    """Existing gold/alerts rows and the ids recorded as sent."""
    path = lake.gold("alerts")
    if not path.exists():
        return pd.DataFrame(columns=ALERT_COLUMNS), set()
    existing = read_table(path)
    return existing, set(existing.loc[existing["status"] == "sent", "alert_id"])


def _connect(settings: Settings) -> smtplib.SMTP:
    smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SEC)
    try:
        smtp.ehlo()
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def send_alerts(alerts: list[Alert], settings: Settings, lake: Lake) -> pd.DataFrame:
    """Send the alerts not yet sent, append one row per attempt to gold/alerts, return those rows.

    A failure (no address, server unreachable, recipient refused) is recorded as ``failed`` with the
    reason and does not stop the other alerts; it is retried on the next run.
    """
    _require_smtp(settings)
    existing, sent_ids = already_sent(lake)
    pending = list({a.alert_id: a for a in alerts if a.alert_id not in sent_ids}.values())
    skipped = len(alerts) - len(pending)
    if skipped:
        log.info("%d alert(s) already sent earlier: not sent again", skipped)
    rows: list[dict] = []
    smtp: smtplib.SMTP | None = None
    connect_error: str | None = None
    try:
        for alert in pending:
            if not alert.recipient_email:
                rows.append(_row(alert, "failed", f"no e-mail address in bureaus.csv for {alert.recipient_unit}"))
                continue
            if smtp is None and connect_error is None:
                try:
                    smtp = _connect(settings)
                except (OSError, smtplib.SMTPException) as exc:
                    # Unreachable or refusing server: fail every pending alert fast, not one timeout each.
                    connect_error = f"SMTP {settings.smtp_host}:{settings.smtp_port} unavailable: {exc!r}"
                    log.error("%s", connect_error)
            if smtp is None:
                rows.append(_row(alert, "failed", connect_error))
                continue
            try:
                refused = smtp.send_message(build_message(alert, settings.smtp_sender))
                if refused:
                    rows.append(_row(alert, "failed", f"recipient refused: {refused}"))
                else:
                    rows.append(_row(alert, "sent", None))
            except (OSError, smtplib.SMTPException) as exc:
                rows.append(_row(alert, "failed", f"{type(exc).__name__}: {exc}"))
                if isinstance(exc, (smtplib.SMTPServerDisconnected, OSError)):
                    _quietly_close(smtp)
                    smtp = None  # reconnect for the next alert
    finally:
        if smtp is not None:
            _quietly_close(smtp, quit_first=True)
        attempts = pd.DataFrame(rows, columns=ALERT_COLUMNS)
        if not attempts.empty:
            _append(lake, existing, attempts)
    return attempts


def _quietly_close(smtp: smtplib.SMTP, quit_first: bool = False) -> None:
    try:
        if quit_first:
            smtp.quit()
        else:
            smtp.close()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def _row(alert: Alert, status: str, detail: str | None) -> dict:
    return {
        "alert_id": alert.alert_id,
        "region_code": alert.region_code,
        "week_start": alert.week_start,
        "risk_level": alert.risk_level,
        "recipient_unit": alert.recipient_unit,
        "channel": "email",
        "sent_at": pd.Timestamp.now(tz="UTC"),  # time of the attempt
        "status": status,
        "recipient_address": alert.recipient_email or None,
        "detail": detail,
    }


def _append(lake: Lake, existing: pd.DataFrame, attempts: pd.DataFrame) -> None:
    frames = [f for f in (existing[ALERT_COLUMNS] if not existing.empty else None, attempts) if f is not None]
    combined = pd.concat(frames, ignore_index=True)
    combined["sent_at"] = pd.to_datetime(combined["sent_at"], utc=True)
    for col in ("alert_id", "region_code", "risk_level", "recipient_unit", "channel", "status",
                "recipient_address", "detail"):
        combined[col] = combined[col].astype(object).where(combined[col].notna(), None)
    combined["week_start"] = combined["week_start"].map(as_date)
    write_table(combined, lake, "gold", "alerts")
