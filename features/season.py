"""Calendar features: ISO week of year and weeks to the next Spring Festival (wage arrears peak before it).

The values come from ``fengqiao.core.weeks`` in Python for the few weeks of the grid (~160 rows) and are
joined on ``week_start``: a lookup table rather than a UDF, so Spark never calls back into Python.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fengqiao.core.weeks import weeks_to_spring_festival

SEASON_SCHEMA = T.StructType([
    T.StructField("week_start", T.DateType(), False),
    T.StructField("week_of_year", T.IntegerType(), False),
    T.StructField("weeks_to_spring_festival", T.IntegerType(), False),
])


def season_rows(weeks: list[dt.date]) -> list[tuple[dt.date, int, int]]:
    """Raises ValueError for a week past the last festival known to ``fengqiao.core.weeks``."""
    return [(w, w.isocalendar().week, weeks_to_spring_festival(w)) for w in weeks]


def season_lookup(spark: SparkSession, weeks: list[dt.date]) -> DataFrame:
    return spark.createDataFrame(season_rows(weeks), SEASON_SCHEMA)


def add_season(df: DataFrame, lookup: DataFrame) -> DataFrame:
    """Adds week_of_year, weeks_to_spring_festival (the lookup is tiny: broadcast it)."""
    return df.join(F.broadcast(lookup), on="week_start", how="left").select(
        *df.columns, "week_of_year", "weeks_to_spring_festival")
