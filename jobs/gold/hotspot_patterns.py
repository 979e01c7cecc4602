"""gold/hotspot_patterns: emerging hot spot category of every township, for every week (rolling window).

Reads gold/region_week_features and the lake's reference/regions.csv (township seats for the neighbour graph,
population for per-capita rates); never reads ``truth/``. For each week that closes a full window of
``window_weeks`` weeks (default 12), every township with a seat gets its category from
:func:`models.hotspots.hotspot_patterns` (Getis-Ord Gi* per week with 99 seeded permutations, Mann-Kendall
trend over the window, ArcGIS emerging hot spot categories). The Gi* of each week is computed once, so all
weeks are rewritten on each run (~0.05 s a week for 200 townships, ~0.25 s for 1,800, plus ~10 s to import
esda). Partitioned by ``week_start`` (the last week of the window).
"""
from __future__ import annotations

import pandas as pd
import pyarrow.dataset as ds

from fengqiao.lake import Lake, for_parquet, read_table, write_table
from fengqiao.core.regions import read_regions
from fengqiao.core.schemas import HOTSPOT_PATTERNS
from fengqiao.core.weeks import week_start as monday_of
from models.hotspots import WINDOW_WEEKS, hotspot_patterns

TABLE = "hotspot_patterns"


def run(lake: Lake, through=None, window_weeks: int = WINDOW_WEEKS, value: str = "rate") -> dict:
    """Build and publish gold/hotspot_patterns; returns a summary of the latest week."""
    features = read_table(lake.gold("region_week_features"), filters=ds.field("level") == "township")
    if through is not None:
        features = features[features["week_start"] <= monday_of(pd.Timestamp(str(through)).date())]
    regions = read_regions(lake.reference / "regions.csv")
    patterns = hotspot_patterns(features, regions, window_weeks=window_weeks, value=value, all_weeks=True)
    path = write_table(for_parquet(patterns, HOTSPOT_PATTERNS), lake, "gold", TABLE)
    latest = patterns[patterns["week_start"] == patterns["week_start"].max()] if len(patterns) else patterns
    return {
        "table": str(path),
        "rows": int(len(patterns)),
        "weeks": int(patterns["week_start"].nunique()) if len(patterns) else 0,
        "first_week": str(patterns["week_start"].min()) if len(patterns) else None,
        "last_week": str(patterns["week_start"].max()) if len(patterns) else None,
        "latest_categories": {str(k): int(v) for k, v in latest["category"].value_counts().items()},
    }
