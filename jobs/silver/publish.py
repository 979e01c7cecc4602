"""Publishing a silver table: the shared tail of the three silver jobs (read, clean, merge, audit, publish).

Incremental merge (:func:`run_silver_job`): each silver table folder holds the ledger of the bronze files
merged into it (:mod:`fengqiao.lake.ledgers`); the feed's quarantine partition holds its own. A run reads
only the manifest's files missing from either ledger. Their records are cleaned as in a full build,
then merged week by week (:func:`jobs.silver.merge.merge_silver`). The new table is staged whole:
rebuilt weeks written by Spark, untouched weeks hard-linked (copied if links are impossible) from the
published table, and the updated ledger; then ``publish_directory`` swaps the folder in with two
renames. Readers therefore see the old or the new table, never a mix, and a crash anywhere leaves the
old one (the files of a published table are never modified in place, so sharing them by hard link is
safe). The quarantine partition is staged the same way: its published files linked, the new rejects
added. Nothing new in the manifest: nothing is read or written.
"""
from __future__ import annotations

import shutil
import time

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from fengqiao.core.spark import read_parquet, release_memory
from fengqiao.lake import (SILVER_KEYS, Lake, clean_stale_staging, publish_directory, recover_interrupted_publish,
                           week_of_partition, write_spark_table)
from fengqiao.lake.ledgers import feed_manifest, read_ledger, write_ledger
from fengqiao.lake.validated import record_validated
from jobs.silver.merge import day_prefixes, merge_silver
from jobs.silver.quarantine import publish_quarantine
from jobs.silver.records import load_regions
from jobs.silver.validate import raise_on_failures, suite_hash, validate_frame


def publish_silver(spark: SparkSession, df: DataFrame, lake: Lake, table: str, validate: bool = False,
                   merge: dict | None = None, ledger: set[tuple[str, str]] | None = None,
                   step_seconds: dict | None = None) -> int:
    """Write ``df`` to staging, optionally audit it with its expectation suite, then publish it.

    With ``validate`` a failed suite raises SilverValidationError and the previous table stays
    in place (write-audit-publish); without it the separate validation stage audits the table.
    With ``merge`` (key, schema, drop_prefixes) ``df`` holds only new records and is merged into the
    existing table (:func:`merge_silver`); ``ledger`` is written into the staged table. ``merge``
    gets the merge's counts and rebuilt ``weeks`` added, and ``validate`` then audits only the
    rebuilt weeks (the untouched ones are the published, already audited files). ``step_seconds`` gets
    the time of the build-and-write (``write``: reading bronze, cleaning, merging, writing) and ``audit``.
    """
    steps = step_seconds if step_seconds is not None else {}
    started = time.perf_counter()
    staged = lake.new_staging_path(f"silver-{table}")
    try:
        if merge is not None:
            merge.update(merge_silver(spark, df, lake, table, merge["key"], merge["schema"],
                                      merge["drop_prefixes"], staged))
        else:
            write_spark_table(df, staged)
        if ledger is not None:
            write_ledger(staged, ledger)
        # From the written files (no second pass over bronze); the schema given, so an empty table reads too.
        written = read_parquet(spark, staged, schema=df.schema)
        steps["write"] = round(time.perf_counter() - started, 1)
        if validate:
            audited = written
            if merge is not None:
                # Only the rebuilt weeks: the hard-linked ones are the published table's files, audited when
                # they were published, so the audit costs the same at year 3 as at year 1. Keys stay unique
                # across weeks without looking at the others: a new record whose key sits in an older week
                # rebuilds that week too (merge_silver), so no key can be in a rebuilt and an untouched week.
                # A folder not named by a date (Hive's null partition) cannot be an untouched week: audited.
                rebuilt = {f"week_start={w}" for w in merge["weeks"]}
                folders = [p for p in sorted(staged.glob("week_start=*")) if p.is_dir()
                           and (p.name in rebuilt or week_of_partition(p.name) is None)]
                audited = read_parquet(spark, folders, schema=df.schema, base_path=staged) if folders else None
            if audited is not None:  # None: the merge only emptied weeks (all their rows moved or forgotten)
                raise_on_failures([validate_frame(audited, f"silver_{table}")])
            passed = ([p.name for p in folders] if merge is not None else
                      [p.name for p in staged.glob("week_start=*") if p.is_dir()])
            steps["audit"] = round(time.perf_counter() - started - steps["write"], 1)
        rows = written.count()
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    publish_directory(staged, lake.silver(table))
    if validate:
        # The audit stage need not check these files again.
        record_validated(lake, table, passed, suite_hash(f"silver_{table}"))
    return rows


def run_silver_job(spark: SparkSession, lake: Lake, feed: str, table: str, read, clean, suffixes: tuple[str, ...],
                   validate: bool = False, forget_days=()) -> dict:
    """The shared tail of the three silver jobs: read, clean, publish the table and the feed's quarantine.

    ``read(spark, lake, files)`` is the job's I/O edge: the parsed bronze rows and the quarantine rows of
    files that could not be read at all (or None); ``clean(raw, regions_df)`` its pure transform: (silver
    rows, rejected rows). The table and the quarantine are two Spark jobs over one evaluation of the records:
    the clean functions keep their checked records in a lazy local checkpoint (jobs.silver.rules.check_records),
    because the quarantine's rules read the masked text and the pseudonyms, and parsing, masking and hashing
    every record a second time cost as much as the first (city drop: 110 s of the hotline's 227 s; keeping only
    the parsed rows, before masking, had saved nothing on an earlier simulated province).

    Incremental: only bronze files (manifest path + sha256) not yet in the table's ledger, or not
    yet in the quarantine's, are read; their records are merged into the table (changed weeks only)
    and their rejects added to the quarantine. A table without a ledger (first run, or written by an
    older version) is built from all the feed's files. Nothing new: nothing is written and the summary
    says ``new_files: 0``. ``forget_days`` (backfill) drops the table's and quarantine's rows from those
    day folders and their ledger entries before merging the files landed again.
    """
    target, q_target = lake.silver(table), lake.quarantine_partition(feed)
    clean_stale_staging(lake)
    recover_interrupted_publish(target)
    recover_interrupted_publish(q_target)
    available = feed_manifest(lake, feed, suffixes)
    silver_ledger, q_ledger = read_ledger(target), read_ledger(q_target)
    full = silver_ledger is None or q_ledger is None or not target.is_dir()
    prefixes = day_prefixes(feed, forget_days)
    if full:
        silver_ledger, q_ledger, prefixes = set(), set(), []
    forgotten = {e for e in silver_ledger | q_ledger if any(e[0].startswith(p) for p in prefixes)}
    silver_ledger, q_ledger = silver_ledger - forgotten, q_ledger - forgotten
    todo = (available - silver_ledger) | (available - q_ledger)
    if not todo and not forgotten:
        return {"table": table, "new_files": 0, "changed": False}

    files = sorted({lake.root / path for path, _ in todo})
    started = time.perf_counter()
    raw, unreadable = read(spark, lake, files)
    silver, quarantine = clean(raw, load_regions(spark, lake))
    if unreadable is not None:
        quarantine = quarantine.unionByName(unreadable)
    merge = None if full else {"key": SILVER_KEYS[table], "schema": silver.schema, "drop_prefixes": prefixes}
    # Where the time goes, in the run log (progress on a long step shows in it). ``check``: planning, and for
    # CSV feeds the checked records themselves (their rejects' files are collected for line numbers).
    steps: dict = {"check": round(time.perf_counter() - started, 1)}
    rows = publish_silver(spark, silver, lake, table, validate=validate, merge=merge, ledger=silver_ledger | todo,
                          step_seconds=steps)
    started = time.perf_counter()
    # Rejects of files already in the quarantine (a run killed between the two publishes) are not added twice.
    done = sorted({path for path, _ in todo} - {path for path, _ in available - q_ledger})
    if done:
        quarantine = quarantine.where(~F.col("source_file").isin(*done))
    rejected = publish_quarantine(spark, quarantine, lake, feed, incremental=not full, drop_prefixes=prefixes,
                                  ledger=q_ledger | todo)
    steps["quarantine"] = round(time.perf_counter() - started, 1)
    release_memory(spark)
    summary = {"table": table, "new_files": len(todo), "rows": rows, "quarantined": sum(rejected.values()),
               "quarantine_reasons": rejected, "mode": "full" if full else "incremental", "step_seconds": steps}
    if merge is not None:
        summary.update(changed_weeks=merge["changed_weeks"], unchanged_weeks=merge["unchanged_weeks"])
    if forgotten or prefixes:
        summary["forgotten_files"] = len(forgotten)
    return summary
