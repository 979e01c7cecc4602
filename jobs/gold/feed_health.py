"""gold/feed_health: is each county's feed delivering? Freshness, volume against its own history, outages.

Reads the three silver tables (only ``county_code`` and the record's own date: ``started_at`` of a call,
``created_at`` of an order, ``accepted_date`` of a case) and the counties of ``reference/regions.csv``;
never reads ``truth/``. The counts are small (feed x county x day), so after a column-projected Arrow
read everything is pandas.

For every feed, county and ISO week up to the last day any feed has data (or ``through``):

- freshness: ``last_data_date`` (the latest day with a record, up to the week's end) and
  ``days_since_data``;
- volume against the county-feed's own history: ``baseline_median`` is the median weekly count of its
  previous ``BASELINE_WEEKS`` weeks (8), ``ratio`` the week's count over it (a partial last week is
  compared with the share of the week elapsed);
- context: ``others_ratio``, the median ratio of the feed's other counties that week;
- ``status``: ``outage`` when a county with a usual volume goes silent or collapses (ratio at most
  ``OUTAGE_RATIO``) while the other counties report as usual (``others_ratio`` at least
  ``OTHERS_REPORTING``): a county-level delivery fault, not calm; ``catch_up`` when, within
  ``CATCH_UP_WEEKS`` weeks after an outage, the volume comes back at least ``CATCH_UP_RATIO`` times
  the usual (the late records dated into the week of delivery); ``low`` / ``high`` for other large
  departures; ``feed_down`` when every county of the feed collapses together (a province-wide export
  failure); ``no_history`` until ``MIN_HISTORY_WEEKS`` weeks of history exist; else ``ok``.

:func:`mark_outages` keeps a region's scores but marks those in a county with an outage in the scored week
(``data_gap`` and a Chinese reason), so that a silent feed is not read as a calm week. The scoring job
(:mod:`jobs.gold.risk_scores`, through :mod:`jobs.gold.score_marks`) applies it to gold/risk_scores and
gold/baseline_scores before it writes them, with this table's fingerprint among its inputs, so a change of
feed health redoes the marks.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from fengqiao.lake import (FEEDS, SILVER_TABLES, Lake, file_sha256, for_parquet, read_table, tree_fingerprint,
                           write_table)
from fengqiao.lake.markers import read_inputs, write_inputs
from fengqiao.core.regions import read_regions
from fengqiao.core.schemas import FEED_HEALTH
from fengqiao.core.weeks import week_start
from fengqiao.core.weeks import TZ_NAME

TABLE = "feed_health"
FEED_ZH = {"hotline": "热线", "workorders": "工单", "mediation": "人民调解"}
# The column that dates a record of each feed (the week it counts in, as in silver's week_start).
DATE_COLUMNS = {"hotline": "started_at", "workorders": "created_at", "mediation": "accepted_date"}

BASELINE_WEEKS = 8        # history window of the median
MIN_HISTORY_WEEKS = 3     # weeks of history needed before a week is judged
MIN_BASELINE = 5.0        # a county-feed with fewer records a week is too small to call silent
OUTAGE_RATIO = 0.1        # at most a tenth of the usual volume: silent or collapsed
OTHERS_REPORTING = 0.6    # ...while the median other county delivers at least this share of its usual
LOW_RATIO, HIGH_RATIO = 0.5, 2.0
CATCH_UP_RATIO = 1.4
CATCH_UP_WEEKS = 1       # the week right after the silence

STATUS_ZH = {"ok": "正常", "outage": "中断", "catch_up": "补报", "low": "偏低", "high": "偏高",
             "feed_down": "全市中断", "no_history": "历史不足"}
COLUMNS = ["feed", "feed_zh", "county_code", "county_name", "week_start", "records", "days_with_data",
           "last_data_date", "days_since_data", "baseline_median", "ratio", "others_ratio", "status",
           "status_zh", "is_outage", "is_catch_up", "week_complete"]


# --- reading silver ----------------------------------------------------------------------------

def daily_counts(lake: Lake, timezone: str = "Asia/Shanghai") -> pd.DataFrame:
    """(feed, county_code, day, records) from the silver tables; a missing table gives no rows."""
    frames = []
    for feed in FEEDS:
        column = DATE_COLUMNS[feed]
        try:
            df = read_table(lake.silver(SILVER_TABLES[feed]), columns=["county_code", column])
        except FileNotFoundError:
            continue
        if not len(df):
            continue
        when = df[column]
        if pd.api.types.is_datetime64_any_dtype(when):
            when = when.dt.tz_convert(timezone) if when.dt.tz is not None else when
            day = when.dt.date
        else:  # a DATE column arrives as Python dates
            day = pd.to_datetime(when).dt.date
        counts = (pd.DataFrame({"county_code": df["county_code"].astype(str), "day": day})
                  .groupby(["county_code", "day"]).size().rename("records").reset_index())
        frames.append(counts.assign(feed=feed))
    if not frames:
        return pd.DataFrame({"feed": pd.Series(dtype=str), "county_code": pd.Series(dtype=str),
                             "day": pd.Series(dtype=object), "records": pd.Series(dtype="int64")})
    return pd.concat(frames, ignore_index=True)[["feed", "county_code", "day", "records"]]


def counties_of(lake: Lake) -> pd.DataFrame:
    regions = read_regions(lake.reference / "regions.csv")
    counties = regions[regions["level"] == "county"]
    return pd.DataFrame({"county_code": counties["code"].astype(str), "county_name": counties["name"]})


# --- the pure transform ---------------------------------------------------------------------------

def feed_health(daily: pd.DataFrame, counties: pd.DataFrame, through: dt.date | None = None,
                feeds=FEEDS) -> pd.DataFrame:
    """One row per feed x county x week from the first week with data to ``through`` (default: the last
    day any feed has data). ``daily``: feed, county_code, day, records. ``counties``: county_code,
    county_name (every county, so a county that never delivers still shows)."""
    if daily.empty:
        return pd.DataFrame(columns=COLUMNS)
    daily = daily.copy()
    daily["day"] = pd.to_datetime(daily["day"]).dt.date
    last_day = through if through is not None else max(daily["day"])
    daily = daily[daily["day"] <= last_day]
    first_week, last_week = week_start(min(daily["day"])), week_start(last_day)
    weeks = [first_week + dt.timedelta(weeks=i) for i in range((last_week - first_week).days // 7 + 1)]
    daily["week_start"] = [week_start(d) for d in daily["day"]]
    weekly = (daily.groupby(["feed", "county_code", "week_start"])
              .agg(records=("records", "sum"), days_with_data=("day", "nunique"), last_day=("day", "max"))
              .reset_index())
    grid = pd.MultiIndex.from_product([list(feeds), counties["county_code"].astype(str).tolist(), weeks],
                                      names=["feed", "county_code", "week_start"]).to_frame(index=False)
    out = grid.merge(weekly, on=["feed", "county_code", "week_start"], how="left")
    out["records"] = out["records"].fillna(0).astype("int64")
    out["days_with_data"] = out["days_with_data"].fillna(0).astype("int32")
    out = out.sort_values(["feed", "county_code", "week_start"], ignore_index=True)
    series = out.groupby(["feed", "county_code"], sort=False)
    # Freshness: the latest day with data up to this week's end (carried forward through silent weeks).
    # GroupBy.ffill, not a per-group Series.ffill: a county that never delivered is all null, and pandas is deprecating
    # the silent downcast of such an object column.
    out["last_data_date"] = series["last_day"].ffill()
    week_end = out["week_start"].map(lambda w: min(w + dt.timedelta(days=6), last_day))
    out["days_since_data"] = [int((e - d).days) if isinstance(d, dt.date) else None
                              for e, d in zip(week_end, out["last_data_date"])]
    out["days_since_data"] = out["days_since_data"].astype("Int32")
    # A partial last week is compared with the elapsed share of a week.
    elapsed = out["week_start"].map(lambda w: min(7, (last_day - w).days + 1))
    out["week_complete"] = elapsed >= 7
    out["baseline_median"] = series["records"].transform(
        lambda s: s.shift(1).rolling(BASELINE_WEEKS, min_periods=MIN_HISTORY_WEEKS).median())
    history = series["records"].transform(lambda s: s.shift(1).notna().cumsum())
    expected = out["baseline_median"] * elapsed / 7.0
    out["ratio"] = np.where(expected > 0, out["records"] / expected.where(expected > 0), np.nan)
    # The feed's other counties that week: median ratio over counties with a usual volume.
    sized = out["baseline_median"] >= MIN_BASELINE
    out["others_ratio"] = np.nan
    for (feed, week), idx in out[sized].groupby(["feed", "week_start"]).groups.items():
        ratios = out.loc[idx, "ratio"]
        for i in idx:
            others = ratios.drop(index=i)
            out.loc[i, "others_ratio"] = float(others.median()) if len(others) else np.nan
    out["status"] = _status(out, history)
    out["is_outage"] = out["status"] == "outage"
    out["is_catch_up"] = out["status"] == "catch_up"
    out["status_zh"] = out["status"].map(STATUS_ZH)
    out["feed_zh"] = out["feed"].map(FEED_ZH)
    out = out.merge(counties[["county_code", "county_name"]].astype({"county_code": str}), on="county_code",
                    how="left")
    return out[COLUMNS].sort_values(["week_start", "feed", "county_code"], ignore_index=True)


def _status(out: pd.DataFrame, history: pd.Series) -> pd.Series:
    sized = out["baseline_median"] >= MIN_BASELINE
    collapsed = sized & (out["ratio"] <= OUTAGE_RATIO)
    others_ok = out["others_ratio"].isna() | (out["others_ratio"] >= OTHERS_REPORTING)
    status = pd.Series("ok", index=out.index, dtype=object)
    status[sized & (out["ratio"] < LOW_RATIO)] = "low"
    status[sized & (out["ratio"] >= HIGH_RATIO)] = "high"
    status[collapsed & others_ok] = "outage"
    status[collapsed & ~others_ok] = "feed_down"
    status[history < MIN_HISTORY_WEEKS] = "no_history"
    # A catch-up: a burst in the weeks right after an outage of the same county and feed.
    recent_outage = (status.eq("outage").groupby([out["feed"], out["county_code"]], sort=False)
                     .transform(lambda s: s.shift(1, fill_value=False).rolling(CATCH_UP_WEEKS, min_periods=1).max()
                                .astype(bool)))
    # The burst is judged against the history before the outage (the silent weeks pull the median down).
    status[recent_outage & (status != "outage") & (out["ratio"] >= CATCH_UP_RATIO)] = "catch_up"
    return status


# --- risk scores -----------------------------------------------------------------------------------

def gap_reason(feeds_zh: list[str]) -> str:
    return f"数据中断：{'、'.join(feeds_zh)}数据本周缺失，评分可能偏低"


def outages_by_county_week(feed_health_df: pd.DataFrame) -> dict[tuple[str, dt.date], list[str]]:
    """(county code, week Monday) -> the feeds with an outage there that week, from gold/feed_health."""
    gaps = feed_health_df[feed_health_df["is_outage"].astype(bool)]
    by_key: dict[tuple[str, dt.date], list[str]] = {}
    for feed, county, week in zip(gaps["feed"], gaps["county_code"].astype(str),
                                  pd.to_datetime(gaps["week_start"]).dt.date):
        by_key.setdefault((county, week), []).append(feed)
    return by_key


def mark_outages(scores_df: pd.DataFrame, feed_health_df: pd.DataFrame | None) -> pd.DataFrame:
    """Keep every score; for regions whose county had a feed outage in the scored week, set ``data_gap``
    and add the Chinese reason (once: marking a marked frame again changes nothing)."""
    out = scores_df.copy()
    out["data_gap"] = False
    reasons = [list(r) if r is not None else [] for r in out.get("reasons", pd.Series([[]] * len(out)))]
    # An earlier marking's reason is dropped first, so the reason follows the current feed_health.
    reasons = [[x for x in r if not str(x).startswith("数据中断：")] for r in reasons]
    if feed_health_df is not None and len(feed_health_df) and len(out):
        by_key = outages_by_county_week(feed_health_df)
        county = out["county_code"].astype(str) if "county_code" in out else out["region_code"].astype(str).str[:6] + "000000"
        weeks = pd.to_datetime(out["week_start"]).dt.date
        for i, key in enumerate(zip(county, weeks)):
            feeds = by_key.get(key)
            if feeds:
                out.iloc[i, out.columns.get_loc("data_gap")] = True
                reasons[i] = reasons[i] + [gap_reason([FEED_ZH[f] for f in FEEDS if f in feeds])]
    out["reasons"] = reasons
    return out


def read_feed_health(lake: Lake) -> pd.DataFrame | None:
    try:
        return read_table(lake.gold(TABLE))
    except FileNotFoundError:
        return None


# --- job -----------------------------------------------------------------------------------------

def _for_parquet(health: pd.DataFrame) -> pd.DataFrame:
    out = for_parquet(health, FEED_HEALTH)
    out["county_name"] = out["county_name"].astype("string")  # always pandas' string dtype, as first published
    return out


def run(lake: Lake, through=None) -> dict:
    """Build and publish gold/feed_health from silver; returns counts of outages and catch-ups."""
    limit = dt.date.fromisoformat(str(through)) if through is not None else None
    if not (lake.reference / "regions.csv").is_file() or not any(
            lake.silver(t).is_dir() for t in SILVER_TABLES.values()):
        # Nothing landed yet: no table, and scoring marks nothing (read_feed_health gives None).
        return {"table": str(lake.gold(TABLE)), "skipped": "no regions.csv or no silver table yet", "rows": 0}
    # Nothing new: the same silver tables, regions and cut-off as the published table.
    inputs = {"silver": {t: tree_fingerprint(lake.silver(t)) for t in sorted(SILVER_TABLES.values())},
              "regions": file_sha256(lake.reference / "regions.csv"), "through": str(limit)}
    if read_inputs(lake.gold(TABLE)) == inputs:
        return {"table": str(lake.gold(TABLE)), "new_files": 0, "changed": False}
    health = feed_health(daily_counts(lake, TZ_NAME), counties_of(lake), through=limit)
    path = write_table(_for_parquet(health), lake, "gold", TABLE)
    write_inputs(path, inputs)  # after the publish: a run killed before this line builds the table again
    latest = health[health["week_start"] == health["week_start"].max()] if len(health) else health
    return {
        "table": str(path),
        "rows": int(len(health)),
        "outages": int(health["is_outage"].sum()) if len(health) else 0,
        "catch_ups": int(health["is_catch_up"].sum()) if len(health) else 0,
        "latest_week": str(latest["week_start"].iloc[0]) if len(latest) else None,
        "latest_outages": sorted(f"{f}:{c}" for f, c in zip(latest.loc[latest["is_outage"], "feed"],
                                                              latest.loc[latest["is_outage"], "county_code"]))
        if len(latest) else [],
    }
