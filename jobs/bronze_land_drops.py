"""Bronze: copy delivered files into the lake unchanged, with a manifest of what landed.

Only day folders holding ``_READY`` are read (the upstream writes it last). ``truth/`` is never
touched. A file whose content (sha256) is already in the manifest is the same batch delivered
again under another name and is not landed twice, which also makes a re-run land nothing.

A file is copied under a hidden ``.<name>.partial`` name and renamed into place, and the manifest
is rewritten beside and renamed over, so a process killed mid-landing leaves no half file in
bronze; the next run lands what was not yet in the manifest. ``reland`` (``fengqiao backfill``)
forgets the manifest rows of the ready day folders in ``since``..``through`` and lands them again.
"""
from __future__ import annotations

import fcntl
import os
import shutil
from datetime import date, datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fengqiao.lake import FEEDS, Lake, clean_stale_staging, file_sha256, publish_directory

READY_MARKER = "_READY"
MANIFEST_SCHEMA = pa.schema([
    ("feed", pa.string()),
    ("day", pa.string()),
    ("file_name", pa.string()),
    ("bronze_path", pa.string()),  # relative to the lake root, POSIX separators
    ("sha256", pa.string()),
    ("bytes", pa.int64()),
    ("landed_at", pa.timestamp("us", tz="UTC")),
])


def _day_of(folder: Path) -> date | None:
    try:
        return date.fromisoformat(folder.name)
    except ValueError:
        return None


def read_manifest(lake: Lake) -> pa.Table:
    if lake.bronze_manifest.exists():
        return pq.read_table(lake.bronze_manifest).cast(MANIFEST_SCHEMA)
    return MANIFEST_SCHEMA.empty_table()


def _write_manifest(lake: Lake, table: pa.Table) -> None:
    # Written beside and renamed over: a crash never leaves a half-written manifest.
    lake.bronze_manifest.parent.mkdir(parents=True, exist_ok=True)
    tmp = lake.bronze_manifest.with_name(lake.bronze_manifest.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, lake.bronze_manifest)


def _land_reference(source: Path, lake: Lake) -> int:
    reference = source / "reference"
    if not reference.is_dir():
        return 0
    staged = lake.new_staging_path("reference")
    shutil.copytree(reference, staged)
    copied = sum(1 for p in staged.rglob("*") if p.is_file())
    publish_directory(staged, lake.reference)  # replaced whole, atomically
    return copied


def land_drops(source: Path, lake: Lake, through: date | None = None, log=print,
               feeds: tuple[str, ...] = FEEDS, since: date | None = None, reland: bool = False) -> dict:
    """Land every new file of every ready day folder (``since`` ≤ day ≤ ``through``) into bronze; return counts.

    The per-feed ingest DAGs may run at once: an exclusive lock on ``bronze/_manifest.lock`` makes
    each read-modify-write of the shared manifest (and the reference swap) one at a time.
    With ``reland`` the manifest rows (and bronze copies) of the ready day folders in the range are
    forgotten first, so those days land again; ``relanded_days`` lists them per feed.
    """
    lake.bronze_manifest.parent.mkdir(parents=True, exist_ok=True)
    with open(lake.bronze_manifest.with_name("_manifest.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        clean_stale_staging(lake)
        relanded: dict[str, list[str]] = {}
        if reland:
            relanded = _forget_days(Path(source), lake, since, through, feeds)
        counts = _land_locked(Path(source), lake, through, log, feeds, since)
        if reland:
            counts["relanded_days"] = relanded
        return counts


def _in_range(day: date, since: date | None, through: date | None) -> bool:
    return (since is None or day >= since) and (through is None or day <= through)


def _forget_days(source: Path, lake: Lake, since: date | None, through: date | None,
                 feeds: tuple[str, ...]) -> dict[str, list[str]]:
    """Drop the manifest rows and bronze copies of the ready source day folders in the range.

    Days whose source folder is missing or not ready are left as they are: a backfill pointed at
    an incomplete source never loses what bronze already holds.
    """
    forget: dict[str, list[str]] = {}
    for feed in feeds:
        days = sorted(folder.name for folder in (source / feed).glob("*")
                      if folder.is_dir() and (day := _day_of(folder)) is not None
                      and _in_range(day, since, through) and (folder / READY_MARKER).exists())
        if days:
            forget[feed] = days
    if not forget:
        return forget
    manifest = read_manifest(lake)
    keep = [not (row["feed"] in forget and row["day"] in forget[row["feed"]])
            for row in manifest.select(["feed", "day"]).to_pylist()]
    _write_manifest(lake, manifest.filter(pa.array(keep, pa.bool_())))
    for feed, days in forget.items():
        for day in days:
            shutil.rmtree(lake.bronze(feed) / day, ignore_errors=True)
    return forget


def _land_locked(source: Path, lake: Lake, through: date | None, log, feeds: tuple[str, ...],
                 since: date | None = None) -> dict:
    manifest = read_manifest(lake)
    known_sha = set(manifest.column("sha256").to_pylist())
    known_paths = set(manifest.column("bronze_path").to_pylist())
    new_rows: list[dict] = []
    per_feed = {feed: {"landed": 0, "already_landed": 0, "skipped_duplicate": 0, "skipped_not_ready": 0}
                for feed in feeds}

    for feed in feeds:
        counts = per_feed[feed]
        for folder in sorted(p for p in (source / feed).glob("*") if p.is_dir()):
            day = _day_of(folder)
            if day is None or not _in_range(day, since, through):
                continue
            files = sorted(p for p in folder.iterdir()
                           if p.is_file() and p.name != READY_MARKER and not p.name.startswith("."))
            if not (folder / READY_MARKER).exists():
                counts["skipped_not_ready"] += len(files)
                continue
            for path in files:
                bronze_path = (Path("bronze") / feed / folder.name / path.name).as_posix()
                if bronze_path in known_paths:
                    counts["already_landed"] += 1
                    continue
                sha = file_sha256(path)
                if sha in known_sha:
                    counts["skipped_duplicate"] += 1
                    log(f"bronze: {feed}/{folder.name}/{path.name} repeats a landed batch; not landed again")
                    continue
                target = lake.root / bronze_path
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_name(f".{target.name}.partial")
                shutil.copyfile(path, partial)  # content unchanged; the copy's sha equals the source's
                os.replace(partial, target)     # never a half file under the real name
                known_sha.add(sha)
                known_paths.add(bronze_path)
                counts["landed"] += 1
                new_rows.append({
                    "feed": feed, "day": folder.name, "file_name": path.name, "bronze_path": bronze_path,
                    "sha256": sha, "bytes": path.stat().st_size, "landed_at": datetime.now(timezone.utc),
                })

    if new_rows:
        _write_manifest(lake, pa.concat_tables([manifest, pa.Table.from_pylist(new_rows, MANIFEST_SCHEMA)]))
    reference_files = _land_reference(source, lake)
    totals = {key: sum(c[key] for c in per_feed.values())
              for key in ("landed", "already_landed", "skipped_duplicate", "skipped_not_ready")}
    log(f"bronze: landed {totals['landed']} files, {totals['skipped_duplicate']} duplicate batches, "
        f"{totals['skipped_not_ready']} files in folders not ready; reference files: {reference_files}")
    return {**totals, "reference_files": reference_files, "per_feed": per_feed}
