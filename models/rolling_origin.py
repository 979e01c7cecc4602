"""Rolling-origin training and scoring: the detector ``model_rolling`` for backtests.

A model registered once and used for two years is one way to run Fengqiao; another is to retrain it every
quarter on what is known by then. This module simulates the second on a lake whose labels are known (the
simulator's truth, or bureaus' feedback):

for origins ``t`` every ``step_weeks`` weeks (default 13), from the first week at which ``min_train_weeks``
labelled weeks are known:

1. **train** with :func:`models.escalation_training.train_escalation_model` (the function of
   :mod:`models.train`) on the township-weeks whose label is known at ``t``: ``known_week <= t``. A truth
   label of week ``w`` says whether an escalation peaks in ``[w, w + horizon]``, so it is known at
   ``w + horizon``: training uses the weeks ``w <= t - horizon`` only, and no episode peaking after ``t`` can
   reach a label. Features are computed by the features job from each week and earlier weeks, so a row of
   week ``w <= t`` holds nothing of the future either;
2. **score** the weeks ``t + 1 … t + step_weeks`` (up to the last week of the features) with that model;
3. flag, colour and aggregate counties with :func:`models.levels.assign_levels` (the same budget, guard,
   colour thresholds and the origin model's own alert threshold, as gold/risk_scores) and give flagged
   townships reasons (:mod:`models.reasons`).

The result has exactly the gold/risk_scores columns; ``model_version`` names the origin
(``rolling-h4-o20250303``: trained with what was known on Monday 2025-03-03). Weeks before the first
origin have no score (a detector backtested side by side should be compared on the weeks it covers: the
backtest uses the weeks every detector has). An origin whose known labels hold no escalation cannot
train: its weeks are left out and the origin is listed with ``status`` in :func:`rolling_origin_runs`.

Labels: by default from ``episodes_df`` (:func:`models.lifecycle.truth_labels`); ``labels`` may pass any
frame of :data:`models.lifecycle.LABEL_COLUMNS` instead, e.g. bureaus' feedback, whose ``known_week`` is the
week of the answer.

Cost: two fits per origin (the evaluation fit and the deployed refit of ``train_escalation_model``;
``train_kwargs={"refit_full": False}`` halves it and deploys the evaluation fit).
"""
from __future__ import annotations

import datetime as dt
from typing import Callable

import pandas as pd

from features import FEATURE_COLUMNS
from models.context_features import with_context
from models.escalation import predict_proba
from models.escalation_training import train_escalation_model
from models.levels import DEFAULT_BUDGET_SHARE, SCORE_FLOOR, assign_levels
from models.lifecycle import truth_labels
from models.reasons import explain_frame
from models.score_frame import RISK_SCORE_COLUMNS, unlevelled_scores
from models.time_split import InsufficientEscalationsError
from models.train import labelled_rows

DETECTOR = "model_rolling"
DEFAULT_STEP_WEEKS = 13
DEFAULT_MIN_TRAIN_WEEKS = 26
RUN_COLUMNS = ["origin", "model_version", "status", "train_first_week", "train_last_week", "train_rows",
               "train_positives", "scored_first_week", "scored_last_week", "scored_weeks"]


def origin_version(origin: dt.date, horizon_weeks: int) -> str:
    return f"rolling-h{horizon_weeks}-o{origin.strftime('%Y%m%d')}"


def _dates(values) -> pd.Series:
    return pd.to_datetime(pd.Series(values).astype(str)).dt.date


def rolling_origins(weeks, horizon_weeks: int = 4, step_weeks: int = DEFAULT_STEP_WEEKS,
                    min_train_weeks: int = DEFAULT_MIN_TRAIN_WEEKS, first_origin=None) -> list[dt.date]:
    """The origins: every ``step_weeks`` weeks from ``first_origin`` (default: the week at which the first
    ``min_train_weeks`` weeks have known labels, i.e. ``weeks[min_train_weeks - 1] + horizon``) while some
    week after the origin remains to be scored."""
    weeks = sorted(set(weeks))
    if not weeks:
        return []
    if first_origin is None:
        if len(weeks) < min_train_weeks:
            return []
        start = weeks[min_train_weeks - 1] + dt.timedelta(weeks=horizon_weeks)
    else:
        start = pd.Timestamp(str(first_origin)).date()
    out, t = [], start
    while t < weeks[-1]:
        out.append(t)
        t += dt.timedelta(weeks=step_weeks)
    return out


def rolling_origin_runs(features_df: pd.DataFrame, episodes_df: pd.DataFrame | None = None, *,
                        labels: pd.DataFrame | None = None, horizon_weeks: int = 4,
                        step_weeks: int = DEFAULT_STEP_WEEKS, min_train_weeks: int = DEFAULT_MIN_TRAIN_WEEKS,
                        first_origin=None, budget_share: float = DEFAULT_BUDGET_SHARE,
                        train_kwargs: dict | None = None, reasons: bool = True,
                        echo: Callable[[str], None] | None = None,
                        trainer: Callable = train_escalation_model) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(scores, runs)``: the risk_scores-format frame of :func:`rolling_origin_scores` and one row per origin
    (:data:`RUN_COLUMNS`: training window, rows and positives, scored weeks, ``status`` ``"trained"`` or why
    not). ``trainer`` is the training function (tests pass a spy)."""
    if labels is None and episodes_df is None:
        raise ValueError("rolling-origin training needs labels: episodes_df (simulator truth) or labels")
    f = features_df.copy()
    f["region_code"] = f["region_code"].astype(str)
    f["week_start"] = _dates(f["week_start"]).values
    if "county_code" not in f:
        f["county_code"] = f["region_code"].str[:6] + "000000"
    # Context features (a township against its county and city in the same week) read nothing of a later
    # week: computed once on the whole frame, as the scoring job does.
    f = with_context(f)
    town_all = f[f["level"] == "township"]
    if labels is None:
        labels = truth_labels(town_all, episodes_df, horizon_weeks)
    labels = labels.assign(week_start=_dates(labels["week_start"]).values,
                           known_week=_dates(labels["known_week"]).values)
    weeks = sorted(town_all["week_start"].unique())
    origins = rolling_origins(weeks, horizon_weeks, step_weeks, min_train_weeks, first_origin)
    step = dt.timedelta(weeks=step_weeks)
    frames, runs = [], []
    for t in origins:
        version = origin_version(t, horizon_weeks)
        # The only line that decides what is known at t: labels whose window has closed by the origin.
        known = labels[(labels["known_week"] <= t) & (labels["week_start"] <= t)]
        rows, targets = labelled_rows(town_all, known)
        score_weeks = [w for w in weeks if t < w <= t + step]
        run = {"origin": t, "model_version": version, "train_rows": int(len(rows)),
               "train_positives": int(targets.sum()) if len(rows) else 0,
               "train_first_week": min(rows["week_start"]) if len(rows) else None,
               "train_last_week": max(rows["week_start"]) if len(rows) else None,
               "scored_first_week": score_weeks[0] if score_weeks else None,
               "scored_last_week": score_weeks[-1] if score_weeks else None, "scored_weeks": 0}
        if not score_weeks:
            runs.append({**run, "status": "nothing to score"})
            continue
        try:
            model, metrics = trainer(rows, targets, horizon_weeks=horizon_weeks, **(train_kwargs or {}))
        except InsufficientEscalationsError as exc:
            runs.append({**run, "status": f"not trained: {exc}"})
            if echo:
                echo(f"  origin {t}: not trained ({exc})")
            continue
        target = f[f["week_start"].isin(set(score_weeks))]
        town = target[target["level"] == "township"]
        p = predict_proba(model, town, FEATURE_COLUMNS)
        scores = unlevelled_scores(town, p, version)
        if f"score_h{horizon_weeks}" in scores:
            scores[f"score_h{horizon_weeks}"] = p
        if "total_contacts" in town:
            scores["total_contacts"] = town["total_contacts"].values
        counties = target[target["level"] == "county"]
        if len(counties):
            scores = pd.concat([scores, unlevelled_scores(counties, 0.0, version)], ignore_index=True)
        history = f[f["week_start"] <= score_weeks[-1]]
        frames.append(assign_levels(scores, budget_share=budget_share, score_floor=_score_floor(metrics),
                                    reasons_fn=_reasons_fn(history) if reasons else None))
        runs.append({**run, "status": "trained", "scored_weeks": len(score_weeks)})
        if echo:
            echo(f"  origin {t}: trained on {run['train_rows']} rows ({run['train_positives']} positive), "
                 f"scored {score_weeks[0]} … {score_weeks[-1]}")
    out = (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RISK_SCORE_COLUMNS))
    return _finish(out), pd.DataFrame(runs, columns=RUN_COLUMNS)


def rolling_origin_scores(features_df: pd.DataFrame, episodes_df: pd.DataFrame | None = None, *,
                          labels: pd.DataFrame | None = None, horizon_weeks: int = 4,
                          step_weeks: int = DEFAULT_STEP_WEEKS, min_train_weeks: int = DEFAULT_MIN_TRAIN_WEEKS,
                          first_origin=None, budget_share: float = DEFAULT_BUDGET_SHARE,
                          train_kwargs: dict | None = None, reasons: bool = True,
                          echo: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Scores of the detector ``model_rolling``: retrained every ``step_weeks`` on what was known (module doc).

    ``features_df``: gold/region_week_features (township and county rows). ``episodes_df``: the simulator's
    ``truth/episodes.csv`` (:func:`models.labels.read_episodes`), or ``labels`` instead. Returns a frame with
    the gold/risk_scores columns (townships and counties) for the weeks after the first origin;
    ``model_version`` is the origin's (``rolling-h4-oYYYYMMDD``). ``reasons=False`` skips the Chinese
    reasons of flagged townships (a backtest ranks by score only).
    """
    scores, _ = rolling_origin_runs(features_df, episodes_df, labels=labels, horizon_weeks=horizon_weeks,
                                    step_weeks=step_weeks, min_train_weeks=min_train_weeks,
                                    first_origin=first_origin, budget_share=budget_share,
                                    train_kwargs=train_kwargs, reasons=reasons, echo=echo)
    return scores


def _score_floor(metrics: dict) -> float:
    """The origin model's alert threshold chosen on its calibration weeks, as the scoring job applies it."""
    chosen = (metrics or {}).get("alert_threshold")
    t = chosen.get("threshold") if isinstance(chosen, dict) else None
    try:
        return max(SCORE_FLOOR, float(t)) if t is not None else SCORE_FLOOR
    except (TypeError, ValueError):
        return SCORE_FLOOR


def _reasons_fn(history: pd.DataFrame):
    def fn(rows: pd.DataFrame) -> list[list[str]]:
        return explain_frame(rows, history)
    return fn


def _finish(df: pd.DataFrame) -> pd.DataFrame:
    out = df[RISK_SCORE_COLUMNS].copy()
    if out.empty:
        return out
    out["week_start"] = _dates(out["week_start"]).values
    out["score"] = out["score"].astype(float)
    out["flagged"] = out["flagged"].astype(bool)
    out["rank_in_week"] = out["rank_in_week"].astype("Int32")
    out["reasons"] = [list(r) for r in out["reasons"]]
    out["region_code"] = out["region_code"].astype(str)
    out["county_code"] = out["county_code"].astype(str)
    return out.sort_values(["week_start", "level", "rank_in_week"], ascending=[True, False, True],
                           ignore_index=True)
