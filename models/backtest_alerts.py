"""The alerts a detector sends in a backtest under either protocol (defined in :mod:`models.backtest`).

Equal capacity: each week's top ``k`` townships by score (:func:`top_alerts`). As sent: where the detector's
own alarm rule fires (:func:`alarm_flags`, in words :func:`alarm_rule_text`) and the small-count guard lets it
through, at most the week's top ``k`` (:func:`as_sent_alerts`). ``k = max(1, ceil(budget_share × townships
scored that week))``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from models.backtest_metrics import township_rows
from models.ears import ALARM_THRESHOLDS
from models.keyword_rule import ALARM_EXCESS as KEYWORD_EXCESS
from models.keyword_rule import ALARM_RATIO as KEYWORD_RATIO
from models.levels import MIN_CONTACTS
from models.persistence import ALARM_RATIO

PROTOCOLS = ("equal_capacity", "as_sent")


def alarm_rule_text(name: str) -> str:
    """The as-sent alarm rule of a detector, in words (for the printed table and the report)."""
    if name.startswith("ears_"):
        m = name.split("_", 1)[1].upper()
        return f"EARS {m} statistic > {ALARM_THRESHOLDS[m]:g}"
    return {
        "baseline": f"published EARS C2 score > 0.5 (C2 > {ALARM_THRESHOLDS['C2']:g})",
        "farrington": "count above the 99% upper bound (exceedance > 1; own 4-week small-count guard)",
        "persistence": f"count >= {ALARM_RATIO:g} x the township's usual level",
        "keyword_rule": (f"warning signs >= {KEYWORD_EXCESS:g} above and >= {KEYWORD_RATIO:g} x the township's "
                         "8-week mean (escalation words, 群体性/民转刑 flags, >= 5 parties, failed mediations, "
                         "repeat and returned orders)"),
        "model": "published `flagged` of gold/risk_scores (registered alert threshold, run's budget)",
        "model_lag1": "flagged by the model the week before",
    }.get(name, "its `alarm` column, else its published `flagged`")


def _weekly_k(t: pd.DataFrame, budget_share: float) -> np.ndarray:
    """Alert capacity of each row's week: max(1, ceil(budget_share × townships scored that week))."""
    n = t.groupby("week_start")["region_code"].transform("size")
    return np.maximum(1, np.ceil(budget_share * n.to_numpy() - 1e-9))


def _top_k(t: pd.DataFrame, k: np.ndarray, keep: np.ndarray) -> pd.DataFrame:
    """Rows of ``t`` with ``keep`` among the ``k`` (per row's week) highest scores, ties by region code."""
    t = t.assign(_k=k)[keep]
    t = t.sort_values(["week_start", "score", "region_code"], ascending=[True, False, True])
    rank = t.groupby("week_start").cumcount() + 1
    return t[rank <= t["_k"]][["region_code", "week_start"]].reset_index(drop=True)


def top_alerts(scores: pd.DataFrame, budget_share: float) -> pd.DataFrame:
    """Equal capacity: (region_code, week_start) of each week's top-k townships by score (score > 0)."""
    t = township_rows(scores)[["region_code", "week_start", "score"]].copy()
    t["region_code"] = t["region_code"].astype(str)
    t["score"] = pd.to_numeric(t["score"], errors="coerce").fillna(0.0)
    return _top_k(t, _weekly_k(t, budget_share), (t["score"] > 0).to_numpy())


def alarm_flags(name: str, scores: pd.DataFrame) -> np.ndarray:
    """Where detector ``name``'s own alarm rule fires, one bool per row of ``scores`` (see the docstring)."""
    def col(c):
        return pd.to_numeric(scores[c], errors="coerce").to_numpy(dtype=float)

    if "alarm" in scores:
        return scores["alarm"].eq(True).to_numpy()
    if name.startswith("ears_") and "ears_stat" in scores:
        return col("ears_stat") > ALARM_THRESHOLDS[name.split("_", 1)[1].upper()]
    if name == "baseline":
        return col("score") > 0.5
    if name == "farrington" and "farrington_alarm" in scores:
        return scores["farrington_alarm"].eq(True).to_numpy()
    if name == "persistence" and "persistence_ratio" in scores:
        return col("persistence_ratio") >= ALARM_RATIO
    if "flagged" in scores:
        return scores["flagged"].eq(True).to_numpy()
    raise ValueError(f"detector {name!r} has no alarm rule: give its frame a boolean `alarm` column")


def as_sent_alerts(scores: pd.DataFrame, budget_share: float, min_contacts: int = MIN_CONTACTS) -> pd.DataFrame:
    """As sent: (region_code, week_start) where ``scores["alarm"]`` fires and ``total_contacts >= min_contacts``
    (guard skipped when the column is absent), at most the week's top-k of those by score."""
    t = township_rows(scores).copy()
    t["region_code"] = t["region_code"].astype(str)
    t["score"] = pd.to_numeric(t["score"], errors="coerce").fillna(0.0)
    keep = t["alarm"].eq(True).to_numpy()
    if "total_contacts" in t:
        keep &= pd.to_numeric(t["total_contacts"], errors="coerce").fillna(0).to_numpy() >= min_contacts
    return _top_k(t[["region_code", "week_start", "score"]], _weekly_k(t, budget_share), keep)
