"""Models, levels, reasons, registry, scoring job and backtest on small synthetic frames (no Spark)."""
from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
import pytest

from features import FEATURE_COLUMNS
from feature_frames import episodes_frame, spread_episodes, synthetic_features, wk


@pytest.fixture(scope="module")
def trained():
    from models.train import train_from_tables

    pairs = spread_episodes()
    feats = synthetic_features(episodes=pairs)
    eps = episodes_frame(feats, pairs)
    model, meta = train_from_tables(feats, eps, horizon_weeks=4)
    return feats, eps, model, meta


# --- EARS --------------------------------------------------------------------------------------

def _series_frame(values, code="370102001000"):
    return pd.DataFrame({"region_code": code, "level": "township", "county_code": code[:6] + "000000",
                         "week_start": [wk(i) for i in range(len(values))], "total_contacts": values,
                         "region_name": "x"})


def test_ears_c1_c2_c3_by_hand():
    from models.ears import SD_FLOOR, ears_statistic

    x = [10, 12, 8, 10, 12, 8, 10, 12, 8, 10, 30, 40]
    df = _series_frame([float(v) for v in x])
    c1, c2, c3 = (ears_statistic(df, m).to_numpy() for m in ("C1", "C2", "C3"))
    assert np.isnan(c1[:7]).all() and not np.isnan(c1[7])
    assert np.isnan(c2[:9]).all() and not np.isnan(c2[9])

    def stat(t, lo, hi):
        base = np.array(x[lo:hi + 1], dtype=float)
        return (x[t] - base.mean()) / max(base.std(ddof=1), SD_FLOOR)

    for t in range(7, len(x)):
        assert c1[t] == pytest.approx(stat(t, t - 7, t - 1))
    for t in range(9, len(x)):
        assert c2[t] == pytest.approx(stat(t, t - 9, t - 3))
    # By hand, week 10 (x = 30): C1 baseline weeks 3..9 = 10,12,8,10,12,8,10: mean 10, sd sqrt(16/6);
    # C2 baseline weeks 1..7 = 12,8,10,12,8,10,12: mean 72/7, sd 1.7995.
    assert c1[10] == pytest.approx(20 / math.sqrt(16 / 6)) and c1[10] == pytest.approx(12.2474, abs=1e-4)
    assert c2[10] == pytest.approx(10.9556, abs=1e-4)
    # Guard band: C2 at week 11 leaves out week 10 (30), C1 does not.
    assert c2[11] > c1[11]
    assert c2[11] == pytest.approx((40 - np.mean(x[2:9])) / np.std(x[2:9], ddof=1))
    # C3 = sum_{i=0..2} max(0, C2_{t-i} - 1); C2 before week 9 missing -> 0.
    assert c3[9] == pytest.approx(max(0, c2[9] - 1))
    assert c3[11] == pytest.approx(sum(max(0, c2[t] - 1) for t in (9, 10, 11)))


def test_ears_sd_floor_and_scores():
    from models.ears import ears_scores, statistic_to_score

    df = _series_frame([5.0] * 9 + [6.0, 9.0])
    stat = ears_scores(df, "C1")["ears_stat"].to_numpy()
    assert stat[9] == pytest.approx(1.0)  # flat baseline: sd 0 -> floor 1
    assert np.std([5] * 6 + [6], ddof=1) < 1                          # sd 0.38 is floored to 1
    assert stat[10] == pytest.approx(9 - 36 / 7)
    s = statistic_to_score([0.0, 3.0, 6.0, np.nan], "C2")
    assert s[1] == pytest.approx(0.5) and s[0] < s[1] < s[2] and s[3] == 0.0
    out = ears_scores(df, "C2")
    assert set(out["model_version"]) == {"ears-c2"}
    assert out["score"].between(0, 1).all()


# --- labels ------------------------------------------------------------------------------------

def test_labels_on_toy_episode():
    from models.labels import escalation_targets

    feats = pd.concat([_series_frame([1.0] * 12), _series_frame([1.0] * 12, "370102002000"),
                       _series_frame([1.0] * 12, "370102000000").assign(level="county")], ignore_index=True)
    eps = pd.DataFrame([
        {"episode_id": "a", "region_code": "370102001003", "dispute_type": "劳动争议", "start_week": str(wk(3)),
         "peak_week": str(wk(7) + dt.timedelta(days=2)), "end_week": str(wk(9)), "kind": "escalation"},
        {"episode_id": "b", "region_code": "370102002000", "dispute_type": "物业", "start_week": str(wk(3)),
         "peak_week": str(wk(7)), "end_week": str(wk(9)), "kind": "seasonal"},
    ])
    y = escalation_targets(feats, eps, horizon_weeks=4)
    t1 = y[(feats["region_code"] == "370102001000").to_numpy()].to_numpy()
    assert list(t1) == [0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0]     # weeks 3..7 (village code -> township)
    assert y[(feats["region_code"] == "370102002000").to_numpy()].sum() == 0  # confounders are not labels
    assert y[(feats["level"] == "county").to_numpy()].isna().all()


# --- model -------------------------------------------------------------------------------------

def test_time_split_is_ordered_and_disjoint():
    from models.time_split import time_split

    weeks = [wk(i) for i in range(60)] * 3
    s = time_split(weeks, horizon_weeks=4)
    fit, cal, test = (set(s[k]) for k in ("fit", "calibrate", "test"))
    assert not (fit & cal) and not (cal & test) and not (fit & test)
    assert max(fit) < min(cal) and max(cal) < min(test)
    assert (min(cal) - max(fit)).days // 7 == 5 and (min(test) - max(cal)).days // 7 == 5  # 4-week gaps


def test_training_metrics_and_probabilities(trained):
    feats, _, model, meta = trained
    m = meta["metrics"]
    assert m["split"]["fit"]["last_week"] < m["split"]["calibrate"]["first_week"]
    assert m["split"]["calibrate"]["last_week"] < m["split"]["test"]["first_week"]
    for key in ("average_precision", "brier", "base_rate"):
        assert m["test"][key] is not None
    assert m["test"]["average_precision"] > m["test"]["base_rate"]  # learns the planted signal
    from models.escalation import predict_proba
    p = predict_proba(model, feats[feats["level"] == "township"])
    assert np.all((p >= 0) & (p <= 1))
    assert meta["feature_columns"] == FEATURE_COLUMNS and meta["horizon_weeks"] == 4
    assert len(meta["training_data_sha256"]) == 64


def test_model_reads_change_never_level():
    """Issue 17: no absolute count, share or season column reaches the model, only changes against the
    township's own history and its surroundings; the pipeline selects exactly those columns."""
    from features import COUNT_COLUMNS, REFERRAL_COLUMNS, SEASON_COLUMNS, SIGNAL_COLUMNS
    from models.context_features import CONTEXT_COLUMNS
    from models.escalation import MODEL_COLUMNS, REFERRAL_MODEL_COLUMNS, WITHOUT_REFERRALS, build_pipeline
    from models.relative_features import RELATIVE_COLUMNS

    levels = set(COUNT_COLUMNS) | set(SEASON_COLUMNS) | set(SIGNAL_COLUMNS) | set(REFERRAL_COLUMNS)
    assert not set(MODEL_COLUMNS) & levels
    # changes only: relative, context, and two 8-week change ratios (the township's, its neighbours' referrals)
    assert set(MODEL_COLUMNS) <= (set(RELATIVE_COLUMNS) | set(CONTEXT_COLUMNS)
                                  | {"max_type_chg_8w", "nb_referral_cases_chg_8w"})
    assert set(REFERRAL_MODEL_COLUMNS) <= set(MODEL_COLUMNS) and not set(REFERRAL_MODEL_COLUMNS) & set(WITHOUT_REFERRALS)
    assert set(WITHOUT_REFERRALS) | set(REFERRAL_MODEL_COLUMNS) == set(MODEL_COLUMNS)
    assert {"warning_signs_z8", "warning_signs_z3", "rel_county_chg_8w"} <= set(MODEL_COLUMNS)
    pipe = build_pipeline()
    assert pipe.steps[-1][0] == "hgb" and pipe.named_steps["hgb"].get_params()["class_weight"] is None
    X = pd.DataFrame(np.arange(3 * (len(MODEL_COLUMNS) + 1), dtype=float).reshape(3, -1),
                     columns=[*MODEL_COLUMNS, "total_contacts"])
    assert pipe.named_steps["features"].fit_transform(X).shape == (3, len(MODEL_COLUMNS))


# --- levels ------------------------------------------------------------------------------------

def _scores(n=120, weeks=2, seed=3):
    rng = np.random.default_rng(seed)
    rows = []
    for w in range(weeks):
        for i in range(n):
            code = f"3701{i // 40 + 2:02d}{i % 40 + 1:03d}000"
            rows.append({"region_code": code, "level": "township", "week_start": wk(w),
                         "score": float(rng.uniform(0.05, 0.9)), "county_code": code[:6] + "000000",
                         "region_name": f"镇{i}", "total_contacts": 20, "model_version": "m"})
    return pd.DataFrame(rows)


def test_levels_budget_and_guard():
    from models.levels import assign_levels, level_for

    s = _scores()
    out = assign_levels(s, budget_share=0.02)
    town = out[out["level"] == "township"]
    assert (town.groupby("week_start")["flagged"].sum() == math.ceil(0.02 * 120)).all()  # 3 per week
    top = town[town["week_start"] == wk(0)].nlargest(3, "score")
    assert top["flagged"].all()
    assert (town.loc[town["flagged"], "risk_level"].notna()).all()
    assert town.loc[~town["flagged"], "risk_level"].isna().all()
    assert [level_for(v) for v in (0.6, 0.35, 0.2, 0.05)] == ["红", "橙", "黄", "蓝"]
    # At least one per week even with a tiny budget.
    assert (assign_levels(s, budget_share=0.0001).query("level == 'township'")
            .groupby("week_start")["flagged"].sum() == 1).all()
    # Small-count guard: the best township with 2 contacts is skipped, the next one flagged instead.
    best = s.loc[s[s["week_start"] == wk(0)]["score"].idxmax(), "region_code"]
    s2 = s.copy()
    s2.loc[(s2["region_code"] == best), "total_contacts"] = 2
    out2 = assign_levels(s2, budget_share=0.02, min_contacts=5)
    t2 = out2[(out2["level"] == "township") & (out2["week_start"] == wk(0))]
    assert not t2.loc[t2["region_code"] == best, "flagged"].iloc[0]
    assert t2["flagged"].sum() == 3
    # Score floor: nothing flagged in a quiet week.
    quiet = s.assign(score=0.001)
    assert not assign_levels(quiet)["flagged"].any()


def test_county_aggregation():
    from models.levels import assign_levels

    s = pd.DataFrame([
        {"region_code": "370102001000", "level": "township", "week_start": wk(0), "score": 0.6,
         "county_code": "370102000000", "total_contacts": 20},
        {"region_code": "370102002000", "level": "township", "week_start": wk(0), "score": 0.2,
         "county_code": "370102000000", "total_contacts": 20},
        {"region_code": "370103001000", "level": "township", "week_start": wk(0), "score": 0.1,
         "county_code": "370103000000", "total_contacts": 20},
        {"region_code": "370102000000", "level": "county", "week_start": wk(0), "score": 0.0,
         "county_code": "370102000000", "region_name": "历下区"},
    ])
    out = assign_levels(s, budget_share=0.02).set_index("region_code")
    assert out.loc["370102000000", "score"] == pytest.approx(1 - 0.4 * 0.8)
    assert out.loc["370103000000", "score"] == pytest.approx(0.1)
    assert out.loc["370102000000", "flagged"] and out.loc["370102000000", "risk_level"] == "红"
    assert not out.loc["370103000000", "flagged"] and out.loc["370103000000", "risk_level"] is None
    assert out.loc["370102000000", "region_name"] == "历下区"
    assert out.loc["370102000000", "reasons"] and out.loc["370103000000", "reasons"] == []


# --- reasons -----------------------------------------------------------------------------------

def test_reasons_chinese_with_figures():
    from models.reasons import explain

    hist = pd.DataFrame({"week_start": [wk(i) for i in range(8)], "type_labour": [2.0] * 8,
                         "total_contacts": [20.0] * 8, "wage_arrears": [1.0] * 8})
    row = pd.Series({c: 0.0 for c in FEATURE_COLUMNS} | {"week_start": wk(8), "type_labour": 6.8, "total_contacts": 26.0, "hotline_calls": 13.0,
                          "repeat_caller_share": 0.31, "failed_mediations": 2.0, "group_tendency_cases": 3.0,
                          "escalation_term_records": 3.0, "escalation_term_share": 0.12,
                          "nb_max_type_chg_8w": 2.5})
    reasons = explain(row, hist)
    text = "；".join(reasons)
    assert 1 <= len(reasons) <= 4
    assert "3起案件有群体性倾向" in text
    # Under 10 records a week the reason gives counts, not a percentage of a tiny base.
    assert "劳动争议类纠纷本周7起，高于前8周平均的2.0起" in text and "240%" not in text
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in r) for r in reasons)
    assert all(any(ch.isdigit() for ch in r) for r in reasons)
    # Never empty, even with nothing notable.
    assert explain(pd.Series({c: 0.0 for c in FEATURE_COLUMNS} | {"week_start": wk(8)}), None)


def test_reasons_name_cases_passed_on_by_petition_office_police_or_court():
    from models.reasons import explain

    hist = pd.DataFrame({"week_start": [wk(i) for i in range(8)], "total_contacts": [20.0] * 8,
                         "petition_referral_cases": [0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0],
                         "police_referral_cases": [1.0] * 8, "line_12345_share": [0.3] * 8})
    base = {c: 0.0 for c in FEATURE_COLUMNS} | {"week_start": wk(8), "total_contacts": 22.0, "hotline_calls": 12.0}
    text = "；".join(explain(pd.Series(base | {"petition_referral_cases": 4.0, "police_referral_cases": 2.0,
                                              "line_12345_share": 0.55}), hist))
    assert "信访转办案件本周4件，前8周平均不足1件" in text
    assert "公安移交" not in text                     # 2 against 1: not worth a reason, and only the strongest
    assert "12345政务服务热线来电占55%（此前8周平均30%）" in text
    quiet = "；".join(explain(pd.Series(base | {"petition_referral_cases": 1.0, "line_12345_share": 0.35}), hist))
    assert "信访转办" not in quiet and "12345" not in quiet


# --- registry ----------------------------------------------------------------------------------

def test_registry_round_trip(trained, tmp_path):
    import skops.io as sio

    from models.registry import ALLOWED_TYPES, UntrustedModelError, load_current, register

    feats, _, model, meta = trained
    version = register(model, meta, tmp_path)
    assert (tmp_path / f"{version}.skops").exists() and (tmp_path / f"{version}.json").exists()
    assert json.loads((tmp_path / "current.json").read_text())["model_version"] == version
    untrusted = sio.get_untrusted_types(file=tmp_path / f"{version}.skops")
    assert set(untrusted) <= ALLOWED_TYPES
    loaded, meta2 = load_current(tmp_path)
    from models.escalation import predict_proba
    town = feats[feats["level"] == "township"]
    np.testing.assert_allclose(predict_proba(loaded, town), predict_proba(model, town))
    assert meta2["model_version"] == version and meta2["sklearn_version"]
    # A narrower allow-list refuses to load.
    with pytest.raises(UntrustedModelError):
        load_current(tmp_path, allowed_types=frozenset())
    # A tampered file is refused.
    path = tmp_path / f"{version}.skops"
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(UntrustedModelError):
        load_current(tmp_path)


def test_no_model_error(tmp_path):
    from models.registry import NoModelError, load_current

    with pytest.raises(NoModelError, match="fengqiao train"):
        load_current(tmp_path / "empty")


# --- scoring job -------------------------------------------------------------------------------

def test_score_features_and_run(trained, tmp_path):
    from fengqiao.lake import Lake, read_table, write_table
    from fengqiao.core.schemas import RISK_SCORES, RISK_SCORES_PUBLISHED, columns_of
    from jobs.gold import risk_scores as gold_risk_scores
    from models.registry import register

    feats, _, model, meta = trained
    out = gold_risk_scores.score_features(feats, model, meta, budget_share=0.05)
    assert list(out.columns) == columns_of(RISK_SCORES)
    assert set(out["level"]) == {"township", "county", "city", "province"}
    assert out["score"].between(0, 1).all()
    # Each level above the township: 1 - Π(1 - p) over its townships, flagged when one of them is.
    town = out[out["level"] == "township"]
    for level, digits in (("county", 6), ("city", 4), ("province", 2)):
        rows = out[out["level"] == level].set_index(["region_code", "week_start"])
        key = town["region_code"].str[:digits].str.ljust(12, "0")
        expected = town.assign(key=key, q=1 - town["score"]).groupby(["key", "week_start"])
        assert rows["score"].sort_index().to_numpy() == pytest.approx(1 - expected["q"].prod().sort_index().to_numpy())
        assert (rows["flagged"].sort_index().to_numpy() == expected["flagged"].any().sort_index().to_numpy()).all()
    assert out.loc[out["level"] == "city", "region_code"].nunique() == 1
    flagged = out[out["flagged"]]
    assert len(flagged) and all(len(r) >= 1 for r in flagged["reasons"])
    assert all(r == [] for r in out.loc[~out["flagged"], "reasons"])
    assert (out["model_version"] == meta["model_version"]).all()

    lake = Lake.at(tmp_path / "lake")
    write_table(feats, lake, "gold", "region_week_features")
    register(model, meta, tmp_path / "models")
    summary = gold_risk_scores.run(lake, tmp_path / "models", budget_share=0.05)
    assert summary["flagged_townships"] > 0
    for table in ("risk_scores", "baseline_scores"):
        df = read_table(lake.gold(table))
        # as published: plus data_gap, all false here (no gold/feed_health, so no outage to mark)
        assert sorted(df.columns) == sorted(columns_of(RISK_SCORES_PUBLISHED))
        assert df["data_gap"].dtype == bool and not df["data_gap"].any()
    base = read_table(lake.gold("baseline_scores"))
    assert set(base["model_version"]) == {"ears-c2"}
    assert any("EARS C2" in r[0] for r in base.loc[base["flagged"], "reasons"])
    # Rescoring the latest week keeps the other weeks.
    gold_risk_scores.run(lake, tmp_path / "models", weeks="latest", budget_share=0.05)
    assert read_table(lake.gold("risk_scores"))["week_start"].nunique() == feats["week_start"].nunique()


def test_weekly_run_rescores_only_the_feature_weeks_that_changed(trained, tmp_path):
    import shutil

    from fengqiao.lake import Lake, read_table, write_table
    from jobs.gold import risk_scores as gold_risk_scores
    from models.registry import register

    feats, _, model, meta = trained
    register(model, meta, tmp_path / "models")
    weeks = sorted(feats["week_start"].unique())
    lake = Lake.at(tmp_path / "lake")
    write_table(feats[feats["week_start"] < weeks[-1]], lake, "gold", "region_week_features")
    first = gold_risk_scores.run(lake, tmp_path / "models", budget_share=0.05)
    assert first["weeks_scored"] == len(weeks) - 1

    # The features job's weekly run: the last week arrives and the week before is rewritten (a late
    # record doubled a township's contacts); every other week partition keeps its files.
    changed = feats.copy()
    late = (changed["week_start"] == weeks[-2]) & (changed["level"] == "township")
    changed.loc[late, "total_contacts"] = changed.loc[late, "total_contacts"] * 2 + 7
    scratch = Lake.at(tmp_path / "scratch")
    write_table(changed, scratch, "gold", "region_week_features")
    for week in weeks[-2:]:
        folder = f"week_start={week}"
        shutil.rmtree(lake.gold("region_week_features") / folder, ignore_errors=True)
        shutil.copytree(scratch.gold("region_week_features") / folder, lake.gold("region_week_features") / folder)
    # Meanwhile gold/feed_health found an outage in an old week: that week is marked again, no other.
    county = str(feats.loc[feats["level"] == "township", "county_code"].iloc[0])
    outage_week = weeks[5]
    write_table(pd.DataFrame({"feed": ["hotline"], "county_code": [county], "week_start": [outage_week],
                              "is_outage": [True]}), lake, "gold", "feed_health")
    files_before = {t: {p.relative_to(lake.gold(t)): p.stat().st_ino for p in lake.gold(t).rglob("*.parquet")}
                    for t in ("risk_scores", "baseline_scores")}
    second = gold_risk_scores.run(lake, tmp_path / "models", budget_share=0.05)
    assert second["weeks_scored"] == 2 and second["first_week"] == str(weeks[-2])
    # Only the look-back the scores need is read, not the whole history.
    assert second["features_weeks_read"] == gold_risk_scores.LOOKBACK_WEEKS + 2 < len(weeks)
    assert second["risk_scores_data_gap_rows"] > 0
    for table, before in files_before.items():
        after = {p.relative_to(lake.gold(table)): p.stat().st_ino for p in lake.gold(table).rglob("*.parquet")}
        rewritten = {str(p.parent) for p in after if after[p] != before.get(p)}
        # the rescored weeks and the re-marked week are new files; every other week is the same inode
        assert rewritten == {f"week_start={w}" for w in (weeks[-2], weeks[-1], outage_week)}, table

    # The same tables as scoring everything from scratch.
    fresh = Lake.at(tmp_path / "fresh")
    shutil.copytree(lake.gold("region_week_features"), fresh.gold("region_week_features"))
    shutil.copytree(lake.gold("feed_health"), fresh.gold("feed_health"))
    assert gold_risk_scores.run(fresh, tmp_path / "models", budget_share=0.05)["weeks_scored"] == len(weeks)
    for table in ("risk_scores", "baseline_scores"):
        key = ["week_start", "level", "region_code"]
        got = read_table(lake.gold(table)).sort_values(key, ignore_index=True)
        want = read_table(fresh.gold(table)).sort_values(key, ignore_index=True)
        assert got["score"].tolist() != [] and (got["week_start"] == weeks[-2]).any()
        assert got.loc[got["data_gap"], "week_start"].unique().tolist() == [outage_week]
        pd.testing.assert_frame_equal(got, want)


# --- backtest ----------------------------------------------------------------------------------

def test_backtest_known_answer(tmp_path):
    from fengqiao.lake import Lake, write_table
    from jobs.training.backtest import backtest
    from models.backtest import format_backtest
    from models.backtest_alerts import top_alerts
    from models.backtest_metrics import evaluate_alerts

    towns = [f"370102{i:03d}000" for i in range(1, 11)]            # 10 townships: top 2% = 1 alert a week
    O = 10                                                          # EARS needs 9 weeks before it is warm
    rows = []
    for w in range(-O, 12):
        for i, code in enumerate(towns):
            score = 0.01 * i / 10
            if code == towns[0] and w in (5, 6, 7):                  # episode A: start 4, peak 7 -> lead 2
                score = 0.9
            if code == towns[1] and w == 2:                          # alert in a seasonal confounder
                score = 0.9
            rows.append({"region_code": code, "level": "township", "week_start": wk(O + w), "score": score,
                         "model_version": "m", "county_code": "370102000000"})
    scores = pd.DataFrame(rows)
    eps = pd.DataFrame([
        {"episode_id": "A", "region_code": towns[0], "dispute_type": "劳动争议", "start_week": str(wk(O + 4)),
         "peak_week": str(wk(O + 7)), "end_week": str(wk(O + 8)), "kind": "escalation"},
        {"episode_id": "B", "region_code": towns[5], "dispute_type": "物业", "start_week": str(wk(O + 8)),
         "peak_week": str(wk(O + 10)), "end_week": str(wk(O + 11)), "kind": "escalation"},
        {"episode_id": "S", "region_code": towns[1], "dispute_type": "物业", "start_week": str(wk(O + 1)),
         "peak_week": str(wk(O + 2)), "end_week": str(wk(O + 3)), "kind": "seasonal"},
    ])
    alerts = top_alerts(scores, 0.02)
    alerts = alerts[alerts["week_start"] >= wk(O)]
    assert len(alerts) == 12
    m = evaluate_alerts(alerts, eps, [wk(O + w) for w in range(12)])
    assert m["episodes"] == 2 and m["detected"] == 1 and m["recall"] == 0.5
    assert m["median_lead_weeks"] == 2.0
    assert m["precision"] == pytest.approx(3 / 12)
    assert m["false_alerts"] == 9
    assert m["false_alerts_confounder"] == 1 and m["fa_seasonal"] == 1
    # A county-level confounder covers all its townships: weeks 1-3 alerts all fall in it.
    outage = {"episode_id": "O", "region_code": "370102000000", "dispute_type": "其他", "start_week": str(wk(O + 1)),
              "peak_week": str(wk(O + 2)), "end_week": str(wk(O + 3)), "kind": "outage"}
    m2 = evaluate_alerts(alerts, pd.concat([eps, pd.DataFrame([outage])]), [wk(O + w) for w in range(12)])
    assert m2["fa_outage"] == 3 and m2["fa_seasonal"] == 1 and m2["false_alerts_confounder"] == 3
    # A city code covers every township of the city; another city's code none.
    assert evaluate_alerts(alerts, pd.concat([eps, pd.DataFrame([outage | {"region_code": "370100000000"}])]),
                           [wk(O + w) for w in range(12)])["fa_outage"] == 3
    assert evaluate_alerts(alerts, pd.concat([eps, pd.DataFrame([outage | {"region_code": "370200000000"}])]),
                           [wk(O + w) for w in range(12)])["fa_outage"] == 0

    lake = Lake.at(tmp_path / "lake")
    truth = tmp_path / "truth"
    truth.mkdir()
    eps.to_csv(truth / "episodes.csv", index=False)
    feats = scores.rename(columns={"score": "total_contacts"}).assign(total_contacts=10.0, region_name="x")
    write_table(scores.assign(reasons=[[] for _ in range(len(scores))]), lake, "gold", "risk_scores")
    write_table(feats, lake, "gold", "region_week_features")
    res = backtest(lake, truth, budget_share=0.02)
    assert list(res["detector"]) == ["model", "ears_c1", "ears_c2", "ears_c3"]
    row = res.set_index("detector").loc["model"]
    assert row["weeks"] == 13                                       # weeks 9..21: EARS C2 warm from week 9
    assert row["recall"] == 0.5 and row["median_lead_weeks"] == 2.0 and row["fa_seasonal"] == 1
    assert row["lead_ceiling_weeks"] == 2.5                         # A could be warned 3 weeks ahead, B 2
    assert row["precision"] == pytest.approx(3 / 13)
    assert "ears_c2" in format_backtest(res)


def test_scoring_never_reads_truth():
    import inspect

    from jobs.gold import risk_scores as gold_risk_scores

    src = inspect.getsource(gold_risk_scores)
    assert "models.labels" not in src and "episodes" not in src and "truth_dir" not in src


def test_backtest_window_and_training_overlap():
    from models.backtest import backtest_frames

    towns = [f"370102{i:03d}000" for i in range(1, 11)]
    scores = pd.DataFrame([{"region_code": c, "level": "township", "week_start": wk(w), "score": 0.1 + i / 100,
                            "model_version": "m"} for w in range(10) for i, c in enumerate(towns)])
    eps = pd.DataFrame(columns=["episode_id", "region_code", "dispute_type", "start_week", "peak_week",
                                "end_week", "kind"])
    res = backtest_frames({"model": scores, "other": scores}, eps, 0.02, first_week=wk(4),
                          training_window=(str(wk(0)), str(wk(5))))
    assert list(res["weeks"]) == [6, 6] and list(res["alerts"]) == [6, 6]
    assert list(res["training_overlap_weeks"]) == [2, 0]


def test_quiet_week_keeps_column_types(tmp_path):
    import pyarrow as pa
    import pyarrow.dataset as ds

    from fengqiao.core.schemas import RISK_SCORES_PUBLISHED
    from fengqiao.lake import Lake, for_parquet, write_table
    from models.levels import assign_levels

    quiet = assign_levels(_scores(n=10, weeks=1).assign(score=0.001))
    assert not quiet["flagged"].any()
    path = write_table(for_parquet(quiet, RISK_SCORES_PUBLISHED), Lake.at(tmp_path), "gold", "risk_scores")
    schema = ds.dataset(path, partitioning="hive").schema
    assert schema.field("reasons").type == pa.list_(pa.string())
    assert schema.field("risk_level").type == pa.string()


def test_time_split_moves_boundaries_to_keep_an_escalation_in_each_slice():
    from models.time_split import InsufficientEscalationsError, time_split

    weeks = [wk(i) for i in range(60)]
    y = [1 if i in (5, 30, 58) else 0 for i in range(60)]
    plain = time_split(weeks, 4)
    assert not any(y[weeks.index(w)] for w in plain["calibrate"])       # the plain cut misses one
    s = time_split(weeks, 4, targets=y)
    for name in ("fit", "calibrate", "test"):
        assert sum(y[weeks.index(w)] for w in s[name]) >= 1, name
    assert max(s["fit"]) < min(s["calibrate"]) and max(s["calibrate"]) < min(s["test"])
    assert (min(s["calibrate"]) - max(s["fit"])).days // 7 > 4 and (min(s["test"]) - max(s["calibrate"])).days // 7 > 4
    with pytest.raises(InsufficientEscalationsError):
        time_split(weeks, 4, targets=[1 if i == 30 else 0 for i in range(60)])


@pytest.mark.parametrize("pairs,calibrated", [([(3, 20), (7, 45)], True), ([(3, 30)], False)])
def test_training_with_few_escalations(pairs, calibrated):
    from models.escalation import predict_proba
    from models.train import train_from_tables

    feats = synthetic_features(n_counties=2, towns_per_county=8, n_weeks=60, episodes=pairs)
    model, meta = train_from_tables(feats, episodes_frame(feats, pairs))
    m = meta["metrics"]
    assert m["evaluation"].startswith("none")                          # too few escalations to hold out a test
    assert (m["deployed"]["calibration_method"] != "none") == calibrated
    p = predict_proba(model, feats[feats["level"] == "township"])
    assert np.all((p >= 0) & (p <= 1))


# --- context features, alert threshold, horizons ------------------------------------------------

def test_context_features_separate_local_rise_from_county_wide_rise():
    from models.context_features import CONTEXT_COLUMNS, add_context_features

    feats = synthetic_features(n_weeks=12, seed=5)
    week = wk(11)
    town = (feats["level"] == "township") & (feats["week_start"] == week)
    county_a = feats.loc[town, "county_code"].iloc[0]
    in_a = town & (feats["county_code"] == county_a)
    # County A: every township doubles (a new reporting channel); one township of county B triples alone.
    feats.loc[in_a, "total_contacts_chg_8w"] = 2.0
    feats.loc[in_a, "total_contacts"] = feats.loc[in_a, "total_contacts"] * 2
    lone = feats.index[town & (feats["county_code"] != county_a)][0]
    feats.loc[lone, "total_contacts_chg_8w"] = 3.0
    feats.loc[lone, "total_contacts"] = feats.loc[lone, "total_contacts"] * 3
    out = add_context_features(feats)
    assert out.loc[feats["level"] == "county", CONTEXT_COLUMNS].isna().all().all()
    rel = out.loc[town, "rel_county_chg_8w"]
    assert rel.loc[lone] > 2.0                                       # against its county
    assert rel.loc[in_a].between(0.7, 1.5).all()                     # with its county
    assert out.loc[in_a, "county_rest_chg_8w"].min() > 1.5
    shares = out.loc[in_a, "county_share"]
    assert abs(shares.sum() - 1.0) < 1e-9
    # Same week alone gives the same values: nothing depends on other weeks.
    alone = add_context_features(feats[feats["week_start"] == week])
    np.testing.assert_allclose(alone.loc[alone["level"] == "township", CONTEXT_COLUMNS].to_numpy(dtype=float),
                               out.loc[town, CONTEXT_COLUMNS].to_numpy(dtype=float))


def test_alert_threshold_meets_target_precision_on_calibration_rows():
    from models.alert_threshold import ALERT_MIN_ALERTS, choose_alert_threshold
    from models.levels import SCORE_FLOOR

    rng = np.random.default_rng(7)
    weeks = np.repeat(np.arange(40), 100)
    p = rng.uniform(0, 0.2, size=len(weeks))
    y = (rng.uniform(size=len(weeks)) < p * 2).astype(int)   # precision rises with p
    out = choose_alert_threshold(weeks, y, p, target_precision=0.3, budget_share=0.02)
    t = out["threshold"]
    assert t >= SCORE_FLOOR and "precision" in out
    sent = pd.DataFrame({"w": weeks, "p": p, "y": y})
    sent["r"] = sent.groupby("w")["p"].rank(ascending=False, method="first")
    top = sent[(sent["r"] <= 2) & (sent["p"] >= t)]
    assert len(top) >= ALERT_MIN_ALERTS and top["y"].mean() >= 0.3
    assert out["precision"] == pytest.approx(top["y"].mean())
    # The lowest such threshold: alerting every budget row below it as well misses the target.
    lower = sent[(sent["r"] <= 2) & (sent["p"] < t)].sort_values("p", ascending=False)
    if len(lower):
        assert pd.concat([top, lower.head(len(lower))])["y"].mean() < 0.3
    # No escalation in the calibration rows: the base-rate rule, never below the floor.
    none = choose_alert_threshold(weeks, np.zeros_like(y), p)
    assert none["threshold"] == SCORE_FLOOR and "base rate" in none["method"]


@pytest.fixture(scope="module")
def trained_horizons():
    from models.train import train_horizons_from_tables

    pairs = spread_episodes()
    feats = synthetic_features(episodes=pairs)
    eps = episodes_frame(feats, pairs)
    model, meta = train_horizons_from_tables(feats, eps, horizons=(1, 2, 4))
    return feats, model, meta


def test_horizon_models_register_and_score(trained_horizons, tmp_path):
    from fengqiao.core.schemas import RISK_SCORES, columns_of
    from jobs.gold import risk_scores as gold_risk_scores
    from models.escalation import HorizonModels, predict_horizons, predict_proba
    from models.levels import CORROBORATED_FLOOR_SHARE, UNCORROBORATED_FLOOR_MULTIPLE
    from models.registry import load_current, register

    feats, model, meta = trained_horizons
    assert isinstance(model, HorizonModels) and model.horizons == [1, 2, 4]
    assert meta["horizons_weeks"] == [1, 2, 4] and meta["horizon_weeks"] == 4
    assert set(meta["horizons"]) == {"h1", "h2", "h4"}
    for h in ("h1", "h2", "h4"):
        assert meta["horizons"][h]["metrics"]["gap_weeks"] == int(h[1:])
        assert 0 < meta["horizons"][h]["alert_threshold"]["threshold"] < 1
    assert meta["model_version"].startswith("escalation-h124-")
    version = register(model, meta, tmp_path)
    loaded, meta2 = load_current(tmp_path)
    assert meta2["model_version"] == version
    town = feats[feats["level"] == "township"]
    by_h = predict_horizons(loaded, town)
    np.testing.assert_allclose(by_h[4], predict_proba(model, town))
    # A longer horizon covers more weeks before a peak: its mean probability is higher.
    assert by_h[1].mean() < by_h[4].mean()

    out = gold_risk_scores.score_features(feats, loaded, meta2, budget_share=0.05)
    assert list(out.columns) == columns_of(RISK_SCORES)
    t = out[out["level"] == "township"]
    assert t[["score_h1", "score_h2", "score_h4"]].notna().all().all()
    np.testing.assert_allclose(t["score"], t["score_h4"])
    threshold = gold_risk_scores.alert_threshold(meta2)
    assert threshold == meta2["alert_threshold"]["threshold"]
    # Below the threshold only where the keyword rule corroborates, and never below its share of it.
    rule = gold_risk_scores.keyword_rule_alarms(feats[feats["level"] == "township"])
    alarm = set(zip(rule.loc[rule["corroborated"], "region_code"], rule.loc[rule["corroborated"], "week_start"]))
    low = t[t["flagged"] & (t["score"] < threshold)]
    assert all((c, pd.Timestamp(w).date()) in alarm for c, w in zip(low["region_code"], low["week_start"]))
    assert not t.loc[t["score"] < threshold * CORROBORATED_FLOOR_SHARE, "flagged"].any()
    # ... and the model alone needs twice it.
    corroborated = [(c, pd.Timestamp(w).date()) in alarm for c, w in zip(t["region_code"], t["week_start"])]
    between = ~np.asarray(corroborated) & (t["score"] >= threshold).to_numpy() & (
        t["score"] < threshold * UNCORROBORATED_FLOOR_MULTIPLE).to_numpy()
    assert between.any() and not t.loc[between, "flagged"].any()
    c = out[out["level"] == "county"]
    assert (c["score_h4"] >= t.groupby(["county_code", "week_start"])["score_h4"].max()
            .reindex(list(zip(c["county_code"], c["week_start"]))).to_numpy() - 1e-12).all()


def test_baseline_scores_have_no_horizons(trained, tmp_path):
    from jobs.gold import risk_scores as gold_risk_scores

    feats, _, _, _ = trained
    base = gold_risk_scores.baseline_features(feats, budget_share=0.05)
    assert base[["score_h1", "score_h2", "score_h4"]].isna().all().all()


def test_reason_for_a_township_rising_against_its_county():
    from models.reasons import explain

    base = {c: 0.0 for c in FEATURE_COLUMNS}
    row = pd.Series({**base, "week_start": wk(10), "total_contacts": 30.0, "total_contacts_chg_8w": 3.0,
                     "county_rest_chg_8w": 1.05})
    reasons = explain(row)
    assert any("同区县其他乡镇仅上升5%" in r and "上升200%" in r for r in reasons), reasons
    # Rising with the rest of its county: no such reason.
    same = explain(row.copy().replace({1.05: 2.8}))
    assert not any("同区县其他乡镇" in r for r in same), same


def test_model_version_names_the_data_and_the_training_settings(monkeypatch):
    """Retraining the same data with the same settings gives the same version; another alert-threshold
    rule on the same data gives another version (and the settings are in the metadata)."""
    import models.alert_threshold as alert_threshold
    from models.train import train_from_tables

    pairs = spread_episodes()
    feats = synthetic_features(episodes=pairs)
    eps = episodes_frame(feats, pairs)
    _, first = train_from_tables(feats, eps, 4)
    _, again = train_from_tables(feats, eps, 4)
    assert first["model_version"] == again["model_version"]
    assert first["training_settings"]["alert_target_precision"] == alert_threshold.ALERT_TARGET_PRECISION
    monkeypatch.setattr(alert_threshold, "ALERT_TARGET_PRECISION", 0.55)
    _, other = train_from_tables(feats, eps, 4)
    assert other["training_settings"]["alert_target_precision"] == 0.55
    assert other["training_data_sha256"] == first["training_data_sha256"]
    assert other["model_version"] != first["model_version"]
    assert "55%" in other["alert_threshold"]["method"] or "base rate" in other["alert_threshold"]["method"]


def test_reasons_give_percentages_only_on_counts_of_ten_or_more():
    from models.reasons import explain

    hist = pd.DataFrame({"week_start": [wk(i) for i in range(8)], "type_labour": [20.0] * 8,
                         "total_contacts": [60.0] * 8})
    row = pd.Series({c: 0.0 for c in FEATURE_COLUMNS} | {"week_start": wk(8), "type_labour": 56.0,
                                                           "total_contacts": 70.0})
    assert "劳动争议类纠纷较前8周均值上升180%（本周56起，此前周均20.0起）" in "；".join(explain(row, hist))
