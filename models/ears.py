"""CDC EARS C1, C2 and C3 aberration statistics on weekly counts per region: the transparent baseline.

The Early Aberration Reporting System (Hutwagner et al., 2003) compares today's count with a short
moving baseline. Here the time step is the ISO week and the count is, by default, ``total_contacts``
of gold/region_week_features. For region ``r`` and week ``t`` (weeks sorted, one row per week):

* **C1**: baseline = weeks ``t-1 .. t-7``; ``C1_t = (x_t - mean_7) / max(sd_7, SD_FLOOR)``.
* **C2**: baseline = weeks ``t-3 .. t-9``, i.e. a 2-week *guard band* (``t-1``, ``t-2`` are left out so
  that a build-up that started recently does not inflate its own baseline);
  ``C2_t = (x_t - mean) / max(sd, SD_FLOOR)``.
* **C3**: ``C3_t = sum_{i=0..2} max(0, C2_{t-i} - 1)``, the recent excess of C2 over 1 (a weeks-long
  build-up that never crosses 3 in a single week can still alarm). A missing ``C2_{t-1}`` or ``C2_{t-2}``
  (start of the series) contributes 0; ``C3_t`` is missing when ``C2_t`` is.

``mean`` and ``sd`` are the sample mean and sample standard deviation (ddof=1) of the 7 baseline weeks.
The baseline must be complete: a statistic is missing (NaN) until the region has 7 (C1) or 9 (C2) earlier
weeks. Weeks absent from the features table inside a region's span count as 0 (no record that week).

**SD floor.** Weekly counts of a quiet township are often flat (sd = 0), which would make any +1 an
infinite alarm. The denominator is ``max(sd, SD_FLOOR)`` with ``SD_FLOOR = 1.0`` (one record per
week): a jump must be at least 3 records above the baseline mean to reach the C1/C2 threshold.

**Alarm thresholds** (CDC conventions): C1 > 3, C2 > 3, C3 > 2 (``ALARM_THRESHOLDS``).

**Score.** ``ears_scores`` maps the statistic to 0-1 by a logistic curve centred on the alarm threshold,
``score = 1 / (1 + exp(-SCORE_SLOPE * (stat - threshold)))`` with ``SCORE_SLOPE = 1.5``: monotone in the
statistic, 0.5 exactly at the threshold, ~0.01 for a statistic of 0. It is a ranking score, not a
calibrated probability. A missing statistic (too little history) scores 0.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from models.score_frame import unlevelled_scores

SD_FLOOR = 1.0
ALARM_THRESHOLDS = {"C1": 3.0, "C2": 3.0, "C3": 2.0}
SCORE_SLOPE = 1.5
BASELINE_WEEKS = 7
GUARD_WEEKS = {"C1": 0, "C2": 2}


def _wide_counts(features_df: pd.DataFrame, count_column: str) -> pd.DataFrame:
    """Weeks × regions matrix of counts on a complete weekly grid (missing weeks inside the span = 0)."""
    df = features_df[["region_code", "week_start", count_column]].copy()
    df["week_start"] = pd.to_datetime(df["week_start"])
    wide = df.pivot_table(index="week_start", columns="region_code", values=count_column, aggfunc="sum")
    if wide.empty:
        return wide
    grid = pd.date_range(wide.index.min(), wide.index.max(), freq="7D")
    wide = wide.reindex(grid)
    # 0 for weeks a region has no row, but only inside that region's own span (not before it starts).
    first = df.groupby("region_code")["week_start"].min()
    started = pd.DataFrame(wide.index.values[:, None] >= first.reindex(wide.columns).values[None, :],
                           index=wide.index, columns=wide.columns)
    return wide.fillna(0.0).where(started)


def _c_stat(wide: pd.DataFrame, guard: int, sd_floor: float) -> pd.DataFrame:
    base = wide.shift(1 + guard)
    roll = base.rolling(BASELINE_WEEKS, min_periods=BASELINE_WEEKS)
    mean, sd = roll.mean(), roll.std(ddof=1)
    return (wide - mean) / np.maximum(sd, sd_floor)


def ears_statistic_wide(wide: pd.DataFrame, method: str = "C2", sd_floor: float = SD_FLOOR) -> pd.DataFrame:
    """EARS statistic for a weeks × regions count matrix (rows sorted by week, one row per week)."""
    method = method.upper()
    if method in ("C1", "C2"):
        return _c_stat(wide, GUARD_WEEKS[method], sd_floor)
    if method == "C3":
        c2 = _c_stat(wide, GUARD_WEEKS["C2"], sd_floor)
        excess = (c2 - 1.0).clip(lower=0.0)
        c3 = excess.fillna(0.0) + excess.shift(1).fillna(0.0) + excess.shift(2).fillna(0.0)
        return c3.where(c2.notna())
    raise ValueError(f"unknown EARS method {method!r}: use C1, C2 or C3")


def ears_statistic(features_df: pd.DataFrame, method: str = "C2", count_column: str = "total_contacts",
                   sd_floor: float = SD_FLOOR) -> pd.Series:
    """The EARS statistic for every row of ``features_df`` (aligned to its index; NaN without history)."""
    if features_df.empty:
        return pd.Series(dtype=float, index=features_df.index)
    wide = _wide_counts(features_df, count_column)
    stat = ears_statistic_wide(wide, method, sd_floor)
    long = stat.stack(future_stack=True).rename("stat")
    keys = pd.MultiIndex.from_arrays([pd.to_datetime(features_df["week_start"]), features_df["region_code"]])
    return pd.Series(long.reindex(keys).to_numpy(), index=features_df.index, name=f"ears_{method.lower()}")


def statistic_to_score(stat, method: str = "C2") -> np.ndarray:
    """Monotone logistic map of an EARS statistic to 0-1 (0.5 at the alarm threshold; NaN -> 0)."""
    stat = np.asarray(stat, dtype=float)
    thr = ALARM_THRESHOLDS[method.upper()]
    with np.errstate(over="ignore"):
        score = 1.0 / (1.0 + np.exp(-SCORE_SLOPE * (stat - thr)))
    return np.where(np.isnan(stat), 0.0, score)


def ears_scores(features_df: pd.DataFrame, method: str = "C2", count_column: str = "total_contacts") -> pd.DataFrame:
    """EARS scores in the gold/risk_scores format, one row per row of ``features_df``.

    ``score`` is :func:`statistic_to_score` of the statistic; ``risk_level`` null, ``flagged`` False,
    ``reasons`` empty and ``rank_in_week`` null: :func:`models.levels.assign_levels` fills them. The
    statistic itself is kept in an extra column ``ears_stat``. ``model_version`` is ``ears-c1/c2/c3``.
    """
    method = method.upper()
    stat = ears_statistic(features_df, method, count_column)
    out = unlevelled_scores(features_df, statistic_to_score(stat.values, method), f"ears-{method.lower()}")
    out["ears_stat"] = stat.values
    if "total_contacts" in features_df:
        out["total_contacts"] = features_df["total_contacts"].values
    return out
