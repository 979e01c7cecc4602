"""The row-level expectations of the silver suites (expectations/*.json), applied to each record at parse time.

One source of truth: the same JSON suites the audit (jobs/silver/validate.py) runs are compiled here into
native Spark predicates, one per row-level expectation, and each silver job sends the records that break
one to quarantine with a reason naming the rule and the column (``out_of_range:duration_sec``), keeping the
good records beside them. A hostile or broken record (a call dated 2099, a call lasting two days) therefore
costs that record, not the feed: the audit only catches what this missed. ``mostly`` is not honoured here on
purpose: the contract fixes those value sets, a record outside them is bad on its own, and a small week
with a few of them would fail the audit's share.

Every expectation type in a silver suite is either compiled here (ROW_LEVEL) or named in TABLE_LEVEL with
what guarantees it by construction; an unknown type raises, so a new kind of rule cannot be added to a suite
without a parse-time counterpart (tests/jobs/silver/test_validation.py checks every suite).
"""
from __future__ import annotations

import json

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.silver import validate
from jobs.silver.raw_files import with_line_numbers
from jobs.silver.reasons import KNOWN_NAMES, RAW_TEXT, first_failure, masked_raw_text, reason, to_quarantine

# The rule's quarantine code, by expectation type (the reason texts are in jobs.silver.reasons.REASON_TEXT).
ROW_LEVEL = {
    "expect_column_values_to_not_be_null": "null_value",
    "expect_column_values_to_be_between": "out_of_range",
    "expect_column_values_to_be_in_set": "not_in_allowed_set",
    "expect_column_values_to_match_regex": "pattern_mismatch",
    "expect_column_values_to_not_match_regex": "forbidden_pattern",
    "expect_column_pair_values_a_to_be_greater_than_b": "order_violation",
}
# Not about one record: what makes each hold without a parse-time check.
TABLE_LEVEL = {
    "expect_table_row_count_to_be_between": "a property of the whole table (an empty feed is an outage)",
    "expect_column_values_to_be_unique": "jobs.silver.records.newest_version keeps one version per key",
    "expect_column_values_to_be_of_type": "fengqiao.core.schemas.conform casts every column to the schema",
}


def load_expectations(suite_name: str) -> list[dict]:
    document = json.loads((validate.EXPECTATIONS_DIR / f"{suite_name}.json").read_text(encoding="utf-8"))
    return document["expectations"]


def row_expectations(suite_name: str) -> list[dict]:
    """The suite's row-level expectations; raises on a type that is neither row- nor table-level."""
    unknown = sorted({e["type"] for e in load_expectations(suite_name)} - set(ROW_LEVEL) - set(TABLE_LEVEL))
    if unknown:
        raise ValueError(f"{suite_name}: no parse-time counterpart for {', '.join(unknown)}")
    return [e for e in load_expectations(suite_name) if e["type"] in ROW_LEVEL]


def _bound(value, parameters: dict, data_type: T.DataType) -> Column | None:
    if value is None:
        return None
    if isinstance(value, dict) and "$PARAMETER" in value:
        value = parameters[value["$PARAMETER"]]
    if isinstance(data_type, T.TimestampType):
        return F.lit(str(value)).cast("timestamp")  # wall-clock values in the session time zone, as the audit
    if isinstance(data_type, T.DateType):
        return F.lit(str(value)).cast("date")
    return F.lit(value)


def violation(expectation: dict, schema: T.StructType, parameters: dict, column=F.col) -> Column:
    """True where a record breaks the expectation; false or null where it keeps it.

    As in GE, a null value breaks only not_be_null (map expectations skip missing values), and a pair
    with a missing side is skipped. ``column(name)`` gives the value checked (default: the column itself).
    """
    kind, kw = expectation["type"], expectation["kwargs"]
    if kind == "expect_column_pair_values_a_to_be_greater_than_b":
        a, b = column(kw["column_A"]), column(kw["column_B"])
        return (a < b) if kw.get("or_equal") else (a <= b)
    value = column(kw["column"])
    if kind == "expect_column_values_to_not_be_null":
        return value.isNull()
    if kind == "expect_column_values_to_be_in_set":
        return ~value.isin(*kw["value_set"])
    if kind == "expect_column_values_to_match_regex":
        return ~value.rlike(kw["regex"])
    if kind == "expect_column_values_to_not_match_regex":
        return value.rlike(kw["regex"])
    if kind == "expect_column_values_to_be_between":
        data_type = schema[kw["column"]].dataType
        low, high = (_bound(kw.get(k), parameters, data_type) for k in ("min_value", "max_value"))
        strict_low, strict_high = kw.get("strict_min", False), kw.get("strict_max", False)
        below = F.lit(False) if low is None else (value <= low if strict_low else value < low)
        above = F.lit(False) if high is None else (value >= high if strict_high else value > high)
        return below | above
    raise ValueError(f"{kind} is not a row-level expectation")


def rule_label(expectation: dict) -> str:
    """``code:column`` of the expectation, as the quarantine's reason names it."""
    kw = expectation["kwargs"]
    return f"{ROW_LEVEL[expectation['type']]}:{kw.get('column') or kw['column_A']}"


def suite_failure(suite_name: str, schema: T.StructType, parameters: dict | None = None,
                  overrides: dict[str, Column] | None = None) -> Column:
    """The quarantine reason of a record's first broken row-level expectation of the suite, or null.

    ``schema`` is the silver table's (it types the bounds); ``overrides`` give the value to check for a
    column that is not final yet (the hotline's placeholder type before its text model decides).
    ``parameters`` default to the audit's (now + 1 day, Asia/Shanghai): the audit runs later, so a record
    that passes here passes there.
    """
    parameters = parameters if parameters is not None else validate.suite_parameters()
    overrides = overrides or {}

    def column(name: str) -> Column:
        return overrides.get(name, F.col(name))

    checks = []
    for expectation in row_expectations(suite_name):
        code, field = rule_label(expectation).split(":", 1)
        checks.append((F.coalesce(violation(expectation, schema, parameters, column), F.lit(False)),
                       reason(code, field)))
    return first_failure(checks)


CHECKPOINT_LEVEL = StorageLevel.DISK_ONLY  # where the silver jobs keep records they read twice

# Why a record is rejected: the job's own record checks (``_error``) first, then the suite's row-level rules.
REJECT = "_reject_reason"


def check_records(rows: DataFrame, suite_name: str, schema: T.StructType, parameters: dict | None = None,
                  overrides: dict[str, Column] | None = None) -> DataFrame:
    """Every record of ``rows`` with :data:`REJECT`: its ``_error`` (the job's record checks: parse, required
    fields, dates, region), else its first broken row-level rule of the suite, else null (a good record).

    One evaluation serves both outputs: the silver table is written from the good records and the quarantine
    from the rejected ones, two Spark jobs, and each would otherwise read, parse, type, mask and hash every
    record again (the rules read the masked text and the pseudonyms). A lazy local checkpoint keeps the
    checked records (memory, spilling to disk) from the first job for the second. Measured on a city drop
    (benchmarks/results/2026-12-04-ingest-city.md): the quarantine's job took 110 s of the hotline's 227 s
    when it parsed and masked everything again.
    """
    failure = suite_failure(suite_name, schema, parameters, overrides)
    if "_error" in rows.columns:  # the rules are not evaluated for a record its checks already rejected
        failure = F.coalesce(F.col("_error"), failure)
    checked = rows.withColumn(REJECT, failure).drop("_error")
    # The delivered text is kept for the rejected records only (the quarantine's raw_masked): for the others
    # it would double what the checkpoint holds.
    kept_for_rejects = {c: F.when(F.col(REJECT).isNotNull(), F.col(c)) for c in (RAW_TEXT, KNOWN_NAMES)
                        if c in checked.columns}
    # On local disk, serialized and compressed (spark.rdd.compress), not in the memory store: Spark's default level
    # keeps deserialized rows and sizes them object by object, and at province scale (13 M calls) they outgrew the
    # memory store (first stage ~3.7 s a task, ~3.1 s serialized); a serialized level in memory then starved the
    # work orders' aggregations of execution memory (AGGREGATE_OUT_OF_MEMORY, one year of a province). Written once,
    # read twice: the page cache serves the reads.
    return checked.withColumns(kept_for_rejects).localCheckpoint(eager=False, storageLevel=CHECKPOINT_LEVEL)


def good_records(checked: DataFrame) -> DataFrame:
    return checked.where(F.col(REJECT).isNull()).drop(REJECT)


def quarantined_records(checked: DataFrame, feed: str) -> DataFrame:
    """The quarantine rows of the rejected records: reason, line number (CSV rows get theirs from their file;
    JSON and spreadsheet rows have it already) and the delivered text, masked."""
    rejected = checked.where(F.col(REJECT).isNotNull())
    return to_quarantine(with_line_numbers(rejected, checked), feed, REJECT, masked_raw_text())
