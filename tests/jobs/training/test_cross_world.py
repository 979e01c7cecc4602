"""Cross-world backtest (issue 17): train on drops of one world, score another's, every detector side by side."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from feature_frames import episodes_frame, spread_episodes, synthetic_features


def _drop(seed, world, scale=1.0):
    from jobs.training.cross_world_backtest import Drop

    pairs = spread_episodes(seed=seed + 1)
    feats = synthetic_features(episodes=pairs, seed=seed)
    counts = [c for c in feats.columns if c.endswith(("_contacts", "_calls", "_orders", "_cases"))]
    feats[counts] = feats[counts] * scale
    return Drop(f"{world}-{seed}", feats, episodes_frame(feats, pairs), {"world": world, "seed": seed})


def test_context_features_stay_within_each_drop():
    """Pooled drops share region codes and weeks: a township is still compared with its own drop's city only."""
    from models.context_features import add_context_features
    from models.train import train_horizons_from_drops

    a, b = _drop(0, "home"), _drop(1, "contract", scale=10.0)
    model, meta = train_horizons_from_drops([(a.features, a.episodes), (b.features, b.episodes)], horizons=(4,))
    alone = add_context_features(a.features[a.features["level"] == "township"])
    pooled = add_context_features(pd.concat([a.features, b.features])[lambda d: d["level"] == "township"])
    # Computed on the pooled frame, drop B's ten-fold counts would move drop A's city-wide change; per drop they
    # do not, and the model trained on both drops has as many rows as both drops' complete township-weeks.
    assert not np.allclose(alone["city_rest_chg_8w"].to_numpy(), pooled["city_rest_chg_8w"].to_numpy()[:len(alone)])
    towns = (a.features["level"] == "township").sum() + (b.features["level"] == "township").sum()
    assert meta["training_rows"] == towns - 2 * 30 * 4      # the last 4 weeks of each drop have no full label
    assert meta["training_positives"] > 0


def test_cross_world_backtest_names_both_worlds_and_every_detector():
    from jobs.training.cross_world_backtest import cross_world_backtest

    train, same, other = _drop(0, "home"), _drop(2, "home"), _drop(3, "contract", scale=3.0)
    table = cross_world_backtest([train], [same, other], budget_share=0.05, echo=lambda m: None)
    assert set(table["scored_on"]) == {"home seed 2", "contract seed 3"}
    assert set(table["trained_on"]) == {"home seed 0"} and set(table["train_world"]) == {"home"}
    assert set(table["eval_world"]) == {"home", "contract"}
    for scored in ("home seed 2", "contract seed 3"):
        rows = table[table["scored_on"] == scored]
        assert {"model", "keyword_rule", "ears_c2", "farrington", "persistence"} <= set(rows["detector"])
        assert set(rows["protocol"]) == {"equal_capacity", "as_sent"}
        # Every detector of a drop is evaluated on the same weeks and the same episodes.
        assert rows["weeks"].nunique() == 1 and rows["episodes"].nunique() == 1
    model = table[(table["detector"] == "model") & (table["protocol"] == "equal_capacity")]
    # The planted build-ups are visible in this synthetic world: a model trained on another seed finds them.
    assert (model["recall"] > 0.5).all()
    assert table["alert_threshold"].between(0.0, 1.0).all()
    # How early the records show a rise (the keyword rule's every alarm): one figure per drop, within the ceiling.
    per_drop = table.groupby("scored_on")[["rule_alarm_lead_weeks", "lead_ceiling_weeks"]].nunique()
    assert (per_drop == 1).all().all()
    assert (table["rule_alarm_lead_weeks"] <= table["lead_ceiling_weeks"] + 1e-9).all()


def test_read_drop_needs_truth_and_reads_the_world_stamp(tmp_path):
    from fengqiao.lake import Lake, write_table
    from jobs.training.cross_world_backtest import read_drop

    d = _drop(0, "home")
    lake = Lake.at(tmp_path / "lake")
    write_table(d.features, lake, "gold", "region_week_features")
    with pytest.raises(FileNotFoundError, match="episodes.csv"):
        read_drop(tmp_path / "lake", tmp_path / "truth")
    (tmp_path / "truth").mkdir()
    d.episodes.to_csv(tmp_path / "truth" / "episodes.csv", index=False)
    (tmp_path / "truth" / "world.json").write_text(json.dumps({"world": "contract", "seed": 5}), encoding="utf-8")
    drop = read_drop(tmp_path / "lake", tmp_path / "truth")
    assert drop.label == "contract seed 5" and len(drop.features) == len(d.features)


@pytest.mark.parametrize("world,vary", [("home", True), ("contract", False)])
def test_each_world_stamps_its_drop(tmp_path, world, vary):
    from fengqiao.worlds import simulate_world, world_label, world_of

    summary = simulate_world(world, tmp_path / "drop", seed=5, scale="small", weeks=3, vary=vary)
    stamp = world_of(tmp_path / "drop" / "truth")
    assert stamp["world"] == world and stamp["seed"] == 5 and stamp["vary"] is vary
    assert world_label(stamp).startswith(f"{world} seed 5")
    assert (tmp_path / "drop" / "reference" / "regions.csv").is_file()
    assert (tmp_path / "drop" / "truth" / "episodes.csv").is_file() and summary
    with pytest.raises(ValueError, match="unknown world"):
        simulate_world("elsewhere", tmp_path / "other", seed=5, scale="small", weeks=3)


def test_cli_refuses_an_unknown_world_and_a_bad_start(tmp_path):
    from typer.testing import CliRunner

    from fengqiao.app.cli import app

    runner = CliRunner()
    bad = runner.invoke(app, ["simulate", "--out", str(tmp_path / "d"), "--world", "mars"])
    text = " ".join(bad.output.replace("│", " ").split())  # the error box wraps its lines
    assert bad.exit_code == 2 and "'mars' is not one of 'home', 'contract'" in text
    late = runner.invoke(app, ["simulate", "--out", str(tmp_path / "d"), "--start", "2025-02-30"])
    assert late.exit_code == 2 and not (tmp_path / "d" / "truth").exists()
