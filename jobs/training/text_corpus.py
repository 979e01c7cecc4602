"""Labelled text for the text models, from the simulator: held-out calls, cue texts, type training sets.

The texts are masked as silver masks them (each record's own known names first, then the rules of
:func:`models.text_models.masked`), so the models read what they would read in silver. Training material
only: a deployment's text models learn from its own silver (:mod:`jobs.training.text_models`).
"""
from __future__ import annotations

import pandas as pd

from fengqiao.simulator.text import labelled_texts
from models.text_models import hotline_input, masked, transcript_text, type_training_frame

def _own_name_masked(text: str, name: str | None) -> str:
    """``text`` with the record's known name (as given, whole) masked, as silver masks it before its rules."""
    return text.replace(name, "[姓名]") if name and len(name) >= 2 else text


def simulated_hotline_eval(seed: int, n: int) -> pd.DataFrame:
    """Held-out simulated calls as silver sees them: masked topic and transcript, true type and cue."""
    rows = labelled_texts(seed, n, "hotline")
    raw = [transcript_text(r["transcript"]) for r in rows]
    # silver masks the record's own name first, then the rules (mask_known_names, mask_personal_data)
    own = [_own_name_masked(t, r["name"]) for t, r in zip(raw, rows)]
    frame = pd.DataFrame({
        "topic_raw": [r["topic"] for r in rows], "transcript_raw": raw,
        "topic": masked([r["topic"] for r in rows]), "transcript_text": masked(own),
        "dispute_type": [r["dispute_type"] for r in rows], "escalate": [r["escalate"] for r in rows],
        "cue": [r["cue"] for r in rows], "pii": [r["pii"] for r in rows]})
    frame["model_text"] = [hotline_input(t, s) for t, s in zip(frame["topic"], frame["transcript_text"])]
    return frame


def simulated_cue_texts(seed: int, n_per_feed: int, escalate_share: float = 0.2) -> pd.DataFrame:
    """Masked texts of the three feeds (as the models read them) with their known cue label."""
    parts = []
    for feed in ("hotline", "workorders", "mediation"):
        rows = labelled_texts(seed, n_per_feed, feed, escalate_share=escalate_share)
        if feed == "hotline":
            texts = [hotline_input(r["topic"], transcript_text(r["transcript"])) for r in rows]
        else:
            texts = [r["summary"] for r in rows]
        texts = [_own_name_masked(t, r["name"]) for t, r in zip(texts, rows)]
        parts.append(pd.DataFrame({"text": masked(texts), "escalate": [r["escalate"] for r in rows],
                                   "cue": [r["cue"] for r in rows], "feed": feed}))
    return pd.concat(parts, ignore_index=True)


def simulated_type_training(seed: int, n_per_feed: int) -> pd.DataFrame:
    """Mediation briefs and mapped work-order summaries of a simulated province, as silver holds them."""
    med = labelled_texts(seed, n_per_feed, "mediation")
    orders = labelled_texts(seed, n_per_feed, "workorders")

    def own(rows):  # silver masks each of a record's known names (、-joined) before the rules
        out = []
        for r in rows:
            s = r["summary"]
            for name in (r["name"] or "").split("、"):
                s = _own_name_masked(s, name)
            out.append(s)
        return out

    mediation = pd.DataFrame({"summary": own(med), "dispute_type": [r["dispute_type"] for r in med]})
    work = pd.DataFrame({"summary": own(orders), "category": [r["category"] for r in orders]})
    return type_training_frame(mediation, work)


def simulated_text_corpus(seed: int, eval_size: int = 3000, cue_size: int = 3000) -> dict[str, pd.DataFrame]:
    """What :func:`models.text_training.train_and_register_text_models` measures and trains the cue model on:
    ``hotline_eval`` (``eval_size`` calls of seed + 1), ``cue_train`` (``cue_size`` texts of ``seed``, a third
    per feed) and ``cue_eval`` (``eval_size`` texts of seed + 1)."""
    return {"hotline_eval": simulated_hotline_eval(seed + 1, eval_size),
            "cue_train": simulated_cue_texts(seed, cue_size // 3),
            "cue_eval": simulated_cue_texts(seed + 1, eval_size // 3)}
