"""The incremental merge of new records into a published silver table, week by week.

The weeks that receive new records, that hold an older version of a new record's key (a record whose
date moved) or rows being forgotten (backfill) are rebuilt from their existing rows plus the new ones,
newest version per key; the other weeks are hard-linked (copied if links are impossible) from the
published table into the staged one, unchanged.
"""
from __future__ import annotations

import bisect
from functools import reduce
from pathlib import Path

import pyarrow.parquet as pq
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fengqiao.core.schemas import conform
from fengqiao.core.spark import read_parquet
from fengqiao.lake import Lake, link_or_copy_tree, week_of_partition, week_partitions, write_spark_table
from jobs.silver.rules import CHECKPOINT_LEVEL


def day_prefixes(feed: str, days) -> list[str]:
    """The lake-relative prefixes (``bronze/<feed>/<day>/``) of the feed's bronze day folders ``days``."""
    return [f"bronze/{feed}/{day}/" for day in sorted(days)]


def from_days(col: Column, prefixes: list[str]) -> Column:
    """True where the ``source_file`` column ``col`` lies in one of the day folders of :func:`day_prefixes`."""
    if not prefixes:
        return F.lit(False)
    return reduce(lambda a, b: a | b, [col.startswith(p) for p in prefixes])


# Above this many new keys (a catch-up of months) the key ranges are not checked: every week is searched.
KEY_RANGE_CHECK_MAX_KEYS = 500_000


def weeks_that_may_hold(parts: dict, key: str, keys: list[str]) -> set:
    """The week partitions whose files may hold one of ``keys`` (sorted), from Parquet statistics alone.

    A week is left out only when every row group of its files has a min/max of ``key`` and no key
    lies in any of those ranges, so the result is exact for the semi-join that follows (it may keep
    weeks that hold none). Reads footers only (a few kB a week). Identifiers issued in order (dated or
    sequential ids, as the hotline, work-order and mediation systems issue them) make each week's range
    narrow, so a weekly run searches the weeks its corrections point to, not the whole history; random
    identifiers keep every week.
    """
    return {week for week, folder in parts.items()
            if any(_file_may_hold(path, key, keys) for path in sorted(folder.glob("*.parquet")))}


def _file_may_hold(path: Path, key: str, keys: list[str]) -> bool:
    """False only when every row group of the file has a min/max of ``key`` that no key of ``keys`` falls in."""
    meta = pq.ParquetFile(path).metadata
    names = [meta.schema.column(i).path for i in range(meta.num_columns)]
    if key not in names:
        return True
    column = names.index(key)
    for rg in range(meta.num_row_groups):
        stats = meta.row_group(rg).column(column).statistics
        if stats is None or not stats.has_min_max:
            return True
        low, high = (v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else v
                     for v in (stats.min, stats.max))
        i = bisect.bisect_left(keys, low)
        if i < len(keys) and keys[i] <= high:
            return True
    return False


def merge_silver(spark: SparkSession, new: DataFrame, lake: Lake, table: str, key: str,
                 schema: T.StructType, drop_prefixes: list[str], staged: Path) -> dict:
    """Write the merged table to ``staged``: changed weeks rewritten, unchanged weeks hard-linked.

    Changed weeks are those holding new records, holding an older version of a new record's key
    (a record whose week moved), or holding rows whose source file is being dropped (backfill).
    The older versions are looked for only in the weeks whose key statistics allow them
    (:func:`weeks_that_may_hold`), so a weekly run does not read every week's keys. In them, the existing rows (minus dropped sources) and the new rows are unioned and the newest
    version per key kept: latest ``updated_at``, ties to the later ``source_file``, as a full build.
    Returns the counts of changed and unchanged weeks and ``weeks``, the rebuilt weeks' ISO Mondays.
    """
    target = lake.silver(table)
    parts = {week_of_partition(name): p for name, p in week_partitions(target).items()}
    existing = None
    if parts:
        existing = read_parquet(spark, parts.values(), schema=schema, base_path=target)
    # built once from the new bronze files, used three times; on disk, as the checked records (a catch-up of months)
    new = new.localCheckpoint(eager=True, storageLevel=CHECKPOINT_LEVEL)
    weeks = {r[0] for r in new.select("week_start").distinct().collect()}
    if existing is not None:
        searched = parts
        new_keys = new.select(key).distinct()
        rows = new_keys.limit(KEY_RANGE_CHECK_MAX_KEYS + 1).collect()  # one query, at most the cap + 1 keys
        if len(rows) <= KEY_RANGE_CHECK_MAX_KEYS:
            may_hold = weeks_that_may_hold(parts, key, sorted(r[0] for r in rows if r[0] is not None))
            searched = {w: p for w, p in parts.items() if w in may_hold}
        if searched:
            held = read_parquet(spark, searched.values(), schema=schema, base_path=target)
            moved = held.select(key, "week_start").join(new_keys, key, "left_semi")
            weeks |= {r[0] for r in moved.select("week_start").distinct().collect()}
        if drop_prefixes:
            dropped = existing.where(from_days(F.col("source_file"), drop_prefixes))
            weeks |= {r[0] for r in dropped.select("week_start").distinct().collect()}
    weeks.discard(None)
    combined = new
    if existing is not None and weeks:
        old = existing.where(F.col("week_start").isin(*sorted(weeks)) & ~from_days(F.col("source_file"), drop_prefixes))
        combined = old.unionByName(new)
    order = Window.partitionBy(key).orderBy(F.col("updated_at").desc(), F.col("source_file").desc())
    merged = (combined.withColumn("_version", F.row_number().over(order))
              .where(F.col("_version") == 1).drop("_version"))
    write_spark_table(conform(merged, schema), staged)  # one file per week, sorted by region_code
    kept = 0
    for week, folder in parts.items():
        if week not in weeks:
            link_or_copy_tree(folder, staged / folder.name)
            kept += 1
    return {"changed_weeks": len(weeks), "unchanged_weeks": kept, "weeks": sorted(w.isoformat() for w in weeks)}
