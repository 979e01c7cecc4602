"""The keyword + signals rule: what a hotline centre would write by hand, and the detector to beat.

A township's *warning signs* in a week are the records that the upstream systems or the lexicon mark as
escalation-like, summed over the three feeds (all columns of gold/region_week_features):

    signs_t = escalation_term_records        (records whose text holds an escalation word, fengqiao.core.lexicon)
            + group_tendency_cases + criminal_tendency_cases   (群体性 / 民转刑 flags of mediation cases)
            + large_group_cases               (cases with 5 or more parties)
            + failed_mediations               (调解不成功)
            + repeat orders                   (repeat_order_share × work_orders)
            + returned_orders                 (orders sent back, 退回)

Its score is the excess over the township's own usual level, ``signs_t - mean(signs_{t-8} .. signs_{t-1})``
(weeks missing from the grid count as 0; defined from the second week of a township on, over the weeks
there are). **Alarm rule** (the backtest's "as sent" protocol): an excess of at least ``ALARM_EXCESS = 3``
signs *and* at least twice the usual level: "three more warning signs than usual, and double". The rule
was fixed before it was measured on any world (issue 17) and is not tuned.

Like every detector it is in the gold/risk_scores format (``model_version`` ``keyword-rule``); the score is
the excess itself, a ranking, not a probability.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from models.score_frame import unlevelled_scores
from models.trailing import trailing_mean

MODEL_VERSION = "keyword-rule"
HISTORY_WEEKS = 8
ALARM_EXCESS = 3.0
ALARM_RATIO = 2.0
SIGN_COLUMNS = ["escalation_term_records", "group_tendency_cases", "criminal_tendency_cases",
                "large_group_cases", "failed_mediations", "returned_orders"]


def warning_signs(features: pd.DataFrame) -> pd.Series:
    """``signs_t`` of every row of ``features`` (see the module docstring)."""
    def num(col):
        if col not in features:  # a table without that feed's columns has none of its signs
            return pd.Series(0.0, index=features.index)
        return pd.to_numeric(features[col], errors="coerce").fillna(0.0)

    repeat_orders = (num("repeat_order_share") * num("work_orders")).round()
    return sum((num(c) for c in SIGN_COLUMNS), repeat_orders)


def keyword_rule_scores(features: pd.DataFrame, history_weeks: int = HISTORY_WEEKS) -> pd.DataFrame:
    """The rule's score (excess over the township's own mean), ``usual`` level and ``alarm`` for township rows."""
    town = features[features["level"] == "township"] if "level" in features else features
    town = town.reset_index(drop=True)
    weeks = pd.to_datetime(town["week_start"])
    wide = (pd.DataFrame({"region_code": town["region_code"].astype(str), "week": weeks,
                          "signs": warning_signs(town).to_numpy()})
            .pivot_table(index="week", columns="region_code", values="signs", aggfunc="sum"))
    wide = wide.reindex(pd.date_range(wide.index.min(), wide.index.max(), freq="7D"))
    started = wide.notna().cummax()                      # a township's span starts at its first row
    filled = wide.fillna(0.0).where(started)
    usual = pd.DataFrame(trailing_mean(filled.to_numpy(), history_weeks, 1, lag=1), index=filled.index,
                         columns=filled.columns)
    # Each township row's cell in the weeks x townships matrices, by numpy look-ups (pandas' stack and reindex went
    # one township column at a time). A row off the weekly index (a week_start that is no Monday) has none: NaN.
    rows, cols = wide.index.get_indexer(weeks), wide.columns.get_indexer(town["region_code"].astype(str))
    off_grid = (rows < 0) | (cols < 0)
    stack = lambda w: np.where(off_grid, np.nan, w.to_numpy(dtype=float)[rows, cols])  # noqa: E731
    signs, base = stack(filled), stack(usual)
    excess = signs - base
    out = unlevelled_scores(town, np.where(np.isnan(excess), 0.0, excess), MODEL_VERSION)
    out["warning_signs"] = signs
    out["usual_signs"] = base
    out["alarm"] = (excess >= ALARM_EXCESS) & (signs >= ALARM_RATIO * np.nan_to_num(base))
    if "total_contacts" in town:
        out["total_contacts"] = town["total_contacts"].to_numpy()
    return out
