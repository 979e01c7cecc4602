"""The gold/risk_scores layout shared by every detector (model, EARS, Farrington, persistence)."""
from __future__ import annotations

import numpy as np
import pandas as pd

# Probability of escalation within 1, 2 and 4 weeks (the model's; null for detectors without horizons).
HORIZON_SCORE_COLUMNS = ["score_h1", "score_h2", "score_h4"]

RISK_SCORE_COLUMNS = [
    "region_code", "level", "week_start", "score", "risk_level", "flagged", "model_version",
    "reasons", "county_code", "region_name", "rank_in_week",
    *HORIZON_SCORE_COLUMNS,
]


def unlevelled_scores(features_df: pd.DataFrame, score, model_version: str) -> pd.DataFrame:
    """A detector's scores in the gold/risk_scores format, one row per row of ``features_df``.

    ``risk_level`` null, ``flagged`` False, ``reasons`` empty and ``rank_in_week`` null:
    :func:`models.levels.assign_levels` fills them within the weekly budget.
    """
    n = len(features_df)
    return pd.DataFrame({
        "region_code": features_df["region_code"].astype(str).values,
        "level": features_df["level"].values if "level" in features_df else "township",
        "week_start": features_df["week_start"].values,
        "score": score,
        "risk_level": None,
        "flagged": False,
        "model_version": model_version,
        "reasons": [[] for _ in range(n)],
        "county_code": (features_df["county_code"].astype(str).values if "county_code" in features_df
                        else features_df["region_code"].astype(str).str[:6].add("000000").values),
        "region_name": features_df["region_name"].values if "region_name" in features_df else None,
        "rank_in_week": pd.array([pd.NA] * n, dtype="Int32"),
        **{col: np.full(n, np.nan) for col in HORIZON_SCORE_COLUMNS},
    }, index=features_df.index)
