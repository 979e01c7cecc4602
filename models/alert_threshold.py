"""The alert threshold: the calibrated probability from which the scoring job alerts a township.

:func:`choose_alert_threshold` picks, on the calibration weeks, the lowest calibrated probability at which the
weekly budget's alerts were right at least ``ALERT_TARGET_PRECISION`` (40 %) of the time; it is registered
with the model and used by the scoring job as the score floor of :func:`models.levels.assign_levels`, so a
week in which no township is likely flags fewer than the budget.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from models.levels import SCORE_FLOOR

# An alert is sent when the calibrated probability reaches the threshold chosen on the calibration weeks:
# the lowest probability at which the alerts the budget allows would have been right at least
# ALERT_TARGET_PRECISION of the time (a row is right when its township's escalation peaks within the horizon).
# 40 %, not the 30 % of earlier models: at 30 % the deployed calibration put the threshold at the low end of
# a plateau on which raising it up to ~0.09 lost no calibration escalation but dropped a fifth of the alerts,
# and on simulated drops the extra alerts were mostly false ones in seasonal waves and in counties with a new
# reporting channel (README, "Backtest"). 40 % keeps the calibration recall of 30 % (0.8) on the training drop.
ALERT_TARGET_PRECISION = 0.40
# Fewer calibration alerts than this above the threshold is no estimate of precision: use the base-rate rule.
ALERT_MIN_ALERTS = 5
# The fallback: this many times the base rate of the training rows, never below levels.SCORE_FLOOR.
ALERT_BASE_RATE_MULTIPLE = 5.0
ALERT_BUDGET_SHARE = 0.02


def _budget_rows(weeks, p, budget_share: float) -> np.ndarray:
    """Mask of the rows that rank in their week's top ``k`` (the alert budget of models.levels)."""
    frame = pd.DataFrame({"week": weeks, "p": p})
    rank = frame.groupby("week")["p"].rank(ascending=False, method="first")
    k = frame.groupby("week")["p"].transform(lambda v: max(1, math.ceil(budget_share * len(v) - 1e-9)))
    return (rank <= k).to_numpy()


def base_rate_threshold(base_rate: float, why: str) -> dict:
    """The fallback threshold: ``ALERT_BASE_RATE_MULTIPLE`` × the base rate, never below the score floor."""
    t = max(SCORE_FLOOR, ALERT_BASE_RATE_MULTIPLE * base_rate) if np.isfinite(base_rate) else SCORE_FLOOR
    return {"threshold": float(t), "method": f"{ALERT_BASE_RATE_MULTIPLE:g} x base rate ({why})",
            "base_rate": float(base_rate) if np.isfinite(base_rate) else None}


def choose_alert_threshold(weeks, y, p, target_precision: float | None = None,
                           budget_share: float | None = None) -> dict:
    """The calibrated probability from which a township is alerted, chosen on held-out calibration rows.

    Among the rows the weekly budget would alert (each week's top ``k``), sorted by probability, the
    threshold is the lowest probability ``t`` such that the alerts with ``p >= t`` have a precision of at
    least ``target_precision`` (and there are at least ``ALERT_MIN_ALERTS`` of them). Without such a ``t``
    (too few escalations to measure precision, or a model that never reaches it) it is
    ``ALERT_BASE_RATE_MULTIPLE`` × the base rate. Never below ``models.levels.SCORE_FLOOR``.
    Returns ``{"threshold", "method", "precision", "recall", "alerts", "base_rate"}``.
    """
    # Read when called, not when defined: the module's values are what models.train records in the metadata.
    target_precision = ALERT_TARGET_PRECISION if target_precision is None else target_precision
    budget_share = ALERT_BUDGET_SHARE if budget_share is None else budget_share
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    base_rate = float(y.mean()) if len(y) else float("nan")
    if len(y) == 0 or y.sum() == 0:
        return base_rate_threshold(base_rate, "no escalation in the calibration weeks")
    sent = _budget_rows(np.asarray(weeks), p, budget_share)
    order = np.argsort(-p[sent], kind="stable")
    ps, ys = p[sent][order], y[sent][order]
    precision = np.cumsum(ys) / np.arange(1, len(ys) + 1)
    ok = np.flatnonzero((precision >= target_precision) & (np.arange(1, len(ys) + 1) >= ALERT_MIN_ALERTS))
    if len(ok) == 0:
        return base_rate_threshold(base_rate, f"precision {target_precision:.0%} not reached on calibration weeks")
    n = int(ok[-1]) + 1
    t = max(SCORE_FLOOR, float(ps[n - 1]))
    above = ps >= t
    return {"threshold": t, "method": f"lowest calibrated probability with precision >= {target_precision:.0%} "
                                      f"among budget alerts of the calibration weeks",
            "precision": float(ys[above].mean()), "alerts": int(above.sum()),
            "recall": float(ys[above].sum() / y.sum()), "base_rate": base_rate}


def threshold_metrics(weeks, y, p, threshold: float, budget_share: float = ALERT_BUDGET_SHARE) -> dict:
    """Alerts (budget top-k with p >= threshold) on a held-out slice: how many, their precision, row recall."""
    y = np.asarray(y, dtype=int)
    sent = _budget_rows(np.asarray(weeks), np.asarray(p), budget_share) & (np.asarray(p) >= threshold)
    return {"alerts": int(sent.sum()), "precision": float(y[sent].mean()) if sent.any() else None,
            "recall": float(y[sent].sum() / y.sum()) if y.sum() else None}
