"""The complete region × week grid, and the keys every feature stage joins on.

Five levels (村/社区 → 乡镇/街道 → 县 → 市 → 省). Every township and county of regions.csv, and the city and
province above each of its townships, gets a row for every week, records or not: the 8-week windows in
``features.dynamics`` count rows, so a missing week must be a row of zeros, not an absent row.
Villages are different: a province has ~20 villages per township, most without a record in most weeks, and
an export names a village only for some records. A village gets a row only in the weeks where records name
it; its 8-week windows are computed from sums over week numbers, which treat
an absent week as zero (``features.dynamics.add_sparse_dynamics``).
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fengqiao.core.regions import CODE_AT_LEVEL, LEVELS, county_of, is_valid_code
from fengqiao.core.weeks import week_start, weeks_between

REGION_WEEK = ["region_code", "level", "week_start"]

REGION_SCHEMA = T.StructType([
    T.StructField("region_code", T.StringType(), False),
    T.StructField("level", T.StringType(), False),
    T.StructField("county_code", T.StringType(), False),
    T.StructField("region_name", T.StringType(), True),
])
WEEK_SCHEMA = T.StructType([T.StructField("week_start", T.DateType(), False)])

# A Monday: week numbers counted from it make "the previous 4 weeks" a plain integer range.
EPOCH_MONDAY = "1970-01-05"


def week_index(column: str = "week_start"):
    """Integer week number of a Monday date (consecutive weeks differ by exactly 1)."""
    return F.floor(F.datediff(F.col(column), F.lit(EPOCH_MONDAY)) / 7).cast("int")


def region_rows(regions_pdf: pd.DataFrame) -> list[tuple[str, str, str, str | None]]:
    """(region_code, level, county_code, region_name) for every township and county of regions.csv, and for
    the city and province of each township (named when regions.csv lists them).

    Higher levels follow from the township codes, not from regions.csv's city and province rows, so that a
    drop whose regions.csv omits them still adds up; ``county_code`` is ``county_of(code)`` at every level
    (a city's is its own code with four zero digits, so no county's rows include it).
    """
    names: dict[str, str | None] = {}
    rows: dict[str, tuple[str, str, str, str | None]] = {}
    for code, level, name in regions_pdf[["code", "level", "name"]].itertuples(index=False):
        if is_valid_code(code) and code not in names:  # first row of a code wins
            names[code] = None if pd.isna(name) else str(name)
    for code, level in regions_pdf[["code", "level"]].itertuples(index=False):
        if level not in ("township", "county") or not is_valid_code(code) or code in rows:
            continue
        # county_of, not parent_code: silver derives county_code from the code the same way.
        rows[code] = (code, level, county_of(code), names.get(code))
        if level == "township":
            for above in ("city", "province"):
                top = CODE_AT_LEVEL[above](code)
                rows.setdefault(top, (top, above, county_of(top), names.get(top)))
    return sorted(rows.values())


VILLAGE_NAME_SCHEMA = T.StructType([
    T.StructField("region_code", T.StringType(), False),
    T.StructField("region_name", T.StringType(), True),
])


def village_names(spark: SparkSession, regions_pdf: pd.DataFrame) -> DataFrame:
    """(region_code, region_name) of the villages of regions.csv (a village row's name, when listed)."""
    villages = regions_pdf[regions_pdf["level"] == "village"].drop_duplicates("code")
    rows = [(str(c), None if pd.isna(n) else str(n)) for c, n in zip(villages["code"], villages["name"])
            if is_valid_code(c)]
    return spark.createDataFrame(rows, VILLAGE_NAME_SCHEMA)


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


def level_code(level: str):
    """The code of a record's region at ``level``, from its ``township_code`` and ``county_code`` columns
    (villages: its ``village_code``, null where the record names no village)."""
    town = F.col("township_code")
    return {
        "village": F.col("village_code"),
        "township": town,
        "county": F.col("county_code"),
        "city": F.concat(F.substring(town, 1, 4), F.lit("00000000")),
        "province": F.concat(F.substring(town, 1, 2), F.lit("0000000000")),
    }[level]


def tag_levels(df: DataFrame) -> DataFrame:
    """One copy of each record per level: ``region_code`` is its village (where it names one), its township,
    county, city and province.

    Counting the copies grouped by (region_code, level, week_start) aggregates all levels in one
    shuffle; every level's figures are sums over its records, not averages of its children.
    """
    levels = F.array(*[F.struct(F.lit(level).alias("level"), level_code(level).alias("region_code"))
                       for level in LEVELS])
    others = [c for c in df.columns if c not in ("region_code", "level")]
    return (
        df.select(*others, F.explode(levels).alias("_at"))
        .where(F.col("_at.region_code").isNotNull())  # a record that names no village has no village copy
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
