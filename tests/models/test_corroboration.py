"""The keyword + signals rule corroborates the model: a township it alarms on needs half the threshold, a township
the model alone points at needs twice it."""
from __future__ import annotations

import numpy as np
import pandas as pd

from feature_frames import synthetic_features, wk
from models.levels import CORROBORATED_FLOOR_SHARE, UNCORROBORATED_FLOOR_MULTIPLE, assign_levels

THRESHOLD = 0.09
ALONE = THRESHOLD * UNCORROBORATED_FLOOR_MULTIPLE  # what the model alone needs


def _week(scores, corroborated):
    codes = [f"370102{i + 1:03d}000" for i in range(len(scores))]
    return pd.DataFrame({"region_code": codes, "level": "township", "week_start": wk(0), "score": scores,
                         "county_code": "370102000000", "total_contacts": 20, "corroborated": corroborated})


def test_a_corroborated_township_needs_only_a_share_of_the_floor():
    low = THRESHOLD * CORROBORATED_FLOOR_SHARE
    s = _week([ALONE + 0.01, low + 0.005, low + 0.005, low - 0.005, ALONE - 0.01] + [0.001] * 95,
              [False, True, False, True, False] + [False] * 95)
    town = assign_levels(s, budget_share=0.05, score_floor=THRESHOLD).query("level == 'township'")
    flagged = dict(zip(town["region_code"], town["flagged"]))
    assert flagged["370102001000"]          # above the model-alone floor
    assert flagged["370102002000"]          # far below it, above the lower floor, corroborated
    assert not flagged["370102003000"]      # the same score without the rule's alarm
    assert not flagged["370102004000"]      # corroborated but below the lower floor
    assert not flagged["370102005000"]      # above the threshold itself, but the model alone and under twice it
    assert town["flagged"].sum() == 2


def test_without_a_corroborated_column_the_floor_is_the_threshold_itself():
    """The baselines' and the rolling replay's rows carry no corroboration: one floor, as given."""
    s = _week([THRESHOLD + 0.01, THRESHOLD - 0.01] + [0.001] * 98, [False] * 100).drop(columns="corroborated")
    town = assign_levels(s, budget_share=0.05, score_floor=THRESHOLD).query("level == 'township'")
    assert town.loc[town["flagged"], "region_code"].tolist() == ["370102001000"]


def test_corroborated_townships_still_share_the_weekly_budget():
    low = THRESHOLD * CORROBORATED_FLOOR_SHARE
    s = _week([ALONE + 0.05, ALONE + 0.04] + [low + 0.01] * 8 + [0.001] * 90,
              [False, False] + [True] * 8 + [False] * 90)
    town = assign_levels(s, budget_share=0.03, score_floor=THRESHOLD).query("level == 'township'")
    assert town["flagged"].sum() == 3       # k = 3: the two confident ones and one corroborated
    assert set(town.nlargest(2, "score")["region_code"]) <= set(town.loc[town["flagged"], "region_code"])


class _ConstantModel:
    """A fitted-looking model that gives every township the same probability (what the test controls)."""
    feature_names_in_ = np.asarray(["total_contacts"], dtype=object)

    def __init__(self, p):
        self.p = p

    def predict_proba(self, X):
        return np.column_stack([np.full(len(X), 1 - self.p), np.full(len(X), self.p)])


def test_scoring_flags_the_township_whose_warning_signs_double_and_says_why():
    from jobs.gold.risk_scores import score_features
    from models.keyword_rule import warning_signs

    feats = synthetic_features(n_counties=1, towns_per_county=10, n_weeks=12)
    jump = (feats["region_code"] == "370102003000") & (feats["week_start"] == wk(11))
    feats.loc[jump, "escalation_term_records"] = 9.0          # usual ~0.2 a week -> 9: the rule alarms
    meta = {"model_version": "constant", "alert_threshold": {"threshold": THRESHOLD}}
    p = THRESHOLD * CORROBORATED_FLOOR_SHARE + 0.01             # below the threshold for everyone
    out = score_features(feats, _ConstantModel(p), meta, budget_share=0.1)
    town = out[(out["level"] == "township") & out["flagged"]]
    assert list(zip(town["region_code"], town["week_start"])) == [("370102003000", wk(11))]
    assert town["reasons"].iloc[0][0].startswith("预警信号")
    signs = warning_signs(feats.loc[jump]).iloc[0]
    assert signs >= 9 and f"本周{signs:.0f}条" in town["reasons"].iloc[0][0]
    # Without the jump nobody stands out: the model alone is below its threshold everywhere.
    feats.loc[jump, "escalation_term_records"] = 0.0
    assert not score_features(feats, _ConstantModel(p), meta, budget_share=0.1)["flagged"].any()


def test_a_lead_reason_comes_first_and_trims_only_its_own_row():
    """One helper puts the EARS statistic or the keyword rule's alarm first: that row keeps three findings of its
    own, a row without a lead keeps up to four, a row with neither gets the summary fallback."""
    from jobs.gold.risk_scores import _reasons_with_lead
    from models.reasons import MAX_REASONS

    feats = synthetic_features(n_counties=1, towns_per_county=3, n_weeks=12)
    busy = {"group_tendency_cases": 3.0, "criminal_tendency_cases": 2.0, "failed_mediations": 4.0,
            "large_group_cases": 2.0, "mediation_party_max": 9.0, "returned_orders": 5.0}
    towns = sorted(feats.loc[feats["level"] == "township", "region_code"].unique())
    for code in towns[:2]:
        feats.loc[(feats["region_code"] == code) & (feats["week_start"] == wk(11)), list(busy)] = list(busy.values())
    quiet = (feats["region_code"] == towns[2]) & (feats["week_start"] == wk(11))
    numeric = feats.select_dtypes("number").columns
    feats.loc[quiet, numeric] = 0.0                                # nothing worth a finding
    rows = feats[(feats["week_start"] == wk(11)) & (feats["level"] == "township")].sort_values("region_code")
    lead = {towns[0]: "预警信号本周9条"}
    out = _reasons_with_lead(feats, lambda r: [lead.get(c) for c in r["region_code"]])(rows)
    assert out[0][0] == "预警信号本周9条" and len(out[0]) == MAX_REASONS
    assert "预警信号本周9条" not in out[1] and len(out[1]) == MAX_REASONS
    own = _reasons_with_lead(feats)(rows)                          # the same rows without any lead
    assert out[0][1:] == own[0][:MAX_REASONS - 1] and out[1] == own[1] and out[2] == own[2]
    assert len(out[2]) == 1 and out[2][0].startswith("本周来电、工单和调解案件共")
