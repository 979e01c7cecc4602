"""silver/quarantine: every rejected record of every feed, Hive-partitioned by feed.

Each silver job publishes its own partition (``feed=<feed>``) right after its table, so the three
ingest DAGs can run at once without one overwriting another's rejects and without recomputing
them here. ``run`` only summarises what is there, for the run log and the briefing.
"""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from fengqiao.lake import Lake, publish_directory
from fengqiao.schemas import QUARANTINE
from jobs.silver_common import conform


def reason_code(reason: str = "reason"):
    """The short code of a ``code | readable text`` reason."""
    return F.split_part(F.col(reason), F.lit(" | "), F.lit(1))


def publish_quarantine(spark: SparkSession, df: DataFrame, lake: Lake, feed: str) -> dict[str, int]:
    """Replace ``silver/quarantine/feed=<feed>`` with ``df``; return its counts by reason code."""
    staged = lake.new_staging_path(f"quarantine-{feed}")
    conform(df, QUARANTINE).drop("feed").write.parquet(str(staged))  # feed lives in the folder name
    by_code = spark.read.parquet(str(staged)).groupBy(reason_code().alias("code")).count().collect()
    publish_directory(staged, lake.quarantine / f"feed={feed}")
    return {row["code"]: row["count"] for row in by_code}


def read_quarantine(spark: SparkSession, lake: Lake) -> DataFrame:
    """All feeds' rejects with the QUARANTINE columns (``feed`` from the partition folders)."""
    if not any(lake.quarantine.glob("feed=*/*.parquet")):  # nothing rejected yet
        return spark.createDataFrame([], QUARANTINE)
    return conform(spark.read.parquet(str(lake.quarantine)), QUARANTINE)


def run(spark: SparkSession, lake: Lake) -> dict:
    """Counts of quarantined records by feed and reason code (no record contents)."""
    rows = (read_quarantine(spark, lake).groupBy("feed", reason_code().alias("code")).count()
            .orderBy("feed", "code").collect())
    summary: dict[str, dict[str, int]] = {}
    for row in rows:
        summary.setdefault(row["feed"], {})[row["code"]] = row["count"]
    return summary
