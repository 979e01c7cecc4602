"""Silver work_orders: newest snapshot per order_id, mapped to the 15 dispute types, masked.

read_raw_work_orders is the I/O edge (bronze CSV, UTF-8); clean_work_orders is pure.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from fengqiao.core.disputes import CATEGORY_TO_TYPE, WAGE_ARREARS_CATEGORIES
from fengqiao.lake import SILVER_TABLES, Lake
from fengqiao.core.privacy import mask_personal_data
from fengqiao.core.settings import Settings
from fengqiao.core.schemas import WORK_ORDERS, conform
from jobs.silver.parsing import (blank, clean_text, dispute_type_from_hits, escalation_from_hits, lexicon_hits,
                                 parse_int, parse_iso_timestamp, parse_yes_no, plain_text, wage_arrears_from_hits,
                                 week_of)
from jobs.silver.publish import run_silver_job
from jobs.silver.raw_files import CORRUPT, bronze_files, empty_raw, read_csv_files
from jobs.silver.reasons import KNOWN_NAMES, RAW_TEXT, first_failure, reason, unreadable_quarantine
from jobs.silver.records import newest_version, with_region_check
from jobs.silver.rules import check_records, good_records, quarantined_records

FEED = "workorders"
TABLE = SILVER_TABLES[FEED]
SUFFIXES = (".csv",)  # the bronze files this job reads
COLUMNS = ["order_id", "created_at", "channel", "call_id", "region_code", "category", "summary", "urgency",
           "status", "assigned_unit", "due_at", "closed_at", "is_repeat", "repeat_of", "satisfaction",
           "updated_at"]


def read_raw_work_orders(spark: SparkSession, lake: Lake,
                         files: list[Path] | None = None) -> tuple[DataFrame, DataFrame]:
    """(raw rows as strings, quarantine rows for files that could not be read at all); ``files``: only these."""
    files = bronze_files(lake, FEED, SUFFIXES, only=files)
    # The contract says UTF-8; a GB18030 export is read rather than rejected.
    raw, unreadable = read_csv_files(spark, lake, files, "order_id", ("utf-8", "gb18030"), COLUMNS)
    return (raw if raw is not None else empty_raw(spark, COLUMNS)), unreadable_quarantine(spark, FEED, unreadable)


def _category_types(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(sorted(CATEGORY_TO_TYPE.items()), "_category string, _mapped_type string")


def clean_work_orders(raw: DataFrame, regions_df: DataFrame, text_models=None) -> tuple[DataFrame, DataFrame]:
    """Raw CSV rows -> (silver work_orders, quarantine).

    ``dispute_type``: the category table's type when it knows the category; otherwise the registered
    text classifier on the masked summary (``text_models``, models.text_models.TextModels, applied in
    Arrow batches by mapInPandas), or the keyword rules when none is registered.
    """
    timestamps = ("created_at", "due_at", "closed_at", "updated_at")
    parsed = raw.withColumns({f"_{n}": parse_iso_timestamp(F.col(n)) for n in timestamps})
    checked = with_region_check(parsed, regions_df)
    checks = [
        (F.trim("order_id") == "order_id", reason("stray_header_row")),
        (F.col(CORRUPT).isNotNull(), reason("malformed_record")),
    ]
    checks += [(blank(F.col(n)), reason("missing_required_field", n))
               for n in ("order_id", "created_at", "region_code", "updated_at")]
    checks += [(~blank(F.col(n)) & F.col(f"_{n}").isNull(), reason("unparseable_date", n)) for n in timestamps]
    checks += [(F.col("_region_error").isNotNull(), F.col("_region_error"))]
    raw_text = F.coalesce(F.col(CORRUPT), F.concat_ws(",", *[F.coalesce(F.col(c), F.lit("")) for c in COLUMNS]))
    category, summary = clean_text("category"), plain_text(F.col("summary"))
    # Every record goes on, the rejected ones with their ``_error`` (jobs.silver.rules.check_records).
    records = checked.withColumns(
        {"_error": first_failure(checks), RAW_TEXT: raw_text, KNOWN_NAMES: F.lit(None).cast("string"),
         "order_id": F.trim("order_id"), **{n: F.col(f"_{n}") for n in timestamps}, "category": category,
         # the lexicon's words, found once for the type (category and summary), wage arrears and escalation
         "_category_hits": lexicon_hits(category), "_summary_hits": lexicon_hits(summary)})
    typed = records.join(F.broadcast(_category_types(raw.sparkSession)), F.col("category") == F.col("_category"), "left")
    no_words = F.array().cast("array<string>")
    summary_hits = F.col("_summary_hits")
    text_hits = F.concat(F.coalesce(F.col("_category_hits"), no_words), F.coalesce(summary_hits, no_words))
    satisfaction = parse_int(F.col("satisfaction"))
    # Every version is typed and masked, then held to the suite's row-level rules before the newest is
    # chosen: a version breaking one is quarantined and never pushes a good older one out.
    versions = typed.select(
        "order_id", "created_at", clean_text("channel").alias("channel"), clean_text("call_id").alias("call_id"),
        "region_code", "township_code", "county_code", "category",
        F.coalesce(F.col("_mapped_type"), dispute_type_from_hits(text_hits), F.lit("其他")).alias("dispute_type"),
        (F.coalesce(F.col("category").isin(*sorted(WAGE_ARREARS_CATEGORIES)), F.lit(False))
         | wage_arrears_from_hits(summary_hits)).alias("is_wage_arrears"),
        mask_personal_data(summary).alias("summary"),
        escalation_from_hits(summary_hits).alias("has_escalation_terms"),
        clean_text("urgency").alias("urgency"), clean_text("status").alias("status"),
        clean_text("assigned_unit").alias("assigned_unit"), "due_at", "closed_at",
        F.coalesce(parse_yes_no(F.col("is_repeat")), F.lit(False)).alias("is_repeat"),
        clean_text("repeat_of").alias("repeat_of"),
        F.when(satisfaction.between(1, 5), satisfaction).alias("satisfaction"),
        "updated_at", "source_file",
        week_of(F.col("created_at")).alias("week_start"),
        "_mapped_type", "line_no", RAW_TEXT, KNOWN_NAMES, "_error", *[c for c in ("_path", "_mid") if c in raw.columns],  # for line numbers
    )
    checked = check_records(versions, "silver_work_orders", WORK_ORDERS)
    rejected = quarantined_records(checked, FEED)
    silver = newest_version(good_records(checked), "order_id")
    if text_models is None or text_models.dispute_type is None:
        return conform(silver, WORK_ORDERS), rejected
    from models.text_models import apply_type_model

    # The table's type stands; only orders of unknown categories pass through Python to the classifier.
    known = F.col("_mapped_type").isNotNull()
    classified = apply_type_model(conform(silver.where(~known), WORK_ORDERS), text_models, WORK_ORDERS,
                                  text_col="summary")
    return conform(silver.where(known), WORK_ORDERS).unionByName(classified), rejected


def clean_with_settings(raw: DataFrame, regions_df: DataFrame, settings: Settings) -> tuple[DataFrame, DataFrame]:
    """:func:`clean_work_orders` with the registered text models."""
    from models.text_models import TextModels

    return clean_work_orders(raw, regions_df, text_models=TextModels.load(settings.model_dir))


def run(spark: SparkSession, lake: Lake, settings: Settings, validate: bool = False, forget_days=()) -> dict:
    """Merge new bronze files into the table and this feed's quarantine; ``validate`` audits before publishing.

    Only files not yet merged are read (see jobs.silver.publish.run_silver_job); ``forget_days`` re-merges those days.
    """
    clean = partial(clean_with_settings, settings=settings)
    return run_silver_job(spark, lake, FEED, TABLE, read_raw_work_orders, clean, SUFFIXES,
                            validate=validate, forget_days=forget_days)
