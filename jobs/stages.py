"""The stages of a run, as the Airflow tasks call them.

Each function reads its configuration from :mod:`fengqiao.core.settings` (environment), calls the job
that does the work, records a short summary in ``<lake>/_runs/stages.jsonl`` and returns it (the
summary becomes the task's XCom). DAG files stay thin: they only wire these together.
"""
from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

from fengqiao.lake import SILVER_TABLES, Lake
from fengqiao.core.settings import get_settings


def _lake() -> Lake:
    return Lake.at(get_settings().lake_dir)


def _through() -> dt.date | None:
    through = get_settings().through
    return dt.date.fromisoformat(through) if through else None


def record_stage(lake: Lake, stage: str, summary: dict, started: float) -> dict:
    """Append a stage's summary (counts only, never record contents) to the run log."""
    summary = {"stage": stage, "seconds": round(time.time() - started, 1), **summary}
    lake.run_log.mkdir(parents=True, exist_ok=True)
    with open(lake.run_log / "stages.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(summary, ensure_ascii=False, default=str) + "\n")
    return summary


def land_feed(feed: str) -> dict:
    """Bronze: copy the feed's new, complete day folders (and reference/) into the lake."""
    from jobs.bronze.land_drops import land_drops

    started, settings, lake = time.time(), get_settings(), _lake()
    counts = land_drops(settings.source_dir, lake, through=_through(), feeds=(feed,))
    return record_stage(lake, f"bronze:{feed}", counts, started)


def extract_work_orders_db() -> dict:
    """Bronze: land the work orders changed since the last extract from the order system's PostgreSQL table.

    A no-op (with the reason in the log and the summary) when ``FENGQIAO_WORKORDERS_DSN`` is not set.
    """
    started, settings, lake = time.time(), get_settings(), _lake()
    if not settings.workorders_dsn:
        reason = "FENGQIAO_WORKORDERS_DSN is not set: the work-order database is not read, only file drops"
        print(f"work-order database: skipped; {reason}")
        return record_stage(lake, "bronze:workorders-db", {"skipped": reason}, started)
    import zoneinfo

    from jobs.bronze.extract_work_orders_db import extract_work_orders

    through = _through()
    # A replayed run (FENGQIAO_THROUGH) reads only what had been updated by the end of that day.
    until = (dt.datetime.combine(through + dt.timedelta(days=1), dt.time(), zoneinfo.ZoneInfo(settings.timezone))
             if through else None)
    counts = extract_work_orders(settings.workorders_dsn, lake, table=settings.workorders_table,
                                 overlap_seconds=settings.workorders_overlap_seconds,
                                 batch_rows=settings.workorders_batch_rows, until=until, timezone=settings.timezone)
    return record_stage(lake, "bronze:workorders-db", counts, started)


def silver_has_new_files(feed: str) -> bool:
    """True when bronze holds files of ``feed`` that silver has not merged: the scheduled ingest runs the
    silver build (and announces a new table) only then."""
    from jobs.silver.pending import unmerged_bronze_files

    pending = unmerged_bronze_files(_lake(), feed)
    print(f"silver:{feed}: {len(pending)} landed file(s) not yet merged" + ("" if pending else "; nothing to build"))
    return bool(pending)


def silver_tables_published_since(moment: dt.datetime) -> list[str]:
    """Silver tables published at or after ``moment`` (their ledger of merged files is rewritten by every publish)."""
    from jobs.silver.pending import tables_published_since

    return tables_published_since(_lake(), moment)


def build_silver(feed: str, forget_days=()) -> dict:
    """Silver: merge the bronze files not yet merged (typed, newest version per record, masked; bad
    records quarantined). Nothing new: returns ``new_files: 0`` and writes nothing.
    ``forget_days`` (backfill): re-merge those day folders from scratch."""
    import importlib

    from fengqiao.core.spark import get_spark

    started, lake = time.time(), _lake()
    job = importlib.import_module(f"jobs.silver.{SILVER_TABLES[feed]}")
    # Write-audit-publish: the staged table is checked against its suite before it replaces silver.
    counts = job.run(get_spark(), lake, validate=True, forget_days=tuple(forget_days))
    return record_stage(lake, f"silver:{feed}", counts, started)


def validate_silver() -> dict:
    """Audit: Great Expectations suites on every silver table; raises with the failed expectations."""
    from fengqiao.core.spark import get_spark
    from jobs.silver.validate import validate_silver as run_suites

    started, lake = time.time(), _lake()
    results = run_suites(get_spark(), lake)
    from jobs.silver.validate import partition_counts, row_count_warnings  # row counts warn, they do not stop

    # partitions: week partitions validated by this run, and skipped as validated before and unchanged.
    return record_stage(lake, "validate", {"suites": len(results), "row_count_warnings": row_count_warnings(results),
                                           "partitions": partition_counts(results)}, started)


def build_features() -> dict:
    from fengqiao.core.spark import get_spark
    from jobs.gold.region_week_features import run

    started, lake = time.time(), _lake()
    counts = run(get_spark(), lake, through=_through())
    return record_stage(lake, "features", counts, started)


def build_feed_health() -> dict:
    """gold/feed_health: per feed and county, freshness and volume against its own history; outages."""
    from jobs.gold.feed_health import run

    started, lake = time.time(), _lake()
    counts = run(lake, through=_through())
    return record_stage(lake, "feed_health", counts, started)


def score_regions() -> dict:
    from jobs.gold.risk_scores import run
    from jobs.training.bootstrap import ensure_model

    started, settings, lake = time.time(), get_settings(), _lake()
    version = ensure_model(settings.model_dir)
    # The job also marks regions of a county with a feed outage (gold/feed_health) before it writes.
    counts = run(lake, settings.model_dir, through=_through())
    return record_stage(lake, "scores", {"model_version": version, **counts}, started)


def publish_briefing(week_start: str | None = None) -> dict:
    from jobs.outputs.briefing import run

    started, lake = time.time(), _lake()
    path = run(lake, dt.date.fromisoformat(week_start) if week_start else None)
    return record_stage(lake, "briefing", {"path": str(Path(path).relative_to(lake.root))}, started)


def send_alerts(week_start: str | None = None) -> dict:
    from jobs.outputs.alerts import run

    started, lake = time.time(), _lake()
    counts = run(lake, dt.date.fromisoformat(week_start) if week_start else None)
    counts = {k: v for k, v in counts.items() if k != "bureau_problems"}
    return record_stage(lake, "alerts", counts, started)


def backfill(start: dt.date, end: dt.date) -> dict:
    """Rebuild the day folders ``start``..``end`` on purpose, then features and scores.

    For each feed: the ready source day folders in the range are landed again even though the
    manifest has them (their manifest rows and bronze copies are forgotten first); the silver job then
    forgets their merged-file entries, drops the silver and quarantine rows from those days and merges
    the files landed again. Features and scores rebuild because silver changed. Days whose source
    folder is missing or not ready are left untouched. Safe to run again if interrupted.
    """
    from jobs.bronze.land_drops import land_drops

    if end < start:
        raise ValueError(f"backfill range ends ({end}) before it starts ({start})")
    summary: dict = {"from": start.isoformat(), "to": end.isoformat(), "feeds": {}}
    settings, lake = get_settings(), _lake()
    for feed in SILVER_TABLES:
        started = time.time()
        landed = land_drops(settings.source_dir, lake, through=end, since=start, feeds=(feed,), reland=True)
        days = landed.get("relanded_days", {}).get(feed, [])
        record_stage(lake, f"backfill-bronze:{feed}", {k: v for k, v in landed.items() if k != "per_feed"}, started)
        silver = build_silver(feed, forget_days=days)
        summary["feeds"][feed] = {"days": len(days), "landed": landed["landed"], "new_files": silver.get("new_files"),
                                  "rows": silver.get("rows")}
    # Each table merged above was audited in staging before it was published (build_silver validates).
    summary["feed_health"] = build_feed_health()
    summary["features"] = build_features()
    summary["scores"] = score_regions()
    return summary


def ingest_dispositions() -> dict:
    """Store what bureaus reported back about earlier alerts (file drop in the lake's inbox)."""
    from jobs.gold.alert_dispositions import run

    started, lake = time.time(), _lake()
    counts = run(lake)
    counts = {k: v for k, v in counts.items() if k not in ("rejections", "folder", "held_files")}
    return record_stage(lake, "dispositions", counts, started)


def find_emerging_hotspots() -> dict:
    """Getis-Ord Gi* per week on the township graph and Mann-Kendall trends -> gold/hotspot_patterns."""
    from jobs.gold.hotspot_patterns import run

    started, lake = time.time(), _lake()
    counts = run(lake, through=_through())
    return record_stage(lake, "hotspots", {k: v for k, v in counts.items() if isinstance(v, (int, float, str))}, started)
