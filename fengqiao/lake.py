"""Paths of the Parquet lake and the write-audit-publish step that replaces a table atomically.

Layout under the lake root::

    bronze/<feed>/<YYYY-MM-DD>/<file>         raw files as delivered, never modified
    bronze/_manifest.parquet                  one row per landed file (path, sha256, bytes, landed_at)
    silver/<table>/week_start=YYYY-MM-DD/     typed, de-duplicated, masked records
    silver/quarantine/                        rejected records with file, line, reason, masked text
    gold/<table>/week_start=YYYY-MM-DD/       published features, scores, alerts
    outputs/briefings/, outputs/mail/          human-facing outputs
    _staging/                                 tables being written; never read by analysts

A table is written to ``_staging`` first and swapped into place only after it is complete (and,
for silver, validated), so a crash mid-run leaves the previous version readable.
"""
from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

FEEDS = ("hotline", "workorders", "mediation")
SILVER_TABLES = {"hotline": "hotline_calls", "workorders": "work_orders", "mediation": "mediation_cases"}


@dataclass(frozen=True)
class Lake:
    root: Path

    @classmethod
    def at(cls, root: str | os.PathLike) -> "Lake":
        return cls(Path(root).resolve())

    # --- layers -------------------------------------------------------------------------------
    def bronze(self, feed: str) -> Path:
        return self.root / "bronze" / feed

    @property
    def bronze_manifest(self) -> Path:
        return self.root / "bronze" / "_manifest.parquet"

    @property
    def reference(self) -> Path:
        """Latest copy of the drop's reference/ folder (regions.csv, bureaus.csv)."""
        return self.root / "reference"

    def silver(self, table: str) -> Path:
        return self.root / "silver" / table

    @property
    def quarantine(self) -> Path:
        return self.root / "silver" / "quarantine"

    def gold(self, table: str) -> Path:
        return self.root / "gold" / table

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def briefings(self) -> Path:
        return self.outputs / "briefings"

    @property
    def mailbox(self) -> Path:
        return self.outputs / "mail"

    @property
    def staging(self) -> Path:
        return self.root / "_staging"

    @property
    def run_log(self) -> Path:
        return self.root / "_runs"

    # --- write-audit-publish ------------------------------------------------------------------
    def new_staging_path(self, name: str) -> Path:
        path = self.staging / f"{name}-{uuid.uuid4().hex[:12]}"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path


def publish_directory(staged: Path, target: Path) -> None:
    """Swap a fully written directory into place.

    ``target`` is renamed aside, ``staged`` renamed into its place, then the old copy removed.
    Both renames are within one file system. If the process dies between the two renames the
    old copy is left as ``<target>.previous`` and :func:`recover_interrupted_publish` restores it.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    previous = target.with_name(target.name + ".previous")
    if previous.exists():
        shutil.rmtree(previous)
    if target.exists():
        os.rename(target, previous)
    os.rename(staged, target)
    if previous.exists():
        shutil.rmtree(previous)


def recover_interrupted_publish(target: Path) -> None:
    """Put back the previous version of a table whose publish was interrupted between renames."""
    previous = target.with_name(target.name + ".previous")
    if previous.exists() and not target.exists():
        os.rename(previous, target)
    elif previous.exists():
        shutil.rmtree(previous)


def write_table(df, lake: Lake, layer: str, name: str, partition_by: tuple[str, ...] = ("week_start",)) -> Path:
    """Write a pandas DataFrame as a Hive-partitioned Parquet table and publish it atomically.

    For the small gold tables (scores, alerts) that are built in pandas. Spark jobs write their
    own output to ``lake.new_staging_path`` and call :func:`publish_directory`.
    """
    import pyarrow as pa
    import pyarrow.dataset as ds

    target = lake.root / layer / name
    staged = lake.new_staging_path(f"{layer}-{name}")
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
    )
    staged.mkdir(parents=True, exist_ok=True)  # an empty table still publishes as an empty folder
    publish_directory(staged, target)
    return target


def read_table(path: str | os.PathLike, columns: list[str] | None = None, filters=None):
    """Read a lake table (Hive-partitioned Parquet) into pandas; ``week_start`` comes back as date."""
    import pandas as pd
    import pyarrow.dataset as ds

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"lake table {path} does not exist yet: run the stage that builds it first")
    dataset = ds.dataset(path, format="parquet", partitioning="hive", exclude_invalid_files=True,
                         ignore_prefixes=[".", "_"])
    df = dataset.to_table(columns=columns, filter=filters).to_pandas()
    if "week_start" in df.columns:
        df["week_start"] = pd.to_datetime(df["week_start"].astype(str)).dt.date
    return df
