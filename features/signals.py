"""Escalation signals per region and week: shares, repeat contact, mediation outcomes.

Two steps so that the heavy part shares the counts' group-by: ``signal_aggregations()`` gives the
numerators and denominators (helper columns prefixed ``_n_``), ``derive_signals`` turns them into the
published columns and drops the helpers. A share is 0.0 when its denominator is 0 (a week with
no calls has no complaints to speak of); means and maxima of parties are 0 in a week without cases.
Counts are bigint, shares and means double.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from features.counts import count_if
from features.grid import level_code, week_index
from features.records import CASES, village_code
from fengqiao.core.regions import LEVELS

# "Heard in the same region in the previous 4 weeks": weeks t-4..t-1.
REPEAT_LOOKBACK_WEEKS = 4
LARGE_GROUP_PARTIES = 5  # irregular group petitions are counted from 5 people up

SIGNAL_HELPERS = [
    "_n_complaints", "_n_repeat_orders", "_n_urgent_orders", "_n_results", "_n_party_mean",
    "_n_repeat_calls",
]


def signal_aggregations() -> list[Column]:
    """Aggregations over level-tagged records (see ``features.counts.weekly_counts``)."""
    parties = F.when(F.col("feed") == CASES, F.col("party_count"))
    return [
        count_if(F.col("is_complaint")).alias("_n_complaints"),
        count_if(F.col("is_repeat_order")).alias("_n_repeat_orders"),
        count_if(F.col("is_returned")).alias("returned_orders"),
        count_if(F.col("is_urgent")).alias("_n_urgent_orders"),
        F.avg(parties).alias("_n_party_mean"),
        F.max(parties).cast("long").alias("mediation_party_max"),
        count_if(F.col("party_count") >= LARGE_GROUP_PARTIES).alias("large_group_cases"),
        count_if(F.col("is_failed")).alias("failed_mediations"),
        count_if(F.col("has_result")).alias("_n_results"),
        count_if(F.col("is_criminal")).alias("criminal_tendency_cases"),
        count_if(F.col("is_group")).alias("group_tendency_cases"),
        count_if(F.col("has_escalation_terms")).alias("escalation_term_records"),
    ]


def share(numerator: str, denominator: str) -> Column:
    """numerator / denominator, 0.0 when the denominator is 0 (or missing)."""
    den = F.col(denominator)
    return F.when(den > 0, F.col(numerator) / den).otherwise(F.lit(0.0)).cast("double")


def repeat_calls(calls: DataFrame, from_week: dt.date | None = None) -> DataFrame:
    """``_n_repeat_calls`` per (region_code, level, week_start) from silver hotline calls, at every level.

    A call is a repeat if its caller was heard in the same region (village, township, county, city or
    province) in weeks t-4..t-1, or called more than once there in week t (then every one of those calls
    counts). Calls without a caller_key never count as repeats (they still count in ``hotline_calls``). A region-week
    without repeats may have no row: the feature build fills it with 0.

    ``from_week`` (a Monday): only weeks from it on are returned, computed from the calls of REPEAT_LOOKBACK_WEEKS
    before it on: the same values as without it. Why: a weekly rebuild reads 8 weeks of history for the
    dynamics, but repeats need 4, and the five windows below sort every call they are given (the largest stage of
    a province's weekly feature build). Windows, not arrays of each caller's calls compared pairwise: a number
    that many calls share (a placeholder an exporter writes for a withheld number) would make that quadratic.
    """
    keyed = calls.where(F.col("caller_key").isNotNull())
    if from_week is not None:
        keyed = keyed.where(F.col("week_start") >= F.lit(from_week - dt.timedelta(weeks=REPEAT_LOOKBACK_WEEKS)))
    keyed = keyed.select(village_code().alias("village_code"), "county_code", "township_code", "caller_key",
                         "week_start")
    # A caller heard once in the weeks read repeats nowhere and gives no repeats: 94% of the keyed calls of a
    # province's weekly rebuild (11 weeks of calls). Only the others go on to the grouping and the five window sorts.
    # A hash join on the caller, whose two sides are both partitioned by it, adds no sort.
    heard_again = keyed.groupBy("caller_key").count().where(F.col("count") > 1).select("caller_key")
    keyed = (
        # Why one repartition by the caller: every window below partitions by the caller and a region, a
        # superset of this key, so Spark sorts without shuffling again.
        keyed.repartition("caller_key")
        .join(heard_again.hint("shuffle_hash"), on="caller_key", how="left_semi")
    )
    per_week = (
        keyed.groupBy("caller_key", "county_code", "township_code", "village_code", "week_start")
        .agg(F.count(F.lit(1)).alias("n_calls"))
        .select("*", *[level_code(level).alias(f"_{level}") for level in ("city", "province")])
    )
    week = week_index("week_start")
    # The region columns of each level in per_week (villages: null where the calls named none).
    partition_of = {"village": "village_code", "township": "township_code", "county": "county_code",
                    "city": "_city", "province": "_province"}

    def repeated(level: str) -> Column:
        # Each (village or township, caller, week) row contributes its own calls, so sums give the region's
        # repeats; "heard before" and "more than once this week" look at all of the caller's rows in the region.
        window = Window.partitionBy("caller_key", partition_of[level]).orderBy(week)
        before = F.sum("n_calls").over(window.rangeBetween(-REPEAT_LOOKBACK_WEEKS, -1))
        this_week = F.sum("n_calls").over(window.rangeBetween(0, 0))
        repeat = (F.coalesce(before, F.lit(0)) > 0) | (this_week > 1)
        return F.when(repeat, F.col("n_calls")).otherwise(F.lit(0)).alias(f"_repeats_{level}")

    contributions = per_week.select("week_start", *[F.col(partition_of[lv]).alias(f"_code_{lv}") for lv in LEVELS],
                                    *[repeated(level) for level in LEVELS])
    if from_week is not None:  # the weeks before only held the look-back (a filter after the windows)
        contributions = contributions.where(F.col("week_start") >= F.lit(from_week))
    at_levels = F.array(*[F.struct(F.lit(lv).alias("level"), F.col(f"_code_{lv}").alias("region_code"),
                                   F.col(f"_repeats_{lv}").alias("repeats")) for lv in LEVELS])
    return (
        contributions.select("week_start", F.explode(at_levels).alias("_at"))
        .where(F.col("_at.region_code").isNotNull())
        .groupBy(F.col("_at.region_code").alias("region_code"), F.col("_at.level").alias("level"), "week_start")
        .agg(F.sum("_at.repeats").cast("long").alias("_n_repeat_calls"))
    )


def derive_signals(df: DataFrame) -> DataFrame:
    """Replace the ``_n_`` helpers by the published signal columns (helpers must be zero-filled)."""
    keep = [c for c in df.columns if c not in SIGNAL_HELPERS]
    return df.select(
        *keep,
        share("_n_complaints", "hotline_calls").alias("complaint_share"),
        share("_n_repeat_calls", "hotline_calls").alias("repeat_caller_share"),
        share("_n_repeat_orders", "work_orders").alias("repeat_order_share"),
        share("_n_urgent_orders", "work_orders").alias("urgent_order_share"),
        F.coalesce(F.col("_n_party_mean"), F.lit(0.0)).cast("double").alias("mediation_party_mean"),
        share("failed_mediations", "_n_results").alias("failed_mediation_share"),
        share("escalation_term_records", "total_contacts").alias("escalation_term_share"),
    )
