"""Silver hotline_calls: typed calls, newest version per call_id, placed in a township, masked.

read_raw_hotline is the I/O edge (bronze JSON lines); clean_hotline_calls is a pure transform
of the raw frame, unit-tested on tiny frames.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fengqiao.lake import SILVER_TABLES, Lake
from fengqiao.core.keys import PseudonymKey
from fengqiao.core.privacy import mask_known_names, mask_personal_data, normalise_phone, pseudonym
from fengqiao.core.settings import Settings
from fengqiao.core.schemas import HOTLINE_CALLS, conform
from fengqiao.core.spark import literal_path
from jobs.silver.parsing import (blank, clean_text, dispute_type_from_hits, escalation_from_hits, lexicon_hits,
                                 parse_int, parse_iso_timestamp, plain_text, string_array, wage_arrears_from_hits,
                                 week_of)
from jobs.silver.publish import run_silver_job
from jobs.silver.raw_files import CORRUPT, bronze_files, relative_source, scanned_file_path
from jobs.silver.reasons import KNOWN_NAMES, RAW_TEXT, first_failure, reason
from jobs.silver.records import newest_version, townships, with_region_check
from jobs.silver.rules import check_records, good_records, quarantined_records

FEED = "hotline"
TABLE = SILVER_TABLES[FEED]
SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz")  # the bronze files this job reads

# Scalars are read as strings (a number written as "120" or 120 both survive) and cast later.
RAW_SCHEMA = T.StructType([
    *[T.StructField(name, T.StringType()) for name in (
        "call_id", "line", "started_at", "duration_sec", "caller_number", "caller_name", "region_code",
        "address_text", "request_type", "topic")],
    T.StructField("transcript", T.ArrayType(T.StructType([
        T.StructField("speaker", T.StringType()), T.StructField("text", T.StringType())]))),
    *[T.StructField(name, T.StringType()) for name in ("satisfaction", "work_order_id", "updated_at")],
    T.StructField(CORRUPT, T.StringType()),
])
RAW_FIELDS = [f.name for f in RAW_SCHEMA.fields if f.name != CORRUPT]


def read_raw_hotline(spark: SparkSession, lake: Lake, files: list[Path] | None = None) -> DataFrame:
    """The feed's bronze files, or only ``files`` (the new ones of an incremental run)."""
    files = [literal_path(p) for p in bronze_files(lake, FEED, SUFFIXES, only=files)]
    if not files:
        return spark.createDataFrame([], RAW_SCHEMA).select(
            "*", F.lit(None).cast("string").alias("source_file"), F.lit(None).cast("long").alias("line_no"))
    # Spark's JSON reader keeps no line numbers, so each file is read whole as text (gzip too), split
    # into its lines with their positions, and every non-blank line parsed by from_json with the reader's
    # own parser and options: the same rows as spark.read.json, plus the true 1-based line_no.
    lines = spark.read.text(files, wholetext=True).select(
        scanned_file_path().alias("_path"),
        F.posexplode(F.split(F.col("value"), "\r?\n")).alias("_pos", "_line"))
    parsed = F.from_json(F.col("_line"), RAW_SCHEMA,
                         {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT})
    # A UTF-8 byte-order mark before a file's first record is not part of the record.
    lines = lines.withColumn("_line", F.regexp_replace(F.col("_line"), "^\ufeff", ""))
    return lines.where(F.trim(F.col("_line")) != "").select(
        parsed.alias("_r"), relative_source(F.col("_path")).alias("source_file"),
        (F.col("_pos") + 1).cast("long").alias("line_no")).select("_r.*", "source_file", "line_no")


def _transcript_text(transcript: Column) -> Column:
    turns = F.transform(transcript, lambda t: F.concat(
        F.coalesce(t["speaker"], F.lit("")), F.lit(":"), F.coalesce(t["text"], F.lit(""))))
    return plain_text(F.array_join(turns, "\n"))


def township_by_address(address: Column, regions_df: DataFrame) -> Column:
    """The township whose name the address contains (longest name wins, then the lower code), or null.

    The ~2,000 township names are two literal arrays in the expression, sorted so that the first match
    is the best one: a lookup within the row, no join, no shuffle and no second pass over the calls.
    """
    towns = sorted(((r["_township"], r["_township_name"]) for r in townships(regions_df).collect()
                    if r["_township_name"]), key=lambda t: (-len(t[1]), t[0]))
    if not towns:
        return F.lit(None).cast("string")
    names, codes = string_array([name for _, name in towns]), string_array([code for code, _ in towns])
    found = F.filter(F.sequence(F.lit(1), F.lit(len(towns))), lambda i: F.instr(address, F.element_at(names, i)) > 0)
    return F.try_element_at(codes, F.try_element_at(found, F.lit(1)))


_CALLER = "来电人:"  # a caller's turn in transcript_text


# Placeholder type of a call the keyword rules cannot type (never leaves this module).
_UNMATCHED = "__unmatched__"


def model_text(topic: Column, transcript_text: Column) -> Column:
    """What the text models read (models.text_models.hotline_input): the masked topic and the caller's turns."""
    caller = F.array_join(F.transform(
        F.filter(F.split(F.coalesce(transcript_text, F.lit("")), "\n"), lambda line: line.startswith(_CALLER)),
        lambda line: F.substring(line, len(_CALLER) + 1, 1 << 20)), "")
    return F.concat(F.coalesce(topic, F.lit("")), F.lit("。"), caller)


def clean_hotline_calls(raw: DataFrame, regions_df: DataFrame, key: str | PseudonymKey,
                        text_models=None) -> tuple[DataFrame, DataFrame]:
    """Raw JSON rows -> (silver hotline_calls, quarantine).

    ``dispute_type``: the keyword rules first (fengqiao.core.disputes, native Spark); for the calls they say
    nothing about (about 9% of simulated calls) the registered text classifier
    (``text_models``: models.text_models.TextModels, or None), applied in Arrow batches (mapInPandas) to
    the masked topic and caller turns, decides; without one, such calls are 其他. Why the hybrid: on
    held-out simulated calls it scored 99.8% against 100% for the classifier on every call and 97.9% for
    the rules alone, at a tenth of the classifier's cost (tokenising every transcript with jieba is the
    slowest step of silver). ``has_escalation_terms`` is the lexicon's: the cue model added nothing to it
    on held-out simulated texts (both F1 1.0), so silver does not pay for it.
    """
    # A call without a region code is placed in the township its address names; a line that cannot be
    # placed is quarantined like any other bad line (missing_region_code), per line, before the newest
    # version is chosen, so an unusable correction never pushes a usable version out.
    given = F.col("region_code")
    parsed = raw.withColumns({
        "started_ts": parse_iso_timestamp(F.col("started_at")),
        "updated_ts": parse_iso_timestamp(F.col("updated_at")),
        "_region_raw": given,
        "region_code": F.when(~blank(given), given).when(
            F.col("address_text").isNotNull(), township_by_address(F.col("address_text"), regions_df)),
    })
    checked = with_region_check(parsed, regions_df)
    error = first_failure([
        (F.col(CORRUPT).isNotNull(), reason("malformed_record")),
        (blank(F.col("call_id")), reason("missing_required_field", "call_id")),
        (blank(F.col("started_at")), reason("missing_required_field", "started_at")),
        (F.col("started_ts").isNull(), reason("unparseable_date", "started_at")),
        (blank(F.col("updated_at")), reason("missing_required_field", "updated_at")),
        (F.col("updated_ts").isNull(), reason("unparseable_date", "updated_at")),
        (F.col("_region_error").isNotNull(), F.col("_region_error")),
        (blank(F.col("region_code")), reason("missing_region_code")),
        (~blank(F.col("duration_sec")) & parse_int(F.col("duration_sec")).isNull(),
         reason("unparseable_integer", "duration_sec")),
    ])
    as_delivered = [F.col("_region_raw").alias("region_code") if c == "region_code" else F.col(c) for c in RAW_FIELDS]
    raw_text = F.coalesce(F.col(CORRUPT), F.to_json(F.struct(*as_delivered)))
    # Every record goes on, the rejected ones with their ``_error`` (jobs.silver.rules.check_records).
    transcript_raw = _transcript_text(F.col("transcript"))
    topic, name = plain_text(F.col("topic")), F.col("caller_name")
    # The lexicon's words in topic and transcript, found once for the type, wage arrears and escalation (a
    # column of its own: Spark then evaluates it once, not in each expression that reads it).
    records = checked.withColumns({"_error": error, RAW_TEXT: raw_text, KNOWN_NAMES: F.col("caller_name"),
                                   "call_id": F.trim("call_id"), "started_at": F.col("started_ts"),
                                   "updated_at": F.col("updated_ts"), "_topic_hits": lexicon_hits(topic),
                                   "_transcript_hits": lexicon_hits(transcript_raw)})
    topic_hits, transcript_hits = F.col("_topic_hits"), F.col("_transcript_hits")
    satisfaction = parse_int(F.col("satisfaction"))
    # Every version is typed and masked, then held to the suite's row-level rules before the newest is
    # chosen: a version breaking one is quarantined and never pushes a good older one out.
    versions = records.select(
        "call_id",
        clean_text("line").alias("line"),
        "started_at",
        parse_int(F.col("duration_sec")).alias("duration_sec"),
        pseudonym(normalise_phone(F.col("caller_number")), key).alias("caller_key"),
        "region_code", "township_code", "county_code",
        clean_text("request_type").alias("request_type"),
        mask_personal_data(mask_known_names(topic, name)).alias("topic"),
        F.coalesce(dispute_type_from_hits(topic_hits), dispute_type_from_hits(transcript_hits), F.lit(_UNMATCHED))
        .alias("dispute_type"),
        (wage_arrears_from_hits(topic_hits) | wage_arrears_from_hits(transcript_hits)).alias("is_wage_arrears"),
        mask_personal_data(mask_known_names(transcript_raw, name)).alias("transcript_text"),
        (escalation_from_hits(topic_hits) | escalation_from_hits(transcript_hits)).alias("has_escalation_terms"),
        F.when(satisfaction.between(1, 5), satisfaction).alias("satisfaction"),
        clean_text("work_order_id").alias("work_order_id"),
        "updated_at", "source_file",
        week_of(F.col("started_at")).alias("week_start"),
        "line_no", RAW_TEXT, KNOWN_NAMES, "_error",
    )
    # The text model types the placeholder later, always with one of the 15 labels.
    placeholder_as_other = F.when(F.col("dispute_type") == F.lit(_UNMATCHED), F.lit("其他")).otherwise(
        F.col("dispute_type"))
    checked = check_records(versions, "silver_hotline_calls", HOTLINE_CALLS,
                            overrides={"dispute_type": placeholder_as_other})
    rejected = quarantined_records(checked, FEED)
    silver = conform(newest_version(good_records(checked), "call_id"), HOTLINE_CALLS)
    unmatched = F.col("dispute_type") == F.lit(_UNMATCHED)
    if text_models is None or text_models.dispute_type is None:
        return silver.withColumn("dispute_type", F.when(unmatched, F.lit("其他")).otherwise(F.col("dispute_type"))), rejected
    from models.text_models import apply_type_model

    # Only the calls the rules could not type pass through Python.
    classified = apply_type_model(
        silver.where(unmatched).withColumn("_model_text", model_text(F.col("topic"), F.col("transcript_text"))),
        text_models, HOTLINE_CALLS)
    return silver.where(~unmatched).unionByName(classified), rejected


def read_new_hotline(spark: SparkSession, lake: Lake, files: list[Path] | None = None) -> tuple[DataFrame, None]:
    """The silver job's reader: the parsed lines, and no unreadable files (a JSON line fails on its own)."""
    return read_raw_hotline(spark, lake, files), None


def clean_with_settings(raw: DataFrame, regions_df: DataFrame, settings: Settings) -> tuple[DataFrame, DataFrame]:
    """:func:`clean_hotline_calls` with the configured pseudonym key and the registered text models."""
    from models.text_models import TextModels

    return clean_hotline_calls(raw, regions_df, settings.resolved_pseudonym_key(),
                               text_models=TextModels.load(settings.model_dir))


def run(spark: SparkSession, lake: Lake, settings: Settings, validate: bool = False, forget_days=()) -> dict:
    """Merge new bronze files into the table and this feed's quarantine; ``validate`` audits before publishing.

    Only files not yet merged are read (see jobs.silver.publish.run_silver_job); ``forget_days`` re-merges those days.
    """
    clean = partial(clean_with_settings, settings=settings)
    return run_silver_job(spark, lake, FEED, TABLE, read_new_hotline, clean, SUFFIXES,
                            validate=validate, forget_days=forget_days)
