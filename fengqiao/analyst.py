"""Analysts' access: DuckDB views over the lake's Parquet tables."""
from __future__ import annotations

from pathlib import Path

LAYERS = ("silver", "gold")


def connect(lake_dir: str | Path):
    """An in-memory DuckDB connection with one view per silver and gold table (Hive partitions as columns)."""
    import duckdb

    lake_dir = Path(lake_dir).resolve()
    con = duckdb.connect()
    for layer in LAYERS:
        base = lake_dir / layer
        if not base.is_dir():
            continue
        for table in sorted(p for p in base.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
            if not any(table.rglob("*.parquet")):
                continue
            pattern = str(table / "**" / "*.parquet").replace("'", "''")
            con.execute(
                f"create view \"{table.name}\" as select * from read_parquet('{pattern}', hive_partitioning = true, union_by_name = true)"
            )
    return con
