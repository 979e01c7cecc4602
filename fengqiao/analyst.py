"""Analysts' access: DuckDB views over the lake's Parquet tables."""
from __future__ import annotations

import re
from pathlib import Path

LAYERS = ("silver", "gold")


def connect(lake_dir: str | Path):
    """An in-memory DuckDB connection with one view per silver and gold table (Hive partitions as columns)."""
    import duckdb

    lake_dir = Path(lake_dir).resolve()
    con = duckdb.connect()
    # Instants are stored in UTC; analysts read and cut them (days, weeks, months) in Beijing time.
    con.execute("SET TimeZone = 'Asia/Shanghai'")
    for layer in LAYERS:
        base = lake_dir / layer
        if not base.is_dir():
            continue
        for table in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
            if not any(table.rglob("*.parquet")):
                continue
            pattern = (duckdb_literal(table) + "/**/*.parquet").replace("'", "''")
            con.execute(
                f"create view \"{table.name}\" as select * from read_parquet('{pattern}', hive_partitioning = true, union_by_name = true)"
            )
    return con


def duckdb_literal(path: Path) -> str:
    """``path`` for a DuckDB glob, its glob characters as one-character classes (``[`` -> ``[[]``).

    DuckDB expands ``* ? [`` anywhere in a pattern: a lake under ``/data/lake[prod]`` would match no file.
    """
    return re.sub(r"([\[*?])", r"[\1]", str(path))


def _table_dirs(lake_dir: Path):
    """(name, folder) of every silver and gold table holding Parquet, as ``connect`` sees them."""
    for layer in LAYERS:
        base = lake_dir / layer
        if not base.is_dir():
            continue
        for table in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
            if any(table.rglob("*.parquet")):
                yield table.name, table


def register_spark_views(spark, lake_dir: str | Path) -> list[str]:
    """Create a Spark temp view per silver and gold table (the same names as the DuckDB views).

    Partition columns (``week_start``, the quarantine's ``feed``) come from the folder names. Tables
    documented in ``fengqiao.datadict`` get the published types: pandas-written gold tables store
    nanosecond timestamps and all-null columns that Spark cannot type on its own, so this sets
    ``spark.sql.legacy.parquet.nanosAsLong`` (such columns then read as nanoseconds, converted back to
    timestamps here) and casts every column to its schema type. Returns the view names, sorted.
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from fengqiao.datadict import table_schemas
    from fengqiao.spark import read_parquet

    lake_dir = Path(lake_dir).resolve()
    schemas = table_schemas()
    # Only TIMESTAMP(NANOS) columns change: without the flag Spark refuses to read them at all.
    spark.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
    names = []
    for name, folder in _table_dirs(lake_dir):
        df = read_parquet(spark, folder, base_path=folder)
        expected = schemas.get(name)
        if expected is not None:
            types = {f.name: f.dataType for f in expected.fields}
            columns = []
            for field in df.schema.fields:
                want = types.get(field.name)
                col = F.col(f"`{field.name}`")
                if want is None or want == field.dataType:
                    columns.append(col)
                elif isinstance(want, T.TimestampType) and isinstance(field.dataType, T.LongType):
                    columns.append(F.timestamp_micros(F.floor(col / 1000).cast("long")).alias(field.name))
                else:
                    columns.append(col.cast(want).alias(field.name))
            df = df.select(*columns)
        df.createOrReplaceTempView(name)
        names.append(name)
    return sorted(names)
