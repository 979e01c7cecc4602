"""Synthetic gold feature frames with planted escalation episodes, shared by the model tests."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from features import FEATURE_COLUMNS, TYPE_COUNT_COLUMNS

MONDAY = dt.date(2024, 1, 1)


def wk(i: int) -> dt.date:
    return MONDAY + dt.timedelta(weeks=i)


# --- synthetic data ---------------------------------------------------------------------------

def synthetic_features(n_counties=3, towns_per_county=10, n_weeks=70, episodes=(), seed=0) -> pd.DataFrame:
    """Township and county rows with every feature column. ``episodes``: (township_index, peak_week_index)
    pairs; each builds up labour disputes, failures and group cases over the 4 weeks up to its peak."""
    rng = np.random.default_rng(seed)
    rows = []
    towns = []
    for c in range(n_counties):
        county = f"3701{c + 2:02d}000000"
        for t in range(towns_per_county):
            towns.append((f"3701{c + 2:02d}{t + 1:03d}000", county, f"测试{c}{t}镇"))
    boost = np.zeros((len(towns), n_weeks))
    for ti, peak in episodes:
        for lag, b in zip(range(4, -1, -1), (0.3, 0.6, 1.0, 1.6, 2.2)):
            if 0 <= peak - lag < n_weeks:
                boost[ti, peak - lag] = b
    for ti, (code, county, name) in enumerate(towns):
        base = rng.uniform(8, 25)
        for w in range(n_weeks):
            b = boost[ti, w]
            r = {"region_code": code, "level": "township", "county_code": county, "week_start": wk(w),
                 "region_name": name}
            for col in FEATURE_COLUMNS:
                r[col] = 0.0
            types = rng.poisson(base / 15, size=len(TYPE_COUNT_COLUMNS)).astype(float)
            types[TYPE_COUNT_COLUMNS.index("type_labour")] += rng.poisson(6 * b) if b else 0
            for col, v in zip(TYPE_COUNT_COLUMNS, types):
                r[col] = v
            total = float(types.sum())
            r.update(total_contacts=total, hotline_calls=round(total * 0.5), work_orders=round(total * 0.3),
                     mediation_cases=total - round(total * 0.5) - round(total * 0.3),
                     wage_arrears=float(rng.poisson(0.5 + 3 * b)),
                     complaint_share=rng.uniform(0.1, 0.3) + 0.1 * b,
                     repeat_caller_share=rng.uniform(0.0, 0.15) + 0.1 * b,
                     repeat_order_share=rng.uniform(0.0, 0.1),
                     failed_mediations=float(rng.poisson(0.2 + b)),
                     group_tendency_cases=float(rng.poisson(0.05 + 0.8 * b)),
                     criminal_tendency_cases=float(rng.poisson(0.02 + 0.3 * b)),
                     escalation_term_records=float(rng.poisson(0.2 + 2 * b)),
                     week_of_year=float(wk(w).isocalendar()[1]), weeks_to_spring_festival=float((52 - w) % 52))
            r["escalation_term_share"] = r["escalation_term_records"] / max(total, 1.0)
            rows.append(r)
    df = pd.DataFrame(rows)
    df = df.sort_values(["region_code", "week_start"]).reset_index(drop=True)
    for base_col in ("total_contacts", "wage_arrears", "escalation_term_records", "failed_mediations"):
        prev = df.groupby("region_code")[base_col].transform(lambda s: s.shift(1).rolling(8, min_periods=1).mean())
        df[f"{base_col}_chg_8w"] = (df[base_col] + 1) / (prev.fillna(df[base_col]) + 1)
    counties = (df.groupby(["county_code", "week_start"])[FEATURE_COLUMNS].sum().reset_index()
                .assign(level="county"))
    counties["region_code"] = counties["county_code"]
    counties["region_name"] = "测试县" + counties["county_code"].str[4:6]
    return pd.concat([df, counties[df.columns]], ignore_index=True)


def spread_episodes(n_towns=30, n_weeks=70, every=3, seed=1):
    rng = np.random.default_rng(seed)
    return [(int(rng.integers(0, n_towns)), peak) for peak in range(12, n_weeks - 2, every)]


def episodes_frame(features, pairs, extra=()):
    towns = sorted(features.loc[features["level"] == "township", "region_code"].unique())
    rows = [{"episode_id": f"e{i}", "region_code": towns[ti], "dispute_type": "劳动争议",
             "start_week": str(wk(peak - 4)), "peak_week": str(wk(peak)), "end_week": str(wk(peak + 2)),
             "kind": "escalation"} for i, (ti, peak) in enumerate(pairs)]
    rows += list(extra)
    return pd.DataFrame(rows)
