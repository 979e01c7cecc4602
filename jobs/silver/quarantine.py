"""silver/quarantine: every rejected record of every feed, Hive-partitioned by feed.

Each silver job publishes its own partition (``feed=<feed>``) right after its table, so the three
ingest DAGs can run at once without one overwriting another's rejects and without recomputing
them here. ``run`` only summarises what is there, for the run log and the briefing.
"""
from __future__ import annotations

import shutil

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from fengqiao.core.schemas import QUARANTINE, conform
from fengqiao.core.spark import read_parquet
from fengqiao.lake import COMPACT_AT_FILES, Lake, link_or_copy_tree, publish_directory, write_spark_table
from fengqiao.lake.ledgers import write_ledger
from fengqiao.lake.quarantine import read_quarantine
from jobs.silver.merge import from_days
from jobs.silver.reasons import reason_code


def publish_quarantine(spark: SparkSession, df: DataFrame, lake: Lake, feed: str, incremental: bool = False,
                       drop_prefixes: list[str] | None = None, ledger: set | None = None) -> dict[str, int]:
    """Replace ``silver/quarantine/feed=<feed>`` with ``df``; return its counts by reason code.

    ``incremental``: ``df`` holds only the new files' rejects and is added to the partition's
    existing files (hard-linked into the staged copy; rows from ``drop_prefixes`` day folders are
    dropped, which rewrites the old rejects once). ``ledger`` is written into the staged partition.
    """
    target = lake.quarantine_partition(feed)
    staged = lake.new_staging_path(f"quarantine-{feed}")
    try:
        new = conform(df, QUARANTINE).drop("feed")  # feed lives in the folder name
        old_files = sorted(target.glob("*.parquet")) if incremental and target.is_dir() else []
        # Rows of forgotten days dropped, or too many small files from earlier runs: rewrite them as one.
        if old_files and (drop_prefixes or len(old_files) >= COMPACT_AT_FILES):
            old = read_parquet(spark, old_files, schema=new.schema)
            new = old.where(~from_days(F.col("source_file"), drop_prefixes)).unionByName(new)
            old_files = []
        write_spark_table(new, staged, partition_by=())
        for old_file in old_files:  # the rejects already published: carried over unchanged
            link_or_copy_tree(old_file, staged / old_file.name)
        if ledger is not None:
            write_ledger(staged, ledger)
        by_code = read_parquet(spark, staged).groupBy(reason_code().alias("code")).count().collect()
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    publish_directory(staged, target)
    return {row["code"]: row["count"] for row in by_code}


def run(spark: SparkSession, lake: Lake) -> dict:
    """Counts of quarantined records by feed and reason code (no record contents)."""
    rows = (read_quarantine(spark, lake).groupBy("feed", reason_code().alias("code")).count()
            .orderBy("feed", "code").collect())
    summary: dict[str, dict[str, int]] = {}
    for row in rows:
        summary.setdefault(row["feed"], {})[row["code"]] = row["count"]
    return summary
