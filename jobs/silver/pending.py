"""Which landed bronze files a silver table has not merged yet: the cheap check before a silver build.

A scheduled ingest run that lands nothing new must not rebuild silver, or it would announce a new
version of the table (an Airflow asset event) and start the whole chain downstream for nothing. This
reads only the bronze manifest and the two ledgers of merged files (the table's and the feed's
quarantine's), the same sets :func:`jobs.silver.publish.run_silver_job` compares, without Spark.
"""
from __future__ import annotations

import datetime as dt
import importlib

from fengqiao.lake import SILVER_TABLES, Lake
from fengqiao.lake.ledgers import feed_manifest, ledger_written_at, read_ledger


def unmerged_bronze_files(lake: Lake, feed: str) -> list[str]:
    """Bronze paths of ``feed`` landed but not yet merged into its silver table or quarantine."""
    table = SILVER_TABLES[feed]
    suffixes = importlib.import_module(f"jobs.silver.{table}").SUFFIXES
    available = feed_manifest(lake, feed, suffixes)
    merged = read_ledger(lake.silver(table)) or set()
    quarantined = read_ledger(lake.quarantine_partition(feed)) or set()
    return sorted({path for path, _sha in (available - merged) | (available - quarantined)})


def tables_published_since(lake: Lake, moment: dt.datetime) -> list[str]:
    """Silver tables whose ledger was written at or after ``moment``: each publish writes it with the rows."""
    since = moment.timestamp()
    return [table for table in SILVER_TABLES.values()
            if (written := ledger_written_at(lake.silver(table))) is not None and written >= since]
