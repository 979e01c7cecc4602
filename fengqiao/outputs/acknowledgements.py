"""Acknowledgements: what bureaus report back about the alerts they received, and response rates.

Two ways in, one table out (``gold/alert_dispositions``, partitioned by the alert's ``week_start``):

- a file drop: CSV files in ``<lake>/inbox/dispositions/`` (or ``FENGQIAO_DISPOSITIONS_DIR``) with the
  columns ``alert_id,disposition,disposed_at,note`` (UTF-8 or GB18030; the Chinese headers
  确认编号, 处置结果, 处置时间, 备注 are accepted too), read by :func:`ingest_disposition_files`
  (job ``jobs/ingest_dispositions.py``); files are left in place, re-reading them stores nothing twice;
- a signed webhook: :func:`serve_acknowledgements` runs a small HTTP receiver (127.0.0.1 by default)
  that accepts ``POST /ack`` with the JSON ``{alert_id, disposition, disposed_at, note}`` signed like
  the alert webhooks (``X-Fengqiao-Signature: sha256=<HMAC-SHA256 of the raw body>``).

``disposition`` is one of 已核实/confirmed, 已排除/dismissed, 已处置/handled; it is stored as the English
code with its Chinese label. ``alert_id`` is the 回复确认编号 of a sent alert (case, spaces and dashes
are forgiven); an unknown one is rejected with a message saying so. The note is masked with
:func:`fengqiao.privacy.mask_text` before it is stored. A disposition is stored once per
``(alert_id, disposition, disposed_at)``.

:func:`response_rates` gives, per county, alerts sent, acknowledged, the share and the median days
from sending to the first disposition, for the briefing.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd

from fengqiao.lake import Lake, read_table, write_table
from fengqiao.privacy import mask_text
from fengqiao.regions import county_of, read_regions

from .webhooks import SIGNATURE_HEADER, _is_loopback, delivery_options, verify

log = logging.getLogger(__name__)

TABLE = "alert_dispositions"
DISPOSITION_COLUMNS = ["alert_id", "region_code", "week_start", "recipient_unit", "disposition", "disposition_zh",
                       "disposed_at", "received_via", "note_masked", "received_at"]
DISPOSITIONS = {"confirmed": "已核实", "dismissed": "已排除", "handled": "已处置"}
_BY_LABEL = {**{code: code for code in DISPOSITIONS}, **{zh: code for code, zh in DISPOSITIONS.items()}}
_HEADER_ALIASES = {"确认编号": "alert_id", "回复确认编号": "alert_id", "预警编号": "alert_id",
                   "处置结果": "disposition", "处置情况": "disposition", "核查结果": "disposition",
                   "处置时间": "disposed_at", "处置日期": "disposed_at", "备注": "note", "说明": "note"}
REQUIRED = ("alert_id", "disposition", "disposed_at")
MAX_NOTE_CHARS = 500
MAX_BODY_BYTES = 64 * 1024
TZ = "Asia/Shanghai"

_write_lock = threading.Lock()


class DispositionRejected(ValueError):
    """A disposition that cannot be stored; the message says why (never the note's text)."""


# --- normalising one record -----------------------------------------------------------------------
def normalise_alert_id(value) -> str:
    """``5ad3 1e36 5e1f 414d 53c5`` or ``5AD31E365E1F414D53C5`` -> ``5AD3-1E36-5E1F-414D-53C5``."""
    text = re.sub(r"[\s\-_]", "", str(value or "")).upper()
    if not re.fullmatch(r"[0-9A-F]{20}", text):
        raise DispositionRejected(f"alert_id {_shown(value)!r} is not an acknowledgement reference "
                                  "(回复确认编号, 20 hex digits like 5AD3-1E36-5E1F-414D-53C5)")
    return "-".join(text[i:i + 4] for i in range(0, 20, 4))


def normalise_disposition(value) -> tuple[str, str]:
    """``已核实`` / ``Confirmed`` -> (``confirmed``, ``已核实``)."""
    text = str(value or "").strip()
    code = _BY_LABEL.get(text) or _BY_LABEL.get(text.lower())
    if code is None:
        raise DispositionRejected(f"disposition {_shown(value)!r} is not one of "
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
        raise DispositionRejected(f"disposed_at {_shown(value)!r} is not a date or ISO 8601 date-time") from None
    if pd.isna(stamp):
        raise DispositionRejected("disposed_at is empty: give the date (and time) of the disposition")
    stamp = stamp.tz_localize(TZ) if stamp.tzinfo is None else stamp
    return stamp.tz_convert("UTC").floor("s")


def _shown(value) -> str:
    """A rejected value as it may appear in a message or log: masked and short."""
    return (mask_text(str(value)) or "")[:40]


def _note(value) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value).strip()
    return (mask_text(text) or "")[:MAX_NOTE_CHARS] or None


# --- the alerts a disposition can refer to --------------------------------------------------------
def sent_alerts(lake: Lake) -> pd.DataFrame:
    """One row per alert id sent on some channel: region_code, week_start, recipient_unit, first_sent_at."""
    path = lake.gold("alerts")
    columns = ["alert_id", "region_code", "week_start", "recipient_unit", "first_sent_at"]
    if not path.exists():
        return pd.DataFrame(columns=columns)
    alerts = read_table(path)
    sent = alerts[alerts["status"] == "sent"].copy()
    if sent.empty:
        return pd.DataFrame(columns=columns)
    sent["sent_at"] = pd.to_datetime(sent["sent_at"], utc=True)
    out = (sent.groupby("alert_id", as_index=False)
           .agg(region_code=("region_code", "first"), week_start=("week_start", "first"),
                recipient_unit=("recipient_unit", "first"), first_sent_at=("sent_at", "min")))
    return out[columns]


def _known_ids(lake: Lake) -> tuple[dict[str, dict], set[str]]:
    """(sent alerts by id, ids in gold/alerts that were never sent)."""
    sent = sent_alerts(lake)
    index = {row["alert_id"]: row for row in sent.to_dict("records")}
    path = lake.gold("alerts")
    unsent = set()
    if path.exists():
        unsent = set(read_table(path, columns=["alert_id"])["alert_id"]) - set(index)
    return index, unsent


def validate(record: dict, index: dict[str, dict], unsent: set[str], via: str,
             received_at: pd.Timestamp | None = None) -> dict:
    """One stored row from one incoming record, or DispositionRejected."""
    if not isinstance(record, dict):
        raise DispositionRejected("a disposition must be an object with alert_id, disposition, disposed_at, note")
    aid = normalise_alert_id(record.get("alert_id"))
    alert = index.get(aid)
    if alert is None:
        if aid in unsent:
            raise DispositionRejected(f"alert_id {aid} was never delivered (only failed attempts in gold/alerts)")
        raise DispositionRejected(f"unknown alert_id {aid}: no alert with this reference (回复确认编号) was sent")
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
        "alert_id": aid, "region_code": alert["region_code"], "week_start": week,
        "recipient_unit": alert["recipient_unit"], "disposition": code, "disposition_zh": label,
        "disposed_at": disposed_at, "received_via": via, "note_masked": _note(record.get("note")),
        "received_at": received_at,
    }


# --- storing --------------------------------------------------------------------------------------
@contextlib.contextmanager
def _table_lock(lake: Lake):
    """One writer at a time (the receiver's threads, the ingest job): a thread lock plus a file lock."""
    lock_dir = lake.root / "_locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with _write_lock, open(lock_dir / f"{TABLE}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _key(df: pd.DataFrame) -> pd.Series:
    stamps = pd.to_datetime(df["disposed_at"], utc=True).dt.floor("s").map(lambda t: t.isoformat())
    return df["alert_id"].astype(str) + "|" + df["disposition"].astype(str) + "|" + stamps


def read_dispositions(lake: Lake) -> pd.DataFrame:
    path = lake.gold(TABLE)
    if not path.exists():
        return pd.DataFrame(columns=DISPOSITION_COLUMNS)
    df = read_table(path)
    for col in DISPOSITION_COLUMNS:
        if col not in df.columns:
            df[col] = None
    return df[DISPOSITION_COLUMNS]


def store(lake: Lake, rows: list[dict]) -> tuple[int, int]:
    """Append new rows to gold/alert_dispositions; returns (stored, duplicates)."""
    if not rows:
        return 0, 0
    incoming = pd.DataFrame(rows, columns=DISPOSITION_COLUMNS)
    with _table_lock(lake):
        existing = read_dispositions(lake)
        seen = set(_key(existing)) if not existing.empty else set()
        keys = _key(incoming)
        fresh_mask = ~keys.isin(seen) & ~keys.duplicated()
        fresh = incoming[fresh_mask.to_numpy()]
        if not fresh.empty:
            combined = pd.concat([f for f in (existing, fresh) if not f.empty], ignore_index=True)
            # Microsecond UTC timestamps and typed strings, as in gold/alerts, so that Spark reads the table.
            for col in ("disposed_at", "received_at"):
                combined[col] = pd.to_datetime(combined[col], utc=True).astype("datetime64[us, UTC]")
            combined["week_start"] = combined["week_start"].map(
                lambda d: d if isinstance(d, dt.date) else pd.Timestamp(str(d)).date())
            for col in ("alert_id", "region_code", "recipient_unit", "disposition", "disposition_zh",
                        "received_via", "note_masked"):
                combined[col] = combined[col].astype(object).where(combined[col].notna(), None).astype("string")
            write_table(combined[DISPOSITION_COLUMNS], lake, "gold", TABLE)
    return len(fresh), len(incoming) - len(fresh)


def record_dispositions(lake: Lake, records: list[tuple[str, dict]], via: str) -> dict:
    """Validate and store ``records`` (pairs of a reference for messages, e.g. ``file.csv:3``, and the
    record). Returns ``received``, ``stored``, ``duplicates``, ``rejected`` and ``rejections``
    (``{"where", "reason"}`` each)."""
    index, unsent = _known_ids(lake)
    rows, rejections = [], []
    for where, record in records:
        try:
            rows.append(validate(record, index, unsent, via))
        except DispositionRejected as exc:
            rejections.append({"where": where, "reason": str(exc)})
            log.warning("disposition %s rejected: %s", where, exc)
    stored, duplicates = store(lake, rows)
    return {"received": len(records), "stored": stored, "duplicates": duplicates,
            "rejected": len(rejections), "rejections": rejections}


# --- (a) file drop --------------------------------------------------------------------------------
def dispositions_dir(lake: Lake) -> Path:
    return delivery_options().dispositions_dir or lake.root / "inbox" / "dispositions"


def _read_csv(path: Path) -> pd.DataFrame:
    last: Exception | None = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding, skipinitialspace=True)
        except UnicodeDecodeError as exc:
            last = exc
    raise DispositionRejected(f"cannot decode the file as UTF-8 or GB18030: {last}")


def ingest_disposition_files(lake: Lake, folder: str | Path | None = None) -> dict:
    """Read every ``*.csv`` of the dispositions folder and store what is valid (see the module doc)."""
    folder = Path(folder) if folder is not None else dispositions_dir(lake)
    files = sorted(p for p in folder.glob("*.csv") if p.is_file()) if folder.is_dir() else []
    records: list[tuple[str, dict]] = []
    file_rejections = []
    for path in files:
        try:
            df = _read_csv(path)
        except (DispositionRejected, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            file_rejections.append({"where": path.name, "reason": f"file not read: {exc}"})
            continue
        df = df.rename(columns=lambda c: _HEADER_ALIASES.get(str(c).strip(), str(c).strip().lower()))
        missing = [c for c in REQUIRED if c not in df.columns]
        if missing:
            file_rejections.append({"where": path.name, "reason": f"file not read: missing columns {missing} "
                                    "(expected alert_id,disposition,disposed_at,note)"})
            continue
        for line_no, record in enumerate(df.to_dict("records"), start=2):
            if not any(str(v).strip() for v in record.values()):
                continue  # blank line
            records.append((f"{path.name}:{line_no}", record))
    for rejection in file_rejections:
        log.warning("dispositions file %s", rejection)
    result = record_dispositions(lake, records, via="file")
    result["rejected"] += len(file_rejections)
    result["rejections"] = file_rejections + result["rejections"]
    result = {"folder": str(folder), "files": len(files), **result}
    log.info("dispositions from files: %s", {k: v for k, v in result.items() if k != "rejections"})
    return result


# --- (b) signed webhook ---------------------------------------------------------------------------
class _AckHandler(BaseHTTPRequestHandler):
    server_version = "fengqiao-ack/1"
    lake: Lake
    key: str

    def _reply(self, status: int, payload: dict) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802
        if urlsplit(self.path).path == "/health":
            self._reply(HTTPStatus.OK, {"status": "ok"})
        elif urlsplit(self.path).path.rstrip("/") == "/ack":
            self._reply(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "POST a signed JSON disposition to /ack"})
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"error": "not found; POST /ack"})

    def do_POST(self):  # noqa: N802
        if urlsplit(self.path).path.rstrip("/") != "/ack":
            self._reply(HTTPStatus.NOT_FOUND, {"error": "not found; POST /ack"})
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._reply(HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length required"})
            return
        if length < 0 or length > MAX_BODY_BYTES:
            self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"body over {MAX_BODY_BYTES} bytes"})
            return
        body = self.rfile.read(length)
        if not verify(body, self.headers.get(SIGNATURE_HEADER), self.key):
            self._reply(HTTPStatus.UNAUTHORIZED, {"error": f"missing or invalid {SIGNATURE_HEADER} "
                                                  "(sha256=<HMAC-SHA256 of the raw body>)"})
            return
        try:
            record = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            self._reply(HTTPStatus.BAD_REQUEST, {"error": "body is not UTF-8 JSON"})
            return
        if not isinstance(record, dict):
            self._reply(HTTPStatus.BAD_REQUEST, {"error": "body must be a JSON object"})
            return
        try:
            result = record_dispositions(self.lake, [("webhook", record)], via="webhook")
        except Exception:  # noqa: BLE001 (answer the caller; the details go to the log)
            log.exception("acknowledgement could not be stored")
            self._reply(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "could not store the disposition; try again"})
            return
        if result["rejected"]:
            self._reply(HTTPStatus.UNPROCESSABLE_ENTITY,
                        {"status": "rejected", "error": result["rejections"][0]["reason"]})
        else:
            self._reply(HTTPStatus.OK, {"status": "stored" if result["stored"] else "duplicate",
                                        "alert_id": normalise_alert_id(record.get("alert_id"))})

    def log_message(self, format, *args):  # noqa: A002 (the base class's name); no bodies in logs
        log.info("ack receiver %s: %s", self.address_string(), format % args)


def make_ack_server(host: str, port: int, lake: Lake | str, key: str) -> ThreadingHTTPServer:
    """A bound (not yet serving) receiver; ``port`` 0 picks a free port (``server.server_address``)."""
    if not key:
        raise ValueError("the acknowledgement receiver needs the shared key: set FENGQIAO_WEBHOOK_KEY")
    lake = lake if isinstance(lake, Lake) else Lake.at(lake)
    handler = type("AckHandler", (_AckHandler,), {"lake": lake, "key": key})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve_acknowledgements(host: str = "127.0.0.1", port: int = 8765, lake: Lake | str | None = None,
                           key: str | None = None, *, background: bool = False) -> ThreadingHTTPServer:
    """Run the receiver on ``host:port`` (loopback by default; put a TLS reverse proxy in front to expose
    it). ``lake`` and ``key`` default to FENGQIAO_LAKE and FENGQIAO_WEBHOOK_KEY.

    Blocks until interrupted, or with ``background=True`` serves from a daemon thread and returns the
    server at once (stop it with ``server.shutdown(); server.server_close()``).
    """
    from fengqiao.settings import get_settings

    settings = get_settings()
    server = make_ack_server(host, port, lake if lake is not None else settings.lake_dir,
                             key if key is not None else settings.webhook_key)
    log.info("acknowledgement receiver on http://%s:%d/ack", *server.server_address[:2])
    if not _is_loopback(host):
        log.warning("acknowledgement receiver listens on %s, not loopback: keep it behind a TLS reverse proxy", host)
    if background:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="fengqiao-ack",
                         daemon=True).start()
        return server
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return server


# --- response rates -------------------------------------------------------------------------------
RATE_COLUMNS = ["county_code", "county_name", "alerts_sent", "acknowledged", "ack_share", "median_days_to_respond"]


def response_rates(lake: Lake | str, week_start: dt.date | str | None = None) -> pd.DataFrame:
    """Per county: alerts sent (distinct alert ids with a ``sent`` row), acknowledged (with at least one
    disposition), their share, and the median days from the first sending to the first disposition.

    ``week_start``: only the alerts of that week; None: all weeks. Counties with no alert sent are left
    out; an empty frame has the columns.
    """
    lake = lake if isinstance(lake, Lake) else Lake.at(lake)
    sent = sent_alerts(lake)
    if week_start is not None:
        week = week_start if isinstance(week_start, dt.date) else pd.Timestamp(str(week_start)).date()
        sent = sent[sent["week_start"] == week]
    if sent.empty:
        return pd.DataFrame(columns=RATE_COLUMNS)
    dispositions = read_dispositions(lake)
    first = (dispositions.assign(disposed_at=pd.to_datetime(dispositions["disposed_at"], utc=True))
             .groupby("alert_id")["disposed_at"].min().rename("first_disposed_at"))
    merged = sent.merge(first, left_on="alert_id", right_index=True, how="left")
    merged["days"] = ((merged["first_disposed_at"] - merged["first_sent_at"]).dt.total_seconds() / 86400).clip(lower=0)
    merged["county_code"] = merged["region_code"].map(county_of)
    out = (merged.groupby("county_code", as_index=False)
           .agg(alerts_sent=("alert_id", "nunique"), acknowledged=("first_disposed_at", "count"),
                median_days_to_respond=("days", "median")))
    out["ack_share"] = out["acknowledged"] / out["alerts_sent"]
    names = {}
    regions_csv = lake.reference / "regions.csv"
    if regions_csv.exists():
        regions = read_regions(regions_csv)
        names = dict(zip(regions["code"].astype(str), regions["name"]))
    out["county_name"] = out["county_code"].map(names)
    out["median_days_to_respond"] = out["median_days_to_respond"].round(2)
    return out[RATE_COLUMNS].sort_values("county_code", ignore_index=True)


def main(argv: list[str] | None = None) -> None:
    """``python -m fengqiao.outputs.acknowledgements [--host 127.0.0.1] [--port 8765] [--lake DIR]``"""
    import argparse

    parser = argparse.ArgumentParser(description="Receive signed alert acknowledgements (POST /ack).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--lake", default=None, help="lake root (default FENGQIAO_LAKE)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    serve_acknowledgements(args.host, args.port, args.lake)


if __name__ == "__main__":
    main()
