"""Text models: dispute-type classifier vs keyword rules, cue model vs lexicon, skops round trip, silver use.

Trained and measured on small simulated sets (jobs.training.text_corpus, from
fengqiao.simulator.text.labelled_texts): the training texts come from one seed, the held-out ones from another.
"""
from __future__ import annotations

import json

import pandas as pd
import pytest
from pyspark.sql import types as T

from jobs.training import text_corpus as corpus
from models import text_models as TM
from models import text_training
from models.registry import UntrustedModelError

KEY = "test-key"


@pytest.fixture(scope="module")
def type_training():
    return corpus.simulated_type_training(seed=11, n_per_feed=400)


@pytest.fixture(scope="module")
def type_model(type_training):
    return text_training.train_type_model(type_training)


@pytest.fixture(scope="module")
def cue_training():
    return corpus.simulated_cue_texts(seed=11, n_per_feed=200)


@pytest.fixture(scope="module")
def cue_model(cue_training):
    return text_training.train_cue_model(cue_training)


def test_classifier_beats_keyword_rules_on_held_out_calls(type_model):
    held_out = corpus.simulated_hotline_eval(seed=12, n=600)
    result = text_training.evaluate_type_model(type_model, held_out)
    clf, kw = result["classifier"], result["keyword_rules"]
    assert clf["n"] == kw["n"] == 600
    assert clf["accuracy"] > kw["accuracy"]
    assert clf["macro_f1"] > kw["macro_f1"]
    # every one of the 15 types is present in the held-out set and measured
    assert len(clf["recall_by_type"]) == 15


def test_cue_model_added_to_lexicon_loses_nothing(cue_model):
    # Silver flags a text when the lexicon or the model does: the model may only add true cues. (Alone, on
    # the simulator's few phrases which the lexicon lists in full, it does not beat the lexicon.)
    held_out = corpus.simulated_cue_texts(seed=12, n_per_feed=200)
    result = text_training.evaluate_cue_model(cue_model, held_out)
    assert result["model"]["positives"] == int(held_out["escalate"].sum()) > 0
    assert result["model_or_lexicon"]["f1"] >= result["lexicon"]["f1"]
    assert result["model_or_lexicon"]["precision"] >= result["lexicon"]["precision"]
    assert result["model"]["recall"] > 0.5  # it did learn the cues, not a constant


def test_skops_round_trip_with_metadata(tmp_path, type_model, type_training, cue_model, cue_training):
    metrics = {"held_out_accuracy": 0.5}
    v_type = TM.register_text_model(type_model, TM.TYPE_KIND, tmp_path, type_training["text"],
                                    type_training["label"], metrics,
                                    week_start=pd.to_datetime(pd.Series(["2025-01-06", "2025-03-03"])))
    v_cue = TM.register_text_model(cue_model, TM.CUE_KIND, tmp_path, cue_training["text"],
                                   cue_training["escalate"], {"f1": 1.0})
    assert not (tmp_path / "current.json").exists()  # the escalation model's pointer is not touched
    loaded = TM.TextModels.load(tmp_path)
    assert loaded.versions == {TM.TYPE_KIND: v_type, TM.CUE_KIND: v_cue}
    texts = corpus.simulated_hotline_eval(seed=13, n=50)["model_text"].tolist()
    assert list(loaded.dispute_type.predict(texts)) == list(type_model.predict(texts))
    assert list(loaded.cue.predict(texts)) == list(cue_model.predict(texts))
    meta = json.loads((tmp_path / TM.TYPE_KIND / f"{v_type}.json").read_text(encoding="utf-8"))
    assert meta["training_window"] == {"first_week": "2025-01-06", "last_week": "2025-03-03"}
    assert meta["training_data_sha256"] == TM.fingerprint(type_training["text"], type_training["label"])
    assert meta["metrics"] == metrics and meta["kind"] == TM.TYPE_KIND
    assert meta["training_rows"] == len(type_training)
    # a tampered file is refused
    skops_file = tmp_path / TM.TYPE_KIND / f"{v_type}.skops"
    skops_file.write_bytes(skops_file.read_bytes() + b"x")
    with pytest.raises(UntrustedModelError):
        TM.load_text_model(tmp_path, TM.TYPE_KIND)


def test_no_text_model_registered_gives_none(tmp_path):
    assert TM.TextModels.load(tmp_path) is None


def test_personal_data_never_reaches_the_vocabulary():
    name, phone, id_no, card = "欧阳明", "13912345678", "370102199001011234", "6222021234567890123"
    raw = [f"我叫{name}，电话{phone}，身份证号{id_no}，卡号{card}，老板拖欠工资三个月了" for _ in range(6)] + \
          [f"我叫{name}，电话{phone}，我和爱人闹离婚，想问问财产怎么分" for _ in range(6)]
    labels = ["劳动争议"] * 6 + ["婚姻家庭"] * 6
    # unmasked, the tokenizer would keep the name: masking is what keeps it out
    fragments = {t for t in TM.tokenize(raw[0]) if len(t) >= 2 and t in name}
    assert fragments
    training = TM.type_training_frame(pd.DataFrame({"summary": raw, "dispute_type": labels}))
    model = text_training.train_type_model(training)
    vocabulary = model.named_steps["tfidf"].vocabulary_
    assert len(vocabulary) > 0
    for token in vocabulary:
        assert not any(ch.isdigit() for ch in token), token
        for secret in (*fragments, name, phone, id_no, card, phone[-4:]):
            assert secret not in token.replace(" ", ""), token


def test_simulated_silver_text_is_masked():
    held_out = corpus.simulated_hotline_eval(seed=14, n=300)
    planted = [p for ps in held_out["pii"] for p in ps]
    assert planted
    joined = "\n".join(held_out["model_text"]) + "\n".join(held_out["transcript_text"])
    assert not [p for p in planted if p in joined]


# --- silver -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def regions(spark):
    from drop_builder import REGIONS

    return spark.createDataFrame([(r[0], r[1], r[2]) for r in REGIONS], "code string, name string, level string")


def _raw_calls(spark):
    from jobs.silver import hotline_calls as H

    tail = [T.StructField("source_file", T.StringType()), T.StructField("line_no", T.LongType())]
    schema = T.StructType(list(H.RAW_SCHEMA.fields) + tail)

    def call(cid, topic, say, satisfaction="4", duration="65"):
        turns = [("坐席", "您好"), ("来电人", f"我叫王小明，电话13812345678，{say}")]
        return (cid, "12348", "2025-03-03T09:15:22+08:00", duration, "13812345678", "王小明", "370102001001", None,
                "投诉", topic, turns, satisfaction, None, "2025-03-03T10:00:00+08:00", None, "bronze/hotline/x/a.jsonl",
                None)

    return spark.createDataFrame([
        call("A", "工资没发", "老板拖欠工资三个月了，找不到人"),
        call("B", "咨询", "婆媳天天吵架，日子过不下去了"),          # no keyword rule matches
        call("C", None, "小区物业不管事，还要涨物业费。我们要集体上访", satisfaction=None, duration=None),
    ], schema)


def test_silver_uses_the_classifier_when_registered_and_keywords_otherwise(spark, regions, type_model, cue_model):
    from jobs.silver import hotline_calls as H

    raw = _raw_calls(spark)
    fallback = {r["call_id"]: r for r in H.clean_hotline_calls(raw, regions, KEY)[0].collect()}
    models = TM.TextModels(dispute_type=type_model, cue=cue_model, versions={})
    silver, _ = H.clean_hotline_calls(raw, regions, KEY, text_models=models)
    with_model = {r["call_id"]: r for r in silver.collect()}
    assert [f.name for f in silver.schema.fields] == [f.name for f in H.HOTLINE_CALLS.fields]
    assert set(with_model) == set(fallback) == {"A", "B", "C"}
    # keyword fallback: silver's rules, computed in Python
    from fengqiao.core.disputes import keyword_type
    for cid, row in fallback.items():
        topic = {"A": "工资没发", "B": "咨询", "C": None}[cid]
        assert row["dispute_type"] == (keyword_type(topic) or keyword_type(row["transcript_text"]) or "其他")
    # model path: calls the rules type keep the rules' type; the one they cannot type (B) gets the
    # classifier's prediction on its masked topic and caller turns
    assert fallback["B"]["dispute_type"] == "其他"
    for c in "AC":
        assert with_model[c]["dispute_type"] == fallback[c]["dispute_type"] != "其他"
    text_b = TM.hotline_input(with_model["B"]["topic"], with_model["B"]["transcript_text"])
    assert with_model["B"]["dispute_type"] == TM.predict_types(type_model, [text_b])[0] != "其他"
    # escalation cues stay the lexicon's (the cue model is measured, not applied in silver)
    assert [with_model[c]["has_escalation_terms"] for c in "ABC"] == [fallback[c]["has_escalation_terms"] for c in "ABC"]
    assert with_model["C"]["has_escalation_terms"] is True
    for cid in "ABC":  # every other column passes through the Arrow batches unchanged (nulls, times, dates)
        other = [f.name for f in H.HOTLINE_CALLS.fields if f.name != "dispute_type"]
        assert [with_model[cid][c] for c in other] == [fallback[cid][c] for c in other]
    assert with_model["C"]["satisfaction"] is None and with_model["C"]["duration_sec"] is None
    for row in with_model.values():  # masked before the model read it
        assert "13812345678" not in row["transcript_text"] and "王小明" not in row["transcript_text"]


def test_work_orders_keep_the_category_table_and_classify_the_rest(spark, regions, type_model):
    from drop_builder import order
    from jobs.silver import raw_files as C
    from jobs.silver import work_orders as W

    tail = [T.StructField("source_file", T.StringType()), T.StructField("line_no", T.LongType())]
    schema = T.StructType([T.StructField(c, T.StringType()) for c in W.COLUMNS + [C.CORRUPT]] + tail)
    rows = [order("K1", category="城乡建设/物业收费"),                    # the table knows it
            order("U1", category="综合/多部门协调")[:6] + ["婆媳天天吵架，日子过不下去了"] + order("U1")[7:],
            order("U2", category="其他/咨询转办")[:6] + [""] + order("U2")[7:]]   # nothing to read
    raw = spark.createDataFrame([tuple(r) + (None, "bronze/workorders/x/o.csv", None) for r in rows], schema)
    fallback = {r["order_id"]: r for r in W.clean_work_orders(raw, regions)[0].collect()}
    silver, _ = W.clean_work_orders(raw, regions, text_models=TM.TextModels(type_model, None, {}))
    with_model = {r["order_id"]: r for r in silver.collect()}
    assert [f.name for f in silver.schema.fields] == [f.name for f in W.WORK_ORDERS.fields]
    assert with_model["K1"]["dispute_type"] == fallback["K1"]["dispute_type"] == "物业"
    assert with_model["U1"]["dispute_type"] == TM.predict_types(type_model, [with_model["U1"]["summary"]])[0]
    assert with_model["U1"]["dispute_type"] != fallback["U1"]["dispute_type"]
    assert with_model["U2"]["dispute_type"] == fallback["U2"]["dispute_type"] == "其他"
    other = [f.name for f in W.WORK_ORDERS.fields if f.name != "dispute_type"]
    for oid in ("K1", "U1", "U2"):  # the rest passes through the Arrow batches unchanged
        assert [with_model[oid][c] for c in other] == [fallback[oid][c] for c in other]
    assert with_model["U1"]["closed_at"] is None and with_model["U1"]["satisfaction"] is None


def test_applying_the_classifier_does_not_import_the_registrys_file_format():
    """The Python workers that type calls in silver import this module but load no file: skops (0.4 s of imports
    in every new worker) stays out until a model is saved or loaded."""
    import subprocess
    import sys
    from pathlib import Path

    probe = "import sys, models.text_models; print(sorted(m for m in sys.modules if m.split('.')[0] == 'skops'))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "[]"
