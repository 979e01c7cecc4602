"""The backtest's as-sent protocol, its probability metrics and the HTML report (tiny frames, no Spark)."""
from __future__ import annotations

import datetime as dt
import math
import re

import numpy as np
import pandas as pd
import pytest

from jobs.training.backtest_report import data_fingerprint, write_report
from models.backtest import backtest_frames, evaluate_detectors, recall_by_budget
from models.backtest_alerts import PROTOCOLS, as_sent_alerts
from models.backtest_metrics import labelled_rows, probability_metrics
from models.backtest_report import reliability_bins, render_report

MONDAY = dt.date(2025, 1, 6)
TOWNS = [f"370102{i:03d}000" for i in range(1, 11)]
EPISODE_COLUMNS = ["episode_id", "region_code", "dispute_type", "start_week", "peak_week", "end_week", "kind"]


def wk(i: int) -> dt.date:
    return MONDAY + dt.timedelta(weeks=i)


def frame(n_weeks=6, towns=TOWNS, **cols) -> pd.DataFrame:
    """One row per township and week; ``score`` rises with the township's index unless given."""
    rows = [{"region_code": c, "level": "township", "week_start": wk(w), "score": 0.1 + 0.05 * i,
             "model_version": "m"} for w in range(n_weeks) for i, c in enumerate(towns)]
    df = pd.DataFrame(rows)
    for k, v in cols.items():
        df[k] = v(df) if callable(v) else v
    return df


def no_episodes() -> pd.DataFrame:
    return pd.DataFrame(columns=EPISODE_COLUMNS)


# --- as sent ---------------------------------------------------------------------------------------------

def test_rule_that_never_fires_alerts_nothing_while_equal_capacity_still_alerts():
    # EARS C1 statistic 2.9 everywhere: under its threshold of 3, so as sent it never alarms.
    det = {"ears_c1": frame(ears_stat=2.9, total_contacts=50.0)}
    res = backtest_frames(det, no_episodes(), budget_share=0.2, protocol="both").set_index("protocol")
    assert res.loc["as_sent", "alerts"] == 0 and res.loc["as_sent", "alerts_per_week"] == 0
    assert res.loc["equal_capacity", "alerts"] == 6 * 2                # k = ceil(0.2 × 10) = 2 a week
    assert res.loc["equal_capacity", "alerts_per_week"] == pytest.approx(2.0)
    # Just above the threshold in one township and week: exactly that one alert.
    stat = np.where((frame()["region_code"] == TOWNS[3]) & (frame()["week_start"] == wk(2)), 3.01, 2.9)
    res = backtest_frames({"ears_c1": frame(ears_stat=stat, total_contacts=50.0)}, no_episodes(), 0.2,
                          protocol="as_sent")
    assert res["alerts"].iloc[0] == 1


def test_as_sent_is_capped_at_the_weekly_budget_by_score():
    df = frame(n_weeks=3, alarm=True, total_contacts=50.0)
    alerts = as_sent_alerts(df, budget_share=0.2)
    k = math.ceil(0.2 * len(TOWNS))
    assert len(alerts) == 3 * k
    for _, week in alerts.groupby("week_start"):                      # the k highest scores of each week
        assert sorted(week["region_code"]) == sorted(TOWNS[-k:])
    # Fewer alarms than the budget: only those, not topped up.
    few = frame(n_weeks=3, alarm=lambda d: d["region_code"] == TOWNS[0], total_contacts=50.0)
    assert list(as_sent_alerts(few, 0.2)["region_code"]) == [TOWNS[0]] * 3


def test_small_count_guard_applies_to_every_detector_alike():
    from models.levels import MIN_CONTACTS

    contacts = frame()[["region_code", "week_start"]].assign(total_contacts=50.0)
    top = contacts["region_code"] == TOWNS[-1]                        # the highest score of every week
    contacts.loc[top, "total_contacts"] = MIN_CONTACTS - 1
    dets = {"ears_c2": frame(ears_stat=5.0), "persistence": frame(persistence_ratio=3.0),
            "farrington": frame(farrington_alarm=True), "model": frame(flagged=True)}
    run = evaluate_detectors(dets, no_episodes(), budget_share=0.1, protocol="as_sent", contacts=contacts)
    for name in dets:
        alerts = run.alerts(name, "as_sent")
        assert len(alerts) == 6 and TOWNS[-1] not in set(alerts["region_code"]), name
        assert set(alerts["region_code"]) == {TOWNS[-2]}, name         # the next one takes the slot
    # At exactly MIN_CONTACTS the township is eligible again; equal capacity ignores the guard.
    contacts.loc[top, "total_contacts"] = MIN_CONTACTS
    run = evaluate_detectors(dets, no_episodes(), budget_share=0.1, protocol="both", contacts=contacts)
    assert set(run.alerts("ears_c2", "as_sent")["region_code"]) == {TOWNS[-1]}
    contacts.loc[top, "total_contacts"] = 0
    run = evaluate_detectors(dets, no_episodes(), budget_share=0.1, protocol="both", contacts=contacts)
    assert set(run.alerts("ears_c2", "equal_capacity")["region_code"]) == {TOWNS[-1]}


def test_each_detector_uses_its_own_rule():
    dets = {
        "ears_c3": frame(ears_stat=lambda d: np.where(d["region_code"] == TOWNS[0], 2.5, 1.5)),  # C3 > 2
        "persistence": frame(persistence_ratio=lambda d: np.where(d["region_code"] == TOWNS[1], 2.0, 1.9)),
        "farrington": frame(farrington_alarm=lambda d: d["region_code"] == TOWNS[2]),
        "baseline": frame(score=lambda d: np.where(d["region_code"] == TOWNS[3], 0.51, 0.49)),
        "model": frame(flagged=lambda d: d["region_code"] == TOWNS[4]),
    }
    run = evaluate_detectors(dets, no_episodes(), budget_share=0.2, protocol="as_sent")
    for i, name in enumerate(dets):
        assert set(run.alerts(name, "as_sent")["region_code"]) == {TOWNS[i]}, name


def test_model_lag1_alarms_where_the_model_flagged_the_week_before():
    from models.backtest import baseline_detectors

    model = frame(flagged=lambda d: (d["region_code"] == TOWNS[0]) & (d["week_start"] == wk(2)))
    lag = baseline_detectors(frame(total_contacts=20.0), ("model_lag1",), model)["model_lag1"]
    fired = lag[lag["alarm"]]
    assert list(zip(fired["region_code"], fired["week_start"])) == [(TOWNS[0], wk(3))]


def test_probability_metrics_on_the_model_only_and_censored_tail():
    from sklearn.metrics import average_precision_score, brier_score_loss

    rng = np.random.default_rng(1)
    eps = pd.DataFrame([{"episode_id": "A", "region_code": TOWNS[2], "dispute_type": "劳动争议",
                         "start_week": str(wk(1)), "peak_week": str(wk(4)), "end_week": str(wk(5)),
                         "kind": "escalation"}])
    model = frame(n_weeks=12, score=lambda d: rng.uniform(0, 1, len(d)), flagged=False)
    res = backtest_frames({"model": model, "ears_c2": frame(n_weeks=12, ears_stat=1.0)}, eps, 0.1,
                          protocol="both").set_index(["detector", "protocol"])
    # Expected by hand: weeks 0..7 (their 4-week horizon ends by week 11); label 1 when TOWNS[2]'s peak
    # (week 4) lies in [w, w+4], i.e. weeks 0..4.
    rows = model[model["week_start"] <= wk(7)]
    y = ((rows["region_code"] == TOWNS[2]) & (rows["week_start"] <= wk(4))).astype(float)
    for proto in PROTOCOLS:
        assert res.loc[("model", proto), "brier"] == pytest.approx(brier_score_loss(y, rows["score"]))
        assert res.loc[("model", proto), "average_precision"] == pytest.approx(
            average_precision_score(y, rows["score"]))
        assert math.isnan(res.loc[("ears_c2", proto), "brier"])
    p, yy = labelled_rows(model, eps, [wk(i) for i in range(12)])
    assert len(p) == 8 * len(TOWNS) and yy.sum() == 5
    assert math.isnan(probability_metrics(np.array([0.2, 0.3]), np.array([0.0, 0.0]))["average_precision"])
    calib = probability_metrics(np.array([0.2, 0.4, 0.0]), np.array([1.0, 0.0, 0.0]))
    assert calib["mean_probability"] == pytest.approx(0.2) and calib["observed_rate"] == pytest.approx(1 / 3)
    assert math.isnan(probability_metrics(np.array([0.2]), np.array([1.0]), brier=False)["mean_probability"])


# --- reliability bins ------------------------------------------------------------------------------------

def test_reliability_bins_match_a_direct_count():
    rng = np.random.default_rng(7)
    p = np.concatenate([rng.uniform(0, 1, 300), [0.0, 0.5, 1.0, 0.95]])
    y = (rng.uniform(0, 1, len(p)) < p).astype(float)
    bins = reliability_bins(p, y, n_bins=10)
    assert len(bins) == 10 and bins["n"].sum() == len(p)
    for b in bins.itertuples(index=False):
        inside = [(pi, yi) for pi, yi in zip(p, y) if b.lo <= pi < b.hi or (b.bin == 9 and pi == 1.0)]
        assert b.n == len(inside)
        assert b.mean_predicted == pytest.approx(sum(pi for pi, _ in inside) / len(inside))
        assert b.observed_rate == pytest.approx(sum(yi for _, yi in inside) / len(inside))
    # A hand-made case: 0.05 and 0.15 twice, the last bin holds 1.0; bins without rows stay empty.
    small = reliability_bins([0.05, 0.15, 0.15, 1.0], [0, 1, 0, 1], n_bins=10).set_index("bin")
    assert small.loc[1, "n"] == 2 and small.loc[1, "observed_rate"] == pytest.approx(0.5)
    assert small.loc[9, "n"] == 1 and small.loc[9, "mean_predicted"] == 1.0
    assert small.loc[5, "n"] == 0 and math.isnan(small.loc[5, "observed_rate"])


def test_quantile_reliability_bins_hold_equal_shares_and_match_a_direct_count():
    rng = np.random.default_rng(11)
    p = rng.beta(0.3, 20, 1000)                      # a rare event: nearly all probabilities under 0.05
    y = (rng.uniform(0, 1, len(p)) < p).astype(float)
    bins = reliability_bins(p, y, n_bins=10, strategy="quantile")
    assert len(bins) == 10 and bins["n"].sum() == len(p) and set(bins["n"]) == {100}
    uniform = reliability_bins(p, y, n_bins=10)
    assert uniform["n"].iloc[0] > 900                # why quantile bins: equal widths lump the rows together
    for b in bins.itertuples(index=False):
        inside = (p >= b.lo) & ((p < b.hi) | ((b.bin == 9) & (p == b.hi)))
        assert b.n == inside.sum()
        assert b.mean_predicted == pytest.approx(p[inside].mean())
        assert b.observed_rate == pytest.approx(y[inside].mean())
    with pytest.raises(ValueError):
        reliability_bins(p, y, strategy="equal")
    tail = reliability_bins(p, y, strategy="tail")      # finer slices of the top: 500, 250, ..., 1 rows
    assert list(tail["n"]) == [500, 250, 150, 50, 25, 15, 5, 4, 1]
    assert tail["mean_predicted"].is_monotonic_increasing


# --- report ------------------------------------------------------------------------------------------------

def _report_run():
    rng = np.random.default_rng(3)
    eps = pd.DataFrame([
        {"episode_id": "A", "region_code": TOWNS[0], "dispute_type": "劳动争议", "start_week": str(wk(3)),
         "peak_week": str(wk(6)), "end_week": str(wk(7)), "kind": "escalation"},
        {"episode_id": "S", "region_code": "370102000000", "dispute_type": "物业", "start_week": str(wk(8)),
         "peak_week": str(wk(9)), "end_week": str(wk(10)), "kind": "seasonal"},
    ])
    hit = lambda d: ((d["region_code"] == TOWNS[0]) & d["week_start"].between(wk(4), wk(6))).to_numpy()
    model = frame(n_weeks=16, score=lambda d: np.where(hit(d), 0.8, rng.uniform(0, 0.2, len(d))),
                  flagged=lambda d: hit(d), score_h1=lambda d: rng.uniform(0, 1, len(d)), score_h2=np.nan,
                  score_h4=lambda d: d["score"])
    dets = {"model": model, "ears_c1": frame(n_weeks=16, ears_stat=lambda d: rng.normal(1, 2, len(d))),
            "farrington": frame(n_weeks=16, farrington_alarm=lambda d: rng.uniform(size=len(d)) < 0.1)}
    return evaluate_detectors(dets, eps, 0.1, protocol="both",
                              contacts=frame(n_weeks=16)[["region_code", "week_start"]].assign(total_contacts=9))


def test_report_has_one_svg_per_plot_and_every_detector(tmp_path):
    run = _report_run()
    budgets = (0.1, 0.5)                                          # two points keep the test short
    path = write_report(run, tmp_path / "reports" / "backtest" / "backtest.html", "abc123", budgets)
    text = path.read_text(encoding="utf-8")
    assert text.count("<svg") == 4 and text.count("</svg>") == 4
    figures = re.findall(r"<figure id='([a-z-]+)' class='plot'><svg", text)
    assert figures == ["recall-budget", "lead-times", "reliability", "confounders"]
    assert "abc123" in text and "<?xml" not in text
    for proto in PROTOCOLS:
        table = re.search(rf"<table class='detectors' data-protocol='{proto}'>(.*?)</table>", text, re.S).group(1)
        assert re.findall(r"data-detector='([a-z_0-9]+)'", table) == ["model", "ears_c1", "farrington"]
    # The reliability section lists score, score_h1 and score_h4 (score_h2 holds no value here).
    assert "score_h1 (1-week label)" in text and "score_h4 (4-week label)" in text and "score_h2" not in text
    # Same data, same bytes (no timestamp, fixed SVG ids).
    assert render_report(run, "abc123", budgets) == text
    # The lead ceiling is in the run's summary (episode A: start week 3, peak week 6); the rule's every-alarm lead
    # only when the keyword rule was backtested.
    assert "lead ceiling (a perfect detector" in text and "<td>3.0 weeks</td>" in text
    assert "every alarm, no budget" not in text
    run.table["rule_alarm_lead_weeks"] = 1.0
    assert "every alarm, no budget: median lead (when the records first show a rise)</th><td>1.0 weeks" in \
        render_report(run, "abc123", budgets)


def test_recall_by_budget_grows_with_the_budget():
    curve = recall_by_budget(_report_run(), budgets=(0.1, 0.5, 1.0))
    eq = curve[(curve["protocol"] == "equal_capacity") & (curve["detector"] == "ears_c1")]
    assert list(eq["recall"]) == sorted(eq["recall"])
    assert eq["recall"].iloc[-1] == 1.0                        # every township alerted every week
    assert set(curve["protocol"]) == set(PROTOCOLS)


def test_data_fingerprint_follows_content_not_names(tmp_path):
    from fengqiao.lake import Lake

    lake = Lake.at(tmp_path / "lake")
    part = lake.gold("risk_scores") / "week_start=2025-01-06"
    part.mkdir(parents=True)
    (part / "part-0001.parquet").write_bytes(b"rows")
    truth = tmp_path / "truth"
    truth.mkdir()
    (truth / "episodes.csv").write_text("episode_id\n", encoding="utf-8")
    first = data_fingerprint(lake, truth)
    (part / "part-0001.parquet").rename(part / "part-9999.parquet")
    assert data_fingerprint(lake, truth) == first
    (part / "part-9999.parquet").write_bytes(b"rows2")
    assert data_fingerprint(lake, truth) != first
