"""Weekly counts per region: per feed, per dispute type across the feeds, wage arrears, total.

Input is level-tagged records (``features.records`` then ``features.grid.tag_levels``): the grouping
level is the ``level`` column (township_code or county_code copied into ``region_code``), so
townships and counties come out of the same group-by. Counts are LongType (bigint) throughout.
"""
from __future__ import annotations

from collections.abc import Iterable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from features.grid import REGION_WEEK
from features.records import CASES, HOTLINE, ORDERS
from fengqiao.core.disputes import DISPUTE_TYPES


def count_if(condition: Column) -> Column:
    """Number of rows where ``condition`` holds (0, not null, for an empty group)."""
    return F.sum(F.when(condition, F.lit(1)).otherwise(F.lit(0))).cast("long")


def count_aggregations() -> list[Column]:
    feed = F.col("feed")
    return [
        count_if(feed == HOTLINE).alias("hotline_calls"),
        count_if(feed == ORDERS).alias("work_orders"),
        count_if(feed == CASES).alias("mediation_cases"),
        F.count(F.lit(1)).cast("long").alias("total_contacts"),
        *[count_if(F.col("dispute_type") == label).alias(f"type_{slug}") for label, slug in DISPUTE_TYPES],
        count_if(F.col("is_wage_arrears")).alias("wage_arrears"),
    ]


COUNT_OUTPUTS = [
    "hotline_calls", "work_orders", "mediation_cases", "total_contacts",
    *[f"type_{slug}" for _, slug in DISPUTE_TYPES], "wage_arrears",
]


def weekly_counts(tagged_records: DataFrame, extra_aggregations: Iterable[Column] = ()) -> DataFrame:
    """Counts per (region_code, level, week_start).

    ``extra_aggregations`` (e.g. ``features.signals.signal_aggregations()``) ride along in the same
    group-by, so counts and signal inputs cost one shuffle of the records, not one each.
    """
    return tagged_records.groupBy(*REGION_WEEK).agg(*count_aggregations(), *extra_aggregations)
