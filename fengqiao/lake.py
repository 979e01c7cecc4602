"""Paths of the Parquet lake and the write-audit-publish step that replaces a table atomically.

Layout under the lake root::

    bronze/<feed>/<YYYY-MM-DD>/<file>         raw files as delivered, never modified
    bronze/_manifest.parquet                  one row per landed file (path, sha256, bytes, landed_at)
    silver/<table>/week_start=YYYY-MM-DD/     typed, de-duplicated, masked records
    silver/quarantine/                        rejected records with file, line, reason, masked text
    gold/<table>/week_start=YYYY-MM-DD/       published features, scores, alerts
    outputs/briefings/, outputs/mail/          human-facing outputs
    _staging/                                 tables being written; never read by analysts

A table is written to ``_staging`` first and swapped into place only after it is complete (and,
for silver, validated), so a crash mid-run leaves the previous version readable.

Crash safety (a process killed at any point, e.g. SIGKILL or the OOM killer):

- killed while writing: only its ``_staging/<name>~<host>~<pid>~<id>`` folder is incomplete; the
  next run removes staging folders whose process is gone (:func:`clean_stale_staging`);
- killed between the two renames of :func:`publish_directory`: the previous version waits as
  ``<table>.previous``; :func:`recover_interrupted_publish` (called by the writing stages before
  they read or publish a table, by :func:`read_table`, and by ``publish_directory`` itself) puts it back.
  A per-table lock file (``.<table>.publish.lock`` beside the table) keeps a recovery from running
  between the two renames of a publish in progress.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

FEEDS = ("hotline", "workorders", "mediation")
SILVER_TABLES = {"hotline": "hotline_calls", "workorders": "work_orders", "mediation": "mediation_cases"}


@dataclass(frozen=True)
class Lake:
    root: Path

    @classmethod
    def at(cls, root: str | os.PathLike) -> "Lake":
        return cls(Path(root).resolve())

    # --- layers -------------------------------------------------------------------------------
    def bronze(self, feed: str) -> Path:
        return self.root / "bronze" / feed

    @property
    def bronze_manifest(self) -> Path:
        return self.root / "bronze" / "_manifest.parquet"

    @property
    def reference(self) -> Path:
        """Latest copy of the drop's reference/ folder (regions.csv, bureaus.csv)."""
        return self.root / "reference"

    def silver(self, table: str) -> Path:
        return self.root / "silver" / table

    @property
    def quarantine(self) -> Path:
        return self.root / "silver" / "quarantine"

    def gold(self, table: str) -> Path:
        return self.root / "gold" / table

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def briefings(self) -> Path:
        return self.outputs / "briefings"

    @property
    def mailbox(self) -> Path:
        return self.outputs / "mail"

    @property
    def staging(self) -> Path:
        return self.root / "_staging"

    @property
    def run_log(self) -> Path:
        return self.root / "_runs"

    # --- write-audit-publish ------------------------------------------------------------------
    def new_staging_path(self, name: str) -> Path:
        """A fresh path under ``_staging`` (not created) named after its owner process.

        ``<name>~<host>~<pid>~<id>``: :func:`clean_stale_staging` removes it once that process is gone.
        """
        path = self.staging / f"{name}~{_HOST}~{os.getpid()}~{uuid.uuid4().hex[:12]}"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


_HOST = socket.gethostname().split(".")[0].replace("~", "-").replace("/", "-") or "host"
# Staging folders of other machines (a shared lake) or of an older naming are removed only when this old.
STALE_STAGING_SECONDS = 24 * 3600


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def clean_stale_staging(lake: Lake) -> list[str]:
    """Remove staging folders left by processes that died (killed mid-write); return their names.

    Folders of live processes are kept: the three ingest DAGs may write at the same time. A folder
    of this host whose process id no longer runs is stale at once; others after a day.
    """
    removed: list[str] = []
    if not lake.staging.is_dir():
        return removed
    now = time.time()
    for entry in lake.staging.iterdir():
        parts = entry.name.rsplit("~", 3)
        stale = False
        if len(parts) == 4 and parts[2].isdigit():
            _, host, pid, _ = parts
            if host == _HOST:
                stale = int(pid) != os.getpid() and not _process_alive(int(pid))
            else:
                stale = now - entry.lstat().st_mtime > STALE_STAGING_SECONDS
        else:
            stale = now - entry.lstat().st_mtime > STALE_STAGING_SECONDS
        if stale:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry.name)
    return removed


@contextlib.contextmanager
def _publish_lock(target: Path):
    """Exclusive lock of one table's publish/recovery (a hidden file beside the table)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.publish.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _recover_locked(target: Path) -> None:
    previous = target.with_name(target.name + ".previous")
    if previous.exists() and not target.exists():
        os.rename(previous, target)  # the publish died between its two renames: the old copy is whole
    elif previous.exists():
        shutil.rmtree(previous)      # the publish finished; only removing the old copy was cut short


def publish_directory(staged: Path, target: Path) -> None:
    """Swap a fully written directory into place.

    ``target`` is renamed aside, ``staged`` renamed into its place, then the old copy removed.
    Both renames are within one file system. If the process dies between the two renames the
    old copy is left as ``<target>.previous`` and :func:`recover_interrupted_publish` restores it
    (this function first does the same, so it never deletes the only whole copy).
    """
    with _publish_lock(target):
        _recover_locked(target)
        previous = target.with_name(target.name + ".previous")
        if target.exists():
            os.rename(target, previous)
        os.rename(staged, target)
        if previous.exists():
            shutil.rmtree(previous)


def recover_interrupted_publish(target: Path) -> None:
    """Put back the previous version of a table whose publish was interrupted between renames."""
    target = Path(target)
    if not target.with_name(target.name + ".previous").exists():
        return  # the common case: nothing to do, no lock taken
    with _publish_lock(target):
        _recover_locked(target)


def link_or_copy_tree(source: Path, destination: Path) -> None:
    """Recreate ``source`` at ``destination`` with hard links (same file system), else copies.

    Used to carry unchanged partitions of a table into its new staged version without rewriting
    them; files of a published table are never modified in place, so sharing inodes is safe.
    """
    for folder, _dirs, files in os.walk(source):
        rel = Path(folder).relative_to(source)
        (destination / rel).mkdir(parents=True, exist_ok=True)
        for name in files:
            src, dst = Path(folder) / name, destination / rel / name
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)


def tree_fingerprint(path: Path) -> str | None:
    """A digest of a table folder's files (relative path, size, mtime); None if it does not exist.

    Every publish writes new files (Spark names them with a random id), so a changed table changes
    its fingerprint; an untouched one keeps it. Used by stages to notice that their input is unchanged.
    """
    path = Path(path)
    if not path.is_dir():
        return None
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            if name.startswith("."):
                continue
            stat = (Path(folder) / name).stat()
            rel = (Path(folder) / name).relative_to(path).as_posix()
            digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def week_of_partition(name: str):
    """The Monday of a ``week_start=YYYY-MM-DD`` partition folder name; None for any other name
    (another column, or Hive's null partition)."""
    import datetime as dt

    column, _, value = name.partition("=")
    if column != "week_start":
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def week_partitions(path: str | os.PathLike) -> dict[str, Path]:
    """The ``week_start=`` partition folders of a table, by folder name, sorted; empty when there is no table.

    Hive's null partition (``week_start=__HIVE_DEFAULT_PARTITION__``) is one of them; its
    :func:`week_of_partition` is None.
    """
    return {p.name: p for p in sorted(Path(path).glob("week_start=*")) if p.is_dir()}


def partition_fingerprints(path: Path) -> dict[str, str]:
    """:func:`tree_fingerprint` of each ``<column>=<value>`` partition folder of a table, by folder name.

    Publishes rewrite only the partitions that changed and hard-link the others (same name, size and
    mtime), so comparing two of these maps tells which partitions (weeks) a publish touched.
    An absent table gives an empty map.
    """
    path = Path(path)
    if not path.is_dir():
        return {}
    return {p.name: tree_fingerprint(p) for p in sorted(path.iterdir()) if p.is_dir() and "=" in p.name}


def file_sha256(path: Path) -> str | None:
    """sha256 of a file's bytes, read in 1 MiB chunks (bronze files can be large); None if it is absent."""
    path = Path(path)
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- file layout -----------------------------------------------------------------------------------
# Analysts cut by week (the partition folder) and by county or township (region_code). So every writer
# puts one file in each week partition (not one per Spark task: 8 files of a few kB each per week), with
# its rows sorted by region_code and min/max statistics per row group: DuckDB and Spark skip whole
# weeks by folder, then the row groups whose region_code range misses a county's or township's codes
# (codes are hierarchical, so a county's townships are one contiguous range). Row groups are bounded so
# that a large week file (a province's hotline) has several to skip between, and several for readers
# to scan in parallel.
SORT_COLUMNS = ("region_code",)
ROW_GROUP_BYTES = 16 * 1024 * 1024   # Spark (parquet-mr): buffered bytes per row group
ROW_GROUP_ROWS = 128 * 1024          # pyarrow: rows per row group
# A week's file is split beyond this many rows (a province's busiest hotline week is well below it).
MAX_RECORDS_PER_FILE = 2_000_000
# An unpartitioned table that grows by adding files (the quarantine, one file per incremental run) is
# rewritten as one file once it holds this many.
COMPACT_AT_FILES = 16
SPARK_PARQUET_OPTIONS = {
    "parquet.block.size": str(ROW_GROUP_BYTES),
    "parquet.column.statistics.enabled": "true",
    "maxRecordsPerFile": str(MAX_RECORDS_PER_FILE),
}


def write_spark_table(df, path: str | os.PathLike, partition_by: tuple[str, ...] = ("week_start",),
                      sort_by: tuple[str, ...] = SORT_COLUMNS) -> None:
    """Write a Spark DataFrame as a lake table: one file per partition value, rows sorted by ``sort_by``.

    One shuffle by the partition columns (each week's rows meet in one task; several weeks may share a
    task, each still gets its own file); without partition columns, one file. ``sort_by`` columns the
    frame lacks are ignored. The schema is the frame's: nothing is added or cast.
    """
    from pyspark.sql import functions as F

    part = [c for c in partition_by if c in df.columns]
    keys = [c for c in sort_by if c in df.columns and c not in part]
    # repartition, not coalesce: coalesce(1) would also run the stages before it in a single task.
    out = df.repartition(*[F.col(c) for c in part]) if part else df.repartition(1)
    if part or keys:
        out = out.sortWithinPartitions(*part, *keys)
    writer = out.write.options(**SPARK_PARQUET_OPTIONS)
    if part:
        writer = writer.partitionBy(*part)
    writer.parquet(str(path))


def write_table(df, lake: Lake, layer: str, name: str, partition_by: tuple[str, ...] = ("week_start",),
                keep: tuple[str, ...] | list[str] = ()) -> Path:
    """Write a pandas DataFrame as a Hive-partitioned Parquet table and publish it atomically.

    For the small gold tables (scores, alerts) that are built in pandas. Spark jobs write their
    own output to ``lake.new_staging_path`` with :func:`write_spark_table` and call :func:`publish_directory`.
    Same layout as theirs: one file per partition, rows sorted by region_code (stable, so equal keys
    keep their order and a rebuild writes the same bytes), bounded row groups with statistics.
    ``keep``: partition folders (e.g. ``week_start=2025-03-03``) of the published table carried into the
    new version by hard link instead of being rewritten; ``df`` must hold none of their rows.
    """
    import pyarrow as pa
    import pyarrow.dataset as ds

    target = lake.root / layer / name
    staged = lake.new_staging_path(f"{layer}-{name}")
    order = [c for c in (*partition_by, *SORT_COLUMNS) if c in df.columns]
    if order and len(df):
        df = df.sort_values(order, kind="mergesort")
    table = pa.Table.from_pandas(df, preserve_index=False)
    part_cols = [c for c in partition_by if c in df.columns]
    if part_cols:
        # Partition values as ISO strings: readable directory names (week_start=2025-03-03).
        for col in part_cols:
            idx = table.schema.get_field_index(col)
            table = table.set_column(idx, col, pa.array(df[col].astype(str).tolist(), pa.string()))
    ds.write_dataset(
        table,
        staged,
        format="parquet",
        partitioning=ds.partitioning(pa.schema([(c, pa.string()) for c in part_cols]), flavor="hive") if part_cols else None,
        existing_data_behavior="error",
        basename_template="part-{i}.parquet",
        file_options=ds.ParquetFileFormat().make_write_options(compression="zstd", write_statistics=True),
        preserve_order=True,  # keep the sort above within each file
        max_rows_per_group=ROW_GROUP_ROWS,
        max_rows_per_file=MAX_RECORDS_PER_FILE,
    )
    staged.mkdir(parents=True, exist_ok=True)  # an empty table still publishes as an empty folder
    for folder in keep:
        if (staged / folder).exists():
            raise ValueError(f"{layer}/{name}: partition {folder} is both written and kept")
        link_or_copy_tree(target / folder, staged / folder)
    publish_directory(staged, target)
    return target


def read_table(path: str | os.PathLike, columns: list[str] | None = None, filters=None):
    """Read a lake table (Hive-partitioned Parquet) into pandas; ``week_start`` comes back as date."""
    import pandas as pd
    import pyarrow.dataset as ds

    path = Path(path)
    try:
        recover_interrupted_publish(path)  # a publish killed between its renames: read the previous version
    except OSError:  # a read-only view of the lake: the next writing stage recovers it
        pass
    if not path.exists():
        raise FileNotFoundError(f"lake table {path} does not exist yet: run the stage that builds it first")
    dataset = ds.dataset(path, format="parquet", partitioning="hive", exclude_invalid_files=True,
                         ignore_prefixes=[".", "_"])
    df = dataset.to_table(columns=columns, filter=filters).to_pandas()
    if "week_start" in df.columns:
        df["week_start"] = pd.to_datetime(df["week_start"].astype(str)).dt.date
    return df
