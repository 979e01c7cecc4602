"""The stages of a run, as the Airflow tasks call them.

Each function takes the run's :class:`~fengqiao.core.settings.Settings`, or builds them once from the
environment when called without (an Airflow task, ``jobs/submit.py``), passes them to the job that does
the work, records a short summary in ``<lake>/_runs/stages.jsonl`` and returns it (the summary becomes the
task's XCom). DAG files stay thin: they only wire these together.

The jobs are imported inside the stage that runs them: every DAG file imports this module each time it is
parsed, and Spark, scikit-learn or the simulator load only in the task that needs them.
"""
from __future__ import annotations

import datetime as dt
import importlib
import json
import time
import zoneinfo
from dataclasses import replace
from pathlib import Path
from typing import Callable

from fengqiao.core.settings import Settings
from fengqiao.core.spark import get_spark
from fengqiao.lake import FEEDS, SILVER_TABLES, Lake


def _begin(settings: Settings | None) -> tuple[float, Settings, Lake]:
    """When the stage started, its settings (built here, once, when the caller gave none) and its lake."""
    settings = settings or Settings.from_env()
    return time.time(), settings, Lake.at(settings.lake_dir)


def _through(settings: Settings) -> dt.date | None:
    return dt.date.fromisoformat(settings.through) if settings.through else None


def _week(week_start: str | None) -> dt.date | None:
    return dt.date.fromisoformat(week_start) if week_start else None


def record_stage(lake: Lake, stage: str, summary: dict, started: float) -> dict:
    """Append a stage's summary (counts only, never record contents) to the run log."""
    summary = {"stage": stage, "seconds": round(time.time() - started, 1), **summary}
    lake.run_log.mkdir(parents=True, exist_ok=True)
    with open(lake.run_log / "stages.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(summary, ensure_ascii=False, default=str) + "\n")
    return summary


def land_feed(feed: str, settings: Settings | None = None) -> dict:
    """Bronze: copy the feed's new, complete day folders (and reference/) into the lake."""
    from jobs.bronze.land_drops import land_drops  # at task run, not DAG parse (module docstring)

    started, settings, lake = _begin(settings)
    counts = land_drops(settings.source_dir, lake, through=_through(settings), feeds=(feed,))
    return record_stage(lake, f"bronze:{feed}", counts, started)


def extract_work_orders_db(settings: Settings | None = None) -> dict:
    """Bronze: land the work orders changed since the last extract from the order system's PostgreSQL table.

    A no-op (with the reason in the log and the summary) when ``FENGQIAO_WORKORDERS_DSN`` is not set.
    """
    started, settings, lake = _begin(settings)
    if not settings.workorders_dsn:
        reason = "FENGQIAO_WORKORDERS_DSN is not set: the work-order database is not read, only file drops"
        print(f"work-order database: skipped; {reason}")
        return record_stage(lake, "bronze:workorders-db", {"skipped": reason}, started)
    from jobs.bronze.extract_work_orders_db import extract_work_orders  # at task run: psycopg

    through = _through(settings)
    # A replayed run (FENGQIAO_THROUGH) reads only what had been updated by the end of that day.
    until = (dt.datetime.combine(through + dt.timedelta(days=1), dt.time(), zoneinfo.ZoneInfo(settings.timezone))
             if through else None)
    counts = extract_work_orders(settings.workorders_dsn, lake, table=settings.workorders_table,
                                 overlap_seconds=settings.workorders_overlap_seconds,
                                 batch_rows=settings.workorders_batch_rows, until=until, timezone=settings.timezone)
    return record_stage(lake, "bronze:workorders-db", counts, started)


def silver_has_new_files(feed: str, settings: Settings | None = None) -> bool:
    """True when bronze holds files of ``feed`` that silver has not merged: the scheduled ingest runs the
    silver build (and announces a new table) only then."""
    from jobs.silver.pending import unmerged_bronze_files  # at task run: the silver jobs' Spark

    pending = unmerged_bronze_files(_begin(settings)[2], feed)
    print(f"silver:{feed}: {len(pending)} landed file(s) not yet merged" + ("" if pending else "; nothing to build"))
    return bool(pending)


def silver_tables_published_since(moment: dt.datetime, settings: Settings | None = None) -> list[str]:
    """Silver tables published at or after ``moment`` (their ledger of merged files is rewritten by every publish)."""
    from jobs.silver.pending import tables_published_since  # at task run: the silver jobs' Spark

    return tables_published_since(_begin(settings)[2], moment)


def build_silver(feed: str, forget_days=(), settings: Settings | None = None) -> dict:
    """Silver: merge the bronze files not yet merged (typed, newest version per record, masked; bad
    records quarantined). Nothing new: returns ``new_files: 0`` and writes nothing.
    ``forget_days`` (backfill): re-merge those day folders from scratch."""
    started, settings, lake = _begin(settings)
    # At task run (module docstring); the feed names its job module.
    job = importlib.import_module(f"jobs.silver.{SILVER_TABLES[feed]}")
    # Write-audit-publish: the staged table is checked against its suite before it replaces silver.
    counts = job.run(get_spark(settings=settings), lake, settings, validate=True, forget_days=tuple(forget_days))
    return record_stage(lake, f"silver:{feed}", counts, started)


def validate_silver(settings: Settings | None = None) -> dict:
    """Audit: Great Expectations suites on every silver table; raises with the failed expectations."""
    from jobs.silver.validate import partition_counts, row_count_warnings  # at task run (module docstring)
    from jobs.silver.validate import validate_silver as run_suites

    started, settings, lake = _begin(settings)
    results = run_suites(get_spark(settings=settings), lake)
    # Row counts warn, they do not stop. partitions: week partitions validated by this run, and skipped as
    # validated before and unchanged.
    return record_stage(lake, "validate", {"suites": len(results), "row_count_warnings": row_count_warnings(results),
                                           "partitions": partition_counts(results)}, started)


def build_features(settings: Settings | None = None) -> dict:
    from jobs.gold.region_week_features import run  # at task run, not DAG parse (module docstring)

    started, settings, lake = _begin(settings)
    counts = run(get_spark(settings=settings), lake, through=_through(settings))
    return record_stage(lake, "features", counts, started)


def build_feed_health(settings: Settings | None = None) -> dict:
    """gold/feed_health: per feed and county, freshness and volume against its own history; outages."""
    from jobs.gold.feed_health import run  # at task run, not DAG parse (module docstring)

    started, settings, lake = _begin(settings)
    counts = run(lake, through=_through(settings))
    return record_stage(lake, "feed_health", counts, started)


def lake_builder(settings: Settings, echo=print) -> Callable[[Path, Path], None]:
    """``build_lake(source_dir, lake_dir)`` for :func:`jobs.training.bootstrap.ensure_model`: bronze, silver
    (audited) and features of that drop into that lake, with a copy of ``settings`` pointed at them (every
    ready day: no ``through``)."""
    def build_lake(source_dir: Path, lake_dir: Path) -> None:
        drop = replace(settings, source_dir=Path(source_dir), lake_dir=Path(lake_dir), through=None)
        for feed in FEEDS:
            echo(f"  landing and cleaning {feed} …")
            land_feed(feed, drop)
            build_silver(feed, settings=drop)
        echo("  building features …")
        build_features(drop)

    return build_lake


def ensure_model(settings: Settings | None = None, echo=print) -> dict:
    """The scoring DAG's first task: the current model's version, training and registering one first (once)
    when the registry is empty. Not in the run log: the run's output and the scores' summary name the model."""
    from jobs.training import bootstrap  # at task run: scikit-learn and the simulator

    settings = settings or Settings.from_env()
    return {"model_version": bootstrap.ensure_model(settings.model_dir, lake_builder(settings, echo), echo=echo)}


def score_regions(settings: Settings | None = None) -> dict:
    """Score with the current model (the scoring DAG's ensure_model task registers one first)."""
    from jobs.gold.risk_scores import run  # at task run, not DAG parse (module docstring)

    started, settings, lake = _begin(settings)
    # The job also marks regions of a county with a feed outage (gold/feed_health) before it writes.
    counts = run(lake, settings.model_dir, through=_through(settings), budget_share=settings.alert_budget_share)
    return record_stage(lake, "scores", counts, started)


def publish_briefing(week_start: str | None = None, settings: Settings | None = None) -> dict:
    from jobs.outputs.briefing import run  # at task run, not DAG parse (module docstring)

    started, settings, lake = _begin(settings)
    path = run(lake, _week(week_start))
    return record_stage(lake, "briefing", {"path": str(Path(path).relative_to(lake.root))}, started)


def send_alerts(week_start: str | None = None, settings: Settings | None = None) -> dict:
    from jobs.outputs.alerts import run  # at task run, not DAG parse (module docstring)

    started, settings, lake = _begin(settings)
    counts = run(lake, settings, _week(week_start))
    counts = {k: v for k, v in counts.items() if k != "bureau_problems"}
    return record_stage(lake, "alerts", counts, started)


def backfill(start: dt.date, end: dt.date, settings: Settings | None = None) -> dict:
    """Rebuild the day folders ``start``..``end`` on purpose, then features and scores.

    For each feed: the ready source day folders in the range are landed again even though the
    manifest has them (their manifest rows and bronze copies are forgotten first); the silver job then
    forgets their merged-file entries, drops the silver and quarantine rows from those days and merges
    the files landed again. Features and scores rebuild because silver changed. Days whose source
    folder is missing or not ready are left untouched. Safe to run again if interrupted.
    The model must be registered first (:func:`ensure_model`).
    """
    from jobs.bronze.land_drops import land_drops  # at task run, not DAG parse (module docstring)

    if end < start:
        raise ValueError(f"backfill range ends ({end}) before it starts ({start})")
    _, settings, lake = _begin(settings)
    summary: dict = {"from": start.isoformat(), "to": end.isoformat(), "feeds": {}}
    for feed in SILVER_TABLES:
        started = time.time()
        landed = land_drops(settings.source_dir, lake, through=end, since=start, feeds=(feed,), reland=True)
        days = landed.get("relanded_days", {}).get(feed, [])
        record_stage(lake, f"backfill-bronze:{feed}", {k: v for k, v in landed.items() if k != "per_feed"}, started)
        silver = build_silver(feed, forget_days=days, settings=settings)
        summary["feeds"][feed] = {"days": len(days), "landed": landed["landed"], "new_files": silver.get("new_files"),
                                  "rows": silver.get("rows")}
    # Each table merged above was audited in staging before it was published (build_silver validates).
    summary["feed_health"] = build_feed_health(settings)
    summary["features"] = build_features(settings)
    summary["scores"] = score_regions(settings)
    return summary


def ingest_dispositions(settings: Settings | None = None) -> dict:
    """Store what bureaus reported back about earlier alerts (file drop in the lake's inbox)."""
    from jobs.gold.alert_dispositions import run  # at task run, not DAG parse (module docstring)

    started, settings, lake = _begin(settings)
    counts = run(lake, settings)
    counts = {k: v for k, v in counts.items() if k not in ("rejections", "folder", "held_files")}
    return record_stage(lake, "dispositions", counts, started)


def find_emerging_hotspots(settings: Settings | None = None) -> dict:
    """Getis-Ord Gi* per week on the township graph and Mann-Kendall trends -> gold/hotspot_patterns."""
    from jobs.gold.hotspot_patterns import run  # at task run, not DAG parse (module docstring)

    started, settings, lake = _begin(settings)
    counts = run(lake, through=_through(settings))
    return record_stage(lake, "hotspots", {k: v for k, v in counts.items() if isinstance(v, (int, float, str))}, started)
