"""Training life cycle: labels from truth and from bureaus' feedback, champion/challenger registration.

**Labels.** One frame layout for every source (:data:`LABEL_COLUMNS`): ``region_code, week_start, target,
known_week, source``. ``target`` answers the model's question for the township-week (1 = an escalation
within the horizon), ``known_week`` is the Monday from which that answer is known, so that a rolling-origin
trainer (:mod:`models.rolling_origin`) never trains on an answer that lies in its future.

* :func:`truth_labels`: the simulator's ``truth/episodes.csv`` through :func:`models.labels.escalation_targets`
  for every township row; known at ``week_start + horizon`` (the end of the label's window).
* :func:`feedback_labels`: ``gold/alert_dispositions``, verified rows only: those signed with the answering
  bureau's key (a ``key_id``). Rows stored before dispositions were signed, and files held for review (which
  never reach the table), are not labels. An alert that a bureau answered 已核实 (confirmed) or
  已处置 (handled) is a positive for its region-week; 已排除 (dismissed) is a negative. When an alert was
  answered more than once, its latest answer (``disposed_at``) counts, and the latest answer over the alerts of
  one region-week counts for it. Known from the Monday of the answer (Beijing time), never before the alert's
  week. County alerts are not used (the model is trained on townships). Region-weeks nobody answered are
  *not* negatives: an unanswered alert, or a township that was never alerted, says nothing.
* :func:`combine_labels`: with truth, truth wins where the two disagree; the disagreements are counted (and
  kept in the model's metadata). Feedback rows truth cannot label yet (the last ``horizon`` weeks) are kept
  in the combined frame. ``fengqiao train --lake L --truth T`` trains the multi-horizon model of
  ``models/train.py`` on the truth labels (so it is the artefact ``fengqiao run`` would train) and records the
  counts; without truth the 4-week model is trained on the answered township-weeks only.

A real drop has no ``truth/``: :func:`train_on_lake` reads it only when a truth folder is passed explicitly,
and ``fengqiao run`` never calls anything here.

**Champion/challenger.** :func:`register_if_better` scores the new model (challenger) and the registry's current
model (champion) on the same held-out labelled rows: average precision over the labelled rows and recall at
the alert budget (share of positive rows that rank in their week's top ``budget_k`` of all townships scored
that week). The challenger becomes current only when it is not worse on either figure; otherwise it is saved
with ``role: "challenger"`` and the registry's pointer stays. ``force=True`` promotes it anyway. Its metadata
(``champion_challenger``) holds both models' figures, the evaluation rows and the decision; every decision is
also appended to ``<model_dir>/champion_challenger.jsonl``.

**Held-out rows.** :func:`train_guarded` either takes an evaluation set (another simulated seed's features and
labels: the challenger then trains on every labelled week) or holds out the latest ``holdout_weeks`` labelled
weeks, trains the challenger on the weeks before them minus a purge gap of ``horizon`` weeks (so no escalation
is shared between training and evaluation labels), and registers exactly the model it evaluated. A champion
trained on the same lake may have seen the held-out weeks: the metadata reports that overlap
(``champion.training_overlap_weeks``).
"""
from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Callable

import pandas as pd

from features import FEATURE_COLUMNS
from models.labels import escalation_targets, is_township_or_village

LABEL_COLUMNS = ["region_code", "week_start", "target", "known_week", "source"]
POSITIVE_DISPOSITIONS = ("confirmed", "handled")
NEGATIVE_DISPOSITIONS = ("dismissed",)
MIN_FEEDBACK_POSITIVES = 20
MIN_FEEDBACK_NEGATIVES = 20
DEFAULT_HOLDOUT_WEEKS = 13
COMPARED_METRICS = ("average_precision", "recall_at_budget")


class InsufficientLabelsError(ValueError):
    """Too few labelled township-weeks to train (or to hold some out); the message says how many."""


def _monday(values) -> pd.Series:
    d = pd.to_datetime(pd.Series(values).astype(str), errors="coerce")
    return (d - pd.to_timedelta(d.dt.weekday, unit="D")).dt.date


def _empty_labels() -> pd.DataFrame:
    return pd.DataFrame(columns=LABEL_COLUMNS)


def _is_township(code: str) -> bool:
    code = str(code)
    return is_township_or_village(code) and code[9:] == "000"


# --- labels -------------------------------------------------------------------------------------------
def truth_labels(features_df: pd.DataFrame, episodes_df: pd.DataFrame, horizon_weeks: int = 4) -> pd.DataFrame:
    """Labels of every township row of ``features_df`` from the simulator's episodes (see the module doc)."""
    town = features_df[features_df["level"] == "township"]
    if town.empty:
        return _empty_labels()
    targets = escalation_targets(town, episodes_df, horizon_weeks)
    weeks = pd.to_datetime(pd.Series(town["week_start"].values).astype(str)).dt.date
    return pd.DataFrame({
        "region_code": town["region_code"].astype(str).values,
        "week_start": weeks.values,
        "target": targets.astype(int).values,
        "known_week": [w + dt.timedelta(weeks=horizon_weeks) for w in weeks],
        "source": "truth",
    })


def feedback_labels(dispositions_df: pd.DataFrame) -> pd.DataFrame:
    """Labels from the verified rows of gold/alert_dispositions (see the module doc): one row per answered
    township-week."""
    if dispositions_df is None or dispositions_df.empty:
        return _empty_labels()
    d = dispositions_df.copy()
    if "key_id" not in d.columns:
        return _empty_labels()
    d = d[d["key_id"].notna() & (d["key_id"].astype(str).str.strip() != "")]
    d["disposition"] = d["disposition"].astype(str).str.strip().str.lower()
    d = d[d["disposition"].isin(POSITIVE_DISPOSITIONS + NEGATIVE_DISPOSITIONS)]
    d["region_code"] = d["region_code"].astype(str)
    d = d[d["region_code"].map(_is_township)]
    if d.empty:
        return _empty_labels()
    d["disposed_at"] = pd.to_datetime(d["disposed_at"], utc=True)
    d["week_start"] = _monday(d["week_start"]).values
    # The latest answer to an alert counts (a later check may overturn a first finding), then the latest
    # answer among the alerts of the same region-week.
    d = d.sort_values(["disposed_at", "alert_id"], kind="mergesort")
    d = d.groupby("alert_id", sort=False).tail(1)
    d = d.groupby(["region_code", "week_start"], sort=False).tail(1)
    answered = _monday(d["disposed_at"].dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)).values
    known = [max(w, a) for w, a in zip(d["week_start"].values, answered)]
    out = pd.DataFrame({
        "region_code": d["region_code"].values,
        "week_start": d["week_start"].values,
        "target": d["disposition"].isin(POSITIVE_DISPOSITIONS).astype(int).values,
        "known_week": known,
        "source": "feedback",
    })
    return out.sort_values(["week_start", "region_code"], ignore_index=True)


def combine_labels(truth: pd.DataFrame | None, feedback: pd.DataFrame | None) -> tuple[pd.DataFrame, dict]:
    """Truth and feedback labels in one frame (truth wins) and counts of how they relate."""
    truth = truth if truth is not None else _empty_labels()
    feedback = feedback if feedback is not None else _empty_labels()
    stats = {"truth_rows": int(len(truth)), "truth_positives": int(truth["target"].sum()) if len(truth) else 0,
             "feedback_rows": int(len(feedback)),
             "feedback_positives": int(feedback["target"].sum()) if len(feedback) else 0}
    if truth.empty:
        stats.update(disagreements=0, feedback_only_rows=int(len(feedback)))
        return feedback.reset_index(drop=True), stats
    keys = ["region_code", "week_start"]
    both = feedback.merge(truth[keys + ["target"]], on=keys, how="left", suffixes=("", "_truth"))
    has_truth = both["target_truth"].notna()
    disagree = has_truth & (both["target"] != both["target_truth"])
    stats.update({
        "disagreements": int(disagree.sum()),
        "confirmed_but_truth_negative": int((disagree & (both["target"] == 1)).sum()),
        "dismissed_but_truth_positive": int((disagree & (both["target"] == 0)).sum()),
        "feedback_only_rows": int((~has_truth).sum()),
    })
    extra = both.loc[~has_truth, LABEL_COLUMNS]
    combined = pd.concat([f for f in (truth[LABEL_COLUMNS], extra) if len(f)], ignore_index=True)
    return combined, stats


def check_feedback(labels: pd.DataFrame, min_positives: int = MIN_FEEDBACK_POSITIVES,
                   min_negatives: int = MIN_FEEDBACK_NEGATIVES) -> None:
    """Refuse to train on bureaus' feedback alone when it holds too few answers of either kind."""
    pos = int(labels["target"].sum()) if len(labels) else 0
    neg = int(len(labels) - pos)
    if pos < min_positives or neg < min_negatives:
        raise InsufficientLabelsError(
            f"too few bureau dispositions to train on: {pos} positive (已核实/已处置) and {neg} negative (已排除) "
            f"township-weeks; at least {min_positives} positive and {min_negatives} negative are needed. "
            f"Keep the current model, wait for more answers in gold/alert_dispositions, or train on a simulated "
            f"province (`fengqiao train` without --lake)")


# --- training on labels -------------------------------------------------------------------------------
def labelled_rows(features_df: pd.DataFrame, labels: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Township feature rows that have a label, and their targets (aligned)."""
    from models.escalation import with_context

    town = features_df[features_df["level"] == "township"].copy()
    town["region_code"] = town["region_code"].astype(str)
    town["week_start"] = pd.to_datetime(pd.Series(town["week_start"].values).astype(str)).dt.date.values
    # Context features compare a township with the others of its week: computed on every township of the
    # week before the unlabelled ones are dropped (feedback labels only a few of them).
    town = with_context(town)
    lab = labels[["region_code", "week_start", "target"]].copy()
    lab["region_code"] = lab["region_code"].astype(str)
    merged = town.reset_index(drop=True).merge(lab, on=["region_code", "week_start"], how="inner")
    targets = merged.pop("target").astype(float)
    return merged, targets


def train_on_labels(features_df: pd.DataFrame, labels: pd.DataFrame, horizon_weeks: int = 4,
                    label_info: dict | None = None, **train_kwargs):
    """Fit the escalation model (:func:`models.escalation.train_escalation_model`) on the labelled township
    rows; returns ``(model, metadata)`` with the metadata keys of :func:`models.train.train_from_tables`."""
    import sklearn

    from models.escalation import CONTEXT_COLUMNS, model_columns, train_escalation_model
    from models.train import model_version_for, training_fingerprint, training_settings

    rows, targets = labelled_rows(features_df, labels)
    if rows.empty or targets.sum() == 0:
        raise InsufficientLabelsError(f"no positive label among {len(rows)} labelled township-weeks")
    model, metrics = train_escalation_model(rows, targets, horizon_weeks=horizon_weeks, **train_kwargs)
    frame = rows[["region_code", "week_start"] + FEATURE_COLUMNS].assign(target=targets.values)
    fingerprint = training_fingerprint(frame)
    weeks = sorted(rows["week_start"].unique())
    sources = sorted(set(labels["source"])) if "source" in labels and len(labels) else []
    deployed = metrics.get("deployed", {})
    method = deployed.get("calibration_method", "none")
    metadata = {
        "model_kind": "HistGradientBoostingClassifier" + (
            f" + CalibratedClassifierCV(FrozenEstimator, {method})" if method != "none"
            else " (uncalibrated: too few escalations)"),
        "created": str(weeks[-1]),
        "created_from_data": True,
        "training_window": {"first_week": str(weeks[0]), "last_week": str(weeks[-1]), "weeks": len(weeks)},
        "training_rows": int(len(rows)),
        "training_positives": int(targets.sum()),
        "training_townships": int(rows["region_code"].nunique()),
        "training_data_sha256": fingerprint,
        "feature_columns": list(FEATURE_COLUMNS),
        "context_columns": [c for c in model_columns(model) if c in CONTEXT_COLUMNS],
        "alert_threshold": metrics.get("alert_threshold"),
        "horizon_weeks": int(horizon_weeks),
        "label": f"escalation episode of the township peaks in [week, week + {horizon_weeks} weeks]"
                 + ("; bureaus' dispositions: 已核实/已处置 = 1, 已排除 = 0" if "feedback" in sources else ""),
        "label_sources": sources,
        "metrics": metrics,
        "sklearn_version": sklearn.__version__,
    }
    if sources == ["feedback"]:
        metadata["label_caveat"] = ("trained only on township-weeks that were alerted and answered: the "
                                    "probabilities describe alerted-like weeks and run high for the rest")
    if label_info:
        metadata["labels"] = label_info
    metadata["training_settings"] = training_settings(**train_kwargs)
    metadata["model_version"] = model_version_for(str(horizon_weeks), weeks[-1], fingerprint,
                                                   metadata["training_settings"])
    return model, metadata


# --- evaluation and champion/challenger --------------------------------------------------------------
def evaluate_model(model, feature_columns, features_df: pd.DataFrame, labels: pd.DataFrame,
                   budget_share: float = 0.02) -> dict:
    """Average precision over the labelled rows and recall at the alert budget, on the weeks of ``labels``.

    Every township of those weeks is scored (the budget ranks a week's townships, answered or not); only
    labelled rows count as positives or negatives.
    """
    from sklearn.metrics import average_precision_score

    from models.escalation import predict_proba
    from models.levels import budget_k

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
    from models.registry import NoModelError, current_version, load_current, register

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
    import json

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
    ``models/train.py`` (the artefact ``fengqiao run`` scores with) on the features up to the last week whose
    label window the given labels close (``max(week_start) + horizon``); it drops the incomplete weeks itself,
    so the purge gap before held-out weeks is kept."""
    def fit(train_labels: pd.DataFrame, horizon_weeks: int = 4):
        from models.train import train_horizons_from_tables

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
    :func:`train_on_labels`, the 4-week model on the labelled township-weeks; :func:`truth_fitter` for the
    multi-horizon model on truth). With an empty registry there is nothing to compare with: the model trains
    on every labelled week and becomes current (``decision: "first model"``).
    """
    from models.registry import current_version, register

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


# --- from a lake (the CLI) ----------------------------------------------------------------------------
def lake_labels(lake, truth_dir: Path | None, horizon_weeks: int = 4,
                min_positives: int = MIN_FEEDBACK_POSITIVES,
                min_negatives: int = MIN_FEEDBACK_NEGATIVES) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Features, labels and label counts of a lake: dispositions, plus truth only when ``truth_dir`` is given."""
    features, labels, stats, _ = _lake_labels(lake, truth_dir, horizon_weeks, min_positives, min_negatives)
    return features, labels, stats


def _lake_labels(lake, truth_dir, horizon_weeks, min_positives, min_negatives):
    from fengqiao.lake import read_table
    from fengqiao.delivery.acknowledgements import read_dispositions
    from models.labels import read_episodes

    features = read_table(lake.gold("region_week_features"))
    feedback = feedback_labels(read_dispositions(lake))
    truth = episodes = None
    if truth_dir is not None:
        episodes_path = Path(truth_dir) / "episodes.csv"
        if not episodes_path.exists():
            raise FileNotFoundError(f"{episodes_path} not found: --truth must be a simulator's truth/ folder")
        episodes = read_episodes(episodes_path)
        truth = truth_labels(features, episodes, horizon_weeks)
        # The last `horizon` weeks cannot see their whole label window yet.
        last = max(truth["week_start"]) if len(truth) else None
        if last is not None:
            truth = truth[truth["known_week"] <= last]
    else:
        check_feedback(feedback, min_positives, min_negatives)
    labels, stats = combine_labels(truth, feedback)
    return features, labels, stats, episodes


def train_on_lake(lake, model_dir: Path, truth_dir: Path | None = None, horizon_weeks: int = 4,
                  holdout_weeks: int = DEFAULT_HOLDOUT_WEEKS, force: bool = False,
                  eval_lake=None, eval_truth_dir: Path | None = None, budget_share: float = 0.02,
                  echo: Callable[[str], None] | None = None) -> dict:
    """``fengqiao train --lake``: dispositions (and truth when given) -> guarded registration.

    Without truth the 4-week model is trained on the answered township-weeks. With truth (which wins over
    dispositions) the multi-horizon model of ``models/train.py`` is trained on the truth labels, as
    ``fengqiao run`` would train it; the dispositions then only add their agreement counts to the metadata.
    """
    features, labels, stats, episodes = _lake_labels(lake, truth_dir, horizon_weeks, MIN_FEEDBACK_POSITIVES,
                                                     MIN_FEEDBACK_NEGATIVES)
    if echo:
        echo(f"labels: {stats}")
    eval_features = eval_labels = None
    if eval_lake is not None:
        eval_features, eval_labels, _ = lake_labels(eval_lake, eval_truth_dir, horizon_weeks, 0, 0)
    fit = None
    if episodes is not None:
        labels = labels[labels["source"] == "truth"]
        fit = truth_fitter(features, episodes, label_info=stats)
    return train_guarded(features, labels, model_dir, horizon_weeks, holdout_weeks, force,
                         eval_features, eval_labels, budget_share, label_info=stats, fit=fit)


def train_on_simulated(model_dir: Path, seed: int, scale: str, weeks: int | None = None,
                       holdout_weeks: int = DEFAULT_HOLDOUT_WEEKS, force: bool = False,
                       horizon_weeks: int = 4, echo: Callable[[str], None] = print, world: str = "home",
                       vary: bool = False) -> dict:
    """``fengqiao train`` without ``--lake``: simulate a province (its truth is the simulator's, not a
    deployment's), build its features and train with champion/challenger registration."""
    import shutil
    import tempfile

    from fengqiao.lake import Lake
    from jobs.training.bootstrap import build_simulated_lake

    work = Path(tempfile.mkdtemp(prefix="fengqiao-train-"))
    try:
        source, lake_dir = build_simulated_lake(work, seed, scale, weeks, echo, world, vary)
        echo("  training the escalation model …")
        return train_on_lake(Lake.at(lake_dir), model_dir, truth_dir=source / "truth", horizon_weeks=horizon_weeks,
                             holdout_weeks=holdout_weeks, force=force, echo=echo)
    finally:
        shutil.rmtree(work, ignore_errors=True)


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
