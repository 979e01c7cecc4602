"""Why a record is quarantined: the reason codes and texts, and the quarantine rows of rejected records.

The quarantine's ``reason`` column holds ``code | readable text``, e.g. ``unparseable_date:started_at |
a date or time is not in any known format``; :func:`reason_code` takes the code back out.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from fengqiao.core.privacy import mask_known_names, mask_raw_record

# Readable text for each quarantine code; the reason column holds "code | text".
REASON_TEXT = {
    "malformed_record": "the record cannot be parsed (truncated line, wrong quoting or column count)",
    "missing_required_field": "a required field is empty",
    "unparseable_date": "a date or time is not in any known format",
    "invalid_region_code": "region code is not 12 digits",
    "unknown_region_code": "region code's township is not in reference/regions.csv",
    "missing_region_code": "no region code and the address names no known township",
    "stray_header_row": "a repeated header row inside the file",
    "unparseable_amount": "涉案金额 is not an amount in yuan",
    "unparseable_integer": "an integer field holds something else",
    "unknown_dispute_type": "纠纷类型 is not one of the 15 mediation types",
    "unreadable_file": "the file's header is missing or in an unknown encoding; no row read",
    # The row-level rules of the silver suites, applied per record (jobs/silver/rules.py):
    "null_value": "a value the silver suite requires is missing",
    "out_of_range": "a value is outside the range the silver suite allows (e.g. a date in the future)",
    "not_in_allowed_set": "a value is not one the source contract allows",
    "pattern_mismatch": "a value has not the form the silver suite requires (e.g. a 12-digit region code)",
    "forbidden_pattern": "personal data is left in the clear after masking",
    "order_violation": "a time is earlier than the time it must follow",
}


# A record's delivered text and the names it is known to hold, carried unmasked beside the parsed record and
# masked (masked_raw_text) only for the records sent to quarantine: masking the raw text of every record,
# to keep it for the few that are rejected, would cost what masking the transcripts costs.
RAW_TEXT, KNOWN_NAMES = "_raw_text", "_known_names"


def masked_raw_text() -> Column:
    """The quarantine's ``raw_masked``: the record as delivered, its own names and personal data masked."""
    return mask_raw_record(mask_known_names(F.col(RAW_TEXT), F.col(KNOWN_NAMES)))


def reason(code: str, field: str | None = None) -> Column:
    base = code.split(":")[0]
    label = f"{code}:{field}" if field else code
    return F.lit(f"{label} | {REASON_TEXT[base]}")


def first_failure(checks: list[tuple[Column, Column]]) -> Column:
    """The reason of the first failing check (condition true = record is bad), or null."""
    return F.coalesce(*[F.when(bad, why) for bad, why in checks], F.lit(None).cast("string"))


def reason_code(reason: str = "reason"):
    """The short code of a ``code | readable text`` reason."""
    return F.split_part(F.col(reason), F.lit(" | "), F.lit(1))


def to_quarantine(df: DataFrame, feed: str, reason_col: str, raw_masked: Column) -> DataFrame:
    return df.select(
        F.lit(feed).alias("feed"),
        F.coalesce(F.col("source_file"), F.lit("")).alias("source_file"),
        F.col("line_no").cast("long").alias("line_no"),
        F.col(reason_col).alias("reason"),
        raw_masked.alias("raw_masked"),
        F.current_timestamp().alias("quarantined_at"),
    )


def unreadable_quarantine(spark: SparkSession, feed: str, files: list[str]) -> DataFrame:
    rows = [(feed, f, None, f"unreadable_file | {REASON_TEXT['unreadable_file']}", None) for f in files]
    schema = "feed string, source_file string, line_no long, reason string, raw_masked string"
    return spark.createDataFrame(rows, schema).withColumn("quarantined_at", F.current_timestamp())
