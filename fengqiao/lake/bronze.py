"""The bronze layer's records: the manifest of landed files, the refused drop entries, the database extract's state.

- ``bronze/_manifest.parquet``: one row per landed file (feed, day, name, lake-relative path, sha256,
  bytes, landed_at). Every writer holds :func:`manifest_lock` for its read-modify-write: the per-feed
  ingest DAGs and the work-order database extract may land at once.
- ``bronze/_refused.parquet``: drop entries refused without being read (links, FIFOs, devices), once each.
- ``bronze/_db_extract/<table>.json``: the work-order database extract's watermark.

Each file is replaced whole (written beside and renamed over): a crash leaves the old one or the new one.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fengqiao.lake.paths import Lake
from fengqiao.lake.publish import exclusive_lock, write_file_atomically, write_json_atomically

MANIFEST_SCHEMA = pa.schema([
    ("feed", pa.string()),
    ("day", pa.string()),
    ("file_name", pa.string()),
    ("bronze_path", pa.string()),  # relative to the lake root, POSIX separators
    ("sha256", pa.string()),
    ("bytes", pa.int64()),
    ("landed_at", pa.timestamp("us", tz="UTC")),
])
REFUSED_SCHEMA = pa.schema([
    ("feed", pa.string()),        # or "reference"
    ("day", pa.string()),         # the day folder's name; empty for a feed folder or a reference file
    ("file_name", pa.string()),   # empty when the refused entry is the folder itself
    ("reason", pa.string()),
    ("refused_at", pa.timestamp("us", tz="UTC")),
])
EXTRACT_STATE_FOLDER = "_db_extract"


# --- the manifest of landed files ----------------------------------------------------------------

def manifest_lock(lake: Lake):
    """The exclusive lock (``bronze/_manifest.lock``) of a read-modify-write of the manifest."""
    return exclusive_lock(lake.bronze_manifest.with_name("_manifest.lock"))


def read_manifest(lake: Lake) -> pa.Table:
    if lake.bronze_manifest.exists():
        return pq.read_table(lake.bronze_manifest).cast(MANIFEST_SCHEMA)
    return MANIFEST_SCHEMA.empty_table()


def write_manifest(lake: Lake, table: pa.Table) -> None:
    """Replace the manifest with ``table`` (under :func:`manifest_lock`)."""
    write_file_atomically(lake.bronze_manifest, lambda temp: pq.write_table(table, temp))


def add_to_manifest(lake: Lake, manifest: pa.Table, rows: list[dict]) -> None:
    """Write ``manifest`` (as read under :func:`manifest_lock`) with ``rows`` (MANIFEST_SCHEMA's columns) added."""
    write_manifest(lake, pa.concat_tables([manifest, pa.Table.from_pylist(rows, MANIFEST_SCHEMA)]))


# --- refused drop entries ------------------------------------------------------------------------

def refused_path(lake: Lake) -> Path:
    return lake.bronze_manifest.with_name("_refused.parquet")


def read_refused(lake: Lake) -> pa.Table:
    path = refused_path(lake)
    if path.exists():
        return pq.read_table(path).cast(REFUSED_SCHEMA)
    return REFUSED_SCHEMA.empty_table()


def record_refused(lake: Lake, rows: list[dict]) -> None:
    """Add refused entries not recorded before (a re-run refuses the same links again: one row each)."""
    table = read_refused(lake)
    seen = {(r["feed"], r["day"], r["file_name"], r["reason"])
            for r in table.select(["feed", "day", "file_name", "reason"]).to_pylist()}
    new = []
    for row in rows:
        key = (row["feed"], row["day"], row["file_name"], row["reason"])
        if key not in seen:
            seen.add(key)
            new.append(row)
    if not new:
        return
    combined = pa.concat_tables([table, pa.Table.from_pylist(new, REFUSED_SCHEMA)])
    write_file_atomically(refused_path(lake), lambda temp: pq.write_table(combined, temp))


# --- the work-order database extract's watermark ---------------------------------------------------

def extract_state_path(lake: Lake, table: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", table)
    return lake.root / "bronze" / EXTRACT_STATE_FOLDER / f"{safe}.json"


def read_extract_state(path: Path) -> dict | None:
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def write_extract_state(path: Path, state: dict) -> None:
    write_json_atomically(path, state, ensure_ascii=False, indent=1, sort_keys=True)
