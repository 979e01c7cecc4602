"""Farrington-flexible and persistence baselines, and their place in the backtest (no Spark)."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from models.ears import ears_statistic_wide
from models.score_frame import RISK_SCORE_COLUMNS
from models.farrington import MODEL_VERSION, exceedance_to_score, farrington_scores, farrington_wide, seasonal_offsets
from models.persistence import lagged_scores, persistence_scores, ratio_to_score
from models.quasipoisson import anscombe_weights, fit_quasipoisson

MONDAY = dt.date(2023, 1, 2)


def weeks(n):
    return pd.date_range(MONDAY, periods=n, freq="7D")


def seasonal_mean(n_weeks=156, base=30.0, bump_start=25, bump_len=6, bump_factor=2.0):
    """A mean curve with the same bump every year (weeks bump_start .. bump_start+bump_len-1 of each year)."""
    mu = np.full(n_weeks, base)
    for y0 in range(0, n_weeks, 52):
        for k in range(bump_len):
            if y0 + bump_start + k < n_weeks:
                # a smooth bump: rises, peaks in the middle, falls
                mu[y0 + bump_start + k] = base * (1 + (bump_factor - 1) * np.sin(np.pi * (k + 0.5) / bump_len))
    return mu


def poisson_panel(mu, n_series=20, seed=0):
    rng = np.random.default_rng(seed)
    vals = rng.poisson(np.broadcast_to(mu, (n_series, len(mu)))).T.astype(float)
    return pd.DataFrame(vals, index=weeks(len(mu)), columns=[f"3701020{i:02d}000" for i in range(n_series)])


# --- Farrington ----------------------------------------------------------------------------------

def test_seasonal_offsets():
    assert list(seasonal_offsets()) == [49, 50, 51, 52, 53, 54, 55, 101, 102, 103, 104, 105, 106, 107]


def test_irls_matches_statsmodels_quasipoisson():
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    x = np.linspace(-2, -1, 14)
    y = rng.poisson(np.exp(3 + 0.4 * x)).astype(float)
    y[5] += 25                                           # some overdispersion
    fit = fit_quasipoisson(y[None, :], x[None, :], np.ones((1, 14)))
    ref = sm.GLM(y, sm.add_constant(x), family=sm.families.Poisson()).fit(scale="X2")
    assert fit["beta"][0] == pytest.approx(ref.params, rel=1e-6)
    assert fit["phi"][0] == pytest.approx(max(1.0, ref.scale), rel=1e-6)
    assert np.sqrt(fit["cov"][0, 1, 1]) == pytest.approx(ref.bse[1], rel=1e-5)


def test_planted_outbreak_flagged_and_seasonal_bump_not():
    mu = seasonal_mean()
    outbreak = 140                                       # year 3, outside the bump
    mu_obs = mu.copy()
    mu_obs[outbreak] = 30 * 2.5
    wide = poisson_panel(mu_obs, n_series=20, seed=1)
    res = farrington_wide(wide)
    assert (res["mode"].iloc[120:] == "seasonal").all().all()
    assert res["alarm"].iloc[outbreak].all()             # every series flags the outbreak
    assert (res["exceedance"].iloc[outbreak] > 1).all()
    bump_y3 = list(range(104 + 25, 104 + 31))           # the bump seen in the two previous years
    alarms_in_bump = res["alarm"].iloc[bump_y3].to_numpy().mean()
    assert alarms_in_bump < 0.05
    # EARS C2 (recent baseline) alarms on the same seasonal bump: the point of a seasonal baseline.
    c2 = ears_statistic_wide(wide, "C2").iloc[bump_y3[:3]].to_numpy()
    assert (c2 > 3).mean() > 0.3


def test_reweighting_reduces_a_past_outbreak():
    mu = np.full(156, 30.0)
    mu_obs = mu.copy()
    mu_obs[140 - 52] = 150                               # an outbreak exactly one year before week 140
    wide = poisson_panel(mu_obs, n_series=10, seed=2)
    on = farrington_wide(wide)
    off = farrington_wide(wide, reweight=False)
    assert (on["expected"].iloc[140] < off["expected"].iloc[140]).all()
    assert (on["upper"].iloc[140] < off["upper"].iloc[140]).all()
    assert (on["upper"].iloc[140] < 0.6 * off["upper"].iloc[140]).all()    # the bound roughly halves
    assert (on["expected"].iloc[140] < 36).all()                              # close to the true 30
    # The weights themselves (14 reference weeks): the outbreak week is down-weighted, the others up (sum = n).
    # (With only 7 weeks, the outbreak inflates the dispersion so much that its Anscombe residual stays
    # under 2.58: Noufaily's single reweighting step needs a fair number of reference weeks.)
    y = np.array([[30, 31, 29, 30, 150, 28, 32, 27, 33, 30, 29, 31, 30, 28.0]])
    fit = fit_quasipoisson(y, None, np.ones_like(y))
    w = anscombe_weights(y, fit, np.ones_like(y, dtype=bool))
    assert w[0, 4] < 0.5 and (np.delete(w[0], 4) > 1).all() and w.sum() == pytest.approx(14)


def test_small_count_guard_and_fallback():
    vals = np.zeros(30)
    vals[25] = 4                                         # a jump from nothing: 4 records in the last 4 weeks
    wide = pd.DataFrame({"370102001000": vals}, index=weeks(30))
    res = farrington_wide(wide)
    assert res["exceedance"].iloc[25, 0] > 1
    assert not res["alarm"].iloc[25, 0]
    assert exceedance_to_score([res["exceedance"].iloc[25, 0]], [True])[0] == 0.0
    # Less than a year of history: the recent-weeks baseline, none before 5 weeks behind the guard band.
    assert res["mode"].iloc[:7, 0].isna().all()
    assert (res["mode"].iloc[7:, 0] == "recent").all()


def test_exceedance_score_map():
    s = exceedance_to_score([np.nan, 0.0, 1.0, 2.0])
    assert s[0] == 0.0 and s[2] == pytest.approx(0.5) and s[1] < 0.05 and s[3] > 0.95
    assert np.all(np.diff(exceedance_to_score(np.linspace(-2, 4, 50))) > 0)


def _features_from_wide(wide: pd.DataFrame) -> pd.DataFrame:
    long = wide.stack().rename("total_contacts").reset_index()
    long.columns = ["week_start", "region_code", "total_contacts"]
    long["week_start"] = long["week_start"].dt.date
    long["level"] = "township"
    long["county_code"] = long["region_code"].str[:6] + "000000"
    long["region_name"] = "测试镇"
    return long


def test_farrington_scores_format():
    mu = seasonal_mean(n_weeks=110)
    feats = _features_from_wide(poisson_panel(mu, n_series=5, seed=4))
    out = farrington_scores(feats)
    assert set(RISK_SCORE_COLUMNS) <= set(out.columns)
    assert len(out) == len(feats) and (out["model_version"] == MODEL_VERSION).all()
    assert out["score"].between(0, 1).all() and not out["flagged"].any()
    assert set(out["farrington_mode"].dropna()) == {"seasonal", "recent"}
    typed = farrington_scores(feats.assign(type_labour=feats["total_contacts"] // 2),
                              ["total_contacts", "type_labour"])
    assert set(typed["farrington_column"]) <= {"total_contacts", "type_labour"}
    # Each row keeps the column with the larger (unguarded) exceedance, and that column's figures.
    only_labour = farrington_scores(feats.assign(type_labour=feats["total_contacts"] // 2), "type_labour")
    pick = typed["farrington_column"] == "type_labour"
    assert pick.any()
    assert np.allclose(typed.loc[pick, "farrington_exceedance"], only_labour.loc[pick, "farrington_exceedance"])
    assert np.allclose(typed.loc[pick, "farrington_expected"], only_labour.loc[pick, "farrington_expected"])


def test_farrington_scores_every_row_of_a_city_sized_panel():
    # Vectorised over townships: a city-sized panel (200 townships x 104 weeks) comes back whole.
    wide = poisson_panel(seasonal_mean(n_weeks=104), n_series=200, seed=5)
    feats = _features_from_wide(wide)
    out = farrington_scores(feats)
    assert len(out) == 200 * 104
    assert out["score"].between(0, 1).all()


# --- persistence ----------------------------------------------------------------------------------

def test_persistence_ratio_by_hand():
    wide = pd.DataFrame({"370102001000": [10, 10, 10, 10, 30, 0.0]}, index=weeks(6))
    feats = _features_from_wide(wide)
    out = persistence_scores(feats)
    r = out["persistence_ratio"].to_numpy()
    assert np.isnan(r[:4]).all() and (out["score"].iloc[:4] == 0).all()    # 4 weeks of history needed
    assert r[4] == pytest.approx(31 / 11)
    assert r[5] == pytest.approx(1 / (70 / 5 + 1))
    assert ratio_to_score([2.0])[0] == pytest.approx(0.5)
    assert (out["model_version"] == "persistence").all()


def test_lagged_scores_flag_last_weeks_flagged():
    s = pd.DataFrame({"region_code": ["a", "a", "a", "b", "b", "b"], "level": "township",
                      "week_start": list(weeks(3).date) * 2, "score": [0.1, 0.9, 0.2, 0.5, 0.4, 0.3],
                      "model_version": "m1"})
    lag = lagged_scores(s).sort_values(["region_code", "week_start"])
    assert list(lag["score"]) == [0.0, 0.1, 0.9, 0.0, 0.5, 0.4]
    assert (lag["model_version"] == "persistence-lag1:m1").all()


# --- backtest -------------------------------------------------------------------------------------

def test_backtest_includes_new_detectors(tmp_path):
    from fengqiao.lake import Lake, write_table
    from jobs.training.backtest import backtest
    from models.backtest import ALL_BASELINES, DEFAULT_BASELINES, baseline_detectors

    towns = [f"370102{i:03d}000" for i in range(1, 11)]
    rows = []
    rng = np.random.default_rng(0)
    for w, day in enumerate(weeks(70).date):
        for i, code in enumerate(towns):
            rows.append({"region_code": code, "level": "township", "week_start": day, "score": 0.01 * i,
                         "model_version": "m", "county_code": "370102000000",
                         "total_contacts": float(rng.poisson(20) + (40 if (i == 0 and 60 <= w <= 62) else 0))})
    scores = pd.DataFrame(rows)
    eps = pd.DataFrame([{"episode_id": "A", "region_code": towns[0], "dispute_type": "劳动争议",
                         "start_week": str(weeks(70)[58].date()), "peak_week": str(weeks(70)[62].date()),
                         "end_week": str(weeks(70)[63].date()), "kind": "escalation"}])
    lake = Lake.at(tmp_path / "lake")
    truth = tmp_path / "truth"
    truth.mkdir()
    eps.to_csv(truth / "episodes.csv", index=False)
    flagged = (scores["region_code"] == towns[0]) & scores["total_contacts"].gt(50)
    write_table(scores.drop(columns="total_contacts").assign(reasons=[[] for _ in range(len(scores))],
                                                             flagged=flagged),
                lake, "gold", "risk_scores")
    write_table(scores.drop(columns="score").assign(region_name="x"), lake, "gold", "region_week_features")
    res = backtest(lake, truth, budget_share=0.02, baselines=ALL_BASELINES)
    assert list(res["detector"]) == ["model", "keyword_rule", "ears_c1", "ears_c2", "ears_c3", "farrington",
                                     "persistence", "model_lag1"]
    assert res.set_index("detector").loc["farrington", "model_version"] == "farrington-flexible"
    assert res.set_index("detector").loc["farrington", "detected"] == 1
    assert res.set_index("detector").loc["persistence", "detected"] == 1
    assert len(set(res["weeks"])) == 1
    default = backtest(lake, truth, budget_share=0.02)
    assert list(default["detector"]) == ["model", *DEFAULT_BASELINES]
    assert (default["protocol"] == "equal_capacity").all()
    # Both protocols: every detector twice; as sent never alerts more than at equal capacity, and the model
    # sends exactly its published flags (here: township 1 in weeks 60-62, enough contacts).
    both = backtest(lake, truth, budget_share=0.02, baselines=ALL_BASELINES, protocol="both")
    assert list(both["protocol"]) == ["equal_capacity"] * 8 + ["as_sent"] * 8
    assert list(both["detector"]) == list(res["detector"]) * 2
    by = both.set_index(["detector", "protocol"])
    for name in res["detector"]:
        assert by.loc[(name, "as_sent"), "alerts"] <= by.loc[(name, "equal_capacity"), "alerts"], name
        assert by.loc[(name, "as_sent"), "weeks"] == by.loc[(name, "equal_capacity"), "weeks"]
    assert by.loc[("model", "as_sent"), "alerts"] == 3 and by.loc[("model", "as_sent"), "detected"] == 1
    assert by.loc[("model_lag1", "as_sent"), "alerts"] == 3       # the week after each flag
    assert by.loc[("model", "as_sent"), "alerts_per_week"] == pytest.approx(3 / by.loc[("model", "as_sent"), "weeks"])
    with pytest.raises(ValueError):
        baseline_detectors(scores, ("nonsense",))


# --- keyword + signals rule -------------------------------------------------------------------------

def _sign_rows(signs_by_week, code="370102001000", **extra):
    return pd.DataFrame([{"region_code": code, "level": "township", "week_start": day, "county_code": "370102000000",
                          "escalation_term_records": s, "group_tendency_cases": 0, "criminal_tendency_cases": 0,
                          "large_group_cases": 0, "failed_mediations": 0, "returned_orders": 0,
                          "repeat_order_share": 0.0, "work_orders": 10, "total_contacts": 30, **extra}
                         for day, s in zip(weeks(len(signs_by_week)).date, signs_by_week)])


def test_keyword_rule_counts_every_sign_and_compares_with_own_history():
    from models.keyword_rule import keyword_rule_scores, warning_signs

    one = _sign_rows([1], group_tendency_cases=2, criminal_tendency_cases=1, large_group_cases=3,
                     failed_mediations=4, returned_orders=5, repeat_order_share=0.3)
    assert list(warning_signs(one)) == [1 + 2 + 1 + 3 + 4 + 5 + 3]
    # Eight quiet weeks of 2 signs, then 5 (excess 3, ratio 2.5: alarm), then 4 (excess ~1.9: none).
    out = keyword_rule_scores(_sign_rows([2] * 8 + [5, 4]))
    assert out["score"].iloc[8] == pytest.approx(3.0)
    assert list(out["alarm"]) == [False] * 8 + [True, False]
    assert out["usual_signs"].iloc[9] == pytest.approx((2 * 7 + 5) / 8)
    # A township always loud is never alarmed by being loud: 20 signs a week every week.
    loud = keyword_rule_scores(_sign_rows([20] * 10))
    assert not loud["alarm"].any() and loud["score"].iloc[1:].abs().max() == 0
    # A jump of 3 over a usual level of 10 is not double: no alarm.
    assert not keyword_rule_scores(_sign_rows([10] * 8 + [13]))["alarm"].iloc[8]


def test_keyword_rule_keeps_each_township_and_week_apart_in_any_row_order():
    from models.keyword_rule import keyword_rule_scores

    quiet_then_loud = _sign_rows([2] * 8 + [5, 4], code="370102001000")
    loud = _sign_rows([20] * 10, code="370102002000")
    late = _sign_rows([0] * 6 + [9], code="370102003000").iloc[3:]  # a township whose rows start in week 3
    rows = pd.concat([quiet_then_loud, loud, late]).sample(frac=1.0, random_state=3).reset_index(drop=True)
    out = keyword_rule_scores(rows)
    assert out["region_code"].tolist() == rows["region_code"].tolist()  # one output row per input row, in order
    for part in (quiet_then_loud, loud, late):
        alone = keyword_rule_scores(part.reset_index(drop=True))
        mine = out[out["region_code"] == part["region_code"].iloc[0]].assign(week=lambda d: d["week_start"].astype(str))
        got = mine.sort_values("week")
        assert got["warning_signs"].tolist() == alone["warning_signs"].tolist()
        assert got["usual_signs"].fillna(-1).tolist() == alone["usual_signs"].fillna(-1).tolist()
        assert got["alarm"].tolist() == alone["alarm"].tolist()
    assert out.loc[(out["region_code"] == "370102003000"), "alarm"].sum() == 1


def test_keyword_rule_gives_a_row_off_the_weekly_grid_no_value_of_another_week():
    from models.keyword_rule import keyword_rule_scores

    rows = _sign_rows([2] * 8 + [9])
    odd = rows.iloc[[0]].assign(week_start=rows["week_start"].iloc[0] + pd.Timedelta(days=3), escalation_term_records=50)
    out = keyword_rule_scores(pd.concat([rows, odd], ignore_index=True))
    assert len(out) == 10 and bool(out["alarm"].iloc[8])
    assert pd.isna(out["warning_signs"].iloc[9]) and not out["alarm"].iloc[9]  # the old code's reindex gave NaN too
