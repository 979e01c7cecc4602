"""Persistence baselines: "what is unusual now stays unusual", the floor any early-warning model must beat.

Two definitions, both in the gold/risk_scores format (``model_version`` ``persistence`` and
``persistence-lag1``):

* :func:`persistence_scores` (the ``persistence`` detector of the backtest): a township's count this week
  relative to its *own* history, nothing else (no season, no neighbours, no model). For region ``r`` and
  week ``t`` with count ``x_t`` (default ``total_contacts``):

  ``ratio_t = (x_t + 1) / (mean(x_0 .. x_{t-1}) + 1)`` over every earlier week of the region's span
  (an expanding mean; missing weeks inside the span count as 0, as in EARS), defined once the region has
  ``MIN_HISTORY = 4`` earlier weeks (before that: missing, score 0). The persistence forecast is that this
  week's level relative to normal persists over the horizon, so the ranking of this week's ratios is the
  ranking of risk.

  ``score = 1 / (1 + exp(-SCORE_SLOPE * (log2(ratio) - 1)))`` with ``SCORE_SLOPE = 3``: monotone in the
  ratio, 0.5 at a doubling of the township's usual level, about 0.05 at its usual level (ratio 1).
  A ranking score, not a calibrated probability.

  **Alarm rule** (used by the backtest's "as sent" protocol): ``ratio_t >= ALARM_RATIO = 2``, i.e. the week's
  count is at least double the township's usual level (the score's midpoint). Persistence has no published
  convention; doubling is the simplest threshold a bureau would accept as "unusual".

* :func:`lagged_scores`: "flag who was flagged last week": each region's score of week ``t`` is the score
  another detector gave it in week ``t-1`` (its first week scores 0). Applied to the escalation model it
  measures how much of the model's hit rate is carried by episodes that were already visible a week earlier.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from models.ears import _wide_counts
from models.score_frame import unlevelled_scores

MODEL_VERSION = "persistence"
MIN_HISTORY = 4
SCORE_SLOPE = 3.0
ALARM_RATIO = 2.0


def persistence_ratio_wide(wide: pd.DataFrame, min_history: int = MIN_HISTORY) -> pd.DataFrame:
    """``(x_t + 1) / (expanding mean of x before t + 1)`` for a weeks × regions matrix (NaN before start)."""
    past = wide.shift(1)
    mean = past.expanding(min_periods=1).mean()
    count = past.notna().cumsum()
    ratio = (wide + 1.0) / (mean + 1.0)
    return ratio.where(count >= min_history)


def ratio_to_score(ratio) -> np.ndarray:
    r = np.asarray(ratio, float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s = 1.0 / (1.0 + np.exp(-SCORE_SLOPE * (np.log2(r) - 1.0)))
    return np.where(np.isnan(r), 0.0, s)


def _frame(features_df: pd.DataFrame, score: np.ndarray, version: str) -> pd.DataFrame:
    return unlevelled_scores(features_df, score, version)


def persistence_scores(features_df: pd.DataFrame, count_column: str = "total_contacts",
                       min_history: int = MIN_HISTORY) -> pd.DataFrame:
    """Persistence scores (ratio to own history) in the risk_scores format, one row per input row.

    Extra columns ``persistence_ratio`` and ``total_contacts``.
    """
    if features_df.empty:
        return _frame(features_df, np.array([]), MODEL_VERSION).assign(persistence_ratio=[])
    wide = _wide_counts(features_df, count_column)
    ratio = persistence_ratio_wide(wide, min_history)
    ti = ratio.index.get_indexer(pd.to_datetime(features_df["week_start"]))
    ri = ratio.columns.get_indexer(features_df["region_code"])
    r = ratio.to_numpy(dtype=float)[ti, ri]
    out = _frame(features_df, ratio_to_score(r), MODEL_VERSION)
    out["persistence_ratio"] = r
    if "total_contacts" in features_df:
        out["total_contacts"] = features_df["total_contacts"].values
    return out


def lagged_scores(scores_df: pd.DataFrame, lag_weeks: int = 1) -> pd.DataFrame:
    """Each region's score of ``lag_weeks`` weeks earlier (same level); 0 when that week was not scored.

    ``model_version`` becomes ``persistence-lag<k>:<original version>``.
    """
    df = scores_df.copy()
    df["week_start"] = pd.to_datetime(df["week_start"])
    prev = df[["region_code", "level", "week_start", "score"]].copy()
    prev["week_start"] = prev["week_start"] + pd.Timedelta(weeks=lag_weeks)
    merged = df.drop(columns=["score"]).merge(prev, on=["region_code", "level", "week_start"], how="left")
    merged["score"] = merged["score"].fillna(0.0).astype(float)
    original = str(df["model_version"].iloc[0]) if "model_version" in df and len(df) else "unknown"
    merged["model_version"] = f"persistence-lag{lag_weeks}:{original}"
    merged["week_start"] = merged["week_start"].dt.date
    return merged
