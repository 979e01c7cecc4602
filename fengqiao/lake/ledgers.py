"""The ledgers of merged bronze files: which landed files a silver table (or a quarantine partition) holds.

Each silver table folder holds ``_merged_files.pq``, the (bronze_path, sha256) of every bronze file
merged into it; the feed's quarantine partition holds its own. A silver run reads only the bronze
manifest's files missing from either ledger (:func:`feed_manifest` minus :func:`read_ledger`), and
writes the updated ledger inside the staged folder, so it is published by the same rename as the rows.
"""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fengqiao.lake.bronze import read_manifest
from fengqiao.lake.paths import Lake

# Named without ".parquet" on purpose: readers that glob "**/*.parquet" (DuckDB views) must not take it
# for a data file; Spark and pyarrow skip "_" files.
LEDGER = "_merged_files.pq"


def read_ledger(table_dir: Path) -> set[tuple[str, str]] | None:
    """(bronze_path, sha256) pairs merged into the table; None when the table or its ledger is absent."""
    path = Path(table_dir) / LEDGER
    if not path.is_file():
        return None
    table = pq.read_table(path)
    return set(zip(table.column("bronze_path").to_pylist(), table.column("sha256").to_pylist()))


def write_ledger(table_dir: Path, entries: set[tuple[str, str]]) -> None:
    """Write the ledger into a staged table folder (published with it, so never replaced in place)."""
    rows = sorted(entries)
    pq.write_table(pa.table({"bronze_path": pa.array([r[0] for r in rows], pa.string()),
                             "sha256": pa.array([r[1] for r in rows], pa.string())}), Path(table_dir) / LEDGER)


def ledger_written_at(table_dir: Path) -> float | None:
    """When the table's ledger was written (each publish writes it with the rows); None without one."""
    path = Path(table_dir) / LEDGER
    return path.stat().st_mtime if path.is_file() else None


def feed_manifest(lake: Lake, feed: str, suffixes: tuple[str, ...]) -> set[tuple[str, str]]:
    """(bronze_path, sha256) of the feed's landed files that its silver job reads (by suffix)."""
    manifest = read_manifest(lake)
    return {(path, sha) for f, path, sha in zip(manifest.column("feed").to_pylist(),
                                                manifest.column("bronze_path").to_pylist(),
                                                manifest.column("sha256").to_pylist())
            if f == feed and path.endswith(suffixes) and (lake.root / path).is_file()}
