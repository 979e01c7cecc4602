"""The stages of a run, as the Airflow tasks call them.

Each function reads its configuration from :mod:`fengqiao.settings` (environment), calls the job
that does the work, records a short summary in ``<lake>/_runs/stages.jsonl`` and returns it (the
summary becomes the task's XCom). DAG files stay thin: they only wire these together.
"""
from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

from fengqiao.lake import SILVER_TABLES, Lake
from fengqiao.settings import get_settings


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
    from jobs.bronze_land_drops import land_drops

    started, settings, lake = time.time(), get_settings(), _lake()
    counts = land_drops(settings.source_dir, lake, through=_through(), feeds=(feed,))
    return record_stage(lake, f"bronze:{feed}", counts, started)


def build_silver(feed: str) -> dict:
    """Silver: typed, newest version per record, masked; bad records quarantined."""
    import importlib

    from fengqiao.spark import get_spark

    started, lake = time.time(), _lake()
    job = importlib.import_module(f"jobs.silver_{SILVER_TABLES[feed]}")
    # Write-audit-publish: the staged table is checked against its suite before it replaces silver.
    counts = job.run(get_spark(), lake, validate=True)
    return record_stage(lake, f"silver:{feed}", counts, started)


def validate_silver() -> dict:
    """Audit: Great Expectations suites on every silver table; raises with the failed expectations."""
    from fengqiao.spark import get_spark
    from jobs.silver_validate import validate_silver as run_suites

    started, lake = time.time(), _lake()
    results = run_suites(get_spark(), lake)
    return record_stage(lake, "validate", {"suites": len(results)}, started)


def build_features() -> dict:
    from fengqiao.spark import get_spark
    from jobs.gold_region_week_features import run

    started, lake = time.time(), _lake()
    counts = run(get_spark(), lake, through=_through())
    return record_stage(lake, "features", counts, started)


def score_regions() -> dict:
    from jobs.gold_risk_scores import run
    from models.bootstrap import ensure_model

    started, settings, lake = time.time(), get_settings(), _lake()
    version = ensure_model(settings.model_dir)
    counts = run(lake, settings.model_dir, through=_through())
    return record_stage(lake, "scores", {"model_version": version, **counts}, started)


def publish_briefing(week_start: str | None = None) -> dict:
    from jobs.output_briefing import run

    started, lake = time.time(), _lake()
    path = run(lake, dt.date.fromisoformat(week_start) if week_start else None)
    return record_stage(lake, "briefing", {"path": str(Path(path).relative_to(lake.root))}, started)


def send_alerts(week_start: str | None = None) -> dict:
    from jobs.output_alerts import run

    started, lake = time.time(), _lake()
    counts = run(lake, dt.date.fromisoformat(week_start) if week_start else None)
    return record_stage(lake, "alerts", counts, started)
