"""Training life cycle, part 2: champion/challenger registration (labels: :mod:`models.lifecycle`).

:func:`register_if_better` scores the new model (challenger) and the registry's current model (champion) on
the same held-out labelled rows: average precision over the labelled rows and recall at the alert budget
(share of positive rows that rank in their week's top ``budget_k`` of all townships scored that week). The
challenger becomes current only when it is not worse on either figure; otherwise it is saved with
``role: "challenger"`` and the registry's pointer stays. ``force=True`` promotes it anyway. Its metadata
(``champion_challenger``) holds both models' figures, the evaluation rows and the decision; every decision is
also appended to ``<model_dir>/champion_challenger.jsonl``.

**Held-out rows.** :func:`train_guarded` either takes an evaluation set (another simulated seed's features and
labels: the challenger then trains on every labelled week) or holds out the latest ``holdout_weeks`` labelled
weeks, trains the challenger on the weeks before them minus a purge gap of ``horizon`` weeks (so no escalation
is shared between training and evaluation labels), and registers exactly the model it evaluated. A champion
trained on the same lake may have seen the held-out weeks: the metadata reports that overlap
(``champion.training_overlap_weeks``).

``fengqiao train --lake L --truth T`` (:mod:`jobs.training.lifecycle`) trains the multi-horizon model of
:mod:`models.train` on the truth labels (:func:`truth_fitter`: the artefact ``fengqiao run`` would train) and
records the label counts; without truth the 4-week model is trained on the answered township-weeks only
(:func:`models.train.train_on_labels`).
"""
from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Callable

import pandas as pd
from sklearn.metrics import average_precision_score

from features import FEATURE_COLUMNS
from models.escalation import predict_proba
from models.levels import budget_k
from models.lifecycle import InsufficientLabelsError
from models.registry import NoModelError, current_version, load_current, register
from models.train import train_horizons_from_tables, train_on_labels

DEFAULT_HOLDOUT_WEEKS = 13
COMPARED_METRICS = ("average_precision", "recall_at_budget")


def evaluate_model(model, feature_columns, features_df: pd.DataFrame, labels: pd.DataFrame,
                   budget_share: float = 0.02) -> dict:
    """Average precision over the labelled rows and recall at the alert budget, on the weeks of ``labels``.

    Every township of those weeks is scored (the budget ranks a week's townships, answered or not); only
    labelled rows count as positives or negatives.
    """
    weeks = set(labels["week_start"])
    town = features_df[features_df["level"] == "township"].copy()
    town["region_code"] = town["region_code"].astype(str)
    town["week_start"] = pd.to_datetime(pd.Series(town["week_start"].values).astype(str)).dt.date.values
    town = town[town["week_start"].isin(weeks)].reset_index(drop=True)
    p = predict_proba(model, town, feature_columns)
    ranked = pd.DataFrame({"region_code": town["region_code"], "week_start": town["week_start"], "score": p})
    ranked = ranked.sort_values(["week_start", "score", "region_code"], ascending=[True, False, True])
    ranked["rank"] = ranked.groupby("week_start").cumcount() + 1
    ranked["k"] = ranked.groupby("week_start")["region_code"].transform("size").map(lambda n: budget_k(n, budget_share))
    lab = labels[["region_code", "week_start", "target"]].assign(region_code=lambda x: x["region_code"].astype(str))
    m = lab.merge(ranked, on=["region_code", "week_start"], how="inner")
    y = m["target"].astype(int).to_numpy()
    out = {"rows": int(len(m)), "positives": int(y.sum()), "weeks": int(m["week_start"].nunique()),
           "first_week": str(min(m["week_start"])) if len(m) else None,
           "last_week": str(max(m["week_start"])) if len(m) else None,
           "budget_share": float(budget_share)}
    out["average_precision"] = (float(average_precision_score(y, m["score"])) if 0 < y.sum() < len(y) else None)
    out["recall_at_budget"] = (float((m.loc[y == 1, "rank"] <= m.loc[y == 1, "k"]).mean()) if y.sum() else None)
    return out


def decide(champion: dict | None, challenger: dict) -> tuple[bool, str]:
    """Whether the challenger may replace the champion: not worse on any figure both have."""
    if champion is None:
        return True, "no current model"
    compared = [k for k in COMPARED_METRICS if champion.get(k) is not None and challenger.get(k) is not None]
    if not compared:
        return False, "no figure could be computed for both models on the held-out rows"
    worse = [k for k in compared if challenger[k] < champion[k] - 1e-12]
    if worse:
        return False, "worse than the current model on " + ", ".join(
            f"{k} ({challenger[k]:.4f} < {champion[k]:.4f})" for k in worse)
    return True, "at least as good as the current model on " + ", ".join(
        f"{k} ({challenger[k]:.4f} >= {champion[k]:.4f})" for k in compared)


def _overlap_weeks(meta: dict, first, last) -> int | None:
    window = (meta or {}).get("training_window") or {}
    if not window.get("first_week") or not first:
        return None
    lo, hi = (pd.Timestamp(str(window["first_week"])), pd.Timestamp(str(window["last_week"])))
    a, b = pd.Timestamp(str(first)), pd.Timestamp(str(last))
    start, end = max(lo, a), min(hi, b)
    return int((end - start).days // 7 + 1) if end >= start else 0


def register_if_better(model, metadata: dict, model_dir: Path, eval_features: pd.DataFrame,
                       eval_labels: pd.DataFrame, force: bool = False, budget_share: float = 0.02,
                       evaluation: str = "held-out labelled rows") -> dict:
    """Register ``model`` as a challenger and promote it to current if it is at least as good as the current
    model on ``eval_labels`` (or when ``force``). Returns the decision (also stored in the metadata)."""
    model_dir = Path(model_dir)
    challenger = evaluate_model(model, metadata.get("feature_columns"), eval_features, eval_labels, budget_share)
    champion_block = None
    try:
        champ_model, champ_meta = load_current(model_dir)
    except NoModelError:
        champ_model = champ_meta = None
    if champ_model is not None:
        cols = champ_meta.get("feature_columns") or list(FEATURE_COLUMNS)
        missing = [c for c in cols if c not in eval_features.columns]
        champion_block = {"model_version": champ_meta.get("model_version"),
                          "training_overlap_weeks": _overlap_weeks(champ_meta, challenger["first_week"],
                                                                   challenger["last_week"])}
        if missing:
            champion_block["note"] = f"cannot score the held-out rows: features lack {missing}"
            champion_metrics = None
        else:
            champion_metrics = evaluate_model(champ_model, cols, eval_features, eval_labels, budget_share)
            champion_block["metrics"] = champion_metrics
    else:
        champion_metrics = None
    if champ_model is not None and champion_metrics is None:
        promote, reason = True, champion_block["note"]
    elif champ_model is not None and champ_meta.get("model_version") == metadata.get("model_version"):
        promote, reason = True, "same training data as the current model (same version)"
    else:
        promote, reason = decide(champion_metrics, challenger)
    decision = "promoted" if promote else "challenger"
    if force and not promote:
        decision, promote = "forced", True
    block = {"evaluation": evaluation, "budget_share": float(budget_share), "challenger": challenger,
             "champion": champion_block, "decision": decision, "reason": reason, "forced": bool(force),
             "compared_metrics": list(COMPARED_METRICS)}
    meta = {**metadata, "champion_challenger": block, "role": "current" if promote else "challenger"}
    version = register(model, meta, model_dir, make_current=promote)
    _log_decision(model_dir, version, block)
    return {"model_version": version, "current": current_version(model_dir), **block}


DECISION_LOG = "champion_challenger.jsonl"


def _log_decision(model_dir: Path, version: str, block: dict) -> None:
    """One line per decision in ``<model_dir>/champion_challenger.jsonl``: the registry's history of which
    model was compared with which, on what, and what became current."""
    champ = block.get("champion") or {}
    line = {"model_version": version, "decision": block["decision"], "reason": block["reason"],
            "champion": champ.get("model_version"), "evaluation": block.get("evaluation"),
            "challenger_metrics": {k: (block.get("challenger") or {}).get(k) for k in COMPARED_METRICS},
            "champion_metrics": {k: (champ.get("metrics") or {}).get(k) for k in COMPARED_METRICS}}
    with open(Path(model_dir) / DECISION_LOG, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, ensure_ascii=False) + "\n")


def split_holdout(labels: pd.DataFrame, holdout_weeks: int, horizon_weeks: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training labels, held-out labels): the latest ``holdout_weeks`` labelled weeks are held out and the
    ``horizon_weeks`` weeks before them are left out of training (their label windows reach into the
    held-out weeks)."""
    if labels.empty:
        raise InsufficientLabelsError("no labels to hold out")
    last = max(labels["week_start"])
    first_held = last - dt.timedelta(weeks=holdout_weeks - 1)
    held = labels[labels["week_start"] >= first_held]
    train = labels[labels["week_start"] < first_held - dt.timedelta(weeks=horizon_weeks)]
    return train.reset_index(drop=True), held.reset_index(drop=True)


def truth_fitter(features_df: pd.DataFrame, episodes_df: pd.DataFrame, label_info: dict | None = None,
                 **train_kwargs) -> Callable[[pd.DataFrame], tuple]:
    """A fitter for :func:`train_guarded` on the simulator's truth: the multi-horizon trainer of
    :mod:`models.train` (the artefact ``fengqiao run`` scores with) on the features up to the last week whose
    label window the given labels close (``max(week_start) + horizon``); it drops the incomplete weeks itself,
    so the purge gap before held-out weeks is kept."""
    def fit(train_labels: pd.DataFrame, horizon_weeks: int = 4):
        last = max(train_labels["week_start"]) + dt.timedelta(weeks=horizon_weeks)
        weeks = pd.to_datetime(pd.Series(features_df["week_start"].values).astype(str)).dt.date
        model, metadata = train_horizons_from_tables(features_df[(weeks <= last).to_numpy()], episodes_df,
                                                     **train_kwargs)
        metadata["label_sources"] = ["truth"]
        if label_info:
            metadata["labels"] = label_info
        return model, metadata
    return fit


def train_guarded(features_df: pd.DataFrame, labels: pd.DataFrame, model_dir: Path, horizon_weeks: int = 4,
                  holdout_weeks: int = DEFAULT_HOLDOUT_WEEKS, force: bool = False,
                  eval_features: pd.DataFrame | None = None, eval_labels: pd.DataFrame | None = None,
                  budget_share: float = 0.02, label_info: dict | None = None,
                  fit: Callable | None = None, **train_kwargs) -> dict:
    """Train on ``labels`` and register with champion/challenger (see the module doc); returns the decision.

    ``fit(train_labels, horizon_weeks) -> (model, metadata)`` trains the challenger (default
    :func:`models.train.train_on_labels`, the 4-week model on the labelled township-weeks; :func:`truth_fitter`
    for the multi-horizon model on truth). With an empty registry there is nothing to compare with: the model trains
    on every labelled week and becomes current (``decision: "first model"``).
    """
    if fit is None:
        def fit(train_labels, horizon_weeks=horizon_weeks):
            return train_on_labels(features_df, train_labels, horizon_weeks, label_info, **train_kwargs)
    if eval_labels is None and current_version(model_dir) is None:
        model, metadata = fit(labels, horizon_weeks)
        block = {"evaluation": None, "challenger": None, "champion": None, "decision": "first model",
                 "reason": "no current model: trained on every labelled week", "forced": bool(force)}
        version = register(model, {**metadata, "champion_challenger": block, "role": "current"}, model_dir)
        _log_decision(model_dir, version, block)
        return {"model_version": version, "current": current_version(model_dir), **block}
    if eval_labels is not None:
        train_labels, held = labels, eval_labels
        held_features = eval_features if eval_features is not None else features_df
        evaluation = "held-out evaluation set (all its labelled township-weeks)"
    else:
        train_labels, held = split_holdout(labels, holdout_weeks, horizon_weeks)
        held_features = features_df
        evaluation = (f"latest {holdout_weeks} labelled weeks, held out of training with a "
                      f"{horizon_weeks}-week gap")
    if held.empty or int(held["target"].sum()) == 0:
        raise InsufficientLabelsError(f"the held-out weeks hold no positive label ({len(held)} rows): use fewer "
                                      "--holdout-weeks, an evaluation lake, or more labels")
    if train_labels.empty or int(train_labels["target"].sum()) == 0:
        raise InsufficientLabelsError("no positive label is left for training before the held-out weeks")
    model, metadata = fit(train_labels, horizon_weeks)
    return register_if_better(model, metadata, model_dir, held_features, held, force=force,
                              budget_share=budget_share, evaluation=evaluation)


def format_decision(result: dict) -> str:
    """A few lines for the terminal."""
    def figs(m):
        if not m:
            return "—"
        ap, rec = m.get("average_precision"), m.get("recall_at_budget")
        return (f"AP {ap:.3f}" if ap is not None else "AP —") + ", " + (
            f"recall@{m.get('budget_share', 0):.0%} {rec:.1%}" if rec is not None and not math.isnan(rec) else "recall —")
    ch = result.get("challenger") or {}
    if not ch:
        return f"decision: {result['decision']} ({result['reason']}); current model: {result['current']}"
    lines = [f"evaluation: {result['evaluation']} ({ch.get('rows')} rows, {ch.get('positives')} positive, "
             f"weeks {ch.get('first_week')} … {ch.get('last_week')})",
             f"  new model  {result['model_version']}: {figs(ch)}"]
    champ = result.get("champion")
    if champ:
        lines.append(f"  current    {champ.get('model_version')}: {figs(champ.get('metrics'))}"
                     + (f" (trained on {champ['training_overlap_weeks']} of these weeks)"
                        if champ.get("training_overlap_weeks") else ""))
    lines.append(f"decision: {result['decision']} ({result['reason']}); current model: {result['current']}")
    return "\n".join(lines)
