"""gold/region_week_features: one row per region × ISO week, at five levels.

Levels (``level``): every township and county of regions.csv, and the city and province above them, every
week; villages only in the weeks whose records name them (an export that places no record in a village
has no village rows: never invented). Every level's counts are sums over its records.

Flow (Spark passes over the silver records: one query for the first and last week, one group-by of
the unioned records, two shuffles of keyed calls for repeat callers, checkpointed together; everything after
that works on the small region × week grid, checkpointed again before the spatial self-join):

    silver calls, orders, cases -> records (union) -> tag levels -> counts + signal inputs  (1 shuffle)
    silver calls -> callers heard again -> repeat callers per region at every level         (2 shuffles)
    regions.csv x weeks -> grid, left-joined to both, zero-filled
      -> signals, referral shares -> dynamics (8-week windows)
    village counts (weeks with records) -> same signals -> dynamics from sums over week numbers
      -> union -> season -> checkpoint -> spatial lags -> contract

Incremental (``run``): the published table records, per silver table, a fingerprint of each week
partition it was built from. A later run rebuilds only from the earliest week whose silver partitions
changed (or that is new) onwards, reading silver from LOOKBACK_WEEKS before it (the 8-week windows and
the 4-week repeat-caller look-back need nothing older); the published weeks before it are hard-linked
into the new version. A weekly run therefore reads ~10 weeks of silver, however long the history.
Anything else (regions.csv, ``through`` moved back, the column list, no usable marker) rebuilds all.

Types (:data:`fengqiao.core.schemas.REGION_WEEK_FEATURES`): counts are bigint, shares/ratios/means double,
the two calendar columns int.
"""
from __future__ import annotations

import datetime as dt
import logging

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from features.counts import weekly_counts
from features.dynamics import HISTORY_WEEKS, add_dynamics, add_sparse_dynamics
from features.grid import (REGION_WEEK, grid_weeks, region_week_grid, regions_frame, tag_levels, village_names,
                           week_bounds, weeks_frame)
from features.records import union_records
from features.referrals import derive_referral_shares, referral_aggregations
from features.season import add_season, season_lookup
from features.signals import REPEAT_LOOKBACK_WEEKS, derive_signals, repeat_calls, signal_aggregations
from features.spatial import add_spatial_features, edges_frame, neighbour_edges
from fengqiao.lake import (SILVER_TABLES, Lake, clean_stale_staging, file_sha256, link_or_copy_tree,
                           partition_fingerprints, publish_directory, recover_interrupted_publish, week_of_partition,
                           week_partitions, write_spark_table)
from fengqiao.lake.markers import read_inputs, write_inputs
from fengqiao.core.regions import read_regions
from fengqiao.core.schemas import (HOTLINE_CALLS, INTEGER_FEATURES, MEDIATION_CASES, REGION_WEEK_FEATURES, WORK_ORDERS,
                                   columns_of, conform)
from fengqiao.core.spark import read_parquet, release_memory
from fengqiao.core.weeks import parse_date, week_start

log = logging.getLogger(__name__)

TABLE = "region_week_features"
OUTPUT_COLUMNS = columns_of(REGION_WEEK_FEATURES)
# Weeks of silver before the first rebuilt week that its features depend on (dynamics, repeat callers).
LOOKBACK_WEEKS = max(HISTORY_WEEKS, REPEAT_LOOKBACK_WEEKS)
# Version of the inputs marker (what the published table was built from: fingerprints of silver and
# regions.csv): 2 holds per-week partition fingerprints (version 1 held one digest per table).
MARKER_VERSION = 2

# Signal helpers that are counts of records, zero when the region had none that week.
_ZERO_FILLED_HELPERS = ["_n_complaints", "_n_repeat_orders", "_n_urgent_orders", "_n_results", "_n_repeat_calls"]


def _through_filter(df: DataFrame, through: dt.date | None) -> DataFrame:
    if through is None:
        return df
    return df.where(F.col("week_start") <= F.lit(week_start(through)))


def build_region_week_features(hotline: DataFrame, orders: DataFrame, cases: DataFrame,
                               regions_pdf: pd.DataFrame, through: dt.date | None = None,
                               since: dt.date | None = None) -> DataFrame:
    """Region × week features from silver frames (schemas in fengqiao.core.schemas) and regions.csv.

    No side effects, but eager in two places: a tiny query for the first and last week (two dates)
    that sizes the grid, and a local checkpoint of the grid-sized frame before the spatial self-join.
    Weeks run from the first week with records to the last, or to ``through``'s week; records after
    ``through``'s week are ignored. Records of townships missing from regions.csv still count in their
    county (county rows aggregate records by county_code), but get no township row.

    ``since`` (a Monday after the first week with records + LOOKBACK_WEEKS): only weeks from ``since``
    on are returned, computed from silver weeks ``since`` - LOOKBACK_WEEKS onwards; the rows equal
    those of a full build (the grid starts at that week, so a quiet week there is a row of zeros).
    """
    spark = hotline.sparkSession
    hotline, orders, cases = (_through_filter(df, through) for df in (hotline, orders, cases))
    read_from = None
    if since is not None:
        read_from = week_start(since) - dt.timedelta(weeks=LOOKBACK_WEEKS)
        # A filter on the partition column: Spark lists and reads only those week folders.
        hotline, orders, cases = (df.where(F.col("week_start") >= F.lit(read_from)) for df in (hotline, orders, cases))

    first, last = week_bounds(hotline, orders, cases)
    weeks = grid_weeks(read_from if read_from is not None else first, last, through=through)
    grid = region_week_grid(regions_frame(spark, regions_pdf), weeks_frame(spark, weeks))

    records = tag_levels(union_records(hotline, orders, cases))
    # Every region-week with records, all five levels (a call with a repeat is a record: repeats add no rows).
    # Both branches below read it: without the checkpoint Spark would scan and aggregate silver once for the
    # grid's levels and again for the villages. It is region × week sized, like the grid.
    counted = (
        weekly_counts(records, [*signal_aggregations(), *referral_aggregations()])
        .join(repeat_calls(hotline, from_week=week_start(since) if since is not None else None),
              on=REGION_WEEK, how="left")
        .localCheckpoint(eager=True)
    )

    filled = (
        grid.join(counted, on=REGION_WEEK, how="left")
        .fillna(0, subset=[*INTEGER_FEATURES, *_ZERO_FILLED_HELPERS])
    )
    dense = add_dynamics(derive_referral_shares(derive_signals(filled)))
    # Villages: rows only in the weeks whose records name them (features.grid), same columns.
    villages = (
        counted.where(F.col("level") == "village")
        .fillna(0, subset=[*INTEGER_FEATURES, *_ZERO_FILLED_HELPERS])
        .join(F.broadcast(village_names(spark, regions_pdf)), on="region_code", how="left")
        .withColumn("county_code", F.concat(F.substring("region_code", 1, 6), F.lit("000000")))
        .select(*filled.columns)
    )
    if weeks:
        villages = villages.where(F.col("week_start").between(F.lit(weeks[0]), F.lit(weeks[-1])))
        sparse = add_sparse_dynamics(derive_referral_shares(derive_signals(villages)), weeks[0])
        features = dense.unionByName(sparse)
    else:
        features = dense
    features = add_season(features, season_lookup(spark, weeks))
    if since is not None:  # the look-back weeks only fed the windows above
        features = features.where(F.col("week_start") >= F.lit(week_start(since)))
    # The spatial lag joins the frame with itself; without a checkpoint Spark would join the counts to the grid
    # and compute every window twice. The frame is the small region × week grid (~300k rows for a province), so keep it
    # on the executors (memory, spilling to disk) and cut the lineage here.
    features = features.localCheckpoint(eager=True)
    features = add_spatial_features(features, edges_frame(spark, neighbour_edges(regions_pdf)))
    # The contract: exactly these columns, in this order, with these types.
    return conform(features, REGION_WEEK_FEATURES)


def _read_silver(spark: SparkSession, lake: Lake, table: str, schema: T.StructType) -> DataFrame:
    path = lake.silver(table)
    if not path.exists():
        # A feed that has never delivered (e.g. no mediation export yet) is an empty table, not a crash.
        log.warning("silver table %s does not exist; treating it as empty", path)
        return spark.createDataFrame([], schema)
    return read_parquet(spark, path, schema=schema)


def plan_rebuild(previous: dict | None, inputs: dict, published_weeks: list[dt.date]) -> dict:
    """What a run must rebuild: ``{"mode": "none" | "full" | "incremental", "since": Monday, "why": ...}``.

    ``previous`` is the published table's marker, ``inputs`` this run's (same shape), ``published_weeks``
    the table's week partitions. Incremental only when regions.csv, the columns and the marker's version
    are unchanged, ``through`` did not move back, and the earliest changed week leaves LOOKBACK_WEEKS of
    published history before it; the rebuild then starts at that week.
    """
    if not previous or previous.get("version") != MARKER_VERSION or not published_weeks:
        return {"mode": "full", "why": "no published table with per-week inputs"}
    if previous.get("regions") != inputs["regions"] or previous.get("columns") != inputs["columns"]:
        return {"mode": "full", "why": "regions.csv or the feature columns changed"}
    if previous == inputs:
        return {"mode": "none", "why": "silver, regions.csv and through unchanged"}
    changed: set[dt.date] = set()
    for table, parts in inputs["silver"].items():
        before = previous.get("silver", {}).get(table, {})
        for name in set(parts) | set(before):
            if parts.get(name) != before.get(name):
                week = week_of_partition(name)
                if week is None:
                    return {"mode": "full", "why": f"silver/{table}/{name} is not a week partition"}
                changed.add(week)
    old_through, new_through = previous.get("through"), inputs["through"]
    if old_through != new_through:
        if "None" in (old_through, new_through) or new_through < old_through:
            # Back in time, or between a date and "everything": published weeks may have to go.
            return {"mode": "full", "why": f"through moved from {old_through} to {new_through}"}
        # Later: the grid grows past the old through's week, with or without new silver there.
        changed.add(week_start(dt.date.fromisoformat(old_through)) + dt.timedelta(weeks=1))
    if not changed:
        return {"mode": "none", "why": "no week partition changed"}
    since = min(changed)
    if since - dt.timedelta(weeks=LOOKBACK_WEEKS) <= min(published_weeks):
        return {"mode": "full", "why": f"earliest changed week {since} is within {LOOKBACK_WEEKS} weeks of the first"}
    return {"mode": "incremental", "since": since, "why": f"{len(changed)} changed week(s) from {since}"}


def run(spark: SparkSession, lake: Lake, through: dt.date | str | None = None, full: bool = False) -> dict:
    """Read silver and regions.csv, build the features, write to staging and publish to gold.

    ``through`` (a date or YYYY-MM-DD, e.g. settings.through) ends the grid at that date's week.
    Rebuilds only the weeks whose silver changed, and those after them (see :func:`plan_rebuild`),
    unless ``full``.
    """
    if isinstance(through, str):
        through = parse_date(through)
    target = lake.gold(TABLE)
    clean_stale_staging(lake)
    for table in SILVER_TABLES.values():
        recover_interrupted_publish(lake.silver(table))
    recover_interrupted_publish(target)
    inputs = {"version": MARKER_VERSION, "columns": OUTPUT_COLUMNS,
              "silver": {t: partition_fingerprints(lake.silver(t)) for t in sorted(SILVER_TABLES.values())},
              "regions": file_sha256(lake.reference / "regions.csv"), "through": str(through)}
    previous = read_inputs(target)
    published = {w: p for name, p in week_partitions(target).items() for w in [week_of_partition(name)] if w is not None}
    plan = {"mode": "full", "why": "asked for a full rebuild"} if full else plan_rebuild(previous, inputs, sorted(published))
    if plan["mode"] == "none":
        log.info("features: nothing to do (%s)", plan["why"])
        return {"table": str(target), "new_files": 0, "changed": False}
    since = plan.get("since")
    log.info("features: %s rebuild (%s)", plan["mode"], plan["why"])
    hotline = _read_silver(spark, lake, "hotline_calls", HOTLINE_CALLS)
    orders = _read_silver(spark, lake, "work_orders", WORK_ORDERS)
    cases = _read_silver(spark, lake, "mediation_cases", MEDIATION_CASES)
    regions_pdf = read_regions(lake.reference / "regions.csv")

    features = build_region_week_features(hotline, orders, cases, regions_pdf, through=through, since=since)

    staged = lake.new_staging_path(f"gold-{TABLE}")
    # One file per week (a few thousand rows each) instead of one per week per shuffle partition.
    write_spark_table(features, staged)
    kept = 0
    if since is not None:  # the weeks before the rebuild keep their published files (hard links)
        for week, folder in sorted(published.items()):
            if week < since:
                link_or_copy_tree(folder, staged / folder.name)
                kept += 1
    write_inputs(staged, inputs)  # published with the rows
    publish_directory(staged, target)

    written = read_parquet(spark, target)  # row counts come from Parquet footers
    summary = written.groupBy("level").count().collect()
    bounds = written.agg(F.min("week_start").alias("first"), F.max("week_start").alias("last")).first()
    result = {
        "table": str(target),
        "mode": plan["mode"],
        "rebuilt_from": str(since) if since else None,
        "kept_weeks": kept,
        "rows": sum(r["count"] for r in summary),
        "rows_by_level": {r["level"]: r["count"] for r in summary},
        "first_week": str(bounds["first"]) if bounds["first"] else None,
        "last_week": str(bounds["last"]) if bounds["last"] else None,
    }
    log.info("published %s", result)
    release_memory(spark)  # the two checkpoints of the grid (a province's 3 years: ~1 GB in the heap)
    return result
