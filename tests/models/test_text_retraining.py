"""The dispute-type classifier retrained on a deployment's own texts (models.text_training.retrain_type_model).

Texts of two made-up phrasings of the same types: the registered classifier learned one ("another world"), the
deployment's mediation cases use the other, with their types stated as the registry states them.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from fengqiao.core.disputes import TYPE_LABELS
from models import text_models as TM
from models import text_training

LABELS = [t for t in TYPE_LABELS if t != "其他"][:6]


def words(phrasing: int, label: int) -> list[str]:
    """Eight two-character words of one type in one phrasing (CJK characters no other phrasing or type uses)."""
    base = 0x4E00 + 3000 * phrasing + 40 * label
    return [chr(base + 2 * k) + chr(base + 2 * k + 1) for k in range(8)]


def cases(phrasing_of_week, n: int, seed: int, weeks: int = 20) -> pd.DataFrame:
    """``n`` mediation cases over ``weeks`` weeks; a case of week w is worded in ``phrasing_of_week(w)``."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        week, label = i * weeks // n, int(rng.integers(len(LABELS)))
        vocabulary = words(phrasing_of_week(week), label)
        rows.append({"summary": "，".join(rng.choice(vocabulary, 3)) + "。", "dispute_type": LABELS[label],
                     "week_start": dt.date(2025, 1, 6) + dt.timedelta(weeks=week)})
    return pd.DataFrame(rows)


def trained_on(frame: pd.DataFrame):
    return text_training.train_type_model(TM.type_training_frame(frame))


def test_split_by_time_holds_out_the_latest_weeks():
    frame = TM.type_training_frame(cases(lambda w: 0, 1000, seed=1))
    earlier, later = text_training.split_by_time(frame)
    assert len(earlier) + len(later) == len(frame)
    assert 0.1 < len(later) / len(frame) < 0.3
    assert earlier["week_start"].max() < later["week_start"].min()


def test_a_classifier_from_another_world_is_replaced_by_one_of_the_deployment_s_own_texts(tmp_path):
    elsewhere = trained_on(cases(lambda w: 0, 2400, seed=2))
    own = cases(lambda w: 1, 2400, seed=3)
    result = text_training.retrain_type_model(tmp_path, own, None, elsewhere, "lake-a")
    assert result["held_out_own_texts"]["accuracy"] > 0.95
    assert result["registered_model_on_same"]["accuracy"] < 0.3  # it knows none of these words
    assert result["registered"] is not None
    model, meta = TM.load_text_model(tmp_path, TM.TYPE_KIND)
    assert meta["model_version"] == result["registered"] and meta["training_lake"] == "lake-a"
    # Trained on the earlier weeks only: the held-out weeks are not in its training window.
    assert meta["training_window"]["last_week"] < result["held_out_from_week"]
    assert set(TM.predict_types(model, own["summary"].head(50).tolist())) <= set(LABELS)


def test_a_better_registered_classifier_is_kept_unless_forced(tmp_path):
    # The deployment's latest weeks use words its earlier weeks never did; the registered classifier knows both.
    own = cases(lambda w: 1 if w < 16 else 2, 2400, seed=4)
    knows_both = trained_on(pd.concat([cases(lambda w: 1, 1200, seed=5), cases(lambda w: 2, 1200, seed=6)]))
    kept = text_training.retrain_type_model(tmp_path, own, None, knows_both, "lake-b")
    assert kept["registered"] is None and "kept the registered one" in kept["why"]
    assert kept["held_out_own_texts"]["accuracy"] < kept["registered_model_on_same"]["accuracy"]
    assert TM.load_text_model(tmp_path, TM.TYPE_KIND) is None  # nothing written
    forced = text_training.retrain_type_model(tmp_path, own, None, knows_both, "lake-b", force=True)
    assert forced["registered"] and forced["why"] == "forced"
    assert TM.load_text_model(tmp_path, TM.TYPE_KIND)[1]["model_version"] == forced["registered"]


def test_too_few_texts_with_a_stated_type_are_refused(tmp_path):
    with pytest.raises(ValueError, match="texts with a stated type; at least 2,000"):
        text_training.retrain_type_model(tmp_path, cases(lambda w: 0, 500, seed=7), None, None, "small-lake")
