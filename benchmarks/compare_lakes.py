"""Compare every silver and gold table of two lakes row for row, order-free.

Used to show that a refactor (or a faster engine) writes the same tables as before it:

    python benchmarks/compare_lakes.py LAKE_BEFORE LAKE_AFTER

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


def main(before_lake: str, after_lake: str) -> int:
    before, after = published_tables(Path(before_lake)), published_tables(Path(after_lake))
    all_same = True
    for name in sorted(set(before) | set(after)):
        if name not in before or name not in after:
            print(f"{name}: only in {'the first' if name in before else 'the second'} lake")
            all_same = False
            continue
        all_same &= compare_table(name, read_table(before[name]), read_table(after[name]))
    print("ALL SAME" if all_same else "DIFFERENCES")
    return 0 if all_same else 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
