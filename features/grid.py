"""The complete region × week grid, and the keys every feature stage joins on.

Every township and every county in regions.csv gets a row for every week, records or not: the
8-week windows in ``features.dynamics`` count rows, so a missing week must be a row of zeros,
not an absent row.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fengqiao.core.regions import county_of, is_valid_code
from fengqiao.core.weeks import week_start, weeks_between

LEVELS = ("township", "county")
REGION_WEEK = ["region_code", "level", "week_start"]

REGION_SCHEMA = T.StructType([
    T.StructField("region_code", T.StringType(), False),
    T.StructField("level", T.StringType(), False),
    T.StructField("county_code", T.StringType(), False),
    T.StructField("region_name", T.StringType(), True),
])
WEEK_SCHEMA = T.StructType([T.StructField("week_start", T.DateType(), False)])

# A Monday: week numbers counted from it make "the previous 4 weeks" a plain integer range.
_EPOCH_MONDAY = "1970-01-05"


def week_index(column: str = "week_start"):
    """Integer week number of a Monday date (consecutive weeks differ by exactly 1)."""
    return F.floor(F.datediff(F.col(column), F.lit(_EPOCH_MONDAY)) / 7).cast("int")


def region_rows(regions_pdf: pd.DataFrame) -> list[tuple[str, str, str, str | None]]:
    """(region_code, level, county_code, region_name) for every township and county of regions.csv."""
    rows: dict[str, tuple[str, str, str, str | None]] = {}
    for code, level, name in regions_pdf[["code", "level", "name"]].itertuples(index=False):
        if level in LEVELS and is_valid_code(code) and code not in rows:  # first row of a code wins
            # county_of, not parent_code: silver derives county_code from the code the same way.
            rows[code] = (code, level, county_of(code), None if pd.isna(name) else str(name))
    return sorted(rows.values())


def regions_frame(spark: SparkSession, regions_pdf: pd.DataFrame) -> DataFrame:
    return spark.createDataFrame(region_rows(regions_pdf), REGION_SCHEMA)


def grid_weeks(first: dt.date | None, last: dt.date | None, through: dt.date | None = None) -> list[dt.date]:
    """Week starts of the grid: from the first week with records to the last one, or to ``through``'s week.

    With ``through`` and no records at all, the grid is that single week (a fresh lake still gets a table).
    """
    end = week_start(through) if through is not None else last
    if end is None:
        return []
    start = first if first is not None and first <= end else end
    return weeks_between(start, end)


def weeks_frame(spark: SparkSession, weeks: list[dt.date]) -> DataFrame:
    return spark.createDataFrame([(w,) for w in weeks], WEEK_SCHEMA)


def region_week_grid(regions: DataFrame, weeks: DataFrame) -> DataFrame:
    """Every region × every week (both sides are small: ~2,000 regions × ~160 weeks)."""
    return regions.crossJoin(F.broadcast(weeks)).select(
        "region_code", "level", "county_code", "region_name", "week_start")


def tag_levels(df: DataFrame) -> DataFrame:
    """One copy of each record per level: ``region_code`` is its township, then its county.

    Counting the copies grouped by (region_code, level, week_start) aggregates both levels in one
    shuffle; county figures are then sums over the county's records, not averages of townships.
    """
    levels = F.array(
        F.struct(F.lit("township").alias("level"), F.col("township_code").alias("region_code")),
        F.struct(F.lit("county").alias("level"), F.col("county_code").alias("region_code")),
    )
    others = [c for c in df.columns if c not in ("region_code", "level")]
    return (
        df.select(*others, F.explode(levels).alias("_at"))
        .select(*others, F.col("_at.region_code").alias("region_code"), F.col("_at.level").alias("level"))
    )


def week_bounds(*frames: DataFrame) -> tuple[dt.date | None, dt.date | None]:
    """First and last ``week_start`` over the frames (a tiny driver-side result: two dates).

    ``week_start`` is the partition column of every silver table, so this reads no row data.
    """
    weeks = None
    for df in frames:
        part = df.select("week_start")
        weeks = part if weeks is None else weeks.unionByName(part)
    row = weeks.agg(F.min("week_start").alias("first"), F.max("week_start").alias("last")).first()
    return row["first"], row["last"]
