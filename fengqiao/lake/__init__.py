"""The Parquet lake: its paths, the write-audit-publish step that replaces a table atomically, and every
piece of bookkeeping kept in it. Only ``jobs/`` (and the application on top) import this package.

Layout under the lake root::

    bronze/<feed>/<YYYY-MM-DD>/<file>         raw files as delivered, never modified
    bronze/_manifest.parquet                  one row per landed file (path, sha256, bytes, landed_at)
    silver/<table>/week_start=YYYY-MM-DD/     typed, de-duplicated, masked records
    silver/quarantine/                        rejected records with file, line, reason, masked text
    gold/<table>/week_start=YYYY-MM-DD/       published features, scores, alerts
    outputs/briefings/, outputs/mail/          human-facing outputs
    _staging/                                 tables being written; never read by analysts
    _quality/                                 the silver audit's validated state and Data Docs

Modules, one responsibility each:

- :mod:`~fengqiao.lake.paths`: :class:`Lake` (where everything is), the feeds and their silver tables;
- :mod:`~fengqiao.lake.publish`: staging, the atomic swap of a table, recovery, atomic file replacement;
- :mod:`~fengqiao.lake.partitions`: week partitions and fingerprints (what changed since a run);
- :mod:`~fengqiao.lake.tables`: reading and writing tables (Parquet layout, pandas and Spark);
- bookkeeping: :mod:`~fengqiao.lake.bronze` (manifest, refused entries, extract watermark),
  :mod:`~fengqiao.lake.ledgers` (bronze files merged into silver), :mod:`~fengqiao.lake.markers`
  (a gold table's inputs), :mod:`~fengqiao.lake.validated` (partitions the audit passed),
  :mod:`~fengqiao.lake.quarantine` (reading the rejects).

The names below are the package's everyday interface (``from fengqiao.lake import Lake, read_table``);
the bookkeeping modules are imported by name.
"""
from fengqiao.lake.partitions import (file_sha256, partition_fingerprints, tree_fingerprint, week_of_partition,
                                      week_partitions)
from fengqiao.lake.paths import FEEDS, SILVER_KEYS, SILVER_TABLES, Lake
from fengqiao.lake.publish import (STALE_STAGING_SECONDS, clean_stale_staging, link_or_copy_tree, publish_directory,
                                   recover_interrupted_publish)
from fengqiao.lake.tables import (COMPACT_AT_FILES, MAX_RECORDS_PER_FILE, ROW_GROUP_BYTES, ROW_GROUP_ROWS, SORT_COLUMNS,
                                  SPARK_PARQUET_OPTIONS, for_parquet, read_table, write_spark_table, write_table)

__all__ = [
    "COMPACT_AT_FILES", "FEEDS", "MAX_RECORDS_PER_FILE", "ROW_GROUP_BYTES", "ROW_GROUP_ROWS", "SILVER_KEYS",
    "SILVER_TABLES", "SORT_COLUMNS", "SPARK_PARQUET_OPTIONS", "STALE_STAGING_SECONDS", "Lake", "clean_stale_staging",
    "file_sha256", "for_parquet", "link_or_copy_tree", "partition_fingerprints", "publish_directory", "read_table",
    "recover_interrupted_publish", "tree_fingerprint", "week_of_partition", "week_partitions", "write_spark_table",
    "write_table",
]
