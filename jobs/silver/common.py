"""Pieces shared by the three silver jobs: reading bronze, parsing, regions, versions, quarantine.

Everything returns native Spark column expressions (no Python UDFs); the only driver-side work is
listing bronze files and reading their header lines, a few hundred small reads at most.

Incremental merge (run_silver_job): each silver table folder holds ``_merged_files.pq``, the
(bronze_path, sha256) of every bronze file merged into it; the feed's quarantine partition holds its
own. A run reads only the manifest's files missing from either ledger. Their records are cleaned as in
a full build, then merged week by week: the weeks that receive new records, that hold an older version
of a new record's key (a record whose date moved) or rows being forgotten (backfill) are rebuilt from
their existing rows plus the new ones, newest version per key. The new table is staged whole: rebuilt
weeks written by Spark, untouched weeks hard-linked (copied if links are impossible) from the published
table, and the updated ledger; then ``publish_directory`` swaps the folder in with two renames. Readers
therefore see the old or the new table, never a mix, and a crash anywhere leaves the old one (the files
of a published table are never modified in place, so sharing them by hard link is safe).
The quarantine partition is staged the same way: its published files linked, the new rejects added.
Nothing new in the manifest: nothing is read or written.
"""
from __future__ import annotations

import shutil
import time
from functools import reduce
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fengqiao.core.disputes import KEYWORD_RULES, WAGE_ARREARS_WORDS
from fengqiao.lake import (Lake, clean_stale_staging, link_or_copy_tree, publish_directory, recover_interrupted_publish,
                           week_of_partition, week_partitions, write_spark_table)
from fengqiao.core.regions import read_regions
from fengqiao.core.spark import literal_path, read_parquet

CORRUPT = "_corrupt_record"

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


def reason(code: str, field: str | None = None) -> Column:
    base = code.split(":")[0]
    label = f"{code}:{field}" if field else code
    return F.lit(f"{label} | {REASON_TEXT[base]}")


def first_failure(checks: list[tuple[Column, Column]]) -> Column:
    """The reason of the first failing check (condition true = record is bad), or null."""
    return F.coalesce(*[F.when(bad, why) for bad, why in checks], F.lit(None).cast("string"))


def blank(col: Column) -> Column:
    return col.isNull() | (F.trim(col) == "")


# C0 control characters but tab and line feed, and DEL: no meaning in text, trouble in every output.
_CONTROL_CHARS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"


def plain_text(col: Column) -> Column:
    """Free text with line breaks as LF (CRLF or a lone CR too) and without control characters (NUL...)."""
    return F.regexp_replace(F.regexp_replace(col, r"\r\n?", "\n"), _CONTROL_CHARS, "")


def clean_text(name: str) -> Column:
    """Trimmed text, null when empty (CSV writes a missing value as an empty string)."""
    return F.when(~blank(F.col(name)), F.trim(F.col(name)))


# --- bronze files ----------------------------------------------------------------------------

def bronze_files(lake: Lake, feed: str, suffixes: tuple[str, ...], only: list[Path] | None = None) -> list[Path]:
    """The feed's bronze files with these suffixes; ``only`` restricts them to a given list (incremental runs)."""
    if only is not None:
        return sorted(p for p in only if p.name.endswith(suffixes) and p.parent.parent == lake.bronze(feed))
    return sorted(p for p in lake.bronze(feed).glob("*/*")
                  if p.is_file() and p.name.endswith(suffixes) and not p.name.startswith("."))


def scanned_file_path() -> Column:
    """The file a row was read from, named as on disk (``file:/lake/bronze/...``).

    Spark's ``_metadata.file_path`` is a URI: a space is ``%20``, a ``%`` is ``%25``. Decoded, a
    delivered ``orders-2024-11-04 (1).csv`` keeps its name in ``source_file`` (as in the bronze manifest)
    and equals the ``path`` of the binary reader (:func:`_csv_record_starts`). A ``+`` is protected
    first: a URI leaves it alone, the form decoder would turn it into a space.
    """
    return F.url_decode(F.replace(F.col("_metadata.file_path"), F.lit("+"), F.lit("%2B")))


def file_uris_as_paths(uris: list[str]) -> list[str]:
    """Spark's percent-encoded file URIs (``DataFrame.inputFiles``) as paths a reader can load again."""
    from urllib.parse import unquote, urlsplit, urlunsplit

    return [urlunsplit(parts._replace(path=unquote(parts.path))) for parts in map(urlsplit, uris)]


def relative_source(path_col: Column) -> Column:
    """``bronze/<feed>/<day>/<file>`` from Spark's file URI (the lake root may move)."""
    return F.regexp_extract(path_col, r"(bronze/[^/]+/[^/]+/[^/]+)$", 1)


def relative_to_lake(path: Path, lake: Lake) -> str:
    return path.relative_to(lake.root).as_posix()


def _header_of(path: Path, encodings: tuple[str, ...], key: str) -> tuple[str, list[str]] | None:
    """(encoding, column names) of a CSV file; None if no encoding yields a header with ``key``.

    The encoding is judged on the first 64 KB, not only the header: a work-order header is plain
    ASCII in any encoding, its summaries are not.
    """
    with path.open("rb") as handle:
        sample = handle.read(1 << 16)
    for encoding in encodings:
        try:
            text = sample.decode(encoding)
        except UnicodeDecodeError as error:
            if error.start < len(sample) - 4:  # a character cut by the sample's end is no evidence
                continue
            text = sample[:error.start].decode(encoding)
        header = text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""
        names = [name.strip().strip('"') for name in header.split(",")]
        if key in names:
            # Blank or repeated names (an added column without a header) get a private name.
            seen: set[str] = set()
            unique = []
            for i, name in enumerate(names):
                unique.append(name if name and name not in seen else f"_extra_{i}")
                seen.add(name)
            return encoding, unique
    return None


def _csv_record_starts(spark: SparkSession, paths: list[str]) -> DataFrame:
    """One row per CSV file: ``_path`` and ``_starts``, the ascending 0-based line positions where records start.

    A record starts on a non-empty physical line when an even number of quotes precedes it in the
    file (a newline inside a quoted field continues the record), as the CSV reader splits records;
    the header is the first start. Bytes are decoded as ISO-8859-1 (one char per byte): '"' and '\\n'
    are single bytes that never occur inside a UTF-8 or GB18030 multi-byte character, so the count
    holds for either encoding.

    Computed within each file's row by array functions, with no row per line and no shuffle: only a
    line with an odd number of quotes changes the parity, so the lines continuing a quoted field are
    those after an odd-numbered such line up to the next one (or to the end of the file when a quote
    is never closed). A file is one small row in the result, broadcast to the data rows.
    """
    lines = F.col("_lines")  # a column, not the split expression: lambdas would re-split the file per line
    count = F.size(lines)
    positions = F.sequence(F.lit(0), count - 1)
    odd = F.filter(positions, lambda i: (F.length(lines[i]) - F.length(F.replace(lines[i], F.lit('"'), F.lit(""))))
                   % 2 == 1)
    pairs = F.sequence(F.lit(0), ((F.size(odd) + 1) / 2).cast("int") - 1)

    def continued(j):  # the lines inside the j-th quoted span: after its opening line, up to its closing one
        first, last = odd[j * 2] + 1, F.coalesce(odd[j * 2 + 1], count - 1)
        return F.when(first <= last, F.sequence(first, last)).otherwise(F.array().cast("array<int>"))

    inside = F.when(F.size(odd) > 0, F.flatten(F.transform(pairs, continued))).otherwise(F.array().cast("array<int>"))
    non_empty = F.filter(positions, lambda i: ~lines[i].isin("", "\r"))
    return (spark.read.format("binaryFile").load([literal_path(p) for p in paths])
            .select(F.col("path").alias("_path"), F.split(F.decode(F.col("content"), "ISO-8859-1"), "\n").alias("_lines"))
            .select("_path", F.array_except(non_empty, inside).alias("_starts")))


def read_csv_files(spark: SparkSession, lake: Lake, files: list[Path], key: str,
                   encodings: tuple[str, ...], wanted: list[str]) -> tuple[DataFrame | None, list[str]]:
    """Read CSV files as strings by their own headers (columns missing or added per file are fine).

    Files are grouped by (encoding, header) and each group is read with a schema built from that
    header, then projected onto ``wanted`` (absent columns are null). Returns the rows and the
    lake-relative paths of files that could not be read at all. Empty files give no rows.

    ``line_no`` is null here: only quarantined rows need it, and :func:`with_line_numbers` gives it to
    them. The rows carry what it needs instead: ``_path`` and ``_mid``, a ``monotonically_increasing_id``
    taken right at the scan. A multi-line CSV file is never split, so one task reads it whole, in order,
    and ``_mid`` increases along the file (it also orders two versions of a record in one file).
    """
    # GB18030 is outside Spark 4's default charset list; the JDK decodes it when allowed.
    spark.conf.set("spark.sql.legacy.javaCharsets", "true")
    groups: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    unreadable: list[str] = []
    for path in files:
        if path.stat().st_size == 0:
            continue
        header = _header_of(path, encodings, key)
        if header is None:
            unreadable.append(relative_to_lake(path, lake))
            continue
        encoding, names = header
        groups.setdefault((encoding, tuple(names)), []).append(literal_path(path))
    frames = []
    for (encoding, names), paths in groups.items():
        fields = [T.StructField(name, T.StringType()) for name in names]
        schema = T.StructType(fields + [T.StructField(CORRUPT, T.StringType())])
        df = (spark.read.schema(schema).option("header", True).option("encoding", encoding)
              .option("mode", "PERMISSIVE").option("columnNameOfCorruptRecord", CORRUPT)
              # RFC 4180 quoting: a quote inside a field is doubled (Spark's default escape is a backslash)
              .option("escape", '"')
              .option("multiLine", True).csv(paths))  # hand-typed line breaks inside quoted fields
        present = set(names)
        frames.append(df.select(
            *[(F.col(f"`{c}`") if c in present else F.lit(None).cast("string")).alias(c) for c in wanted],
            F.col(CORRUPT),
            relative_source(scanned_file_path()).alias("source_file"),
            F.lit(None).cast("long").alias("line_no"),
            scanned_file_path().alias("_path"),
            F.monotonically_increasing_id().alias("_mid"),
        ))
    if not frames:
        return None, unreadable
    return reduce(DataFrame.unionByName, frames), unreadable


def with_line_numbers(rows: DataFrame, raw: DataFrame) -> DataFrame:
    """``rows`` (a subset of ``raw`` from :func:`read_csv_files`, e.g. the rejected ones) with their ``line_no``.

    Per file, the ``_mid`` of its first row (an aggregate over two narrow columns of the same scan, so
    the same ids) gives each row's ordinal, which indexes the file's record starts
    (:func:`_csv_record_starts`); both are one small row per file, broadcast to the rows, which are
    never shuffled for it. Rows that already have a ``line_no`` (spreadsheets, JSON) keep it.
    Why only a subset: the file's text is read and split a second time for this, a quarter of the
    work-order job when it was done for every row, and only quarantined rows show line numbers.
    """
    if "_mid" not in raw.columns:
        return rows
    paths = sorted(file_uris_as_paths(raw.inputFiles()))  # the CSV files scanned (spreadsheet rows come from no file)
    if not paths:
        return rows
    csv_rows = raw.where(F.col("_mid").isNotNull())
    first = csv_rows.groupBy("_path").agg(F.min("_mid").alias("_first"))
    per_file = first.join(_csv_record_starts(rows.sparkSession, paths), "_path", "left")
    ordinal = F.col("_mid") - F.col("_first") + 1  # 1 = first row after the header
    line = F.element_at(F.col("_starts"), (ordinal + 1).cast("int")) + 1  # element 1 is the header
    return (rows.join(F.broadcast(per_file), "_path", "left")
            .withColumn("line_no", F.coalesce(F.col("line_no"), line.cast("long")))
            .drop("_first", "_starts"))


def empty_raw(spark: SparkSession, wanted: list[str]) -> DataFrame:
    fields = [T.StructField(c, T.StringType()) for c in wanted + [CORRUPT, "source_file"]]
    return spark.createDataFrame([], T.StructType(fields + [T.StructField("line_no", T.LongType()),
                                                            T.StructField("_path", T.StringType()),
                                                            T.StructField("_mid", T.LongType())]))


def unreadable_quarantine(spark: SparkSession, feed: str, files: list[str]) -> DataFrame:
    rows = [(feed, f, None, f"unreadable_file | {REASON_TEXT['unreadable_file']}", None) for f in files]
    schema = "feed string, source_file string, line_no long, reason string, raw_masked string"
    return spark.createDataFrame(rows, schema).withColumn("quarantined_at", F.current_timestamp())


# --- parsing ---------------------------------------------------------------------------------

def parse_iso_timestamp(col: Column) -> Column:
    """ISO 8601 with offset (``2025-03-04T09:15:22+08:00``) to an instant; null if unparseable."""
    return F.try_to_timestamp(F.trim(col))


def _normalise_cn_date(col: Column) -> Column:
    # 2025年3月4日 / 2025/3/4 / 2025.3.4 -> 2025-3-4; a "T" or 日 before the time becomes a space.
    text = F.regexp_replace(F.trim(col), r"[年月/.]", "-")
    text = F.regexp_replace(text, r"日\s*", " ")
    return F.trim(F.regexp_replace(text, "T", " "))


_CN_TIMESTAMP_PATTERNS = ("yyyy-M-d H:m:s", "yyyy-M-d H:m", "yyyy-M-d", "yyyyMMddHHmmss", "yyyyMMdd")


def parse_cn_timestamp(col: Column) -> Column:
    """Hand-kept dates with optional time: 2025-03-04, 2025/3/4, 2025年3月4日, 20250304 (+ H:m[:s])."""
    text = _normalise_cn_date(col)
    return F.coalesce(*[F.try_to_timestamp(text, F.lit(p)) for p in _CN_TIMESTAMP_PATTERNS])


def parse_cn_date(col: Column) -> Column:
    return parse_cn_timestamp(col).cast("date")


def parse_amount(col: Column) -> Column:
    """Yuan from 12000, 1,200.50, 1.2万 (×10 000), ¥/元 decorations; null if empty or unparseable."""
    text = F.regexp_replace(F.trim(col), r"[,，\s¥￥元]", "")
    number = F.regexp_replace(text, "万$", "").try_cast("double")
    return F.when(text.endswith("万"), number * 10000).otherwise(number)


def parse_yes_no(col: Column) -> Column:
    text = F.lower(F.trim(col))
    return (F.when(text.isin("是", "true", "1", "y", "yes"), F.lit(True))
            .when(text.isin("否", "false", "0", "n", "no"), F.lit(False)))


def parse_int(col: Column) -> Column:
    return F.trim(col).try_cast("int")


def week_of(ts_or_date: Column) -> Column:
    """Monday of the ISO week in the session time zone (Asia/Shanghai)."""
    return F.date_trunc("week", ts_or_date).cast("date")


# --- text rules ------------------------------------------------------------------------------

def _alternation(words) -> str:
    return "|".join(words)


def keyword_dispute_type(text: Column) -> Column:
    """First matching keyword rule of fengqiao.core.disputes as one CASE WHEN; null when none matches."""
    rules = [F.when(text.rlike(_alternation(words)), F.lit(label)) for words, label in KEYWORD_RULES]
    return F.coalesce(*rules, F.lit(None).cast("string"))


def mentions_wage_arrears(text: Column) -> Column:
    return F.coalesce(text.rlike(_alternation(WAGE_ARREARS_WORDS)), F.lit(False))


# --- regions ---------------------------------------------------------------------------------

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


# --- versions and quarantine -----------------------------------------------------------------

def newest_version(df: DataFrame, key: str) -> DataFrame:
    """One row per key: latest updated_at; ties go to the later source file, then the later line in it.

    The line (or, for CSV rows, their order in the file, ``_mid``) decides only between two versions with
    the same time in one file (an export that wrote a record twice); the later line is the later write. Deterministic without hashing every row's text.
    """
    in_file = [F.col("line_no").desc_nulls_last()] + ([F.col("_mid").desc_nulls_last()] if "_mid" in df.columns else [])
    order = Window.partitionBy(key).orderBy(F.col("updated_at").desc(), F.col("source_file").desc(), *in_file)
    return df.withColumn("_version", F.row_number().over(order)).where(F.col("_version") == 1).drop("_version")


def to_quarantine(df: DataFrame, feed: str, reason_col: str, raw_masked: Column) -> DataFrame:
    return df.select(
        F.lit(feed).alias("feed"),
        F.coalesce(F.col("source_file"), F.lit("")).alias("source_file"),
        F.col("line_no").cast("long").alias("line_no"),
        F.col(reason_col).alias("reason"),
        raw_masked.alias("raw_masked"),
        F.current_timestamp().alias("quarantined_at"),
    )


def conform(df: DataFrame, schema: T.StructType) -> DataFrame:
    """The stage's contract: exactly the schema's columns, in order, with its types."""
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


# --- publishing ---------------------------------------------------------------------------------

# The bronze files merged into a silver table (and, separately, whose rejects are in the feed's
# quarantine partition): Parquet with (bronze_path, sha256), written inside the table folder so it is
# published by the same rename as the rows. Named without ".parquet" on purpose: readers that glob
# "**/*.parquet" (DuckDB views) must not take it for a data file; Spark and pyarrow skip "_" files.
LEDGER = "_merged_files.pq"
KEYS = {"hotline_calls": "call_id", "work_orders": "order_id", "mediation_cases": "case_id"}


def read_ledger(table_dir: Path) -> set[tuple[str, str]] | None:
    """(bronze_path, sha256) pairs merged into the table; None when the table or its ledger is absent."""
    import pyarrow.parquet as pq

    path = Path(table_dir) / LEDGER
    if not path.is_file():
        return None
    table = pq.read_table(path)
    return set(zip(table.column("bronze_path").to_pylist(), table.column("sha256").to_pylist()))


def write_ledger(table_dir: Path, entries: set[tuple[str, str]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = sorted(entries)
    pq.write_table(pa.table({"bronze_path": pa.array([r[0] for r in rows], pa.string()),
                             "sha256": pa.array([r[1] for r in rows], pa.string())}), Path(table_dir) / LEDGER)


def feed_manifest(lake: Lake, feed: str, suffixes: tuple[str, ...]) -> set[tuple[str, str]]:
    """(bronze_path, sha256) of the feed's landed files that its silver job reads (by suffix)."""
    from jobs.bronze.land_drops import read_manifest

    manifest = read_manifest(lake)
    return {(path, sha) for f, path, sha in zip(manifest.column("feed").to_pylist(),
                                                manifest.column("bronze_path").to_pylist(),
                                                manifest.column("sha256").to_pylist())
            if f == feed and path.endswith(suffixes) and (lake.root / path).is_file()}


def _day_prefixes(feed: str, days) -> list[str]:
    return [f"bronze/{feed}/{day}/" for day in sorted(days)]


def _from_days(col: Column, prefixes: list[str]) -> Column:
    if not prefixes:
        return F.lit(False)
    return reduce(lambda a, b: a | b, [col.startswith(p) for p in prefixes])


# Above this many new keys (a catch-up of months) the key ranges are not checked: every week is searched.
KEY_RANGE_CHECK_MAX_KEYS = 500_000


def weeks_that_may_hold(parts: dict, key: str, keys: list[str]) -> set:
    """The week partitions whose files may hold one of ``keys`` (sorted), from Parquet statistics alone.

    A week is left out only when every row group of its files has a min/max of ``key`` and no key
    lies in any of those ranges, so the result is exact for the semi-join that follows (it may keep
    weeks that hold none). Reads footers only (a few kB a week). Identifiers issued in order (dated or
    sequential ids, as the hotline, work-order and mediation systems issue them) make each week's range
    narrow, so a weekly run searches the weeks its corrections point to, not the whole history; random
    identifiers keep every week.
    """
    return {week for week, folder in parts.items()
            if any(_file_may_hold(path, key, keys) for path in sorted(folder.glob("*.parquet")))}


def _file_may_hold(path: Path, key: str, keys: list[str]) -> bool:
    """False only when every row group of the file has a min/max of ``key`` that no key of ``keys`` falls in."""
    import bisect

    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    names = [meta.schema.column(i).path for i in range(meta.num_columns)]
    if key not in names:
        return True
    column = names.index(key)
    for rg in range(meta.num_row_groups):
        stats = meta.row_group(rg).column(column).statistics
        if stats is None or not stats.has_min_max:
            return True
        low, high = (v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else v
                     for v in (stats.min, stats.max))
        i = bisect.bisect_left(keys, low)
        if i < len(keys) and keys[i] <= high:
            return True
    return False


def merge_silver(spark: SparkSession, new: DataFrame, lake: Lake, table: str, key: str,
                 schema: T.StructType, drop_prefixes: list[str], staged: Path) -> dict:
    """Write the merged table to ``staged``: changed weeks rewritten, unchanged weeks hard-linked.

    Changed weeks are those holding new records, holding an older version of a new record's key
    (a record whose week moved), or holding rows whose source file is being dropped (backfill).
    The older versions are looked for only in the weeks whose key statistics allow them
    (:func:`weeks_that_may_hold`), so a weekly run does not read every week's keys. In them, the existing rows (minus dropped sources) and the new rows are unioned and the newest
    version per key kept: latest ``updated_at``, ties to the later ``source_file``, as a full build.
    Returns the counts of changed and unchanged weeks and ``weeks``, the rebuilt weeks' ISO Mondays.
    """
    target = lake.silver(table)
    parts = {week_of_partition(name): p for name, p in week_partitions(target).items()}
    existing = None
    if parts:
        existing = read_parquet(spark, parts.values(), schema=schema, base_path=target)
    new = new.localCheckpoint(eager=True)  # built once from the new bronze files, used three times
    weeks = {r[0] for r in new.select("week_start").distinct().collect()}
    if existing is not None:
        searched = parts
        new_keys = new.select(key).distinct()
        rows = new_keys.limit(KEY_RANGE_CHECK_MAX_KEYS + 1).collect()  # one query, at most the cap + 1 keys
        if len(rows) <= KEY_RANGE_CHECK_MAX_KEYS:
            may_hold = weeks_that_may_hold(parts, key, sorted(r[0] for r in rows if r[0] is not None))
            searched = {w: p for w, p in parts.items() if w in may_hold}
        if searched:
            held = read_parquet(spark, searched.values(), schema=schema, base_path=target)
            moved = held.select(key, "week_start").join(new_keys, key, "left_semi")
            weeks |= {r[0] for r in moved.select("week_start").distinct().collect()}
        if drop_prefixes:
            dropped = existing.where(_from_days(F.col("source_file"), drop_prefixes))
            weeks |= {r[0] for r in dropped.select("week_start").distinct().collect()}
    weeks.discard(None)
    combined = new
    if existing is not None and weeks:
        old = existing.where(F.col("week_start").isin(*sorted(weeks)) & ~_from_days(F.col("source_file"), drop_prefixes))
        combined = old.unionByName(new)
    order = Window.partitionBy(key).orderBy(F.col("updated_at").desc(), F.col("source_file").desc())
    merged = (combined.withColumn("_version", F.row_number().over(order))
              .where(F.col("_version") == 1).drop("_version"))
    write_spark_table(conform(merged, schema), staged)  # one file per week, sorted by region_code
    kept = 0
    for week, folder in parts.items():
        if week not in weeks:
            link_or_copy_tree(folder, staged / folder.name)
            kept += 1
    return {"changed_weeks": len(weeks), "unchanged_weeks": kept, "weeks": sorted(w.isoformat() for w in weeks)}


def publish_silver(spark: SparkSession, df: DataFrame, lake: Lake, table: str, validate: bool = False,
                   merge: dict | None = None, ledger: set[tuple[str, str]] | None = None,
                   step_seconds: dict | None = None) -> int:
    """Write ``df`` to staging, optionally audit it with its expectation suite, then publish it.

    With ``validate`` a failed suite raises SilverValidationError and the previous table stays
    in place (write-audit-publish); without it the separate validation stage audits the table.
    With ``merge`` (key, schema, drop_prefixes) ``df`` holds only new records and is merged into the
    existing table (:func:`merge_silver`); ``ledger`` is written into the staged table. ``merge``
    gets the merge's counts and rebuilt ``weeks`` added, and ``validate`` then audits only the
    rebuilt weeks (the untouched ones are the published, already audited files). ``step_seconds`` gets
    the time of the build-and-write (``write``: reading bronze, cleaning, merging, writing) and ``audit``.
    """
    steps = step_seconds if step_seconds is not None else {}
    started = time.perf_counter()
    staged = lake.new_staging_path(f"silver-{table}")
    try:
        if merge is not None:
            merge.update(merge_silver(spark, df, lake, table, merge["key"], merge["schema"],
                                      merge["drop_prefixes"], staged))
        else:
            write_spark_table(df, staged)
        if ledger is not None:
            write_ledger(staged, ledger)
        # From the written files (no second pass over bronze); the schema given, so an empty table reads too.
        written = read_parquet(spark, staged, schema=df.schema)
        steps["write"] = round(time.perf_counter() - started, 1)
        if validate:
            from jobs.silver.validate import raise_on_failures, validate_frame

            audited = written
            if merge is not None:
                # Only the rebuilt weeks: the hard-linked ones are the published table's files, audited when
                # they were published, so the audit costs the same at year 3 as at year 1. Keys stay unique
                # across weeks without looking at the others: a new record whose key sits in an older week
                # rebuilds that week too (merge_silver), so no key can be in a rebuilt and an untouched week.
                # A folder not named by a date (Hive's null partition) cannot be an untouched week: audited.
                rebuilt = {f"week_start={w}" for w in merge["weeks"]}
                folders = [p for p in sorted(staged.glob("week_start=*")) if p.is_dir()
                           and (p.name in rebuilt or week_of_partition(p.name) is None)]
                audited = read_parquet(spark, folders, schema=df.schema, base_path=staged) if folders else None
            if audited is not None:  # None: the merge only emptied weeks (all their rows moved or forgotten)
                raise_on_failures([validate_frame(audited, f"silver_{table}")])
            passed = ([p.name for p in folders] if merge is not None else
                      [p.name for p in staged.glob("week_start=*") if p.is_dir()])
            steps["audit"] = round(time.perf_counter() - started - steps["write"], 1)
        rows = written.count()
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    publish_directory(staged, lake.silver(table))
    if validate:
        from jobs.silver.validate import record_validated

        record_validated(lake, table, passed)  # the audit stage need not check these files again
    return rows


def run_silver_job(spark: SparkSession, lake: Lake, feed: str, table: str, read, clean, suffixes: tuple[str, ...],
                   validate: bool = False, forget_days=()) -> dict:
    """The shared tail of the three silver jobs: read, clean, publish the table and the feed's quarantine.

    ``read(spark, lake, files)`` is the job's I/O edge: the parsed bronze rows and the quarantine rows of
    files that could not be read at all (or None); ``clean(raw, regions_df)`` its pure transform: (silver
    rows, rejected rows). The table and the quarantine are two Spark jobs, each parsing the new files. Keeping
    the parsed rows for the second (``persist``) saved nothing on the simulated province: 8 weeks of the three
    feeds took 207 s persisted on disk and 190 s in memory against 193 s parsing twice (runs vary by ~15%);
    building the cache costs what the second parse costs.

    Incremental: only bronze files (manifest path + sha256) not yet in the table's ledger, or not
    yet in the quarantine's, are read; their records are merged into the table (changed weeks only)
    and their rejects added to the quarantine. A table without a ledger (first run, or written by an
    older version) is built from all the feed's files. Nothing new: nothing is written and the summary
    says ``new_files: 0``. ``forget_days`` (backfill) drops the table's and quarantine's rows from those
    day folders and their ledger entries before merging the files landed again.
    """
    from jobs.silver.quarantine import publish_quarantine

    target, q_target = lake.silver(table), lake.quarantine / f"feed={feed}"
    clean_stale_staging(lake)
    recover_interrupted_publish(target)
    recover_interrupted_publish(q_target)
    available = feed_manifest(lake, feed, suffixes)
    silver_ledger, q_ledger = read_ledger(target), read_ledger(q_target)
    full = silver_ledger is None or q_ledger is None or not target.is_dir()
    prefixes = _day_prefixes(feed, forget_days)
    if full:
        silver_ledger, q_ledger, prefixes = set(), set(), []
    forgotten = {e for e in silver_ledger | q_ledger if any(e[0].startswith(p) for p in prefixes)}
    silver_ledger, q_ledger = silver_ledger - forgotten, q_ledger - forgotten
    todo = (available - silver_ledger) | (available - q_ledger)
    if not todo and not forgotten:
        return {"table": table, "new_files": 0, "changed": False}

    files = sorted({lake.root / path for path, _ in todo})
    raw, unreadable = read(spark, lake, files)
    silver, quarantine = clean(raw, load_regions(spark, lake))
    if unreadable is not None:
        quarantine = quarantine.unionByName(unreadable)
    merge = None if full else {"key": KEYS[table], "schema": silver.schema, "drop_prefixes": prefixes}
    steps: dict = {}  # where the time goes, in the run log (progress on a long step shows in it)
    rows = publish_silver(spark, silver, lake, table, validate=validate, merge=merge, ledger=silver_ledger | todo,
                          step_seconds=steps)
    started = time.perf_counter()
    # Rejects of files already in the quarantine (a run killed between the two publishes) are not added twice.
    done = sorted({path for path, _ in todo} - {path for path, _ in available - q_ledger})
    if done:
        quarantine = quarantine.where(~F.col("source_file").isin(*done))
    rejected = publish_quarantine(spark, quarantine, lake, feed, incremental=not full, drop_prefixes=prefixes,
                                  ledger=q_ledger | todo)
    steps["quarantine"] = round(time.perf_counter() - started, 1)
    summary = {"table": table, "new_files": len(todo), "rows": rows, "quarantined": sum(rejected.values()),
               "quarantine_reasons": rejected, "mode": "full" if full else "incremental", "step_seconds": steps}
    if merge is not None:
        summary.update(changed_weeks=merge["changed_weeks"], unchanged_weeks=merge["unchanged_weeks"])
    if forgotten or prefixes:
        summary["forgotten_files"] = len(forgotten)
    return summary
