"""Stage: read the bureaus' signed dispositions dropped as CSV files into gold/alert_dispositions; and the
table itself (read, store) for the acknowledgement receiver and the training labels.

Files: ``<lake>/inbox/dispositions/*.csv`` or the folder in ``FENGQIAO_DISPOSITIONS_DIR``, columns
``alert_id,disposition,disposed_at,note``, each signed by a ``<file>.csv.sig`` under the bureau's key
(``FENGQIAO_BUREAU_KEYS``; format: :mod:`fengqiao.delivery.disposition_files`). Unsigned or badly signed
files are held for review (``<lake>/review/dispositions_held.jsonl``, listed by :func:`held_dispositions` and
``python -m jobs.gold.ack_receiver --list-held``), never stored in gold nor used as training labels. Files
stay where they are; reading them again stores or holds nothing twice. Dispositions sent by webhook arrive
through :mod:`jobs.gold.ack_receiver` instead. Checking each record: :mod:`fengqiao.delivery.dispositions`.

gold/alert_dispositions is partitioned by the alert's ``week_start``; one writer at a time (the receiver's
threads and this job) under a thread lock and a file lock in ``<lake>/_locks``.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import threading
from pathlib import Path

import pandas as pd

from fengqiao.core.settings import Settings
from fengqiao.delivery.bureau_keys import BureauKey, KeyFileError, load_keys
from fengqiao.delivery.disposition_files import (
    HELD_COLUMNS, file_key, file_records, held_rows, signature_name,
)
from fengqiao.delivery.dispositions import DISPOSITION_COLUMNS, KnownAlerts, disposition_key, validate_all
from fengqiao.lake import Lake, read_table, write_table
from jobs.gold.alert_log import read_alert_log

log = logging.getLogger(__name__)

TABLE = "alert_dispositions"
_write_lock = threading.Lock()


def run(lake: Lake | str | os.PathLike, settings: Settings) -> dict:
    """Returns ``folder``, ``files``, ``received``, ``stored``, ``duplicates``, ``rejected`` (``forbidden`` of
    them: alerts of another county than the signing bureau's), ``rejections`` (``{"where": "file.csv:line",
    "reason": ...}``; reasons never quote notes), ``held`` (rows newly held for review) and ``held_files``
    (``{"file", "reason"}``)."""
    lake = lake if isinstance(lake, Lake) else Lake.at(lake)
    return ingest_disposition_files(lake, dispositions_dir(lake, settings), settings.bureau_keys_file)


# --- the table ------------------------------------------------------------------------------------
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
        seen = set(disposition_key(existing)) if not existing.empty else set()
        keys = disposition_key(incoming)
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
    rows, rejections, forbidden = validate_all(records, KnownAlerts(read_alert_log(lake)), via, key)
    stored, duplicates = store(lake, rows)
    return {"received": len(records), "stored": stored, "duplicates": duplicates,
            "rejected": len(rejections), "forbidden": forbidden, "rejections": rejections}


# --- the file drop --------------------------------------------------------------------------------
def dispositions_dir(lake: Lake, settings: Settings) -> Path:
    """FENGQIAO_DISPOSITIONS_DIR, else the lake's ``inbox/dispositions``."""
    return settings.dispositions_dir or lake.root / "inbox" / "dispositions"


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


def _signature_text(path: Path) -> str | None:
    sig_path = path.with_name(signature_name(path.name))
    return sig_path.read_text(encoding="utf-8", errors="replace") if sig_path.is_file() else None


def ingest_disposition_files(lake: Lake, folder: str | Path, keys_path: str | Path | None) -> dict:
    """Read every ``*.csv`` of the dispositions folder: store what is validly signed and valid, hold the
    rest of unsigned or badly signed files for review (see the module doc)."""
    folder = Path(folder)
    files = sorted(p for p in folder.glob("*.csv") if p.is_file()) if folder.is_dir() else []
    try:
        keys = load_keys(keys_path) if files else {}
    except KeyFileError as exc:
        log.warning("no bureau keys (%s): every dispositions file is held for review", exc)
        keys = {}
    totals = {"received": 0, "stored": 0, "duplicates": 0, "rejected": 0, "forbidden": 0}
    rejections, to_hold, held_files = [], [], []
    for path in files:
        content = path.read_bytes()
        key, reason = file_key(path.name, content, _signature_text(path), keys)
        if key is None:
            held_files.append({"file": path.name, "reason": reason})
            to_hold += held_rows(path.name, content, reason)
            log.warning("dispositions file %s held for review: %s", path.name, reason)
            continue
        records, problem = file_records(path.name, content)
        if problem:
            rejections.append({"where": path.name, "reason": problem})
            totals["rejected"] += 1
            log.warning("dispositions file %s: %s", path.name, problem)
            continue
        result = record_dispositions(lake, [(where, r) for where, _, r in records], via="file", key=key)
        for name in totals:
            totals[name] += result[name]
        rejections += result["rejections"]
    held = _hold(lake, to_hold)
    result = {"folder": str(folder), "files": len(files), **totals, "held": held, "held_files": held_files,
              "rejections": rejections}
    log.info("dispositions from files: %s", {k: v for k, v in result.items() if k not in ("rejections", "held_files")})
    return result
