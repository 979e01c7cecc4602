"""Reading and writing lake tables: Hive-partitioned Parquet, one file per week, sorted by region.

pandas, pyarrow and pyspark are imported inside the functions: ``fengqiao.lake`` is imported when
Airflow parses the DAG files, which must not pay for them.
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from fengqiao.lake.paths import Lake
from fengqiao.lake.publish import link_or_copy_tree, publish_directory, recover_interrupted_publish

# --- file layout -----------------------------------------------------------------------------------
# Analysts cut by week (the partition folder) and by county or township (region_code). So every writer
# puts one file in each week partition (not one per Spark task: 8 files of a few kB each per week), with
# its rows sorted by region_code and min/max statistics per row group: DuckDB and Spark skip whole
# weeks by folder, then the row groups whose region_code range misses a county's or township's codes
# (codes are hierarchical, so a county's townships are one contiguous range). Row groups are bounded so
# that a large week file (a province's hotline) has several to skip between, and several for readers
# to scan in parallel.
SORT_COLUMNS = ("region_code",)
ROW_GROUP_BYTES = 16 * 1024 * 1024   # Spark (parquet-mr): buffered bytes per row group
ROW_GROUP_ROWS = 128 * 1024          # pyarrow: rows per row group
# A week's file is split beyond this many rows (a province's busiest hotline week is well below it).
MAX_RECORDS_PER_FILE = 2_000_000
# An unpartitioned table that grows by adding files (the quarantine, one file per incremental run) is
# rewritten as one file once it holds this many.
COMPACT_AT_FILES = 16
SPARK_PARQUET_OPTIONS = {
    "parquet.block.size": str(ROW_GROUP_BYTES),
    "parquet.column.statistics.enabled": "true",
    "maxRecordsPerFile": str(MAX_RECORDS_PER_FILE),
}


def write_spark_table(df, path: str | os.PathLike, partition_by: tuple[str, ...] = ("week_start",),
                      sort_by: tuple[str, ...] = SORT_COLUMNS) -> None:
    """Write a Spark DataFrame as a lake table: one file per partition value, rows sorted by ``sort_by``.

    One shuffle by the partition columns (each week's rows meet in one task; several weeks may share a
    task, each still gets its own file); without partition columns, one file. ``sort_by`` columns the
    frame lacks are ignored. The schema is the frame's: nothing is added or cast.
    """
    from pyspark.sql import functions as F  # heavy: only the Spark jobs that write need it

    part = [c for c in partition_by if c in df.columns]
    keys = [c for c in sort_by if c in df.columns and c not in part]
    # repartition, not coalesce: coalesce(1) would also run the stages before it in a single task.
    out = df.repartition(*[F.col(c) for c in part]) if part else df.repartition(1)
    if part or keys:
        out = out.sortWithinPartitions(*part, *keys)
    writer = out.write.options(**SPARK_PARQUET_OPTIONS)
    if part:
        writer = writer.partitionBy(*part)
    writer.parquet(str(path))


def write_table(df, lake: Lake, layer: str, name: str, partition_by: tuple[str, ...] = ("week_start",),
                keep: tuple[str, ...] | list[str] = ()) -> Path:
    """Write a pandas DataFrame as a Hive-partitioned Parquet table and publish it atomically.

    For the small gold tables (scores, alerts) that are built in pandas. Spark jobs write their
    own output to ``lake.new_staging_path`` with :func:`write_spark_table` and call :func:`publish_directory`.
    Same layout as theirs: one file per partition, rows sorted by region_code (stable, so equal keys
    keep their order and a rebuild writes the same bytes), bounded row groups with statistics.
    ``keep``: partition folders (e.g. ``week_start=2025-03-03``) of the published table carried into the
    new version by hard link instead of being rewritten; ``df`` must hold none of their rows.
    Give ``df`` the types of its schema first (:func:`for_parquet`).
    """
    import pyarrow as pa  # see the module docstring
    import pyarrow.dataset as ds

    target = lake.root / layer / name
    staged = lake.new_staging_path(f"{layer}-{name}")
    order = [c for c in (*partition_by, *SORT_COLUMNS) if c in df.columns]
    if order and len(df):
        df = df.sort_values(order, kind="mergesort")
    table = pa.Table.from_pandas(df, preserve_index=False)
    part_cols = [c for c in partition_by if c in df.columns]
    if part_cols:
        # Partition values as ISO strings: readable directory names (week_start=2025-03-03).
        for col in part_cols:
            idx = table.schema.get_field_index(col)
            table = table.set_column(idx, col, pa.array(df[col].astype(str).tolist(), pa.string()))
    ds.write_dataset(
        table,
        staged,
        format="parquet",
        partitioning=ds.partitioning(pa.schema([(c, pa.string()) for c in part_cols]), flavor="hive") if part_cols else None,
        existing_data_behavior="error",
        basename_template="part-{i}.parquet",
        file_options=ds.ParquetFileFormat().make_write_options(compression="zstd", write_statistics=True),
        preserve_order=True,  # keep the sort above within each file
        max_rows_per_group=ROW_GROUP_ROWS,
        max_rows_per_file=MAX_RECORDS_PER_FILE,
    )
    staged.mkdir(parents=True, exist_ok=True)  # an empty table still publishes as an empty folder
    for folder in keep:
        if (staged / folder).exists():
            raise ValueError(f"{layer}/{name}: partition {folder} is both written and kept")
        link_or_copy_tree(target / folder, staged / folder)
    publish_directory(staged, target)
    return target


def for_parquet(df, schema):
    """A copy of the pandas frame ``df`` whose dtypes make :func:`write_table` write the types of ``schema``.

    ``write_table`` lets pyarrow infer types from pandas: in a quiet run a column of only ``None`` would
    become the ``null`` type, one of only ``[]`` ``list<null>``, and an integer column with a gap doubles.
    Each column of the Spark ``schema`` present in ``df`` is given, by its type:

    - string: ``str`` when not nullable; when nullable, pandas' ``string`` dtype if every value is missing;
    - double: float64 (an unparseable value becomes NaN); bigint: int64; int: int32, or Int32 if nullable;
    - boolean: bool, a missing value False;
    - date, nullable: Python dates or None (the not-nullable ``week_start`` is a partition folder name);
    - array<string>: numpy unicode arrays (inferred ``list<string>``).
    """
    import numpy as np  # see the module docstring
    import pandas as pd
    from pyspark.sql import types as T

    out = df.copy()
    for field in schema.fields:
        name, kind = field.name, field.dataType
        if name not in out:
            continue
        if isinstance(kind, T.StringType):
            if not field.nullable:
                out[name] = out[name].astype(str)
            elif out[name].isna().all():
                out[name] = pd.array([None] * len(out), dtype="string")
        elif isinstance(kind, T.DoubleType):
            out[name] = pd.to_numeric(out[name], errors="coerce").astype("float64")
        elif isinstance(kind, T.LongType):
            out[name] = out[name].astype("int64")
        elif isinstance(kind, T.IntegerType):
            out[name] = out[name].astype("Int32" if field.nullable else "int32")
        elif isinstance(kind, T.BooleanType):
            out[name] = out[name].fillna(False).astype(bool)
        elif isinstance(kind, T.DateType) and field.nullable:
            out[name] = pd.array([d if isinstance(d, dt.date) else None for d in out[name]], dtype=object)
        elif isinstance(kind, T.ArrayType) and isinstance(kind.elementType, T.StringType):
            out[name] = [np.array([str(x) for x in values], dtype=str) for values in out[name]]
    return out


def read_table(path: str | os.PathLike, columns: list[str] | None = None, filters=None):
    """Read a lake table (Hive-partitioned Parquet) into pandas; ``week_start`` comes back as date."""
    import pandas as pd  # see the module docstring
    import pyarrow.dataset as ds

    path = Path(path)
    try:
        recover_interrupted_publish(path)  # a publish killed between its renames: read the previous version
    except OSError:  # a read-only view of the lake: the next writing stage recovers it
        pass
    if not path.exists():
        raise FileNotFoundError(f"lake table {path} does not exist yet: run the stage that builds it first")
    dataset = ds.dataset(path, format="parquet", partitioning="hive", exclude_invalid_files=True,
                         ignore_prefixes=[".", "_"])
    df = dataset.to_table(columns=columns, filter=filters).to_pandas()
    if "week_start" in df.columns:
        df["week_start"] = pd.to_datetime(df["week_start"].astype(str)).dt.date
    return df

