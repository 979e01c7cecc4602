"""What the weekly briefing is made of, read from the lake (:class:`fengqiao.render.briefing.BriefingInputs`).

Missing tables are None (the briefing says so); the silver hotline calls are read for the week and its
8-week baseline only, and never their personal columns. Quarantined records are counted, never shown: only
their feed, reason and day are read (never ``raw_masked``).
"""
from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pyarrow.dataset as ds

from features import KEY_COLUMNS, TYPE_COUNT_COLUMNS
from fengqiao.core.regions import read_bureaus, read_regions
from fengqiao.lake import Lake, read_table
from fengqiao.render.briefing import BriefingInputs
from fengqiao.render.briefing.frames import COUNT_COLUMNS, baseline_weeks
from fengqiao.render.common import as_date, latest_scored_week
from jobs.gold.response_rates import response_rates

_DAY_IN_PATH = re.compile(r"(\d{4}-\d{2}-\d{2})")


def read_briefing_inputs(lake: Lake, week_start: dt.date | str | None = None) -> BriefingInputs:
    """The inputs of the briefing of ``week_start`` (default: the latest scored week)."""
    scores = read_table(lake.gold("risk_scores"))
    week = as_date(week_start) if week_start is not None else latest_scored_week(scores)
    bureaus_path = lake.reference / "bureaus.csv"
    return BriefingInputs(
        week=week,
        scores=scores,
        features=_read_features(lake),
        regions=read_regions(lake.reference / "regions.csv"),
        bureaus=read_bureaus(bureaus_path) if bureaus_path.exists() else None,
        manifest=_read_manifest(lake),
        quarantine=_read_quarantine(lake),
        feed_health=_read_feed_health(lake),
        hotline_calls=_read_hotline_calls(lake, [week, *baseline_weeks(week)]),
        response_rates=_read_response_rates(lake),
    )


def _read_features(lake: Lake) -> pd.DataFrame:
    """The count columns the briefing needs, plus the type, wage-arrears and repeat-caller columns
    when the table has them (older tables may not)."""
    path = lake.gold("region_week_features")
    try:
        available = set(ds.dataset(path, format="parquet", partitioning="hive", exclude_invalid_files=True,
                                   ignore_prefixes=[".", "_"]).schema.names)
    except (FileNotFoundError, OSError):
        available = set()
    optional = [c for c in (*TYPE_COUNT_COLUMNS, "wage_arrears", "repeat_caller_share") if c in available]
    return read_table(path, columns=[*KEY_COLUMNS, *COUNT_COLUMNS, *optional])


def _read_manifest(lake: Lake) -> pd.DataFrame | None:
    path = lake.bronze_manifest
    if not path.exists():
        return None
    manifest = pd.read_parquet(path, columns=["feed", "day"])
    manifest["day"] = pd.to_datetime(manifest["day"].astype(str), errors="coerce").dt.date
    return manifest


def _read_quarantine(lake: Lake) -> pd.DataFrame | None:
    """feed, reason and the day each record came in (from its file's day folder, else when quarantined)."""
    path = lake.quarantine
    if not path.exists():
        return None
    if not any(path.rglob("*.parquet")):  # published empty: nothing was rejected
        return pd.DataFrame({"feed": [], "reason": [], "day": []})
    # Never read raw_masked: the briefing counts rejected records, it does not show them.
    quarantine = read_table(path, columns=["feed", "source_file", "reason", "quarantined_at"])
    from_path = quarantine["source_file"].astype(str).str.extract(_DAY_IN_PATH, expand=False)
    day = pd.to_datetime(from_path, errors="coerce")
    landed = pd.to_datetime(quarantine["quarantined_at"], errors="coerce", utc=True)
    day = day.fillna(landed.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None))
    quarantine["day"] = day.dt.date
    quarantine["feed"] = quarantine["feed"].astype(str)
    return quarantine


def _read_feed_health(lake: Lake) -> pd.DataFrame | None:
    try:
        return read_table(lake.gold("feed_health"))
    except FileNotFoundError:
        return None


def _read_hotline_calls(lake: Lake, weeks: list[dt.date]) -> pd.DataFrame | None:
    """Hotline calls of ``weeks`` from silver (county, dispute type and week only), or None."""
    path = lake.silver("hotline_calls")
    if not path.exists():
        return None
    try:
        wanted = [w.isoformat() for w in weeks]
        return read_table(path, columns=["county_code", "dispute_type", "week_start"],
                          filters=ds.field("week_start").cast("string").isin(wanted))
    except Exception:  # noqa: BLE001 (an unreadable silver table is no reason to lose the briefing)
        return None


def _read_response_rates(lake: Lake) -> pd.DataFrame:
    try:
        return response_rates(lake)
    except FileNotFoundError:
        return pd.DataFrame()
