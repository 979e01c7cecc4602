"""Training targets from the simulator's truth (``truth/episodes.csv``). Only training and backtest use this.

Scoring never imports this module and never reads ``truth/`` (see the source contract, "Labels: a real
drop has none").

**Definition.** For a township row ``(r, w)`` of gold/region_week_features and ``horizon_weeks = H``::

    target(r, w) = 1  if some episode e with e.kind == "escalation" and township_of(e.region_code) == r
                        has  w <= e.peak_week <= w + H weeks   (both ends inclusive: H + 1 week starts)
                   0  otherwise

i.e. "this township's escalation peaks this week or within the next H weeks". Weeks in episodes.csv are
normalised to the Monday of their ISO week. Episodes whose region is a village count for its township;
episodes recorded at county level or above are not attributed to any township (they are skipped).
County rows get NaN: the model is trained on townships only.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from fengqiao.core.weeks import week_start as monday_of

EPISODE_COLUMNS = ["episode_id", "region_code", "dispute_type", "start_week", "peak_week", "end_week", "kind"]


def read_episodes(path) -> pd.DataFrame:
    """Read ``truth/episodes.csv`` with codes as strings and weeks as Monday dates."""
    df = pd.read_csv(path, dtype={"episode_id": str, "region_code": str, "dispute_type": str, "kind": str},
                     encoding="utf-8-sig")
    return normalise_episodes(df)


def mondays(values) -> pd.Series:
    """The Monday of each date or timestamp in ``values`` (read as text); unreadable or missing ones stay missing."""
    days = pd.to_datetime(pd.Series(values).astype(str), errors="coerce").dt.date
    return days.map(lambda day: monday_of(day) if pd.notna(day) else day)


def normalise_episodes(df: pd.DataFrame) -> pd.DataFrame:
    missing = set(EPISODE_COLUMNS) - set(df.columns)
    if missing:
        raise ValueError(f"episodes lack columns {sorted(missing)}")
    out = df.copy()
    out["region_code"] = out["region_code"].astype(str).str.strip()
    out["kind"] = out["kind"].astype(str).str.strip()
    for col in ("start_week", "peak_week", "end_week"):
        out[col] = mondays(out[col]).values
    return out


def is_township_or_village(code: str) -> bool:
    return len(code) == 12 and code[6:9] != "000"


def escalation_targets(features_df: pd.DataFrame, episodes_df: pd.DataFrame, horizon_weeks: int = 4) -> pd.Series:
    """1.0 / 0.0 per township row of ``features_df`` (NaN for county rows), aligned to its index."""
    eps = normalise_episodes(episodes_df)
    eps = eps[(eps["kind"] == "escalation") & eps["region_code"].map(is_township_or_village)]
    eps = eps.assign(township=eps["region_code"].str[:9] + "000")

    weeks = pd.to_datetime(pd.Series(features_df["week_start"].values)).dt.date
    codes = features_df["region_code"].astype(str).values
    is_town = (features_df["level"].values == "township")
    target = np.zeros(len(features_df), dtype=float)
    horizon = dt.timedelta(weeks=horizon_weeks)
    by_town: dict[str, list[dt.date]] = eps.groupby("township")["peak_week"].apply(list).to_dict()
    for i, (code, week) in enumerate(zip(codes, weeks)):
        peaks = by_town.get(code)
        if peaks and any(week <= p <= week + horizon for p in peaks):
            target[i] = 1.0
    target[~is_town] = np.nan
    return pd.Series(target, index=features_df.index, name=f"escalation_within_{horizon_weeks}w")
