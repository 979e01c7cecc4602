"""Compare every silver and gold table of two lakes row for row, order-free.

Used to show that a refactor (or a faster engine) writes the same tables as before it:

    python benchmarks/compare_lakes.py LAKE_BEFORE LAKE_AFTER [--bytes]

With ``--bytes`` the silver tables' Parquet files are also compared byte for byte (sha256 per week folder): the
data pages exactly, the footer as its decoded metadata with each column's list of encodings sorted. Why that
one exception: parquet-mr writes the encodings from a hash set of enum constants, whose order changes from
one JVM to the next, so two runs of unchanged code on the same data differ in those bytes alone.

Run-time stamps and random delivery references are left out of the comparison (VOLATILE). Exits 1 on any
difference and names the differing tables and columns.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from fengqiao.lake import read_table

VOLATILE = {"sent_at", "ack_ref", "attempted_at", "published_at", "scored_at", "created_at_run", "run_id",
            "landed_at", "ingested_at", "computed_at", "detail", "trained_at", "quarantined_at"}


def published_tables(lake: Path) -> dict[str, Path]:
    found = {}
    for layer in ("silver", "gold"):
        root = lake / layer
        for table in sorted(root.iterdir()) if root.exists() else []:
            if table.is_dir() and not table.name.startswith(("_", ".")):
                found[f"{layer}/{table.name}"] = table
    return found


def compare_table(name: str, before: pd.DataFrame, after: pd.DataFrame) -> bool:
    columns = [c for c in before.columns if c not in VOLATILE]
    same_columns = set(before.columns) == set(after.columns)
    if not same_columns:
        print(f"{name}: columns differ: {sorted(set(before.columns) ^ set(after.columns))}")
        columns = [c for c in columns if c in after.columns]
    left = before[columns].astype(str).sort_values(columns).reset_index(drop=True)
    right = after[columns].astype(str).sort_values(columns).reset_index(drop=True)
    if len(left) != len(right):
        print(f"{name}: {len(left)} rows vs {len(right)}")
        return False
    differing = [c for c in columns if not (left[c] == right[c]).all()]
    print(f"{name}: {len(left)} rows, {'same' if not differing else 'DIFFER in ' + ', '.join(differing)}")
    return same_columns and not differing


def parquet_bytes(path: Path) -> bytes:
    """The file's data pages as written, then its footer decoded, encodings sorted (see the module docstring)."""
    import json

    import pyarrow.parquet as pq

    data = path.read_bytes()
    footer_length = int.from_bytes(data[-8:-4], "little")
    meta = pq.ParquetFile(path).metadata
    footer = {"rows": meta.num_rows, "schema": meta.schema.to_arrow_schema().to_string(), "key_value": {k.decode(): v.decode() for k, v in
                                                                               (meta.metadata or {}).items()},
              "row_groups": [[{**meta.row_group(g).column(c).to_dict(),
                               "encodings": sorted(meta.row_group(g).column(c).encodings)}
                              for c in range(meta.num_columns)] for g in range(meta.num_row_groups)]}
    return data[:len(data) - 8 - footer_length] + json.dumps(footer, sort_keys=True, default=str).encode()


def silver_file_digests(table: Path) -> dict[str, str]:
    """sha256 of each week folder's Parquet files (in name order, :func:`parquet_bytes`), by folder name."""
    import hashlib

    digests = {}
    for folder in sorted(p for p in table.iterdir() if p.is_dir()):
        digest = hashlib.sha256()
        for path in sorted(folder.glob("*.parquet")):
            digest.update(parquet_bytes(path))
        digests[folder.name] = digest.hexdigest()
    return digests


def compare_bytes(name: str, before: Path, after: Path) -> bool:
    left, right = silver_file_digests(before), silver_file_digests(after)
    differing = sorted(k for k in set(left) | set(right) if left.get(k) != right.get(k))
    print(f"{name}: {len(left)} folders, " + ("byte-identical" if not differing else
                                              f"{len(differing)} differ in bytes, e.g. {', '.join(differing[:3])}"))
    return not differing


def main(before_lake: str, after_lake: str, by_bytes: bool = False) -> int:
    before, after = published_tables(Path(before_lake)), published_tables(Path(after_lake))
    all_same = True
    for name in sorted(set(before) | set(after)):
        if name not in before or name not in after:
            print(f"{name}: only in {'the first' if name in before else 'the second'} lake")
            all_same = False
            continue
        all_same &= compare_table(name, read_table(before[name]), read_table(after[name]))
        if by_bytes and name.startswith("silver/") and name != "silver/quarantine":
            all_same &= compare_bytes(name, before[name], after[name])
    print("ALL SAME" if all_same else "DIFFERENCES")
    return 0 if all_same else 1


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--bytes"]
    if len(args) != 2:
        sys.exit(__doc__)
    sys.exit(main(args[0], args[1], by_bytes="--bytes" in sys.argv[1:]))
