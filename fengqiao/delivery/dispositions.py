"""Dispositions: what a bureau reports back about an alert it received, checked record by record.

Pure: records and the rows of ``gold/alerts`` in, rows for ``gold/alert_dispositions`` (or the reason a
record is refused) out. The two ways in are the signed files (:mod:`fengqiao.delivery.disposition_files`)
and the signed webhook (:mod:`fengqiao.delivery.ack_receiver`); the lake side is
``jobs/gold/alert_dispositions.py``.

``alert_id`` is the 回复确认编号 of a sent alert: the random reference stored with it in gold/alerts
(``ack_ref``), not something computable from the region, week and address. Alerts recorded before
references existed (no ``ack_ref``) are answered with their old ``XXXX-XXXX-XXXX-XXXX-XXXX`` id; case,
spaces and dashes are forgiven there. ``disposition`` is one of 已核实/confirmed, 已排除/dismissed,
已处置/handled; it is stored as the English code with its Chinese label and the ``key_id`` that signed it.
Only a key of the alert's own county may answer it. The note is masked with
:func:`fengqiao.core.privacy.mask_text` before it is stored. A disposition is stored once per
``(alert_id, disposition, disposed_at)`` (:func:`disposition_key`).
"""
from __future__ import annotations

import logging
import re

import pandas as pd

from fengqiao.core.privacy import mask_text
from fengqiao.core.regions import county_of

from .bureau_keys import BureauKey

log = logging.getLogger(__name__)

DISPOSITION_COLUMNS = ["alert_id", "region_code", "week_start", "recipient_unit", "disposition", "disposition_zh",
                       "disposed_at", "received_via", "note_masked", "received_at", "key_id"]
DISPOSITIONS = {"confirmed": "已核实", "dismissed": "已排除", "handled": "已处置"}
_BY_LABEL = {**{code: code for code in DISPOSITIONS}, **{zh: code for code, zh in DISPOSITIONS.items()}}
MAX_NOTE_CHARS = 500
TZ = "Asia/Shanghai"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{22}")


class DispositionRejected(ValueError):
    """A disposition that cannot be stored; the message says why (never the note's text)."""


class DispositionForbidden(DispositionRejected):
    """A signed disposition for an alert the signing bureau may not answer (another county's)."""


# --- normalising one record -----------------------------------------------------------------------
def normalise_alert_id(value) -> str:
    """An old-style id: ``5ad3 1e36 5e1f 414d 53c5`` or ``5AD31E365E1F414D53C5`` -> ``5AD3-1E36-5E1F-414D-53C5``."""
    text = re.sub(r"[\s\-_]", "", str(value or "")).upper()
    if not re.fullmatch(r"[0-9A-F]{20}", text):
        raise DispositionRejected(f"alert_id {shown(value)!r} is not an acknowledgement reference "
                                  "(回复确认编号 as given in the alert)")
    return "-".join(text[i:i + 4] for i in range(0, 20, 4))


def normalise_disposition(value) -> tuple[str, str]:
    """``已核实`` / ``Confirmed`` -> (``confirmed``, ``已核实``)."""
    text = str(value or "").strip()
    code = _BY_LABEL.get(text) or _BY_LABEL.get(text.lower())
    if code is None:
        raise DispositionRejected(f"disposition {shown(value)!r} is not one of "
                                  "已核实/confirmed, 已排除/dismissed, 已处置/handled")
    return code, DISPOSITIONS[code]


def parse_disposed_at(value) -> pd.Timestamp:
    """An ISO date or date-time (a time without offset is Beijing time), also ``2025/3/20`` and
    ``2025年3月20日``; returned in UTC, to the second."""
    text = str(value or "").strip()
    if not text:
        raise DispositionRejected("disposed_at is empty: give the date (and time) of the disposition")
    text = re.sub(r"^(\d{4})年(\d{1,2})月(\d{1,2})日", r"\1-\2-\3", text)
    try:
        stamp = pd.Timestamp(text.replace("/", "-"))
    except (ValueError, TypeError):
        raise DispositionRejected(f"disposed_at {shown(value)!r} is not a date or ISO 8601 date-time") from None
    if pd.isna(stamp):
        raise DispositionRejected("disposed_at is empty: give the date (and time) of the disposition")
    stamp = stamp.tz_localize(TZ) if stamp.tzinfo is None else stamp
    return stamp.tz_convert("UTC").floor("s")


def shown(value) -> str:
    """A rejected value as it may appear in a message or log: masked, one line and short."""
    return re.sub(r"[\x00-\x1f\x7f]", " ", mask_text(str(value)) or "")[:40]


def masked_note(value) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value).strip()
    return (mask_text(text) or "")[:MAX_NOTE_CHARS] or None


# --- the alerts a disposition can refer to --------------------------------------------------------
SENT_COLUMNS = ["alert_id", "region_code", "week_start", "recipient_unit", "first_sent_at", "ack_ref"]


def sent_alerts(alerts: pd.DataFrame) -> pd.DataFrame:
    """One row per alert id with a ``sent`` row in ``alerts`` (gold/alerts): region_code, week_start,
    recipient_unit, first_sent_at and ack_ref."""
    sent = alerts[alerts["status"] == "sent"].copy()
    if sent.empty:
        return pd.DataFrame(columns=SENT_COLUMNS)
    sent["sent_at"] = pd.to_datetime(sent["sent_at"], utc=True)
    out = (sent.groupby("alert_id", as_index=False)
           .agg(region_code=("region_code", "first"), week_start=("week_start", "first"),
                recipient_unit=("recipient_unit", "first"), first_sent_at=("sent_at", "min"),
                ack_ref=("ack_ref", "first")))
    return out[SENT_COLUMNS]


class KnownAlerts:
    """The alerts a disposition may answer, from the rows of gold/alerts: by reference (``ack_ref``), and
    by old id for alerts recorded before references existed; plus the references and ids that were never
    delivered."""

    def __init__(self, alerts: pd.DataFrame):
        sent = sent_alerts(alerts)
        has_ref = sent["ack_ref"].notna() & (sent["ack_ref"].astype(str) != "")
        self.by_ref = {row["ack_ref"]: row for row in sent[has_ref].to_dict("records")}
        self.legacy = {row["alert_id"]: row for row in sent[~has_ref].to_dict("records")}
        delivered_ids = set(sent["alert_id"])
        failed = alerts[~alerts["alert_id"].isin(delivered_ids)]
        self.undelivered = set(failed["alert_id"]) | set(failed["ack_ref"].dropna())

    def find(self, value) -> dict:
        text = str(value or "").strip()
        if text in self.by_ref:
            return self.by_ref[text]
        if text in self.undelivered:
            raise DispositionRejected("this alert was never delivered (only failed attempts in gold/alerts)")
        try:
            aid = normalise_alert_id(text)
        except DispositionRejected:
            if _TOKEN.fullmatch(text):
                raise DispositionRejected(f"unknown alert_id {shown(text)}: no alert with this reference "
                                          "(回复确认编号) was sent") from None
            raise
        if aid in self.legacy:
            return self.legacy[aid]
        if aid in self.undelivered:
            raise DispositionRejected(f"alert_id {aid} was never delivered (only failed attempts in gold/alerts)")
        raise DispositionRejected(f"unknown alert_id {aid}: no alert with this reference (回复确认编号) was sent")


def validate(record: dict, known: KnownAlerts, via: str, key: BureauKey,
             received_at: pd.Timestamp | None = None) -> dict:
    """One stored row from one record signed with ``key``, or DispositionRejected (DispositionForbidden
    when the alert belongs to another county than the key's bureau)."""
    if not isinstance(record, dict):
        raise DispositionRejected("a disposition must be an object with alert_id, disposition, disposed_at, note")
    alert = known.find(record.get("alert_id"))
    county = county_of(str(alert["region_code"]))
    if county != key.county_code:
        raise DispositionForbidden(f"key {key.key_id} of bureau {key.bureau_id} (county {key.county_code}) cannot "
                                   f"answer an alert of county {county}")
    code, label = normalise_disposition(record.get("disposition"))
    disposed_at = parse_disposed_at(record.get("disposed_at"))
    received_at = received_at if received_at is not None else pd.Timestamp.now(tz="UTC").floor("s")
    week = alert["week_start"]
    if disposed_at.tz_convert(TZ).date() < week:
        raise DispositionRejected(f"disposed_at {disposed_at.tz_convert(TZ).date()} is before the alert's week "
                                  f"({week})")
    if disposed_at > received_at + pd.Timedelta(days=1):
        raise DispositionRejected(f"disposed_at {disposed_at.isoformat()} is in the future")
    return {
        "alert_id": alert["alert_id"], "region_code": alert["region_code"], "week_start": week,
        "recipient_unit": alert["recipient_unit"], "disposition": code, "disposition_zh": label,
        "disposed_at": disposed_at, "received_via": via, "note_masked": masked_note(record.get("note")),
        "received_at": received_at, "key_id": key.key_id,
    }


def validate_all(records: list[tuple[str, dict]], known: KnownAlerts, via: str,
                 key: BureauKey) -> tuple[list[dict], list[dict], int]:
    """(rows to store, one ``{"where", "reason"}`` per record refused, how many of those were forbidden:
    alerts of another county) for ``records``, pairs of a reference for messages (e.g. ``file.csv:3``) and
    the record."""
    rows, rejections, forbidden = [], [], 0
    for where, record in records:
        try:
            rows.append(validate(record, known, via, key))
        except DispositionRejected as exc:
            forbidden += isinstance(exc, DispositionForbidden)
            rejections.append({"where": where, "reason": str(exc)})
            log.warning("disposition %s rejected: %s", where, exc)
    return rows, rejections, forbidden


def disposition_key(df: pd.DataFrame) -> pd.Series:
    """``alert_id|disposition|disposed_at``: a disposition is stored once per key."""
    stamps = pd.to_datetime(df["disposed_at"], utc=True).dt.floor("s").map(lambda t: t.isoformat())
    return df["alert_id"].astype(str) + "|" + df["disposition"].astype(str) + "|" + stamps
