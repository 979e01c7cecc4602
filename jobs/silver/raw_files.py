"""Reading a feed's bronze files as raw string rows, and the line numbers of the rows that are rejected.

The rows are read by Spark (no Python UDFs); the only driver-side work is listing bronze files and reading
their header lines, a few hundred small reads at most. The JSON and spreadsheet readers are the jobs' own.
"""
from __future__ import annotations

from functools import reduce
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from fengqiao.core.spark import literal_path
from fengqiao.lake import Lake

CORRUPT = "_corrupt_record"


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
    """``rows`` (a subset of ``raw``, e.g. the rejected ones) with their ``line_no``; ``raw`` holds every row
    read by :func:`read_csv_files` (or a frame derived from them row for row, keeping ``_path`` and ``_mid``).

    Per file, the ``_mid`` of its first row (an aggregate over two narrow columns of the same scan, so
    the same ids) gives each row's ordinal, which indexes the file's record starts
    (:func:`_csv_record_starts`); both are one small row per file, broadcast to the rows, which are
    never shuffled for it. Rows that already have a ``line_no`` (spreadsheets, JSON) keep it.
    Why only a subset, and only the files it comes from (collected first): the file's text is read and split
    a second time for this, a quarter of the work-order job when it was done for every row, and only
    quarantined rows show line numbers.
    """
    if "_mid" not in raw.columns:
        return rows
    # The CSV files the rows come from (spreadsheet rows come from no file and have their line already).
    paths = sorted(r[0] for r in rows.where(F.col("_path").isNotNull()).select("_path").distinct().collect())
    if not paths:
        return rows
    csv_rows = raw.where(F.col("_mid").isNotNull() & F.col("_path").isin(*paths))
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
