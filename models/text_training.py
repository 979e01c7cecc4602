"""Training and measuring the text models of :mod:`models.text_models` on labelled text.

The dispute-type classifier is compared with silver's keyword rules, the cue model with the lexicon, on
held-out texts the caller gives (the training job simulates them: :mod:`jobs.training.text_corpus`); the
figures go into each model's metadata when it is registered.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score
from sklearn.pipeline import Pipeline

from fengqiao.core.disputes import TYPE_LABELS, keyword_type
from fengqiao.core.lexicon import ESCALATION_TERMS
from models.text_models import (CUE_KIND, TYPE_KIND, cue_pipeline, predict_types, register_text_model,
                                type_pipeline, type_training_frame)

# --- baselines and metrics -------------------------------------------------------------------------
def keyword_types(topics, transcripts) -> list[str]:
    """Silver's keyword rule: the topic's first matching rule, else the transcript's, else 其他."""
    return [keyword_type(t) or keyword_type(s) or "其他" for t, s in zip(topics, transcripts)]


def lexicon_flags(texts) -> np.ndarray:
    return np.array([any(term in (t or "") for term in ESCALATION_TERMS) for t in texts])


def type_metrics(y_true, y_pred, top_confusions: int = 5) -> dict:
    labels = [t for t in TYPE_LABELS if t in set(y_true) | set(y_pred)]
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    pairs = [(int(cm[i, j]), labels[i], labels[j]) for i in range(len(labels)) for j in range(len(labels))
             if i != j and cm[i, j]]
    pairs.sort(reverse=True)
    recall = {labels[i]: round(float(cm[i, i] / cm[i].sum()), 4) for i in range(len(labels)) if cm[i].sum()}
    return {"n": int(len(y_true)), "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
            "macro_f1": round(float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)), 4),
            "recall_by_type": recall,
            "top_confusions": [f"{t}→{p}: {n}" for n, t, p in pairs[:top_confusions]]}


def cue_metrics(y_true, y_pred) -> dict:
    y_true, y_pred = np.asarray(y_true, bool), np.asarray(y_pred, bool)
    return {"n": int(len(y_true)), "positives": int(y_true.sum()),
            "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
            "precision": round(float(precision_score(y_true, y_pred, zero_division=0)), 4),
            "recall": round(float(recall_score(y_true, y_pred, zero_division=0)), 4),
            "f1": round(float(f1_score(y_true, y_pred, zero_division=0)), 4)}


def train_type_model(training: pd.DataFrame) -> Pipeline:
    return type_pipeline().fit(training["text"].tolist(), training["label"].to_numpy())


def train_cue_model(texts: pd.DataFrame) -> Pipeline:
    return cue_pipeline().fit(texts["text"].tolist(), texts["escalate"].to_numpy(bool))


def evaluate_type_model(model: Pipeline, held_out: pd.DataFrame) -> dict:
    """Classifier vs silver's keyword rules on held-out calls (columns of
    :func:`jobs.training.text_corpus.simulated_hotline_eval`: ``model_text``, the raw topic and transcript
    the keyword rules read, and the true ``dispute_type``)."""
    predicted = predict_types(model, held_out["model_text"].tolist())
    keywords = keyword_types(held_out["topic_raw"], held_out["transcript_raw"])
    return {"classifier": type_metrics(held_out["dispute_type"], predicted),
            "keyword_rules": type_metrics(held_out["dispute_type"], keywords)}


def evaluate_cue_model(model: Pipeline, held_out: pd.DataFrame) -> dict:
    """Cue model vs the lexicon, and the two together (as silver would flag), on held-out ``text, escalate``."""
    predicted = model.predict(held_out["text"].tolist()).astype(bool)
    lexicon = lexicon_flags(held_out["text"])
    return {"model": cue_metrics(held_out["escalate"], predicted),
            "lexicon": cue_metrics(held_out["escalate"], lexicon),
            "model_or_lexicon": cue_metrics(held_out["escalate"], predicted | lexicon)}


def train_and_register_text_models(model_dir: Path, mediation: pd.DataFrame, orders: pd.DataFrame | None,
                                   hotline_eval: pd.DataFrame, cue_train: pd.DataFrame, cue_eval: pd.DataFrame,
                                   seed: int, echo=print, max_rows: int = 60_000) -> dict:
    """Train both text models, measure them on held-out texts, register them.

    The type model learns from the given silver frames (a simulated province's, in the bootstrap) and is
    measured on ``hotline_eval`` (calls as silver holds them, with their true type: held-out simulated calls of
    seed + 1); the cue model learns from ``cue_train`` (texts of ``seed`` with their known cue) and is measured
    on ``cue_eval`` (another seed's). ``seed`` also draws the type model's rows when there are more than
    ``max_rows``.
    """
    training = type_training_frame(mediation, orders)
    if len(training) > max_rows:  # a city's silver holds ~350 k texts; the words repeat long before that
        training = training.sample(n=max_rows, random_state=seed).reset_index(drop=True)
    type_model = train_type_model(training)
    type_eval = evaluate_type_model(type_model, hotline_eval)
    v_type = register_text_model(type_model, TYPE_KIND, model_dir, training["text"], training["label"],
                                 {"held_out_hotline": type_eval, "held_out_seed": seed + 1},
                                 training["week_start"], {"training_sources": training["source"].value_counts().to_dict()})
    echo(f"  text dispute-type model {v_type}: accuracy {type_eval['classifier']['accuracy']} vs keyword rules "
         f"{type_eval['keyword_rules']['accuracy']} on {len(hotline_eval)} held-out simulated calls")
    cue_model = train_cue_model(cue_train)
    cue_eval = evaluate_cue_model(cue_model, cue_eval)
    v_cue = register_text_model(cue_model, CUE_KIND, model_dir, cue_train["text"], cue_train["escalate"],
                                {"held_out": cue_eval, "held_out_seed": seed + 1}, None,
                                {"training_seed": seed})
    echo(f"  text escalation-cue model {v_cue}: F1 {cue_eval['model']['f1']} vs lexicon {cue_eval['lexicon']['f1']}")
    return {"dispute_type": v_type, "cue": v_cue, "type_eval": type_eval, "cue_eval": cue_eval}


# --- a deployment's own texts ----------------------------------------------------------------------
# Fewer texts with a stated type than this, and the classifier would learn a county's few cases, not its words.
MIN_OWN_TEXTS = 2_000
HELD_OUT_SHARE = 0.2  # the latest weeks holding about this share of the texts are held out


def split_by_time(frame: pd.DataFrame, held_share: float = HELD_OUT_SHARE) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(earlier, later): texts of the weeks after the ``1 - held_share`` quantile of ``week_start`` are held out,
    so the classifier is measured on weeks it has not seen, as it will be used."""
    weeks = pd.to_datetime(frame["week_start"])
    later = weeks > weeks.quantile(1 - held_share)
    return frame[~later].reset_index(drop=True), frame[later].reset_index(drop=True)


def retrain_type_model(model_dir: Path, mediation: pd.DataFrame, orders: pd.DataFrame | None,
                       current: Pipeline | None, source: str, force: bool = False, seed: int = 0,
                       max_rows: int = 60_000) -> dict:
    """Train the dispute-type classifier on a deployment's own texts whose type its systems state (mediation
    纠纷简介 by 纠纷类型, work orders of mapped categories: :func:`models.text_models.type_training_frame`).

    Time-ordered: trained on the earlier weeks, measured on the latest (:func:`split_by_time`) beside ``current``
    (the registered classifier, trained elsewhere) on the same texts. Registered only when it is at least as
    accurate there, or with ``force``. Returns both measurements, ``registered`` (its version, or None) and why.
    """
    frame = type_training_frame(mediation, orders).dropna(subset=["week_start"])
    if len(frame) < MIN_OWN_TEXTS:
        raise ValueError(f"{source}: {len(frame):,} texts with a stated type; at least {MIN_OWN_TEXTS:,} are needed")
    earlier, later = split_by_time(frame)
    if later.empty or earlier["label"].nunique() < 2:
        raise ValueError(f"{source}: the texts span too few weeks or types to hold the latest weeks out")
    if len(earlier) > max_rows:
        earlier = earlier.sample(n=max_rows, random_state=seed).reset_index(drop=True)
    challenger = train_type_model(earlier)
    held_texts = later["text"].tolist()
    measured = {"held_out_own_texts": type_metrics(later["label"], predict_types(challenger, held_texts)),
                "held_out_from_week": str(pd.to_datetime(later["week_start"]).min().date())}
    if current is not None:
        measured["registered_model_on_same"] = type_metrics(later["label"], predict_types(current, held_texts))
    result = {**measured, "registered": None}
    beaten = (current is not None and measured["held_out_own_texts"]["accuracy"]
              < measured["registered_model_on_same"]["accuracy"])
    if beaten and not force:
        result["why"] = "less accurate than the registered classifier on the held-out weeks: kept the registered one"
        return result
    result["registered"] = register_text_model(
        challenger, TYPE_KIND, model_dir, earlier["text"], earlier["label"], measured, earlier["week_start"],
        {"training_sources": earlier["source"].value_counts().to_dict(), "training_lake": source})
    result["why"] = "forced" if beaten else "at least as accurate on the held-out weeks"
    return result
