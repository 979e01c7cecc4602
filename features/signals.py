"""Escalation signals per region and week: shares, repeat contact, mediation outcomes.

Two steps so that the heavy part shares the counts' group-by: ``signal_aggregations()`` gives the
numerators and denominators (helper columns prefixed ``_n_``), ``derive_signals`` turns them into the
published columns and drops the helpers. A share is 0.0 when its denominator is 0 (a week with
no calls has no complaints to speak of); means and maxima of parties are 0 in a week without cases.
Counts are bigint, shares and means double.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from features.counts import count_if
from features.grid import week_index
from features.records import CASES

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


def _per_caller_week(calls: DataFrame, region: str, level: str) -> DataFrame:
    """Repeat calls per (region, caller, week) at one level.

    A call is a repeat if its caller was heard in the same region in weeks t-4..t-1, or calls more
    than once in week t (then every one of those calls counts).
    """
    per_week = (
        calls.groupBy("county_code", "caller_key", region, "week_start")
        .agg(F.count(F.lit(1)).alias("n_calls"))
    )
    # Window keys start with the repartition keys of repeat_calls, so Spark sorts without reshuffling.
    lookback = (
        Window.partitionBy("county_code", "caller_key", region)
        .orderBy(week_index("week_start"))
        .rangeBetween(-REPEAT_LOOKBACK_WEEKS, -1)
    )
    heard_before = F.coalesce(F.sum("n_calls").over(lookback), F.lit(0)) > 0
    return per_week.select(
        F.col(region).alias("region_code"),
        F.lit(level).alias("level"),
        "week_start",
        F.when(heard_before | (F.col("n_calls") > 1), F.col("n_calls")).otherwise(F.lit(0)).alias("repeat_calls"),
    )


def repeat_calls(calls: DataFrame) -> DataFrame:
    """``_n_repeat_calls`` per (region_code, level, week_start) from silver hotline calls.

    Calls without a caller_key never count as repeats (they still count in ``hotline_calls``).
    """
    keyed = (
        calls.where(F.col("caller_key").isNotNull())
        .select("county_code", "township_code", "caller_key", "week_start")
        # Why one repartition by (county, caller): a township lies inside its county, so this single
        # shuffle of the calls serves both the township and the county lookback windows.
        .repartition("county_code", "caller_key")
    )
    per_level = _per_caller_week(keyed, "township_code", "township").unionByName(
        _per_caller_week(keyed, "county_code", "county"))
    return (
        per_level.groupBy("region_code", "level", "week_start")
        .agg(F.sum("repeat_calls").cast("long").alias("_n_repeat_calls"))
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
