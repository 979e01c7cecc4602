"""Referral signals per region and week: what courts, police and petition offices pass on, and which line rang.

A dispute that a court sends down (法院委派), the police hand over (公安移交) or the petition office passes on
(信访转办) has already gone one step up; a caller who moves from the 12348 legal line to the 12345 government
line has stopped expecting a legal answer. Counted per region from the mediation registry's 纠纷来源 and the
hotline's ``line`` (``features.records``), in the same group-by as the other counts:

* ``court_referral_cases``, ``police_referral_cases``, ``petition_referral_cases``, ``hotline_referral_cases``;
* ``referral_cases``: the first three together, and ``referral_share`` of the week's mediation cases;
* ``line_12345_calls`` and ``line_12345_share`` of the week's calls.

Their 8-week changes are in ``features.dynamics`` (``CHANGE_BASES``), their neighbours' values in
``features.spatial``.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from features.counts import count_if
from features.signals import share


def referral_aggregations() -> list[Column]:
    """Counts over level-tagged records (ride along in ``features.counts.weekly_counts``)."""
    return [
        count_if(F.col("is_court_referral")).alias("court_referral_cases"),
        count_if(F.col("is_police_referral")).alias("police_referral_cases"),
        count_if(F.col("is_petition_referral")).alias("petition_referral_cases"),
        count_if(F.col("is_hotline_referral")).alias("hotline_referral_cases"),
        count_if(F.col("is_court_referral") | F.col("is_police_referral") | F.col("is_petition_referral"))
        .alias("referral_cases"),
        count_if(F.col("is_line_12345")).alias("line_12345_calls"),
    ]


def derive_referral_shares(df: DataFrame) -> DataFrame:
    """Adds ``referral_share`` and ``line_12345_share`` (0.0 in a week without cases, or without calls)."""
    return df.select(
        *df.columns,
        share("referral_cases", "mediation_cases").alias("referral_share"),
        share("line_12345_calls", "hotline_calls").alias("line_12345_share"),
    )
