"""Bronze: extract work orders straight from the work-order system's PostgreSQL table.

The same system that exports ``workorders/YYYY-MM-DD/orders-<batch>.csv`` can be read from its table
(``FENGQIAO_WORKORDERS_DSN``, ``FENGQIAO_WORKORDERS_TABLE``). Rows are written to bronze exactly as a
contract export looks (CSV, UTF-8, the contract's header, ``true``/``false``, timestamps ISO 8601 with
``+08:00``), so the silver work-order job merges them like dropped files, with no change:

    bronze/workorders/<extraction day, Beijing>/orders-db-<extraction time>-<part>.csv

**Incremental by ``updated_at``.** The state file ``bronze/_db_extract/<table>.json``
(:mod:`fengqiao.lake.bronze`) holds the watermark (the newest ``updated_at`` landed) and the rows already
landed in the last ``FENGQIAO_WORKORDERS_OVERLAP_SECONDS`` before it (their ``updated_at`` and content
hash). A run reads the rows with ``updated_at >= watermark - overlap``: in PostgreSQL ``now()`` is the *start* of a
transaction, so a row committed late carries a timestamp older than rows already read; the overlap
takes it in, and the remembered hashes keep the rows already landed from being landed again. Should a
row still come twice (a crash, see below), nothing changes downstream: silver keeps one version per
``order_id`` (the newest ``updated_at``).

**Crash-safe.** Each file is written under a hidden ``.<name>.partial`` name in its bronze folder and
renamed into place under the bronze manifest's lock, and recorded in ``bronze/_manifest.parquet``
like a dropped file (a file whose sha256 the manifest already has is not landed again). The state is
saved (written beside and renamed over) only after the files are landed. A crash between the two
re-extracts the same rows next time: same rows in the same order give the same bytes, the manifest
knows their sha256, and nothing is landed twice.

The DSN holds a password: it is never logged, never put in a summary or an error message; logs name
the database by host, port and database name only.
"""
from __future__ import annotations

import csv
import datetime as dt
import fcntl
import hashlib
import os
import re
from collections import deque
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from fengqiao.lake import Lake, file_sha256
from fengqiao.lake.bronze import (add_to_manifest, extract_state_path, manifest_lock, read_extract_state,
                                  read_manifest, write_extract_state)

FEED = "workorders"
# The contract's work-order header, in order (jobs/silver/work_orders.py reads these names).
CONTRACT_COLUMNS = ["order_id", "created_at", "channel", "call_id", "region_code", "category", "summary", "urgency",
                    "status", "assigned_unit", "due_at", "closed_at", "is_repeat", "repeat_of", "satisfaction",
                    "updated_at"]
REQUIRED_COLUMNS = ("order_id", "updated_at")
FILE_PREFIX = "orders-db-"
CURSOR_NAME = "fengqiao_work_orders_extract"


class ExtractError(RuntimeError):
    """The extract could not run; the message never holds the DSN or its password."""


# --- the DSN, without its secrets ------------------------------------------------------------------


def describe_dsn(dsn: str) -> str:
    """``host:port/dbname`` for logs; never the user's password or the DSN text itself."""
    from psycopg2.extensions import parse_dsn

    try:
        params = parse_dsn(dsn)
    except Exception:  # a malformed DSN: its text may hold the password, so say nothing of it
        return "(unparseable DSN)"
    host = params.get("host") or params.get("hostaddr") or "local socket"
    return f"{host}:{params.get('port') or 5432}/{params.get('dbname') or params.get('user') or '?'}"


def _secrets_of(dsn: str) -> list[str]:
    """The strings an error message must not show: the DSN, its password, its URL userinfo."""
    from psycopg2.extensions import parse_dsn

    secrets = [dsn]
    try:
        password = parse_dsn(dsn).get("password")
    except Exception:
        password = None
    if password:
        secrets.append(password)
    match = re.match(r"^[a-z]+://([^@/]*)@", dsn)
    if match:
        secrets.append(match.group(1))
    return sorted({s for s in secrets if s}, key=len, reverse=True)


def redact(text: str, dsn: str) -> str:
    for secret in _secrets_of(dsn):
        text = text.replace(secret, "***")
    return text


def connect(dsn: str, timezone: str):
    """A read-only connection whose session time zone is the pipeline's (naive timestamps mean Beijing time)."""
    import psycopg2

    try:
        conn = psycopg2.connect(dsn, application_name="fengqiao-extract", connect_timeout=30)
    except Exception as exc:  # psycopg2 may quote a malformed DSN in its message: redact, drop the chain
        first_line = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, dsn)
        raise ExtractError(f"cannot connect to the work-order database at {describe_dsn(dsn)}: {first_line}") from None
    conn.set_session(readonly=True)
    with conn.cursor() as cur:
        cur.execute("SELECT set_config('TimeZone', %s, false)", (timezone,))
    conn.commit()
    return conn


# --- formatting rows as the contract's CSV -----------------------------------------------------------


def _format(value, tz: ZoneInfo) -> str:
    """One value as a contract export writes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # timestamp without time zone: the system's local (Beijing) time
            value = value.replace(tzinfo=tz)
        return value.astimezone(tz).isoformat()  # 2025-03-04T09:15:22+08:00 (fraction only when there is one)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else str(value)
    return str(value)


def _as_instant(value, tz: ZoneInfo) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise ExtractError(f"updated_at must be a timestamp column; the table returned {type(value).__name__}")
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def _row_digest(values: list[str]) -> str:
    return hashlib.sha256("\x1f".join(values).encode("utf-8")).hexdigest()


# --- the extract ---------------------------------------------------------------------------------------


def _table_identifier(table: str):
    from psycopg2 import sql

    parts = table.split(".")
    if not 1 <= len(parts) <= 2 or not all(parts):
        raise ExtractError(f"FENGQIAO_WORKORDERS_TABLE must be 'table' or 'schema.table', not {table!r}")
    return sql.Identifier(*parts)


def _columns_of(conn, table: str) -> list[str]:
    from psycopg2 import sql

    with conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT * FROM {} LIMIT 0").format(_table_identifier(table)))
        return [d.name for d in cur.description]


def _query(table: str, present: list[str], since: dt.datetime | None, until: dt.datetime | None):
    from psycopg2 import sql

    select = [sql.Identifier(c) if c in present else sql.SQL("NULL") for c in CONTRACT_COLUMNS]
    where = [sql.SQL("{} IS NOT NULL").format(sql.Identifier("updated_at"))]
    params: list = []
    if since is not None:
        where.append(sql.SQL("{} >= %s").format(sql.Identifier("updated_at")))
        params.append(since)
    if until is not None:
        where.append(sql.SQL("{} < %s").format(sql.Identifier("updated_at")))
        params.append(until)
    # A total order: the same rows always give the same files (same sha256), so a re-run after a crash
    # between landing and saving the watermark is recognised as a batch already landed.
    query = sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY {}, {}").format(
        sql.SQL(", ").join(select), _table_identifier(table), sql.SQL(" AND ").join(where),
        sql.Identifier("updated_at"), sql.Identifier("order_id"))
    return query, params


class _PartWriter:
    """Rows into hidden ``.partial`` CSV files of at most ``rows_per_file`` rows each."""

    def __init__(self, folder: Path, stem: str, rows_per_file: int):
        self.folder, self.stem, self.rows_per_file = folder, stem, rows_per_file
        self.parts: list[tuple[Path, Path]] = []  # (partial, final name)
        self._handle = self._writer = None
        self._rows = 0

    def write(self, values: list[str]) -> None:
        if self._writer is None or self._rows >= self.rows_per_file:
            self._open()
        self._writer.writerow(values)
        self._rows += 1

    def _open(self) -> None:
        self.close()
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / f"{self.stem}-{len(self.parts) + 1:03d}.csv"
        partial = final.with_name(f".{final.name}.partial")
        # UTF-8 without BOM, "\n" line ends and RFC 4180 quoting: as the contract's exports are written.
        self._handle = open(partial, "w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._handle, lineterminator="\n")
        self._writer.writerow(CONTRACT_COLUMNS)
        self._rows = 0
        self.parts.append((partial, final))

    def close(self) -> None:
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = self._writer = None

    def discard(self) -> None:
        self.close()
        for partial, _ in self.parts:
            partial.unlink(missing_ok=True)


def _land_parts(lake: Lake, parts: list[tuple[Path, Path]], log) -> tuple[list[str], int]:
    """Rename the finished parts into bronze and add them to the manifest, under the manifest's lock.

    Returns (lake-relative paths landed, parts skipped because the manifest has their sha256).
    """
    landed: list[str] = []
    skipped = 0
    with manifest_lock(lake):  # the file-drop landing of the ingest DAGs may run at once
        manifest = read_manifest(lake)
        # The work-order feed's batches only (bronze's duplicate test is per feed: jobs.bronze.land_drops).
        known_sha = {sha for feed, sha in zip(manifest.column("feed").to_pylist(), manifest.column("sha256").to_pylist())
                     if feed == FEED}
        known_paths = set(manifest.column("bronze_path").to_pylist())
        rows, renames = [], []
        for partial, final in parts:  # decide everything first: a refusal leaves bronze untouched
            sha = file_sha256(partial)
            if sha in known_sha:
                partial.unlink()
                skipped += 1
                log(f"work-order database: {final.name} repeats a landed batch (same rows as before); not landed again")
                continue
            bronze_path = final.relative_to(lake.root).as_posix()
            if bronze_path in known_paths or final.exists():
                raise ExtractError(f"{bronze_path} already exists in bronze; not overwritten")
            known_sha.add(sha)
            renames.append((partial, final))
            landed.append(bronze_path)
            rows.append({"feed": FEED, "day": final.parent.name, "file_name": final.name, "bronze_path": bronze_path,
                         "sha256": sha, "bytes": partial.stat().st_size, "landed_at": dt.datetime.now(dt.timezone.utc)})
        for partial, final in renames:
            os.replace(partial, final)  # never a half file under the real name
        if rows:
            add_to_manifest(lake, manifest, rows)
    return landed, skipped


def _remove_stale_partials(lake: Lake) -> int:
    """Hidden parts of an extract that died before landing them (the extract lock is held: none is live)."""
    removed = 0
    for partial in lake.bronze(FEED).glob(f"*/.{FILE_PREFIX}*.partial"):
        partial.unlink(missing_ok=True)
        removed += 1
    return removed


def extract_work_orders(dsn: str, lake: Lake, table: str = "work_orders", overlap_seconds: int = 900,
                        batch_rows: int = 10_000, rows_per_file: int = 200_000, until: dt.datetime | None = None,
                        timezone: str = "Asia/Shanghai", log=print) -> dict:
    """Land the rows changed since the stored watermark as contract CSV files in bronze; return counts.

    ``until`` (exclusive) bounds ``updated_at`` from above (``FENGQIAO_THROUGH`` of a replayed run).
    Rows are read through a server-side cursor ``batch_rows`` at a time; progress is logged per batch.
    With nothing new, nothing is landed and the state is left as it is.
    """
    if not dsn:
        raise ExtractError("no DSN given for the work-order database (FENGQIAO_WORKORDERS_DSN)")
    tz = ZoneInfo(timezone)
    overlap = dt.timedelta(seconds=overlap_seconds)
    where = describe_dsn(dsn)
    started = dt.datetime.now(tz)
    folder = lake.bronze(FEED) / started.date().isoformat()
    stem = f"{FILE_PREFIX}{started.strftime('%Y%m%dT%H%M%S%f')}"

    lake.root.joinpath("bronze").mkdir(parents=True, exist_ok=True)
    with open(lake.root / "bronze" / f".{FILE_PREFIX}extract.lock", "w") as extract_lock:
        fcntl.flock(extract_lock, fcntl.LOCK_EX)  # one extract at a time: the state is read, then replaced
        stale = _remove_stale_partials(lake)
        path = extract_state_path(lake, table)
        state = read_extract_state(path)
        watermark = dt.datetime.fromisoformat(state["watermark"]) if state and state.get("watermark") else None
        seen = {tuple(pair) for pair in (state or {}).get("seen", [])}  # (updated_at ISO, row digest)
        since = watermark - overlap if watermark is not None else None
        log(f"work-order database: reading {table} at {where} "
            + (f"changed since {since.astimezone(tz).isoformat()} (watermark {watermark.astimezone(tz).isoformat()} "
               f"less {overlap_seconds} s overlap)" if since else "from the start (no watermark yet)")
            + (f", before {until.astimezone(tz).isoformat()}" if until else "")
            + (f"; removed {stale} unfinished part files of an earlier run" if stale else ""))

        conn = connect(dsn, timezone)
        writer = _PartWriter(folder, stem, rows_per_file)
        read = extracted = already = 0
        newest = watermark
        window: deque[tuple[dt.datetime, str, str]] = deque()  # rows landed within the overlap of the newest
        try:
            present = _columns_of(conn, table)
            missing = [c for c in REQUIRED_COLUMNS if c not in present]
            if missing:
                raise ExtractError(f"table {table} has no column {', '.join(missing)}; cannot extract incrementally")
            absent = [c for c in CONTRACT_COLUMNS if c not in present]
            if absent:
                log(f"work-order database: {table} lacks contract columns {', '.join(absent)}; written empty")
            query, params = _query(table, present, since, until)
            updated_idx = CONTRACT_COLUMNS.index("updated_at")
            with conn.cursor(name=CURSOR_NAME) as cur:  # server-side: rows arrive batch_rows at a time
                cur.itersize = batch_rows
                cur.execute(query, params)
                while True:
                    batch = cur.fetchmany(batch_rows)
                    if not batch:
                        break
                    for row in batch:
                        read += 1
                        instant = _as_instant(row[updated_idx], tz)
                        values = [_format(v, tz) for v in row]
                        key = (values[updated_idx], _row_digest(values))
                        if key in seen:
                            already += 1  # landed by an earlier run; read again only because of the overlap
                            continue
                        writer.write(values)
                        extracted += 1
                        if newest is None or instant > newest:
                            newest = instant
                        window.append((instant, *key))
                        while window and window[0][0] < newest - overlap:
                            window.popleft()
                    log(f"work-order database: {read:,} rows read, {extracted:,} new so far")
            conn.rollback()  # read-only: end the transaction before landing
            writer.close()
        except BaseException:
            writer.discard()
            raise
        finally:
            conn.close()

        summary = {"source": where, "table": table, "rows_read": read, "rows_extracted": extracted,
                   "rows_already_landed": already, "files_landed": 0, "files_skipped_duplicate": 0,
                   "watermark_before": watermark.astimezone(tz).isoformat() if watermark else None}
        if extracted == 0:
            writer.discard()
            log(f"work-order database: nothing new ({read:,} rows read again within the overlap, "
                f"{already:,} already landed); watermark unchanged")
            return {**summary, "watermark": summary["watermark_before"], "changed": False}

        landed, skipped = _land_parts(lake, writer.parts, log)
        # Only now, with the files in bronze and the manifest, does the watermark move.
        keep = {(iso, digest) for iso, digest in seen
                if dt.datetime.fromisoformat(iso) >= newest - overlap}
        keep |= {(iso, digest) for instant, iso, digest in window if instant >= newest - overlap}
        new_state = {
            "source": where, "table": table, "watermark": newest.astimezone(tz).isoformat(),
            "overlap_seconds": overlap_seconds, "seen": sorted([list(k) for k in keep]),
            "last_files": landed, "saved_at": dt.datetime.now(tz).isoformat(timespec="seconds"),
        }
        write_extract_state(path, new_state)
        log(f"work-order database: {extracted:,} rows extracted into {len(landed)} files "
            f"({skipped} already in bronze); watermark now {new_state['watermark']}")
        return {**summary, "files_landed": len(landed), "files_skipped_duplicate": skipped, "files": landed,
                "watermark": new_state["watermark"], "changed": bool(landed)}
