"""Training life cycle on tiny synthetic frames: rolling origin without look-ahead, champion/challenger,
bureaus' dispositions as labels, refusal with too few labels (no Spark)."""
from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from features import FEATURE_COLUMNS

MONDAY = dt.date(2024, 1, 1)
H = 4


def wk(i: int) -> dt.date:
    return MONDAY + dt.timedelta(weeks=i)


def make_features(n_towns=20, n_weeks=60, peaks=(), seed=0) -> pd.DataFrame:
    """Township rows (two counties) and their county rows; ``peaks`` are (township index, peak week index):
    labour disputes, wage arrears and threatening words build up over the 4 weeks before each peak."""
    rng = np.random.default_rng(seed)
    towns = [(f"3701{2 + t // 10:02d}{t % 10 + 1:03d}000", f"3701{2 + t // 10:02d}000000") for t in range(n_towns)]
    boost = np.zeros((n_towns, n_weeks))
    for ti, peak in peaks:
        for lag, b in zip(range(4, -1, -1), (0.4, 0.8, 1.2, 1.8, 2.4)):
            if 0 <= peak - lag < n_weeks:
                boost[ti, peak - lag] = max(boost[ti, peak - lag], b)
    rows = []
    for ti, (code, county) in enumerate(towns):
        for w in range(n_weeks):
            b = boost[ti, w]
            r = dict.fromkeys(FEATURE_COLUMNS, 0.0)
            r.update(region_code=code, level="township", county_code=county, week_start=wk(w), region_name=f"测试{ti}镇")
            total = float(rng.poisson(15) + rng.poisson(8 * b))
            r.update(total_contacts=total, type_labour=float(rng.poisson(1 + 6 * b)),
                     wage_arrears=float(rng.poisson(0.5 + 3 * b)),
                     escalation_term_records=float(rng.poisson(0.2 + 2 * b)),
                     group_tendency_cases=float(rng.poisson(0.05 + 0.8 * b)),
                     complaint_share=float(rng.uniform(0.1, 0.3) + 0.1 * b))
            rows.append(r)
    town = pd.DataFrame(rows)
    county = town.groupby(["county_code", "week_start"])[FEATURE_COLUMNS].sum().reset_index()
    county = county.assign(level="county", region_code=county["county_code"], region_name="测试县")
    return pd.concat([town, county[town.columns]], ignore_index=True)


def make_episodes(features, peaks) -> pd.DataFrame:
    towns = sorted(features.loc[features["level"] == "township", "region_code"].unique())
    return pd.DataFrame([{"episode_id": f"e{i}", "region_code": towns[ti], "dispute_type": "劳动争议",
                          "start_week": str(wk(p - 4)), "peak_week": str(wk(p)), "end_week": str(wk(p + 2)),
                          "kind": "escalation"} for i, (ti, p) in enumerate(peaks)])


def spread_peaks(n_towns=20, first=8, last=58, every=2, seed=1):
    rng = np.random.default_rng(seed)
    return [(int(rng.integers(0, n_towns)), p) for p in range(first, last, every)]


@pytest.fixture(scope="module")
def world():
    peaks = spread_peaks()
    feats = make_features(peaks=peaks)
    return feats, make_episodes(feats, peaks), peaks


# --- 1. rolling origin -----------------------------------------------------------------------------------

def test_rolling_origin_never_uses_a_label_known_after_its_origin(world):
    from models.escalation_training import train_escalation_model
    from models.lifecycle import truth_labels
    from models.rolling_origin import rolling_origin_runs

    feats, eps, _ = world
    origin, step = wk(36), 12                                   # origins week 36 and week 48
    seen = []

    def spy(rows, targets, **kw):
        seen.append(max(rows["week_start"]))
        return train_escalation_model(rows, targets, **kw)

    kwargs = dict(horizon_weeks=H, step_weeks=step, first_origin=origin, reasons=False)
    base, runs = rolling_origin_runs(feats, eps, trainer=spy, **kwargs)
    assert list(runs["origin"]) == [wk(36), wk(48)] and (runs["status"] == "trained").all()
    # Each origin trained only on weeks whose label window had closed: week + horizon <= origin.
    assert [w + dt.timedelta(weeks=H) for w in seen] == [wk(36), wk(48)]
    assert set(base["model_version"]) == {"rolling-h4-o20240909", "rolling-h4-o20241202"}
    first = base[(base["week_start"] > wk(36)) & (base["week_start"] <= wk(48))]
    assert set(first["model_version"]) == {"rolling-h4-o20240909"}
    assert min(base["week_start"]) == wk(37)                   # nothing scored before the first origin

    # Escalations peaking just after the first origin (weeks 37-40) in quiet townships: they change the labels
    # of weeks 33-40, which a trainer reading labels before they are known would use at origin 36.
    busy = {ti for ti, _ in world[2]}
    quiet = [ti for ti in range(20) if ti not in busy] or [0, 1]
    later = [(quiet[i % len(quiet)], 37 + i) for i in range(4)] + [(quiet[(i + 1) % len(quiet)], 38 + i) for i in range(3)]
    eps2 = pd.concat([eps, make_episodes(feats, later).assign(episode_id=lambda d: "x" + d["episode_id"])])
    town = feats[feats["level"] == "township"]
    changed = truth_labels(town, eps2, H)["target"].to_numpy() != truth_labels(town, eps, H)["target"].to_numpy()
    assert changed.any()
    moved, _ = rolling_origin_runs(feats, eps2, **kwargs)

    def block(df, lo, hi):  # township scores of weeks (lo, hi]
        d = df[(df["level"] == "township") & (df["week_start"] > lo) & (df["week_start"] <= hi)]
        return d.sort_values(["week_start", "region_code"])["score"].to_numpy()

    # The first origin's scores are bit-identical: the late labels did not reach it …
    np.testing.assert_array_equal(block(moved, wk(36), wk(48)), block(base, wk(36), wk(48)))
    # … while the second origin, at which they are known, did learn from them (so the check can fail).
    assert not np.array_equal(block(moved, wk(48), wk(60)), block(base, wk(48), wk(60)))

    # Control: the same labels marked as known the week they refer to (look-ahead) do change the first block.
    def leaky(episodes):
        lab = truth_labels(town, episodes, H)
        return lab.assign(known_week=lab["week_start"])

    one_origin = {**kwargs, "step_weeks": 30}
    leak_a, _ = rolling_origin_runs(feats, labels=leaky(eps), **one_origin)
    leak_b, _ = rolling_origin_runs(feats, labels=leaky(eps2), **one_origin)
    assert not np.array_equal(block(leak_a, wk(36), wk(48)), block(leak_b, wk(36), wk(48)))


def test_rolling_origin_frame_is_risk_scores_format(world):
    from fengqiao.core.schemas import RISK_SCORES, columns_of
    from models.levels import budget_k
    from models.rolling_origin import rolling_origin_scores

    feats, eps, _ = world
    out = rolling_origin_scores(feats, eps, horizon_weeks=H, step_weeks=30, first_origin=wk(50),
                                train_kwargs={"refit_full": False})
    assert list(out.columns) == columns_of(RISK_SCORES)
    assert sorted(out["week_start"].unique()) == [wk(w) for w in range(51, 60)]
    assert set(out["level"]) == {"township", "county", "city", "province"}
    town = out[out["level"] == "township"]
    assert town.groupby("week_start")["flagged"].sum().le(budget_k(20, 0.02)).all()
    assert town["flagged"].any()
    flagged = town[town["flagged"]]
    assert all(len(r) >= 1 for r in flagged["reasons"])
    assert set(flagged["risk_level"]) <= {"红", "橙", "黄", "蓝"}


# --- 2. champion / challenger -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_models(world):
    """A model trained on the true labels and one trained on the same labels shuffled, evaluated on later weeks."""
    from models.lifecycle import truth_labels
    from models.train import train_on_labels

    feats, eps, _ = world
    labels = truth_labels(feats, eps, H)
    train = labels[labels["week_start"] <= wk(38)]
    held = labels[(labels["week_start"] >= wk(43)) & (labels["week_start"] <= wk(55))]
    good = train_on_labels(feats, train, H, refit_full=False)
    shuffled = train.assign(target=np.random.default_rng(7).permutation(train["target"].to_numpy()))
    bad = train_on_labels(feats, shuffled, H, refit_full=False)
    assert good[1]["model_version"] != bad[1]["model_version"]
    return feats, held, good, bad


def test_champion_kept_when_challenger_is_worse(two_models, tmp_path):
    from models.champion_challenger import register_if_better
    from models.registry import current_version, load_current

    feats, held, (good, good_meta), (bad, bad_meta) = two_models
    first = register_if_better(good, good_meta, tmp_path, feats, held)
    assert first["decision"] == "promoted" and first["current"] == good_meta["model_version"]

    res = register_if_better(bad, bad_meta, tmp_path, feats, held)
    assert res["decision"] == "challenger"
    assert current_version(tmp_path) == good_meta["model_version"]
    assert load_current(tmp_path)[1]["model_version"] == good_meta["model_version"]
    # The challenger is registered, with both models' figures on the same rows in its metadata.
    meta = json.loads((tmp_path / f"{bad_meta['model_version']}.json").read_text())
    cc = meta["champion_challenger"]
    assert meta["role"] == "challenger" and (tmp_path / f"{bad_meta['model_version']}.skops").exists()
    assert cc["champion"]["model_version"] == good_meta["model_version"]
    assert cc["champion"]["metrics"]["rows"] == cc["challenger"]["rows"] == len(held)
    assert cc["challenger"]["average_precision"] < cc["champion"]["metrics"]["average_precision"]
    assert "worse" in cc["reason"]

    forced = register_if_better(bad, bad_meta, tmp_path, feats, held, force=True)
    assert forced["decision"] == "forced" and current_version(tmp_path) == bad_meta["model_version"]
    log = [json.loads(line) for line in (tmp_path / "champion_challenger.jsonl").read_text().splitlines()]
    assert [e["decision"] for e in log] == ["promoted", "challenger", "forced"]
    assert log[1]["champion"] == good_meta["model_version"]


def test_champion_replaced_when_challenger_is_better(two_models, tmp_path):
    from models.champion_challenger import register_if_better
    from models.registry import current_version, register

    feats, held, (good, good_meta), (bad, bad_meta) = two_models
    register(bad, bad_meta, tmp_path)
    res = register_if_better(good, good_meta, tmp_path, feats, held)
    assert res["decision"] == "promoted" and current_version(tmp_path) == good_meta["model_version"]
    champ = res["champion"]["metrics"]
    for key in ("average_precision", "recall_at_budget"):
        assert res["challenger"][key] >= champ[key]
    assert res["challenger"]["average_precision"] > champ["average_precision"]
    meta = json.loads((tmp_path / f"{good_meta['model_version']}.json").read_text())
    assert meta["role"] == "current" and meta["champion_challenger"]["champion"]["model_version"] == bad_meta["model_version"]


def test_decide_and_holdout_gap():
    from models.champion_challenger import decide, split_holdout

    assert decide(None, {"average_precision": 0.1})[0]
    assert decide({"average_precision": 0.5, "recall_at_budget": 0.4},
                  {"average_precision": 0.5, "recall_at_budget": 0.4})[0]          # ties keep "at least as good"
    assert not decide({"average_precision": 0.5, "recall_at_budget": 0.4},
                      {"average_precision": 0.6, "recall_at_budget": 0.3})[0]      # worse on one figure
    labels = pd.DataFrame({"region_code": "370102001000", "week_start": [wk(i) for i in range(30)],
                           "target": [i % 3 == 0 for i in range(30)], "known_week": [wk(i + H) for i in range(30)],
                           "source": "truth"}).astype({"target": int})
    train, held = split_holdout(labels, holdout_weeks=10, horizon_weeks=H)
    assert sorted(held["week_start"]) == [wk(i) for i in range(20, 30)]
    assert max(train["week_start"]) == wk(15)                    # weeks 16-19 purged: their windows reach week 20


# --- 3. dispositions as labels -----------------------------------------------------------------------------

def _disp(alert_id, region, week, disposition, at):
    zh = {"confirmed": "已核实", "dismissed": "已排除", "handled": "已处置"}[disposition]
    return {"alert_id": alert_id, "region_code": region, "week_start": week, "recipient_unit": "x司法所",
            "disposition": disposition, "disposition_zh": zh, "disposed_at": pd.Timestamp(at, tz="UTC"),
            "received_via": "file", "note_masked": None, "received_at": pd.Timestamp("2024-06-01", tz="UTC"),
            "key_id": "a1b2c3d4e5f6"}


def test_dispositions_become_labels():
    from models.lifecycle import combine_labels, feedback_labels

    t1, t2, t3, t4 = (f"370102{i:03d}000" for i in (1, 2, 3, 4))
    disp = pd.DataFrame([
        _disp("A", t1, wk(10), "confirmed", "2024-03-13T02:00"),
        _disp("B", t2, wk(10), "dismissed", "2024-03-14T02:00"),
        _disp("C", t3, wk(11), "handled", "2024-03-24T17:00"),      # Sunday in UTC, Monday 01:00 in Beijing: wk 12
        _disp("D", t4, wk(11), "confirmed", "2024-03-20T02:00"),    # confirmed, later dismissed: the latest counts
        _disp("D", t4, wk(11), "dismissed", "2024-04-02T02:00"),
        _disp("E", "370102000000", wk(10), "confirmed", "2024-03-13T02:00"),   # a county alert: not a township
        # Unsigned (no key_id: stored before dispositions were signed): never a label, not even a later answer.
        {**_disp("F", t1, wk(10), "dismissed", "2024-03-20T02:00"), "key_id": None},
        {**_disp("G", "370102006000", wk(10), "confirmed", "2024-03-13T02:00"), "key_id": ""},
    ])
    lab = feedback_labels(disp)
    got = {(r.region_code, r.week_start): (r.target, r.known_week) for r in lab.itertuples()}
    assert got == {(t1, wk(10)): (1, wk(10)), (t2, wk(10)): (0, wk(10)),
                   (t3, wk(11)): (1, wk(12)), (t4, wk(11)): (0, wk(13))}
    assert set(lab["source"]) == {"feedback"}

    # With truth, truth wins and disagreements are counted; unanswered township-weeks stay truth's.
    truth = pd.DataFrame({"region_code": [t1, t2, t3, t4, "370102005000"], "week_start": [wk(10), wk(10), wk(11), wk(11), wk(11)],
                          "target": [0, 0, 1, 1, 1], "known_week": [wk(14), wk(14), wk(15), wk(15), wk(15)],
                          "source": "truth"})
    combined, stats = combine_labels(truth, lab)
    assert stats["disagreements"] == 2
    assert stats["confirmed_but_truth_negative"] == 1 and stats["dismissed_but_truth_positive"] == 1
    assert len(combined) == 5 and (combined["source"] == "truth").all()
    assert dict(zip(combined["region_code"], combined["target"])) == dict(zip(truth["region_code"], truth["target"]))
    # Without truth, only answered township-weeks are labels: nothing else becomes a negative.
    alone, stats = combine_labels(None, lab)
    assert len(alone) == 4 and stats["disagreements"] == 0


# --- 4. training from a lake's dispositions (CLI) ----------------------------------------------------------

def _lake_with_dispositions(tmp_path, feats, labels):
    from fengqiao.lake import Lake, write_table

    lake = Lake.at(tmp_path / "lake")
    write_table(feats, lake, "gold", "region_week_features")
    rows = [_disp(f"{i:020X}", r.region_code, r.week_start, "confirmed" if r.target else "dismissed",
                  pd.Timestamp(r.week_start) + pd.Timedelta(days=9)) for i, r in enumerate(labels.itertuples())]
    write_table(pd.DataFrame(rows), lake, "gold", "alert_dispositions")
    return lake


def test_train_refuses_with_too_few_dispositions(world, tmp_path):
    from typer.testing import CliRunner

    from fengqiao.app.cli import app
    from models.lifecycle import InsufficientLabelsError, check_feedback, truth_labels

    feats, eps, _ = world
    labels = truth_labels(feats, eps, H)
    few = pd.concat([labels[labels["target"] == 1].head(12), labels[labels["target"] == 0].head(40)])
    lake = _lake_with_dispositions(tmp_path, feats, few)
    with pytest.raises(InsufficientLabelsError, match="12 positive"):
        check_feedback(few)
    result = CliRunner().invoke(app, ["train", "--lake", str(lake.root), "--model-dir", str(tmp_path / "models")])
    assert result.exit_code == 2, result.output
    assert "too few bureau dispositions" in result.output and "12 positive" in result.output
    assert "at least 20 positive" in result.output
    assert not (tmp_path / "models" / "current.json").exists()


def test_train_on_dispositions_without_reading_truth(world, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import jobs.training.train
    from fengqiao.app.cli import app
    from models.lifecycle import truth_labels
    from models.registry import load_current

    feats, eps, _ = world
    labels = truth_labels(feats, eps, H)
    rng = np.random.default_rng(3)
    pos = labels[labels["target"] == 1]
    neg = labels[labels["target"] == 0].sample(60, random_state=3)
    answered = pd.concat([pos[rng.random(len(pos)) < 0.8], neg])     # some alerts are never answered
    lake = _lake_with_dispositions(tmp_path, feats, answered)

    def no_truth(*a, **k):
        raise AssertionError("truth/ must not be read without --truth")

    monkeypatch.setattr(jobs.training.train, "read_episodes", no_truth)
    result = CliRunner().invoke(app, ["train", "--lake", str(lake.root), "--model-dir", str(tmp_path / "models")])
    assert result.exit_code == 0, result.output
    _, meta = load_current(tmp_path / "models")
    assert meta["label_sources"] == ["feedback"]
    assert meta["training_rows"] == len(answered)                   # only answered township-weeks
    assert meta["training_positives"] == int(answered["target"].sum())
    assert meta["champion_challenger"]["decision"] == "first model"


def test_train_with_truth_holds_out_latest_weeks_and_counts_disagreements(world, tmp_path):
    from typer.testing import CliRunner

    from fengqiao.app.cli import app
    from models.lifecycle import truth_labels
    from models.registry import current_version, register
    from models.train import train_on_labels

    feats, eps, _ = world
    labels = truth_labels(feats, eps, H)
    pos, neg = labels[labels["target"] == 1], labels[labels["target"] == 0]
    # 5 answers that contradict truth (confirmed where truth has no escalation) among 25 that agree.
    answered = pd.concat([pos.head(20), neg.head(5).assign(target=1)])
    lake = _lake_with_dispositions(tmp_path, feats, answered)
    truth = tmp_path / "truth"
    truth.mkdir()
    eps.to_csv(truth / "episodes.csv", index=False)
    # The current model was trained on shuffled labels: it cannot rank, so the new one replaces it.
    models_dir = tmp_path / "models"
    shuffled = labels[labels["week_start"] <= wk(30)]
    shuffled = shuffled.assign(target=np.random.default_rng(11).permutation(shuffled["target"].to_numpy()))
    champ, champ_meta = train_on_labels(feats, shuffled, H, refit_full=False)
    register(champ, champ_meta, models_dir)

    result = CliRunner().invoke(app, ["train", "--lake", str(lake.root), "--truth", str(truth),
                                      "--model-dir", str(models_dir), "--holdout-weeks", "10"])
    assert result.exit_code == 0, result.output
    new = json.loads(next(p for p in models_dir.glob("escalation-h124-*.json")).read_text())
    cc = new["champion_challenger"]
    held_first = pd.Timestamp(cc["challenger"]["first_week"]).date()
    assert cc["challenger"]["weeks"] == 10 and cc["challenger"]["last_week"] == str(wk(60 - 1 - H))
    # Purge gap: the challenger's labels end horizon weeks before the first held-out week.
    assert pd.Timestamp(new["training_window"]["last_week"]).date() == held_first - dt.timedelta(weeks=H + 1)
    assert new["labels"]["disagreements"] == 5 and new["labels"]["confirmed_but_truth_negative"] == 5
    assert cc["champion"]["model_version"] == champ_meta["model_version"]
    assert cc["decision"] == "promoted" and current_version(models_dir) == new["model_version"]
    assert "(current)" in result.output
