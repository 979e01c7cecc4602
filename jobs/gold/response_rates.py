"""How bureaus answer alerts, per county: alerts sent, acknowledged, their share and the median days from
sending to the first disposition (from gold/alerts and gold/alert_dispositions), for the briefing."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from fengqiao.core.regions import county_of, read_regions
from fengqiao.delivery.dispositions import sent_alerts
from fengqiao.lake import Lake
from jobs.gold.alert_dispositions import read_dispositions
from jobs.gold.alert_log import read_alert_log

RATE_COLUMNS = ["county_code", "county_name", "alerts_sent", "acknowledged", "ack_share", "median_days_to_respond"]


def response_rates(lake: Lake | str, week_start: dt.date | str | None = None) -> pd.DataFrame:
    """Per county: alerts sent (distinct alert ids with a ``sent`` row), acknowledged (with at least one
    disposition), their share, and the median days from the first sending to the first disposition.

    ``week_start``: only the alerts of that week; None: all weeks. Counties with no alert sent are left
    out; an empty frame has the columns.
    """
    lake = lake if isinstance(lake, Lake) else Lake.at(lake)
    sent = sent_alerts(read_alert_log(lake))[["alert_id", "region_code", "week_start", "recipient_unit",
                                                "first_sent_at"]]
    if week_start is not None:
        week = week_start if isinstance(week_start, dt.date) else pd.Timestamp(str(week_start)).date()
        sent = sent[sent["week_start"] == week]
    if sent.empty:
        return pd.DataFrame(columns=RATE_COLUMNS)
    dispositions = read_dispositions(lake)
    first = (dispositions.assign(disposed_at=pd.to_datetime(dispositions["disposed_at"], utc=True))
             .groupby("alert_id")["disposed_at"].min().rename("first_disposed_at"))
    merged = sent.merge(first, left_on="alert_id", right_index=True, how="left")
    merged["days"] = ((merged["first_disposed_at"] - merged["first_sent_at"]).dt.total_seconds() / 86400).clip(lower=0)
    merged["county_code"] = merged["region_code"].map(county_of)
    out = (merged.groupby("county_code", as_index=False)
           .agg(alerts_sent=("alert_id", "nunique"), acknowledged=("first_disposed_at", "count"),
                median_days_to_respond=("days", "median")))
    out["ack_share"] = out["acknowledged"] / out["alerts_sent"]
    names = {}
    regions_csv = lake.reference / "regions.csv"
    if regions_csv.exists():
        regions = read_regions(regions_csv)
        names = dict(zip(regions["code"].astype(str), regions["name"]))
    out["county_name"] = out["county_code"].map(names)
    out["median_days_to_respond"] = out["median_days_to_respond"].round(2)
    return out[RATE_COLUMNS].sort_values("county_code", ignore_index=True)
