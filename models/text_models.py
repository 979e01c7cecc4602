"""Text models: the dispute type of a call or order, and escalation cues in its words.

Two scikit-learn Pipelines over jieba tokens (TF-IDF of words and word pairs, then a logistic
regression, so both give ``predict_proba``):

- **dispute type** (the 15 mediation types): trained on text whose type the upstream systems already
  state — mediation 纠纷简介 labelled by 纠纷类型, and work-order summaries whose ``大类/小类`` the category
  table (``fengqiao.core.disputes.CATEGORY_TO_TYPE``) maps for certain. Applied to hotline calls (the
  operator's topic and the caller's turns) that the keyword rules cannot type, and to orders whose
  category the table does not know (:func:`apply_type_model`).
- **escalation cue** (threats, 集体上访, 堵路, 民转刑 language; yes/no): trained on texts whose cue is known
  (the training job gives simulated ones, :mod:`jobs.training.text_corpus`), like the escalation model.
  Measured against the lexicon (``fengqiao.core.lexicon``) and registered, but not applied in silver: on
  held-out simulated texts it added nothing to the lexicon.

Training and measuring them: :mod:`models.text_training`. This module holds what silver needs too: the
tokenizer, the model inputs, the registry's load and the application to a Spark frame.

Both train on masked text only (silver text is masked already; :func:`masked` masks again, so a
caller passing raw text cannot put personal data into a model), and the tokenizer drops every token
that holds a digit, so no number of any kind can enter a vocabulary. Rare tokens (names that slipped
through) are cut by ``min_df``.

Both are saved with skops through ``models.registry``, each kind in its own sub-folder of the model
directory (``text_dispute_type/``, ``text_escalation_cue/``) with its own ``current.json``, so the
escalation model's pointer is untouched. Without a registered type model, silver types what the keyword
rules and category table cannot as 其他. :func:`tokenize` stays here: registered pipelines name it by its
import path (:data:`TEXT_ALLOWED_TYPES`).
"""
from __future__ import annotations

import functools
import hashlib
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from fengqiao.core.disputes import CATEGORY_TO_TYPE, TYPE_LABELS
from fengqiao.core.privacy import mask_text
from models.registry import ALLOWED_TYPES, NoModelError, load_current, register

TYPE_KIND = "text_dispute_type"
CUE_KIND = "text_escalation_cue"
MIN_DF = 3  # a token must occur in 3 training texts: one person's name rarely does, a dispute word always

_DIGIT = re.compile(r"[0-9０-９]")
_WORDY = re.compile(r"[\u4e00-\u9fffA-Za-z]")
_CALLER = "来电人:"


def tokenize(text: str) -> list[str]:
    """jieba words of ``text`` without punctuation and without any token holding a digit."""
    return list(_tokens(text or ""))


@functools.lru_cache(maxsize=20_000)
def _tokens(text: str) -> tuple[str, ...]:
    # Cached: training and evaluation cut the same texts more than once (fit then predict, and both
    # models on the same held-out texts); segmenting is most of the models' cost.
    import jieba  # on first use: silver imports this module whether or not a text model is registered

    jieba.setLogLevel(logging.WARNING)
    return tuple(t for t in jieba.lcut(text, HMM=False) if _WORDY.search(t) and not _DIGIT.search(t))


# Types the text pipelines hold that skops does not trust by default (measured with scikit-learn 1.9 /
# skops 0.16 by ``skops.io.get_untrusted_types`` on a fitted pipeline); loading accepts nothing else.
TEXT_ALLOWED_TYPES = frozenset({
    "models.text_models.tokenize",
    "sklearn.pipeline.Pipeline",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "builtins.frozenset",
})


def _pipeline(class_weight: str | None = None) -> Pipeline:
    return Pipeline([
        ("tfidf", TfidfVectorizer(tokenizer=tokenize, token_pattern=None, lowercase=False, ngram_range=(1, 2),
                                  min_df=MIN_DF, sublinear_tf=True, dtype=np.float32)),
        ("clf", LogisticRegression(C=10.0, max_iter=2000, class_weight=class_weight)),
    ])


def type_pipeline() -> Pipeline:
    return _pipeline()


def cue_pipeline() -> Pipeline:
    # Cues are rare among texts: balanced class weights keep the model from answering "no" throughout.
    return _pipeline(class_weight="balanced")


# --- model inputs -------------------------------------------------------------------------------

def masked(texts) -> list[str]:
    """Texts masked with the pipeline's rules (a no-op on silver text, which is masked already)."""
    return [mask_text(t) or "" for t in texts]


def caller_turns(transcript_text: str | None) -> str:
    """The caller's turns of a silver transcript (``坐席:…\\n来电人:…``): the operator's script says nothing."""
    if not transcript_text:
        return ""
    return "".join(line[len(_CALLER):] for line in transcript_text.split("\n") if line.startswith(_CALLER))


def hotline_input(topic: str | None, transcript_text: str | None) -> str:
    """What the models read of a call: the operator's topic and the caller's turns."""
    return f"{topic or ''}。{caller_turns(transcript_text)}"


def transcript_text(turns: list[dict]) -> str:
    """Turns joined as silver's ``transcript_text`` (before masking)."""
    return "\n".join(f"{t.get('speaker') or ''}:{t.get('text') or ''}" for t in turns)


def type_training_frame(mediation: pd.DataFrame, orders: pd.DataFrame | None = None) -> pd.DataFrame:
    """(text, label, source, week_start) from silver frames whose type is stated by the upstream system.

    ``mediation``: silver mediation_cases (``summary`` = masked 纠纷简介, ``dispute_type`` = 纠纷类型).
    ``orders``: silver work_orders; only orders whose category the table maps are used (their label is the
    table's, not a guess), so keyword guesses never train the model.
    """
    frames = []
    m = mediation.dropna(subset=["summary"])
    m = m[m["dispute_type"].isin(TYPE_LABELS)]
    frames.append(pd.DataFrame({"text": masked(m["summary"]), "label": m["dispute_type"].to_numpy(),
                                "source": "mediation", "week_start": m.get("week_start")}))
    if orders is not None and len(orders):
        o = orders.dropna(subset=["summary", "category"])
        mapped = o["category"].str.strip().map(CATEGORY_TO_TYPE)
        o, mapped = o[mapped.notna()], mapped[mapped.notna()]
        frames.append(pd.DataFrame({"text": masked(o["summary"]), "label": mapped.to_numpy(),
                                    "source": "workorders", "week_start": o.get("week_start")}))
    return pd.concat(frames, ignore_index=True)


def fingerprint(texts, labels) -> str:
    """sha256 of the sorted (label, text) pairs: the same training data gives the same version."""
    h = hashlib.sha256()
    for label, text in sorted(zip(map(str, labels), texts)):
        h.update(f"{label}\t{text}\n".encode("utf-8"))
    return h.hexdigest()


def _window(week_start) -> dict:
    weeks = pd.Series(week_start).dropna() if week_start is not None else pd.Series([], dtype=object)
    if weeks.empty:
        return {"first_week": None, "last_week": None}
    return {"first_week": str(pd.Timestamp(weeks.min()).date()), "last_week": str(pd.Timestamp(weeks.max()).date())}


def register_text_model(model: Pipeline, kind: str, model_dir: Path, texts, labels, metrics: dict,
                        week_start=None, extra: dict | None = None) -> str:
    """Save a fitted text pipeline with its metadata under ``model_dir/<kind>/``; returns its version."""
    if kind not in (TYPE_KIND, CUE_KIND):
        raise ValueError(f"unknown text model kind {kind!r}")
    fp = fingerprint(texts, labels)
    window = _window(week_start)
    stamp = (window["last_week"] or time.strftime("%Y-%m-%d")).replace("-", "")
    counts = pd.Series(list(labels)).astype(str).value_counts().sort_index()
    meta = {
        "model_version": f"{kind.replace('_', '-')}-{stamp}-{fp[:8]}",
        "kind": kind,
        "training_window": window,
        "training_data_sha256": fp,
        "training_rows": int(len(texts)),
        "label_counts": {k: int(v) for k, v in counts.items()},
        "vocabulary_size": int(len(model.named_steps["tfidf"].vocabulary_)),
        "metrics": metrics,
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **(extra or {}),
    }
    return register(model, meta, Path(model_dir) / kind)


def load_text_model(model_dir: Path, kind: str):
    """``(pipeline, metadata)`` of the current text model of ``kind``, or None when none is registered."""
    folder = Path(model_dir) / kind
    if not (folder / "current.json").exists():
        return None
    try:
        return load_current(folder, allowed_types=ALLOWED_TYPES | TEXT_ALLOWED_TYPES)
    except NoModelError:
        return None


@dataclass
class TextModels:
    """The registered text models (either may be None); silver applies ``dispute_type``."""
    dispute_type: Pipeline | None
    cue: Pipeline | None
    versions: dict

    @classmethod
    def load(cls, model_dir: Path) -> "TextModels | None":
        found = {kind: load_text_model(model_dir, kind) for kind in (TYPE_KIND, CUE_KIND)}
        if not any(found.values()):
            return None
        return cls(dispute_type=found[TYPE_KIND][0] if found[TYPE_KIND] else None,
                   cue=found[CUE_KIND][0] if found[CUE_KIND] else None,
                   versions={k: v[1]["model_version"] for k, v in found.items() if v})

# --- Spark: applying the models in silver ----------------------------------------------------------

def predict_types(model: Pipeline, texts: list[str]) -> np.ndarray:
    """The classifier's types; 其他 for a text with no known word (nothing to go on, as the keyword rules say)."""
    features = model.named_steps["tfidf"].transform(texts)
    predicted = model.named_steps["clf"].predict(features).astype(object)
    predicted[features.getnnz(axis=1) == 0] = "其他"
    return predicted


def apply_type_model(df, models: TextModels, out_schema, text_col: str = "_model_text"):
    """``df`` with ``dispute_type`` from the classifier on ``text_col``, batch by batch (``mapInPandas``), as
    ``out_schema`` (helper columns dropped). Callers pass only the rows their rules could not type: every
    row passed goes through Python and jieba."""
    names = [f.name for f in out_schema.fields]

    def batches(iterator):
        for pdf in iterator:
            pdf["dispute_type"] = predict_types(models.dispute_type, pdf[text_col].fillna("").tolist())
            yield pdf[names]

    return df.mapInPandas(batches, out_schema)
