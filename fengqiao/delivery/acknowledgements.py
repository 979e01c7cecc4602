"""Acknowledgements: what bureaus report back about the alerts they received, and response rates.

Only dispositions signed with the answering bureau's own key (:mod:`fengqiao.delivery.bureau_keys`) are
stored in ``gold/alert_dispositions`` (partitioned by the alert's ``week_start``), and only for alerts of
that bureau's county. Two ways in:

- a file drop: CSV files in ``<lake>/inbox/dispositions/`` (or ``FENGQIAO_DISPOSITIONS_DIR``) with the
  columns ``alert_id,disposition,disposed_at,note`` (UTF-8 or GB18030; the Chinese headers
  确认编号, 处置结果, 处置时间, 备注 are accepted too), each with a detached signature ``<file>.csv.sig``::

      key_id: <the bureau's key id>
      signature: sha256=<HMAC-SHA256 of the file's exact bytes under the bureau's key>

  read by :func:`ingest_disposition_files` (job ``jobs/gold/alert_dispositions.py``). A file without a valid
  signature is *held for review*: its rows go to ``<lake>/review/dispositions_held.jsonl`` with the reason
  (notes masked), listed by :func:`held_dispositions` (``python -m fengqiao.delivery.acknowledgements
  --list-held``), and never reach gold or the training labels. Files are left in place; re-reading them
  stores or holds nothing twice.
- a signed webhook: :func:`serve_acknowledgements` runs a small HTTP receiver (127.0.0.1 by default)
  that accepts ``POST /ack`` with the JSON ``{alert_id, disposition, disposed_at, note}`` and the headers
  ``X-Fengqiao-Key-Id``, ``X-Fengqiao-Timestamp`` (Unix seconds, within ±5 minutes of the receiver's
  clock) and ``X-Fengqiao-Signature: sha256=<HMAC-SHA256 of "<timestamp>.<raw body>">``. Each accepted
  signature is written to a ledger (``<lake>/_receiver/seen_signatures.txt``) before the disposition is
  processed: the same request sent again, also after a restart, is refused (409).

``alert_id`` is the 回复确认编号 of a sent alert: the random reference stored with it in gold/alerts
(``ack_ref``), not something computable from the region, week and address. Alerts recorded before
references existed (no ``ack_ref``) are answered with their old ``XXXX-XXXX-XXXX-XXXX-XXXX`` id; case,
spaces and dashes are forgiven there. ``disposition`` is one of 已核实/confirmed, 已排除/dismissed,
已处置/handled; it is stored as the English code with its Chinese label and the ``key_id`` that signed it.
The note is masked with :func:`fengqiao.core.privacy.mask_text` before it is stored. A disposition is stored once
per ``(alert_id, disposition, disposed_at)``.

:func:`response_rates` gives, per county, alerts sent, acknowledged, the share and the median days
from sending to the first disposition, for the briefing.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import io
import json
import logging
import os
import re
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd

from fengqiao.lake import Lake, read_table, write_table
from fengqiao.core.privacy import mask_text
from fengqiao.core.regions import county_of, read_regions

from .alerts import delivered
from .bureau_keys import (
    KEY_ID_HEADER, BureauKey, KeyFileError, file_signature, load_keys, request_signature, same_signature,
)
from .webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, _is_loopback, delivery_options

log = logging.getLogger(__name__)

TABLE = "alert_dispositions"
DISPOSITION_COLUMNS = ["alert_id", "region_code", "week_start", "recipient_unit", "disposition", "disposition_zh",
                       "disposed_at", "received_via", "note_masked", "received_at", "key_id"]
DISPOSITIONS = {"confirmed": "已核实", "dismissed": "已排除", "handled": "已处置"}
_BY_LABEL = {**{code: code for code in DISPOSITIONS}, **{zh: code for code, zh in DISPOSITIONS.items()}}
_HEADER_ALIASES = {"确认编号": "alert_id", "回复确认编号": "alert_id", "预警编号": "alert_id",
                   "处置结果": "disposition", "处置情况": "disposition", "核查结果": "disposition",
                   "处置时间": "disposed_at", "处置日期": "disposed_at", "备注": "note", "说明": "note"}
REQUIRED = ("alert_id", "disposition", "disposed_at")
MAX_NOTE_CHARS = 500
MAX_BODY_BYTES = 64 * 1024
TIMESTAMP_TOLERANCE_SECONDS = 300
TZ = "Asia/Shanghai"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{22}")

_write_lock = threading.Lock()


class DispositionRejected(ValueError):
    """A disposition that cannot be stored; the message says why (never the note's text)."""


class DispositionForbidden(DispositionRejected):
    """A signed disposition for an alert the signing bureau may not answer (another county's)."""


# --- normalising one record -----------------------------------------------------------------------
def normalise_alert_id(value) -> str:
    """An old-style id: ``5ad3 1e36 5e1f 414d 53c5`` or ``5AD31E365E1F414D53C5`` -> ``5AD3-1E36-5E1F-414D-53C5``."""
    text = re.sub(r"[\s\-_]", "", str(value or "")).upper()
    if not re.fullmatch(r"[0-9A-F]{20}", text):
        raise DispositionRejected(f"alert_id {_shown(value)!r} is not an acknowledgement reference "
                                  "(回复确认编号 as given in the alert)")
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
    """A rejected value as it may appear in a message or log: masked, one line and short."""
    return re.sub(r"[\x00-\x1f\x7f]", " ", mask_text(str(value)) or "")[:40]


def _note(value) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    text = str(value).strip()
    return (mask_text(text) or "")[:MAX_NOTE_CHARS] or None


# --- the alerts a disposition can refer to --------------------------------------------------------
def _alert_rows(lake: Lake) -> pd.DataFrame:
    """gold/alerts, with ``ack_ref`` null in tables written before alerts carried a reference."""
    return delivered(lake)[0]


def sent_alerts(lake: Lake) -> pd.DataFrame:
    """One row per alert id sent on some channel: region_code, week_start, recipient_unit, first_sent_at."""
    return _sent(_alert_rows(lake))[["alert_id", "region_code", "week_start", "recipient_unit", "first_sent_at"]]


def _sent(alerts: pd.DataFrame) -> pd.DataFrame:
    columns = ["alert_id", "region_code", "week_start", "recipient_unit", "first_sent_at", "ack_ref"]
    sent = alerts[alerts["status"] == "sent"].copy()
    if sent.empty:
        return pd.DataFrame(columns=columns)
    sent["sent_at"] = pd.to_datetime(sent["sent_at"], utc=True)
    out = (sent.groupby("alert_id", as_index=False)
           .agg(region_code=("region_code", "first"), week_start=("week_start", "first"),
                recipient_unit=("recipient_unit", "first"), first_sent_at=("sent_at", "min"),
                ack_ref=("ack_ref", "first")))
    return out[columns]


class KnownAlerts:
    """The alerts a disposition may answer: by reference (``ack_ref``), and by old id for alerts recorded
    before references existed; plus the references and ids that were never delivered."""

    def __init__(self, lake: Lake):
        alerts = _alert_rows(lake)
        sent = _sent(alerts)
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
                raise DispositionRejected(f"unknown alert_id {_shown(text)}: no alert with this reference "
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
        "disposed_at": disposed_at, "received_via": via, "note_masked": _note(record.get("note")),
        "received_at": received_at, "key_id": key.key_id,
    }


# --- storing --------------------------------------------------------------------------------------
@contextlib.contextmanager
def _file_lock(lake: Lake, name: str):
    """One writer at a time (the receiver's threads, the ingest job): a thread lock plus a file lock."""
    lock_dir = lake.root / "_locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with _write_lock, open(lock_dir / f"{name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _key(df: pd.DataFrame) -> pd.Series:
    stamps = pd.to_datetime(df["disposed_at"], utc=True).dt.floor("s").map(lambda t: t.isoformat())
    return df["alert_id"].astype(str) + "|" + df["disposition"].astype(str) + "|" + stamps


def read_dispositions(lake: Lake) -> pd.DataFrame:
    """gold/alert_dispositions; ``key_id`` is null for rows stored before dispositions were signed."""
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
    with _file_lock(lake, TABLE):
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
                        "received_via", "note_masked", "key_id"):
                combined[col] = combined[col].astype(object).where(combined[col].notna(), None).astype("string")
            write_table(combined[DISPOSITION_COLUMNS], lake, "gold", TABLE)
    return len(fresh), len(incoming) - len(fresh)


def record_dispositions(lake: Lake, records: list[tuple[str, dict]], via: str, key: BureauKey) -> dict:
    """Validate and store ``records`` signed with ``key`` (pairs of a reference for messages, e.g.
    ``file.csv:3``, and the record). Returns ``received``, ``stored``, ``duplicates``, ``rejected``,
    ``forbidden`` (of the rejected: alerts of another county) and ``rejections`` (``{"where", "reason"}``)."""
    known = KnownAlerts(lake)
    rows, rejections, forbidden = [], [], 0
    for where, record in records:
        try:
            rows.append(validate(record, known, via, key))
        except DispositionRejected as exc:
            forbidden += isinstance(exc, DispositionForbidden)
            rejections.append({"where": where, "reason": str(exc)})
            log.warning("disposition %s rejected: %s", where, exc)
    stored, duplicates = store(lake, rows)
    return {"received": len(records), "stored": stored, "duplicates": duplicates,
            "rejected": len(rejections), "forbidden": forbidden, "rejections": rejections}


# --- (a) file drop --------------------------------------------------------------------------------
HELD_COLUMNS = ["held_at", "file", "line", "file_sha256", "reason", "alert_id", "disposition", "disposed_at",
                "note_masked"]


def dispositions_dir(lake: Lake) -> Path:
    return delivery_options().dispositions_dir or lake.root / "inbox" / "dispositions"


def held_path(lake: Lake) -> Path:
    return lake.root / "review" / "dispositions_held.jsonl"


def held_dispositions(lake: Lake) -> pd.DataFrame:
    """Rows of dispositions files held for review (unsigned or badly signed), one per file line."""
    path = held_path(lake)
    if not path.exists():
        return pd.DataFrame(columns=HELD_COLUMNS)
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return pd.DataFrame(lines, columns=HELD_COLUMNS)


def _hold(lake: Lake, rows: list[dict]) -> int:
    """Append rows not held before (same file content and line) to the review list; returns how many."""
    if not rows:
        return 0
    with _file_lock(lake, "dispositions_held"):
        existing = held_dispositions(lake)
        seen = set(zip(existing["file_sha256"], existing["line"]))
        fresh = [r for r in rows if (r["file_sha256"], r["line"]) not in seen]
        if fresh:
            path = held_path(lake)
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "a", encoding="utf-8") as fh:
                for row in fresh:
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
    return len(fresh)


def _read_csv(content: bytes) -> pd.DataFrame:
    last: Exception | None = None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False, encoding=encoding,
                               skipinitialspace=True)
        except UnicodeDecodeError as exc:
            last = exc
    raise DispositionRejected(f"cannot decode the file as UTF-8 or GB18030: {last}")


def _signature_of(sig_path: Path) -> tuple[str, str]:
    """(key_id, signature) from a ``.sig`` file of ``key_id: …`` and ``signature: sha256=…`` lines."""
    fields = {}
    for line in sig_path.read_text(encoding="utf-8", errors="replace").splitlines():
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    return fields.get("key_id", ""), fields.get("signature", "")


def _file_key(path: Path, content: bytes, keys: dict[str, BureauKey]) -> tuple[BureauKey | None, str]:
    """The key that validly signed ``path`` (and ""), or None and why the file is held."""
    sig_path = path.with_name(path.name + ".sig")
    if not sig_path.is_file():
        return None, f"unsigned: no {sig_path.name} next to the file"
    key_id, signature = _signature_of(sig_path)
    key = keys.get(key_id)
    if key is None or not key.active:
        return None, f"signed with an unknown or revoked key {_shown(key_id)!r}"
    if not same_signature(file_signature(key.key, content), signature):
        return None, f"signature in {sig_path.name} does not match the file (altered, or another key)"
    return key, ""


def _records(name: str, content: bytes) -> tuple[list[tuple[str, int, dict]], str | None]:
    """(where, line, record) per non-blank data line of the file ``name`` (its bytes as they were checked
    against the signature), or a reason the file cannot be read."""
    try:
        df = _read_csv(content)
    except (DispositionRejected, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        return [], f"file not read: {exc}"
    df = df.rename(columns=lambda c: _HEADER_ALIASES.get(str(c).strip(), str(c).strip().lower()))
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        return [], f"file not read: missing columns {missing} (expected alert_id,disposition,disposed_at,note)"
    out = []
    for line_no, record in enumerate(df.to_dict("records"), start=2):
        if any(str(v).strip() for v in record.values()):
            out.append((f"{name}:{line_no}", line_no, record))
    return out, None


def _held_rows(path: Path, content: bytes, reason: str) -> list[dict]:
    records, problem = _records(path.name, content)
    base = {"held_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"), "file": path.name,
            "file_sha256": hashlib.sha256(content).hexdigest(), "reason": reason}
    if problem:
        return [{**base, "line": 0, "reason": f"{reason}; {problem}", "alert_id": None, "disposition": None,
                 "disposed_at": None, "note_masked": None}]
    return [{**base, "line": line, "alert_id": _shown(r.get("alert_id")), "disposition": _shown(r.get("disposition")),
             "disposed_at": _shown(r.get("disposed_at")), "note_masked": _note(r.get("note"))}
            for _, line, r in records]


def ingest_disposition_files(lake: Lake, folder: str | Path | None = None,
                             keys_path: str | Path | None = None) -> dict:
    """Read every ``*.csv`` of the dispositions folder: store what is validly signed and valid, hold the
    rest of unsigned or badly signed files for review (see the module doc)."""
    folder = Path(folder) if folder is not None else dispositions_dir(lake)
    files = sorted(p for p in folder.glob("*.csv") if p.is_file()) if folder.is_dir() else []
    try:
        keys = load_keys(keys_path) if files else {}
    except KeyFileError as exc:
        log.warning("no bureau keys (%s): every dispositions file is held for review", exc)
        keys = {}
    totals = {"received": 0, "stored": 0, "duplicates": 0, "rejected": 0, "forbidden": 0}
    rejections, held_rows, held_files = [], [], []
    for path in files:
        content = path.read_bytes()
        key, reason = _file_key(path, content, keys)
        if key is None:
            held_files.append({"file": path.name, "reason": reason})
            held_rows += _held_rows(path, content, reason)
            log.warning("dispositions file %s held for review: %s", path.name, reason)
            continue
        records, problem = _records(path.name, content)
        if problem:
            rejections.append({"where": path.name, "reason": problem})
            totals["rejected"] += 1
            log.warning("dispositions file %s: %s", path.name, problem)
            continue
        result = record_dispositions(lake, [(where, r) for where, _, r in records], via="file", key=key)
        for name in totals:
            totals[name] += result[name]
        rejections += result["rejections"]
    held = _hold(lake, held_rows)
    result = {"folder": str(folder), "files": len(files), **totals, "held": held, "held_files": held_files,
              "rejections": rejections}
    log.info("dispositions from files: %s", {k: v for k, v in result.items() if k not in ("rejections", "held_files")})
    return result


# --- (b) signed webhook ---------------------------------------------------------------------------
class ReplayLedger:
    """Signatures of accepted requests, in a file, so that a replay is refused also after a restart.

    Entries older than twice the timestamp tolerance are dropped when the file is rewritten: such a
    request would be refused for its stale timestamp anyway."""

    def __init__(self, path: Path, tolerance_seconds: int = TIMESTAMP_TOLERANCE_SECONDS):
        self.path = Path(path)
        self.tolerance = tolerance_seconds
        self._lock = threading.Lock()

    def _entries(self) -> dict[str, int]:
        if not self.path.exists():
            return {}
        out = {}
        for line in self.path.read_text(encoding="ascii", errors="replace").splitlines():
            stamp, _, signature = line.partition(" ")
            if signature and stamp.lstrip("-").isdigit():
                out[signature] = int(stamp)
        return out

    def first_use(self, signature: str, timestamp: int, now: float) -> bool:
        """Record ``signature``; False when it was recorded before (a replay)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            entries = self._entries()
            if signature in entries:
                return False
            live = {s: t for s, t in entries.items() if t >= now - 2 * self.tolerance}
            if len(live) < len(entries):
                self._rewrite({**live, signature: timestamp})
            else:
                with open(self.path, "a", encoding="ascii") as fh:
                    fh.write(f"{timestamp} {signature}\n")
                    fh.flush()
                    os.fsync(fh.fileno())
            return True

    def _rewrite(self, entries: dict[str, int]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="ascii") as fh:
            fh.writelines(f"{t} {s}\n" for s, t in entries.items())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


def ledger_path(lake: Lake) -> Path:
    return lake.root / "_receiver" / "seen_signatures.txt"


class _AckHandler(BaseHTTPRequestHandler):
    server_version = "fengqiao-ack/1"
    lake: Lake
    keys_path: Path
    ledger: ReplayLedger
    clock = staticmethod(time.time)

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
        key, problem = self._authenticate(body)
        if key is None:
            status = HTTPStatus.CONFLICT if problem.startswith("replay") else HTTPStatus.UNAUTHORIZED
            log.warning("acknowledgement refused from %s: %s", self.address_string(), problem)
            self._reply(status, {"error": problem})
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
            result = record_dispositions(self.lake, [("webhook", record)], via="webhook", key=key)
        except Exception:  # noqa: BLE001 (answer the caller; the details go to the log)
            log.exception("acknowledgement could not be stored")
            self._reply(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "could not store the disposition; sign and "
                                                         "send it again with a new timestamp"})
            return
        if result["rejected"]:
            status = HTTPStatus.FORBIDDEN if result["forbidden"] else HTTPStatus.UNPROCESSABLE_ENTITY
            self._reply(status, {"status": "rejected", "error": result["rejections"][0]["reason"]})
        else:
            self._reply(HTTPStatus.OK, {"status": "stored" if result["stored"] else "duplicate",
                                        "alert_id": str(record.get("alert_id")).strip()})

    def _authenticate(self, body: bytes) -> tuple[BureauKey | None, str]:
        """The bureau key that signed this request, or None and why it is refused."""
        key_id = (self.headers.get(KEY_ID_HEADER) or "").strip()
        stamp = (self.headers.get(TIMESTAMP_HEADER) or "").strip()
        signature = (self.headers.get(SIGNATURE_HEADER) or "").strip()
        if not (key_id and stamp and signature):
            return None, (f"missing {KEY_ID_HEADER}, {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} "
                          "(sha256=<HMAC-SHA256 of '<timestamp>.<raw body>' under your bureau key>)")
        if not re.fullmatch(r"\d{1,12}", stamp):
            return None, f"{TIMESTAMP_HEADER} must be Unix seconds"
        now = self.clock()
        if abs(now - int(stamp)) > TIMESTAMP_TOLERANCE_SECONDS:
            return None, (f"{TIMESTAMP_HEADER} is more than {TIMESTAMP_TOLERANCE_SECONDS // 60} minutes from the "
                          "receiver's clock: sign the request again with the current time")
        try:
            key = load_keys(self.keys_path).get(key_id)
        except KeyFileError:
            log.exception("bureau key file unreadable")
            return None, "the receiver cannot read its bureau keys"
        if key is None or not key.active or not same_signature(request_signature(key.key, stamp, body), signature):
            return None, f"invalid {SIGNATURE_HEADER} for this key id, timestamp and body"
        if not self.ledger.first_use(signature, int(stamp), now):
            return None, "replayed request: this signature was already received"
        return key, ""

    def log_message(self, format, *args):  # noqa: A002 (the base class's name); no bodies in logs
        log.info("ack receiver %s: %s", self.address_string(), format % args)


def make_ack_server(host: str, port: int, lake: Lake | str, keys_path: str | Path | None = None,
                    alert_signing_key: str | None = None) -> ThreadingHTTPServer:
    """A bound (not yet serving) receiver; ``port`` 0 picks a free port (``server.server_address``).

    Refuses to start without an active bureau key, or when a bureau key is the alert signing key."""
    from fengqiao.core.settings import get_settings

    settings = get_settings()
    keys_path = Path(keys_path) if keys_path is not None else settings.bureau_keys_file
    alert_signing_key = alert_signing_key if alert_signing_key is not None else settings.webhook_key
    keys = load_keys(keys_path)
    if not any(k.active for k in keys.values()):
        raise KeyFileError(f"{keys_path} holds no active bureau key (FENGQIAO_BUREAU_KEYS)")
    if alert_signing_key and any(k.key == alert_signing_key for k in keys.values()):
        raise KeyFileError("a bureau key equals the alert signing key FENGQIAO_WEBHOOK_KEY: use separate keys")
    lake = lake if isinstance(lake, Lake) else Lake.at(lake)
    handler = type("AckHandler", (_AckHandler,), {"lake": lake, "keys_path": keys_path,
                                                  "ledger": ReplayLedger(ledger_path(lake))})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve_acknowledgements(host: str = "127.0.0.1", port: int = 8765, lake: Lake | str | None = None,
                           keys_path: str | Path | None = None, *, background: bool = False) -> ThreadingHTTPServer:
    """Run the receiver on ``host:port`` (loopback by default; put a TLS reverse proxy in front to expose
    it). ``lake`` and ``keys_path`` default to FENGQIAO_LAKE and FENGQIAO_BUREAU_KEYS.

    Blocks until interrupted, or with ``background=True`` serves from a daemon thread and returns the
    server at once (stop it with ``server.shutdown(); server.server_close()``).
    """
    from fengqiao.core.settings import get_settings

    server = make_ack_server(host, port, lake if lake is not None else get_settings().lake_dir, keys_path)
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
    """``python -m fengqiao.delivery.acknowledgements [--host 127.0.0.1] [--port 8765] [--lake DIR] [--list-held]``"""
    import argparse

    parser = argparse.ArgumentParser(description="Receive signed alert acknowledgements (POST /ack).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--lake", default=None, help="lake root (default FENGQIAO_LAKE)")
    parser.add_argument("--list-held", action="store_true",
                        help="list the dispositions held for review (unsigned or badly signed files) and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    if args.list_held:
        from fengqiao.core.settings import get_settings

        held = held_dispositions(Lake.at(args.lake or get_settings().lake_dir))
        print(held.to_string(index=False) if len(held) else "no dispositions held for review")
        return
    serve_acknowledgements(args.host, args.port, args.lake)


if __name__ == "__main__":
    main()
