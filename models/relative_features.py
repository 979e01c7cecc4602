"""Features relative to a township's own history and to its city in the same week (computed when scoring).

Why: absolute levels (calls a week, cases with five parties, the share of complaints) are properties of a
world — a province's population, its hotline's habits, its registry's way of filling a form — and a model
that learns them learns its training world. What carries over between worlds is *change*: a township
against its own recent weeks, and against the rest of its city in the same week. So each base column ``x``
of gold/region_week_features becomes, per township and week ``t``:

* counts (``COUNT_BASES``, and the keyword rule's warning signs):
  ``<x>_z8`` = ``(x_t - m) / sqrt(m + 1)`` with ``m`` the mean of weeks ``t-8 .. t-1`` (a Poisson-scaled
  excess: one extra case means more in a quiet township than in a busy one);
  ``<x>_z3`` = the same for the sum of weeks ``t-2 .. t`` against 3 × the mean of weeks ``t-10 .. t-3``
  (a build-up over three weeks, which a single week's noise does not make);
  ``<x>_z8_city`` = ``<x>_z8`` minus its median over the city's townships that week (a wave that lifts every
  township lifts no one against the city);
* shares and means (``SHARE_BASES``): ``<x>_d8`` = ``x_t`` minus its mean over weeks ``t-8 .. t-1``.

Means need at least ``MIN_HISTORY`` earlier weeks, else NaN (the trees route missing values). Weeks absent
from the frame count as missing, not as zero: a scoring run reads ``HISTORY_NEEDED`` weeks before the weeks
it scores (:data:`jobs.gold.risk_scores.LOOKBACK_WEEKS` is at least that).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from models.keyword_rule import warning_signs
from models.trailing import trailing_mean, trailing_sum

COUNT_BASES = ["warning_signs", "escalation_term_records", "group_tendency_cases", "criminal_tendency_cases",
               "large_group_cases", "failed_mediations", "returned_orders", "wage_arrears",
               "hotline_calls", "work_orders", "mediation_cases", "total_contacts",
               "referral_cases", "line_12345_calls"]
SHARE_BASES = ["complaint_share", "repeat_caller_share", "repeat_order_share", "urgent_order_share",
               "failed_mediation_share", "escalation_term_share", "mediation_party_mean",
               "referral_share", "line_12345_share"]
RELATIVE_COLUMNS = ([f"{b}_{s}" for b in COUNT_BASES for s in ("z8", "z3", "z8_city")]
                    + [f"{b}_d8" for b in SHARE_BASES])
MIN_HISTORY = 4
HISTORY_NEEDED = 11  # weeks t-10 .. t-1 behind the 3-week build-up


def _past_mean(wide: np.ndarray, lag: int, span: int, counts: bool = True) -> np.ndarray:
    """Mean of weeks ``t-lag-span+1 .. t-lag`` per column (at least MIN_HISTORY of them present), else NaN.

    ``counts``: whole numbers, whose means models.trailing computes exactly as pandas does, in one operation.
    Shares keep pandas' own running sums: the model's trees split on these values, and a mean that differs in
    its last digit moved scores (by up to 0.0024 in 30 of 12,719 township-weeks of a province's weekly run)."""
    if counts:
        return trailing_mean(wide, span, MIN_HISTORY, lag=lag)
    return pd.DataFrame(wide).shift(lag).rolling(span, min_periods=MIN_HISTORY).mean().to_numpy()


def add_relative_features(features_df: pd.DataFrame) -> pd.DataFrame:
    """``features_df`` with ``RELATIVE_COLUMNS`` on its township rows (NaN on other rows)."""
    out = features_df.copy()
    town_mask = (out["level"] == "township").to_numpy() if "level" in out else np.ones(len(out), dtype=bool)
    new = {col: np.full(len(out), np.nan) for col in RELATIVE_COLUMNS}
    if town_mask.any():
        town = out.loc[town_mask]
        # Each township row's place in a weeks × townships matrix on a complete weekly index.
        weeks = pd.to_datetime(town["week_start"])
        first = weeks.min()
        w_idx = ((weeks - first).dt.days // 7).to_numpy()
        codes, c_idx = np.unique(town["region_code"].astype(str).to_numpy(), return_inverse=True)
        shape = (int(w_idx.max()) + 1, len(codes))

        def wide(values) -> np.ndarray:
            m = np.full(shape, np.nan)
            m[w_idx, c_idx] = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            return m

        def put(col: str, matrix: np.ndarray) -> None:
            new[col][town_mask] = matrix[w_idx, c_idx]

        with np.errstate(invalid="ignore", divide="ignore"):
            for base in COUNT_BASES:
                values = warning_signs(town) if base == "warning_signs" else town.get(base, pd.Series(0.0, index=town.index))
                x = wide(values)
                m8 = _past_mean(x, 1, 8)
                z8 = (x - m8) / np.sqrt(np.clip(m8, 0, None) + 1.0)
                recent = trailing_sum(x, 3, min_periods=3)
                m3 = _past_mean(x, 3, 8)
                z3 = (recent - 3 * m3) / np.sqrt(3 * np.clip(m3, 0, None) + 1.0)
                city = np.nanmedian(np.where(np.isnan(z8).all(axis=1, keepdims=True), 0.0, z8), axis=1, keepdims=True)
                put(f"{base}_z8", z8)
                put(f"{base}_z3", z3)
                put(f"{base}_z8_city", z8 - city)
            for base in SHARE_BASES:
                if base in town:
                    x = wide(town[base])
                    put(f"{base}_d8", x - _past_mean(x, 1, 8, counts=False))
    for col in RELATIVE_COLUMNS:
        out[col] = new[col]
    return out


def with_relative(features_df: pd.DataFrame) -> pd.DataFrame:
    """``features_df`` itself when it already holds ``RELATIVE_COLUMNS``, else :func:`add_relative_features`."""
    if all(c in features_df.columns for c in RELATIVE_COLUMNS):
        return features_df
    return add_relative_features(features_df)
