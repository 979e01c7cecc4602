"""Training life cycle, part 1: labels from the simulator's truth and from bureaus' feedback.

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
  in the combined frame.

Part 2, training on these labels and registering a model only when it is not worse than the current one:
:mod:`models.champion_challenger` (and :func:`models.train.train_on_labels`). Reading a lake's features,
dispositions and (when given) truth is the training job's: :mod:`jobs.training.lifecycle`. A real drop has
no ``truth/``: the job reads it only when a truth folder is passed explicitly, and ``fengqiao run`` never
calls anything here.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from models.labels import escalation_targets, is_township_or_village, mondays

LABEL_COLUMNS = ["region_code", "week_start", "target", "known_week", "source"]
POSITIVE_DISPOSITIONS = ("confirmed", "handled")
NEGATIVE_DISPOSITIONS = ("dismissed",)
MIN_FEEDBACK_POSITIVES = 20
MIN_FEEDBACK_NEGATIVES = 20


class InsufficientLabelsError(ValueError):
    """Too few labelled township-weeks to train (or to hold some out); the message says how many."""


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
    d["week_start"] = mondays(d["week_start"]).values
    # The latest answer to an alert counts (a later check may overturn a first finding), then the latest
    # answer among the alerts of the same region-week.
    d = d.sort_values(["disposed_at", "alert_id"], kind="mergesort")
    d = d.groupby("alert_id", sort=False).tail(1)
    d = d.groupby(["region_code", "week_start"], sort=False).tail(1)
    answered = mondays(d["disposed_at"].dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)).values
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


def training_labels(features_df: pd.DataFrame, dispositions_df: pd.DataFrame | None,
                    episodes_df: pd.DataFrame | None = None, horizon_weeks: int = 4,
                    min_positives: int = MIN_FEEDBACK_POSITIVES,
                    min_negatives: int = MIN_FEEDBACK_NEGATIVES) -> tuple[pd.DataFrame, dict]:
    """Labels and label counts to train on: the bureaus' dispositions, plus the truth when ``episodes_df`` is
    given (it wins, :func:`combine_labels`). Without truth, too few dispositions are refused
    (:func:`check_feedback`)."""
    feedback = feedback_labels(dispositions_df)
    truth = None
    if episodes_df is not None:
        truth = truth_labels(features_df, episodes_df, horizon_weeks)
        # The last `horizon` weeks cannot see their whole label window yet.
        last = max(truth["week_start"]) if len(truth) else None
        if last is not None:
            truth = truth[truth["known_week"] <= last]
    else:
        check_feedback(feedback, min_positives, min_negatives)
    return combine_labels(truth, feedback)
