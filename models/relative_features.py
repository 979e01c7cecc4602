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
it scores (:data:`jobs.gold_risk_scores.LOOKBACK_WEEKS` is at least that).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from models.keyword_rule import warning_signs

COUNT_BASES = ["warning_signs", "escalation_term_records", "group_tendency_cases", "criminal_tendency_cases",
               "large_group_cases", "failed_mediations", "returned_orders", "wage_arrears",
               "hotline_calls", "work_orders", "mediation_cases", "total_contacts"]
SHARE_BASES = ["complaint_share", "repeat_caller_share", "repeat_order_share", "urgent_order_share",
               "failed_mediation_share", "escalation_term_share", "mediation_party_mean"]
RELATIVE_COLUMNS = ([f"{b}_{s}" for b in COUNT_BASES for s in ("z8", "z3", "z8_city")]
                    + [f"{b}_d8" for b in SHARE_BASES])
MIN_HISTORY = 4
HISTORY_NEEDED = 11  # weeks t-10 .. t-1 behind the 3-week build-up


def _wide(town: pd.DataFrame, values: pd.Series) -> pd.DataFrame:
    """weeks × townships of ``values`` on a complete weekly index (absent weeks NaN)."""
    w = pd.DataFrame({"week": town["_week"].to_numpy(), "code": town["_code"].to_numpy(),
                      "v": pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)})
    wide = w.pivot_table(index="week", columns="code", values="v", aggfunc="sum", dropna=False)
    return wide.reindex(pd.date_range(wide.index.min(), wide.index.max(), freq="7D"))


def _past_mean(wide: pd.DataFrame, lag: int, span: int) -> pd.DataFrame:
    """Mean of weeks ``t-lag-span+1 .. t-lag`` (at least MIN_HISTORY of them present)."""
    return wide.shift(lag).rolling(span, min_periods=MIN_HISTORY).mean()


def add_relative_features(features_df: pd.DataFrame) -> pd.DataFrame:
    """``features_df`` with ``RELATIVE_COLUMNS`` on its township rows (NaN on other rows)."""
    out = features_df.copy()
    town_mask = (out["level"] == "township").to_numpy() if "level" in out else np.ones(len(out), dtype=bool)
    new = pd.DataFrame(np.nan, index=out.index, columns=RELATIVE_COLUMNS)
    if town_mask.any():
        town = out.loc[town_mask].assign(_week=lambda d: pd.to_datetime(d["week_start"]),
                                         _code=lambda d: d["region_code"].astype(str))
        keys = pd.MultiIndex.from_arrays([town["_week"], town["_code"]])

        def at_rows(wide: pd.DataFrame) -> np.ndarray:
            return wide.stack(future_stack=True).reindex(keys).to_numpy(dtype=float)

        for base in COUNT_BASES:
            values = warning_signs(town) if base == "warning_signs" else town.get(base, pd.Series(0.0, index=town.index))
            x = _wide(town, values)
            m8 = _past_mean(x, 1, 8)
            z8 = (x - m8) / np.sqrt(m8.clip(lower=0) + 1.0)
            recent = x.rolling(3, min_periods=3).sum()
            m3 = _past_mean(x, 3, 8)
            z3 = (recent - 3 * m3) / np.sqrt(3 * m3.clip(lower=0) + 1.0)
            z8_city = z8.sub(z8.median(axis=1), axis=0)
            for suffix, wide in (("z8", z8), ("z3", z3), ("z8_city", z8_city)):
                new.loc[town.index, f"{base}_{suffix}"] = at_rows(wide)
        for base in SHARE_BASES:
            if base not in town:
                continue
            x = _wide(town, town[base])
            new.loc[town.index, f"{base}_d8"] = at_rows(x - _past_mean(x, 1, 8))
    for col in RELATIVE_COLUMNS:
        out[col] = new[col].to_numpy()
    return out


def with_relative(features_df: pd.DataFrame) -> pd.DataFrame:
    """``features_df`` itself when it already holds ``RELATIVE_COLUMNS``, else :func:`add_relative_features`."""
    if all(c in features_df.columns for c in RELATIVE_COLUMNS):
        return features_df
    return add_relative_features(features_df)
