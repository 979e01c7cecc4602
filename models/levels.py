"""Which regions to flag each week and in which colour (红 橙 黄 蓝): townships, and counties, cities and the
province above them.

**Townships.** In each week, ``k = max(1, ceil(budget_share × townships scored that week))``. A township
is *flagged* when

1. its ``total_contacts`` that week is at least ``min_contacts`` (default ``MIN_CONTACTS = 5``; a
   township with fewer records has no evidence worth sending a bureau; when the column is absent the
   guard is skipped),
2. its score is at least ``score_floor``: for the escalation model, the alert threshold registered with it
   (``metadata["alert_threshold"]["threshold"]``, chosen on held-out calibration weeks as the lowest
   calibrated probability at which the budget's alerts were right at least 40 % of the time, see
   :func:`models.alert_threshold.choose_alert_threshold`); otherwise ``SCORE_FLOOR = 0.02``, about twice the
   base rate of escalation in a township-week. A quiet week flags nobody rather than the least quiet, so
   the budget is a cap, not a quota; and
3. it is among the ``k`` highest scores of the townships that pass 1 and 2 (ties broken by region code).

**Two kinds of evidence.** When the rows carry a ``corroborated`` column (the escalation model's scoring job
sets it where the keyword + signals rule alarms: at least three more warning signs than the township's usual
week, and double, :mod:`models.keyword_rule`), the floor of rule 2 depends on it. A corroborated township needs
only ``CORROBORATED_FLOOR_SHARE`` × ``score_floor``: two independent kinds of evidence, the hand-written rule and
the model, agree that it stands out. The model alone needs ``UNCORROBORATED_FLOOR_MULTIPLE`` × ``score_floor``:
the threshold is calibrated on the training world, and on a world the model has not seen its confident-looking
scores without a rise in warning signs were mostly seasonal waves, reporting changes and build-ups that resolved.
Rows without the column (the baselines, the rolling-origin replay) use ``score_floor`` as it is.

So a week never flags more than ``k`` townships, and flags exactly ``k`` whenever at least ``k`` pass the
guards. The budget is the alert capacity (``FENGQIAO_ALERT_BUDGET``); the score decides the order.

**Colour** of a flagged township, from the calibrated probability of escalation within the horizon
(``LEVEL_THRESHOLDS``): 红 ``score >= 0.50`` (more likely than not), 橙 ``>= 0.30``, 黄 ``>= 0.15``,
蓝 otherwise. Unflagged regions get a null ``risk_level``. For the EARS baseline the score is the logistic
map of the statistic (0.5 at the alarm threshold), so 红 there means "statistic above the EARS threshold".

**Counties, cities, the province.** For each county (city, province) and week, ``score = 1 - Π(1 - p_t)`` over
its townships scored that week (the chance that at least one of them escalates, if they were independent);
it is flagged when any of its townships is flagged, and its colour is the most severe colour of its flagged
townships. ``rank_in_week`` ranks regions among regions of the same level (1 = highest score). Villages are
not scored: the model is a township model, and a village's score would be invented from its township's.
Alerts go to townships and counties only (:data:`fengqiao.core.regions.ALERT_LEVELS`).
The horizon scores ``score_h1``, ``score_h2``, ``score_h4`` (when the input has them) pass through for
townships and are aggregated the same way for counties; they do not change flags or colours.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pandas as pd

from fengqiao.core.regions import CODE_AT_LEVEL, county_of
from models.score_frame import HORIZON_SCORE_COLUMNS, RISK_SCORE_COLUMNS

LEVEL_THRESHOLDS: list[tuple[str, float]] = [("红", 0.50), ("橙", 0.30), ("黄", 0.15), ("蓝", 0.0)]
LEVEL_ORDER = {"红": 4, "橙": 3, "黄": 2, "蓝": 1}
SCORE_FLOOR = 0.02
MIN_CONTACTS = 5
# The two floors, as multiples of the model's alert threshold (issue 17). Chosen on 2026-12-05 on development and
# reported drops only (model trained on home 20240101/02; contract 103/104 and 20250101/02, home 71/72;
# benchmarks/results/2026-12-05-alert-floors-development.md), in the middle of a plateau: with the corroborated
# floor at half the threshold, a model-alone floor of 1.5-3 times it found 60 of the contract drops' 66
# escalations at precision 34-36% (58 at 28% with the earlier third and 1x) and 31 of home's 33 at 66-70% (52%).
# Held out, scored once after the choice (contract 105/106; 2026-12-05-alert-floors-heldout.md): precision 44.4%
# against 37.6% with the earlier floors, 37 of 39 escalations against 38, median lead 2.75 against 3.25 weeks.
UNCORROBORATED_FLOOR_MULTIPLE = 2.0
CORROBORATED_FLOOR_SHARE = 1 / 2
DEFAULT_BUDGET_SHARE = 0.02
# Levels above the township that get rows derived from their townships' probabilities, and the code of each.
AGGREGATE_LEVELS = {level: CODE_AT_LEVEL[level] for level in ("county", "city", "province")}


def level_for(score: float) -> str:
    for name, threshold in LEVEL_THRESHOLDS:
        if score >= threshold:
            return name
    return "蓝"


def budget_k(n_townships: int, budget_share: float) -> int:
    return max(1, math.ceil(budget_share * n_townships - 1e-9)) if n_townships else 0


def _rank(df: pd.DataFrame) -> pd.Series:
    order = df.sort_values(["week_start", "score", "region_code"], ascending=[True, False, True])
    ranks = order.groupby("week_start").cumcount() + 1
    return ranks.reindex(df.index)


def assign_levels(scores_df: pd.DataFrame, budget_share: float = DEFAULT_BUDGET_SHARE,
                  min_contacts: int = MIN_CONTACTS, score_floor: float = SCORE_FLOOR,
                  reasons_fn: Callable[[pd.DataFrame], list[list[str]]] | None = None) -> pd.DataFrame:
    """Flags, colours and ranks for township rows, plus one aggregated row per county and week.

    ``scores_df`` needs ``region_code, level, week_start, score, county_code`` and may hold
    ``region_name``, ``model_version``, ``total_contacts``, ``reasons`` and ``corroborated`` (bool: the
    township needs ``CORROBORATED_FLOOR_SHARE`` × ``score_floor`` where true, ``UNCORROBORATED_FLOOR_MULTIPLE`` ×
    ``score_floor`` where false). Only its township rows are
    scored; its county rows (if any) only lend their ``region_name`` to the aggregated county rows.
    ``reasons_fn`` receives the flagged township rows and returns one list of reasons per row; without it
    the input's ``reasons`` (or empty lists) are kept for flagged rows. Unflagged rows get ``[]``.
    Returns a frame with exactly the gold/risk_scores columns, townships first, then counties.
    """
    df = scores_df.copy()
    names = {}
    if "region_name" in df:
        names = dict(zip(df["region_code"].astype(str), df["region_name"]))
    town = df[df["level"] == "township"].copy()
    town["region_code"] = town["region_code"].astype(str)
    town["county_code"] = town["county_code"].astype(str)
    town["score"] = pd.to_numeric(town["score"], errors="coerce").fillna(0.0).clip(0.0, 1.0)
    if "model_version" not in town:
        town["model_version"] = "unknown"
    if "region_name" not in town:
        town["region_name"] = None
    if "reasons" not in town:
        town["reasons"] = [[] for _ in range(len(town))]
    for col in HORIZON_SCORE_COLUMNS:
        town[col] = (pd.to_numeric(town[col], errors="coerce").astype(float) if col in town
                     else np.full(len(town), np.nan))
    town = town.reset_index(drop=True)

    if "total_contacts" in town:
        eligible = pd.to_numeric(town["total_contacts"], errors="coerce").fillna(0).to_numpy() >= min_contacts
    else:
        eligible = np.ones(len(town), dtype=bool)
    floor = np.full(len(town), float(score_floor))
    if "corroborated" in town:  # the model's scores: two floors (module docstring)
        floor = np.where(town["corroborated"].eq(True).to_numpy(), score_floor * CORROBORATED_FLOOR_SHARE,
                         score_floor * UNCORROBORATED_FLOOR_MULTIPLE)
    # The week's k alerts go to the highest scores among the townships that pass both guards (with one floor
    # for all, the same as the top k that pass it).
    eligible &= town["score"].to_numpy() >= floor
    town["rank_in_week"] = _rank(town).astype("Int32")
    elig = town[eligible]
    elig_rank = _rank(elig) if len(elig) else pd.Series(dtype=int)
    k = town.groupby("week_start")["region_code"].transform("size").map(lambda n: budget_k(n, budget_share))
    flagged = pd.Series(False, index=town.index)
    flagged.loc[elig.index] = elig_rank <= k.loc[elig.index]
    town["flagged"] = flagged.astype(bool)
    town["risk_level"] = [level_for(s) if f else None for s, f in zip(town["score"], town["flagged"])]

    reasons = [[] for _ in range(len(town))]
    idx = np.flatnonzero(town["flagged"].to_numpy())
    if len(idx):
        if reasons_fn is not None:
            produced = reasons_fn(town.iloc[idx])
        else:
            produced = [list(r) if isinstance(r, (list, tuple, np.ndarray)) else [] for r in town["reasons"].iloc[idx]]
        for i, r in zip(idx, produced):
            reasons[i] = [str(x) for x in r] or [
                f"综合评分{town.at[i, 'score']:.0%}，居本周乡镇第{int(town.at[i, 'rank_in_week'])}位"]
    town["reasons"] = reasons

    above = [_aggregate(town, names, level)[RISK_SCORE_COLUMNS] for level in AGGREGATE_LEVELS]
    out = pd.concat([town[RISK_SCORE_COLUMNS], *above], ignore_index=True)
    out["flagged"] = out["flagged"].astype(bool)
    out["score"] = out["score"].astype(float)
    out["rank_in_week"] = out["rank_in_week"].astype("Int32")
    for col in HORIZON_SCORE_COLUMNS:
        out[col] = out[col].astype(float)
    return out


def _county_probability(p: pd.Series) -> float:
    """1 - Π(1 - p) over a county's townships; NaN when none of them has the score."""
    p = p.dropna()
    if p.empty:
        return float("nan")
    return float(1.0 - np.exp(np.log1p(-np.minimum(p.to_numpy(dtype=float), 1 - 1e-12)).sum()))


def _aggregate(town: pd.DataFrame, names: dict, level: str) -> pd.DataFrame:
    """One row per region of ``level`` (county, city, province) and week from its townships' rows."""
    if town.empty:
        return pd.DataFrame(columns=RISK_SCORE_COLUMNS)
    t = town.assign(log_safe=np.log1p(-np.minimum(town["score"].to_numpy(), 1 - 1e-12)),
                    sev=town["risk_level"].map(LEVEL_ORDER).fillna(0),
                    above_code=town["region_code"].map(AGGREGATE_LEVELS[level]))
    g = t.groupby(["above_code", "week_start"], sort=True)
    county = g.agg(log_safe=("log_safe", "sum"), flagged=("flagged", "any"), sev=("sev", "max"),
                   model_version=("model_version", "first")).reset_index()
    county["score"] = 1.0 - np.exp(county["log_safe"])
    for col in HORIZON_SCORE_COLUMNS:
        county[col] = g[col].agg(_county_probability).to_numpy()
    inv = {v: k for k, v in LEVEL_ORDER.items()}
    county["risk_level"] = [inv.get(int(s)) if f else None for s, f in zip(county["sev"], county["flagged"])]
    county["region_code"] = county["above_code"]
    county["county_code"] = county["above_code"].map(county_of)  # as in gold/region_week_features
    county["level"] = level
    county["region_name"] = county["region_code"].map(names)

    # Reasons of a flagged region: its flagged townships, most severe first, with their first reason.
    flagged_towns = t[t["flagged"]].sort_values(["sev", "score"], ascending=False)
    by_county: dict = {}
    for row in flagged_towns.itertuples(index=False):
        key = (row.above_code, row.week_start)
        items = by_county.setdefault(key, [])
        if len(items) < 4:
            name = row.region_name if isinstance(row.region_name, str) and row.region_name else row.region_code
            first = row.reasons[0] if len(row.reasons) else f"预警概率{row.score:.0%}"
            items.append(f"{name}（{row.risk_level}色预警）：{first}")
    county["reasons"] = [by_county.get((c, w), []) if f else []
                         for c, w, f in zip(county["above_code"], county["week_start"], county["flagged"])]
    county["rank_in_week"] = _rank(county).astype("Int32")
    return county
