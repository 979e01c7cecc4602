"""Fitting the escalation model: time-ordered fit, calibration on later weeks, held-out evaluation.

Training is strictly time-ordered (:func:`models.time_split.time_split`): the distinct weeks are cut into
``fit | gap | calibrate | gap | test``. The trees (:func:`models.escalation.build_pipeline`) are fit on the
earliest weeks, the probabilities are calibrated on the later held-out weeks
(``CalibratedClassifierCV(FrozenEstimator(...))``, sigmoid by default: it is strictly monotone, so the
ranking that the weekly alert budget uses keeps its resolution, whereas isotonic calibration's plateaus tie
many townships and return exact zeros; ``calibration="isotonic"`` or ``"auto"`` (isotonic from
``ISOTONIC_MIN_POSITIVES`` calibration positives) can be asked for), and average precision, Brier score and
base rate are reported on the final held-out slice. Each gap is ``horizon_weeks`` long.

Slices follow 60 / 20 / 20 % of the weeks when every slice then holds an escalation; otherwise the cut
closest to those shares in which each slice holds one is taken (a small simulated province has only a
few episodes). With too few escalations for three slices there is no held-out evaluation (the metrics say
so) and the model is fit and calibrated on two slices; with too few for two it is fit on every week without
class weights and left uncalibrated (``calibration_method: "none"`` in the metadata).

No look-ahead: every feature of a row is computed by the features job from that week and earlier weeks
only; the model reads one row at a time. With ``refit_full=True`` (the default) the model that is returned
is refit with the same protocol shifted forward (fit on the first ~80 % of the weeks, calibrated on the
last ~20 %, a gap between) so that the deployed model has seen the most recent data; the metrics describe
the evaluation run, whose test slice the evaluated model never saw. The alert threshold is chosen on the
calibration weeks (:mod:`models.alert_threshold`).
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline

from features import FEATURE_COLUMNS
from models.alert_threshold import base_rate_threshold, threshold_metrics, choose_alert_threshold
from models.context_features import with_context
from models.escalation import MODEL_COLUMNS, RANDOM_STATE, build_pipeline, model_threads
from models.time_split import InsufficientEscalationsError, time_split

ISOTONIC_MIN_POSITIVES = 100


def _calibrate(fitted: Pipeline, X, y, method: str | None = None) -> tuple[CalibratedClassifierCV, str]:
    positives = int(np.sum(y))
    if positives == 0 or positives == len(y):
        raise InsufficientEscalationsError("the calibration weeks hold only one class")
    if method is None:
        method = "sigmoid"
    elif method == "auto":
        method = "isotonic" if positives >= ISOTONIC_MIN_POSITIVES else "sigmoid"
    cal = _fit_calibrator(fitted, X, y, method)
    if method == "sigmoid" and _sigmoid_inverted(cal):
        # The trees ranked the calibration weeks backwards (seen once when a model learned from a single
        # randomised province): a sigmoid of the wrong slope would turn the ranking upside down and alert
        # nobody, or the wrong townships. Isotonic calibration cannot invert it; the metadata says why.
        return _fit_calibrator(fitted, X, y, "isotonic"), "isotonic (sigmoid slope inverted)"
    return cal, method


def _fit_calibrator(fitted: Pipeline, X, y, method: str) -> CalibratedClassifierCV:
    cal = CalibratedClassifierCV(FrozenEstimator(fitted), method=method)
    with warnings.catch_warnings():
        # A frozen estimator is not refit per fold (sklearn's ensemble="auto" -> one calibrator on all the
        # calibration rows); the folds only pass predictions through, so few positives per fold do not matter.
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        cal.fit(X, y)
    return cal


def _sigmoid_inverted(cal: CalibratedClassifierCV) -> bool:
    """True when a fitted sigmoid maps higher scores to lower probabilities (sklearn: p = 1 / (1 + e^(aT + b)),
    so a correct slope has ``a < 0``)."""
    return any(getattr(c, "a_", -1.0) >= 0 for cc in cal.calibrated_classifiers_ for c in cc.calibrators)


def _fit_base(X, y, random_state: int) -> Pipeline:
    if int(np.sum(y)) == 0:
        raise InsufficientEscalationsError("the training weeks hold no escalation")
    return build_pipeline(random_state, list(X.columns)).fit(X, y)


def _slice_metrics(y, p) -> dict:
    y = np.asarray(y, dtype=int)
    out = {"rows": int(len(y)), "positives": int(y.sum()), "base_rate": float(y.mean()) if len(y) else float("nan")}
    if len(y) and 0 < y.sum() < len(y):
        out["average_precision"] = float(average_precision_score(y, p))
        out["roc_auc"] = float(roc_auc_score(y, p))
    else:
        out["average_precision"] = out["roc_auc"] = None
    out["brier"] = float(brier_score_loss(y, p)) if len(y) else None
    out["mean_predicted"] = float(np.mean(p)) if len(y) else None
    return out


def train_escalation_model(features_df: pd.DataFrame, targets: pd.Series, horizon_weeks: int = 4,
                           calibration: str | None = None, refit_full: bool = True,
                           random_state: int = RANDOM_STATE, columns: list[str] | None = None):
    """Fit and calibrate the escalation model with a time-ordered split; returns ``(model, metrics)``.

    ``features_df`` holds township rows (county rows and rows whose target is NaN are dropped);
    ``targets`` is aligned to its index (see :func:`models.labels.escalation_targets`). ``model`` is a
    fitted ``CalibratedClassifierCV`` whose ``predict_proba(X[FEATURE_COLUMNS])[:, 1]`` is the
    probability. ``metrics`` holds the split weeks and, for the final held-out slice, average precision,
    Brier score, base rate (and the same before calibration). ``columns``: the model's inputs, by default
    ``MODEL_COLUMNS`` (e.g. ``WITHOUT_REFERRALS`` for an ablation).
    """
    with model_threads():
        return _train(features_df, targets, horizon_weeks, calibration, refit_full, random_state,
                      list(columns or MODEL_COLUMNS))


def _span(weeks: list) -> dict:
    return {"first_week": str(weeks[0]), "last_week": str(weeks[-1]), "weeks": len(weeks)}


def _train(features_df, targets, horizon_weeks, calibration, refit_full, random_state, columns):
    missing = [c for c in FEATURE_COLUMNS if c not in features_df.columns]
    if missing:
        raise ValueError(f"features lack columns {missing}")
    # Context features need every township of a week: computed before any row is dropped.
    features_df = with_context(features_df)
    y_all = pd.Series(targets, index=features_df.index)
    keep = y_all.notna().to_numpy()
    if "level" in features_df:
        keep &= (features_df["level"] == "township").to_numpy()
    df = features_df.loc[keep]
    y = y_all[keep].astype(int).to_numpy()
    if y.sum() == 0:
        raise InsufficientEscalationsError("the training data hold no escalation: nothing to learn from")
    weeks = pd.to_datetime(pd.Series(df["week_start"].values)).dt.date.to_numpy()
    X = df[columns].apply(pd.to_numeric, errors="coerce").astype(float)

    def mask(ws):
        return np.isin(weeks, np.array(ws, dtype=object))

    metrics: dict = {"gap_weeks": int(horizon_weeks), "rows": int(len(y)), "positives": int(y.sum())}
    model = None
    # 1. Evaluation: fit | gap | calibrate | gap | test.
    try:
        split = time_split(weeks, horizon_weeks, (0.6, 0.2, 0.2), targets=y)
    except InsufficientEscalationsError as exc:
        split = None
        metrics["evaluation"] = f"none: {exc}"
    if split is not None:
        masks = {k: mask(v) for k, v in split.items()}
        base = _fit_base(X[masks["fit"]], y[masks["fit"]], random_state)
        model, method = _calibrate(base, X[masks["calibrate"]], y[masks["calibrate"]], calibration)
        p_test = model.predict_proba(X[masks["test"]])[:, 1]
        p_test_raw = base.predict_proba(X[masks["test"]])[:, 1]
        metrics.update({
            "evaluation": "time-ordered held-out test slice",
            "split": {k: {**_span(v), "rows": int(masks[k].sum()), "positives": int(y[masks[k]].sum())}
                      for k, v in split.items()},
            "calibration_method": method,
            "test": _slice_metrics(y[masks["test"]], p_test),
            "test_uncalibrated": _slice_metrics(y[masks["test"]], p_test_raw),
            "budget_recall_test": _budget_recall(df.loc[masks["test"]], y[masks["test"]], p_test, 0.02),
        })
        p_cal = model.predict_proba(X[masks["calibrate"]])[:, 1]
        threshold = choose_alert_threshold(weeks[masks["calibrate"]], y[masks["calibrate"]], p_cal)
        metrics["alert_threshold"] = threshold
        metrics["test_alerts"] = threshold_metrics(weeks[masks["test"]], y[masks["test"]], p_test,
                                                    threshold["threshold"])
        metrics["deployed"] = {"fit": _span(split["fit"]), "calibrate": _span(split["calibrate"]),
                               "calibration_method": method}
        if not refit_full:
            return model, metrics

    # 2. Deployed model: the same protocol on the most recent data, fit | gap | calibrate (last ~20 %).
    try:
        split2 = time_split(weeks, horizon_weeks, (0.8, 0.2), targets=y, names=("fit", "calibrate"))
    except InsufficientEscalationsError as exc:
        split2 = None
        note = str(exc)
    if split2 is not None:
        base = _fit_base(X[mask(split2["fit"])], y[mask(split2["fit"])], random_state)
        cal_mask = mask(split2["calibrate"])
        model, method = _calibrate(base, X[cal_mask], y[cal_mask], calibration)
        threshold = choose_alert_threshold(weeks[cal_mask], y[cal_mask], model.predict_proba(X[cal_mask])[:, 1])
        metrics["alert_threshold"] = threshold
        metrics["deployed"] = {"fit": _span(split2["fit"]), "calibrate": _span(split2["calibrate"]),
                               "calibration_method": method}
        return model, metrics
    if model is not None:
        return model, metrics
    # 3. Too few escalations to hold any out: fit every week without class weights (log-loss keeps the
    # probabilities near the base rate) and say so in the metadata.
    model = build_pipeline(random_state, columns).fit(X, y)
    metrics["alert_threshold"] = base_rate_threshold(float(np.mean(y)), "no calibration slice")
    all_weeks = sorted(set(weeks))
    metrics["deployed"] = {"fit": _span(all_weeks), "calibrate": None, "calibration_method": "none",
                           "note": f"not calibrated on held-out weeks: {note}"}
    return model, metrics


def _budget_recall(df: pd.DataFrame, y, p, share: float) -> float | None:
    """Share of positive township-weeks that rank in their week's top ``share`` (a quick operational view)."""
    if int(np.sum(y)) == 0:
        return None
    frame = pd.DataFrame({"week": df["week_start"].values, "y": y, "p": p})
    frame["rank"] = frame.groupby("week")["p"].rank(ascending=False, method="first")
    frame["k"] = frame.groupby("week")["p"].transform(lambda s: max(1, math.ceil(share * len(s))))
    return float(frame.loc[frame["y"] == 1, "rank"].le(frame.loc[frame["y"] == 1, "k"]).mean())
