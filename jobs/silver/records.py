"""Placing records in a township and keeping one version of each: the region check and the newest version."""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from fengqiao.core.regions import read_regions
from fengqiao.lake import Lake
from jobs.silver.parsing import blank
from jobs.silver.reasons import reason


def load_regions(spark: SparkSession, lake: Lake) -> DataFrame:
    regions = read_regions(lake.reference / "regions.csv")[["code", "name", "level"]]
    return spark.createDataFrame(regions.astype(str), "code string, name string, level string")


def townships(regions_df: DataFrame) -> DataFrame:
    return regions_df.where(F.col("level") == "township").select(
        F.col("code").alias("_township"), F.col("name").alias("_township_name"))


def with_region_check(df: DataFrame, regions_df: DataFrame) -> DataFrame:
    """Add township_code, county_code and ``_region_error`` (invalid/unknown code, else null)."""
    code = F.trim(F.col("region_code"))
    known = townships(regions_df).select("_township", F.lit(True).alias("_known_township"))
    checked = (
        df.withColumns({
            "region_code": code,
            "township_code": F.concat(F.substring(code, 1, 9), F.lit("000")),
            "county_code": F.concat(F.substring(code, 1, 6), F.lit("000000")),
        })
        .join(F.broadcast(known), F.col("township_code") == F.col("_township"), "left")
    )
    error = (F.when(blank(F.col("region_code")), F.lit(None))
             .when(~F.col("region_code").rlike(r"^[0-9]{12}$"), reason("invalid_region_code"))
             .when(F.col("_known_township").isNull(), reason("unknown_region_code")))
    return checked.withColumn("_region_error", error).drop("_township", "_known_township")


def newest_version(df: DataFrame, key: str) -> DataFrame:
    """One row per key: latest updated_at; ties go to the later source file, then the later line in it.

    The line (or, for CSV rows, their order in the file, ``_mid``) decides only between two versions with
    the same time in one file (an export that wrote a record twice); the later line is the later write. Deterministic without hashing every row's text.
    """
    in_file = [F.col("line_no").desc_nulls_last()] + ([F.col("_mid").desc_nulls_last()] if "_mid" in df.columns else [])
    order = Window.partitionBy(key).orderBy(F.col("updated_at").desc(), F.col("source_file").desc(), *in_file)
    return df.withColumn("_version", F.row_number().over(order)).where(F.col("_version") == 1).drop("_version")
