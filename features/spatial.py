"""Spread to neighbours: each region's nearest regions of the same level, and the mean of their values.

The neighbour graph is small (~1,800 townships × 5 edges) and is built on the driver with numpy
from the seats in regions.csv (libpysal is not a dependency; a brute-force haversine k-NN over
1,800 points is a few milliseconds). Lags are a Spark join on (neighbour_code, week_start), so
the weekly data never leaves the cluster.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

# k nearest regions of the same level: a township sees its ring of adjacent townships, a county fewer, a city
# the cities around it. Villages (rows only in weeks with records) and the province get none: their lag is
# their own value.
K_BY_LEVEL = {"township": 5, "county": 4, "city": 3}
EARTH_RADIUS_KM = 6371.0088

EDGE_SCHEMA = T.StructType([
    T.StructField("region_code", T.StringType(), False),
    T.StructField("level", T.StringType(), False),
    T.StructField("neighbour_code", T.StringType(), False),
    T.StructField("distance_km", T.DoubleType(), False),
])

# Published spatial features: nb_<column> for each of these.
SPATIAL_SOURCES = ["total_contacts_chg_8w", "max_type_chg_8w", "escalation_term_share", "referral_cases_chg_8w",
                   "line_12345_share"]


def haversine_km(lat1, lon1, lat2, lon2):
    """Great-circle distance in km (numpy broadcasting)."""
    lat1, lon1, lat2, lon2 = map(np.radians, (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def nearest_neighbours(codes: list[str], lat: np.ndarray, lon: np.ndarray, k: int) -> list[tuple[str, str, float]]:
    """(code, neighbour_code, km) for the k nearest other points of each point (ties: lower code first)."""
    n = len(codes)
    k = min(k, n - 1)
    if k <= 0:
        return []
    order = np.argsort(np.asarray(codes), kind="stable")  # deterministic tie-breaking by code
    codes = [codes[i] for i in order]
    lat, lon = np.asarray(lat, float)[order], np.asarray(lon, float)[order]
    edges = []
    # Row blocks keep the distance matrix small even for a province's 1,800+ townships.
    for start in range(0, n, 512):
        stop = min(start + 512, n)
        dist = haversine_km(lat[start:stop, None], lon[start:stop, None], lat[None, :], lon[None, :])
        dist[np.arange(stop - start), np.arange(start, stop)] = np.inf  # never your own neighbour
        nearest = np.argsort(dist, axis=1, kind="stable")[:, :k]
        for row, cols in enumerate(nearest):
            edges.extend((codes[start + row], codes[j], float(dist[row, j])) for j in cols)
    return edges


def neighbour_edges(regions_pdf: pd.DataFrame, k_by_level: dict[str, int] | None = None) -> pd.DataFrame:
    """Edge list (region_code, level, neighbour_code, distance_km) within each level of regions.csv.

    Regions without a seat (lat/lon blank) get no edges; their lag falls back to their own value.
    """
    k_by_level = k_by_level or K_BY_LEVEL
    columns = ["region_code", "level", "neighbour_code", "distance_km"]
    frames = []
    for level, k in k_by_level.items():
        seats = regions_pdf.loc[regions_pdf["level"] == level, ["code", "lat", "lon"]].copy()
        seats["lat"] = pd.to_numeric(seats["lat"], errors="coerce")
        seats["lon"] = pd.to_numeric(seats["lon"], errors="coerce")
        seats = seats.dropna().drop_duplicates("code")
        edges = nearest_neighbours(seats["code"].tolist(), seats["lat"].to_numpy(), seats["lon"].to_numpy(), k)
        if edges:  # a level without seats (e.g. no city rows in regions.csv) adds nothing
            frames.append(pd.DataFrame([(c, level, n, d) for c, n, d in edges], columns=columns))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def edges_frame(spark: SparkSession, edges_pdf: pd.DataFrame) -> DataFrame:
    rows = [(r, lv, nb, float(d)) for r, lv, nb, d in edges_pdf[list(EDGE_SCHEMA.names)].itertuples(index=False)]
    return spark.createDataFrame(rows, EDGE_SCHEMA)


def _ordered_mean(column: str):
    """Mean of the group's non-null values, summed in ascending order.

    Why not ``F.avg``: it adds the values in the order the shuffle delivers them, and floating-point
    addition is not associative, so two builds of the same lake differed in the last bits of ~1,650
    neighbour means (of 22,776 rows), which changed the training data's fingerprint and the model version.
    A region has a handful of neighbours: sorting them costs nothing measurable.
    """
    values = F.array_sort(F.collect_list(F.col(column).cast("double")))
    total = F.aggregate(values, F.lit(0.0).cast("double"), lambda acc, x: acc + x)
    return F.when(F.size(values) > 0, total / F.size(values))


def spatial_lag(df: DataFrame, edges: DataFrame, columns: list[str], prefix: str = "nb_") -> DataFrame:
    """Adds ``<prefix><column>`` = mean of the neighbours' ``column`` in the same week.

    ``df`` has one row per (region_code, level, week_start); ``edges`` is (region_code, level,
    neighbour_code). A region with no neighbours (or no neighbour rows that week) takes its own
    value: without information about the surroundings, assume they look like the region.
    """
    neighbour_values = df.select(
        F.col("region_code").alias("neighbour_code"), "level", "week_start", *columns)
    lags = (
        edges.select("region_code", "level", "neighbour_code")
        .join(neighbour_values, on=["neighbour_code", "level"], how="inner")
        .groupBy("region_code", "level", "week_start")
        .agg(*[_ordered_mean(c).alias(f"_lag_{c}") for c in columns])
    )
    return df.join(lags, on=["region_code", "level", "week_start"], how="left").select(
        *df.columns,
        *[F.coalesce(F.col(f"_lag_{c}"), F.col(c)).cast("double").alias(f"{prefix}{c}") for c in columns],
    )


def add_spatial_features(df: DataFrame, edges: DataFrame) -> DataFrame:
    """nb_<column> for each column of ``SPATIAL_SOURCES``."""
    return spatial_lag(df, edges, SPATIAL_SOURCES)
