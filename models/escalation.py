"""Escalation model: chance that a township's dispute situation peaks into an escalation within the horizon.

Pipeline: a ColumnTransformer over ``features.FEATURE_COLUMNS`` (``log1p`` on count-like columns, the
shares, ratios, z-scores and season columns passed through) and a HistGradientBoostingClassifier with
balanced class weights (escalations are rare, ~1 % of township-weeks). Missing feature values are left as
NaN: the gradient-boosting trees route them natively.

Training is strictly time-ordered (:func:`time_split`): the distinct weeks are cut into
``fit | gap | calibrate | gap | test``. The trees are fit on the earliest weeks, the probabilities are
calibrated on the later held-out weeks (``CalibratedClassifierCV(FrozenEstimator(...))``, isotonic when the
calibration slice holds at least ``ISOTONIC_MIN_POSITIVES`` positives, sigmoid otherwise), and average
precision, Brier score and base rate are reported on the final held-out slice. Each gap is
``horizon_weeks`` long: a label looks ``horizon_weeks`` ahead, so without the gap the last training rows
would share escalation peaks with the first calibration rows.

No look-ahead: every feature of a row is computed by the features job from that week and earlier weeks
only; the model reads one row at a time. With ``refit_full=True`` (the default) the model that is returned
is refit with the same protocol shifted forward (fit on all weeks before the last slice, calibrated on the
last slice) so that the deployed model has seen the most recent data; the metrics describe the evaluation
run, whose test slice neither model used for fitting the trees.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from features import COUNT_COLUMNS, FEATURE_COLUMNS

# Counts (and count-valued signals) are heavy-tailed: log1p. Everything else passes through.
LOG_COLUMNS = [*COUNT_COLUMNS, "returned_orders", "mediation_party_mean", "mediation_party_max",
               "large_group_cases", "failed_mediations", "criminal_tendency_cases", "group_tendency_cases",
               "escalation_term_records"]
LOG_COLUMNS = [c for c in FEATURE_COLUMNS if c in set(LOG_COLUMNS)]
PASSTHROUGH_COLUMNS = [c for c in FEATURE_COLUMNS if c not in set(LOG_COLUMNS)]

ISOTONIC_MIN_POSITIVES = 100
RANDOM_STATE = 0


def log1p_nonneg(x):
    """log(1 + max(x, 0)); NaN stays NaN. A module-level function so that skops can name it."""
    return np.log1p(np.clip(np.asarray(x, dtype=float), 0.0, None))


def build_pipeline(random_state: int = RANDOM_STATE) -> Pipeline:
    pre = ColumnTransformer(
        [("log_counts", FunctionTransformer(log1p_nonneg, feature_names_out="one-to-one"), LOG_COLUMNS),
         ("pass", "passthrough", PASSTHROUGH_COLUMNS)],
        remainder="drop", verbose_feature_names_out=False,
    )
    clf = HistGradientBoostingClassifier(
        learning_rate=0.05, max_iter=250, max_leaf_nodes=15, min_samples_leaf=40,
        l2_regularization=1.0, class_weight="balanced", early_stopping=False,
        random_state=random_state,
    )
    return Pipeline([("features", pre), ("hgb", clf)])


def time_split(weeks, horizon_weeks: int = 4, fractions=(0.6, 0.2, 0.2)) -> dict[str, list]:
    """Cut the sorted distinct weeks into fit / calibrate / test with a purge gap of ``horizon_weeks``.

    Returns ``{"fit": [...], "calibrate": [...], "test": [...]}`` (lists of week values, disjoint and in
    time order: max(fit) < min(calibrate) <= max(calibrate) < min(test)).
    """
    uniq = sorted(set(weeks))
    n = len(uniq)
    gap = max(0, int(horizon_weeks))
    usable = n - 2 * gap
    if usable < 9:
        raise ValueError(f"{n} weeks are too few for a time-ordered fit/calibrate/test split "
                         f"with {gap}-week gaps")
    n_fit = max(3, int(round(usable * fractions[0])))
    n_cal = max(3, int(round(usable * fractions[1])))
    n_fit = min(n_fit, usable - n_cal - 3)
    fit = uniq[:n_fit]
    cal = uniq[n_fit + gap:n_fit + gap + n_cal]
    test = uniq[n_fit + gap + n_cal + gap:]
    return {"fit": fit, "calibrate": cal, "test": test}


def _calibrate(fitted: Pipeline, X, y, method: str | None = None) -> tuple[CalibratedClassifierCV, str]:
    positives = int(np.sum(y))
    if positives == 0 or positives == len(y):
        raise ValueError("the calibration weeks hold only one class: more weeks or more episodes are needed")
    if method is None:
        method = "isotonic" if positives >= ISOTONIC_MIN_POSITIVES else "sigmoid"
    cal = CalibratedClassifierCV(FrozenEstimator(fitted), method=method)
    cal.fit(X, y)
    return cal, method


def _fit_base(X, y, random_state: int) -> Pipeline:
    if int(np.sum(y)) == 0:
        raise ValueError("the training weeks hold no escalation: more weeks or more episodes are needed")
    return build_pipeline(random_state).fit(X, y)


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
                           random_state: int = RANDOM_STATE):
    """Fit and calibrate the escalation model with a time-ordered split; returns ``(model, metrics)``.

    ``features_df`` holds township rows (county rows and rows whose target is NaN are dropped);
    ``targets`` is aligned to its index (see :func:`models.labels.escalation_targets`). ``model`` is a
    fitted ``CalibratedClassifierCV`` whose ``predict_proba(X[FEATURE_COLUMNS])[:, 1]`` is the
    probability. ``metrics`` holds the split weeks and, for the final held-out slice, average precision,
    Brier score, base rate (and the same before calibration).
    """
    missing = [c for c in FEATURE_COLUMNS if c not in features_df.columns]
    if missing:
        raise ValueError(f"features lack columns {missing}")
    y_all = pd.Series(targets, index=features_df.index)
    keep = y_all.notna().to_numpy()
    if "level" in features_df:
        keep &= (features_df["level"] == "township").to_numpy()
    df = features_df.loc[keep]
    y = y_all[keep].astype(int).to_numpy()
    weeks = pd.to_datetime(pd.Series(df["week_start"].values)).dt.date.to_numpy()
    X = df[FEATURE_COLUMNS].apply(pd.to_numeric, errors="coerce").astype(float)

    split = time_split(weeks, horizon_weeks)
    masks = {k: np.isin(weeks, np.array(v, dtype=object)) for k, v in split.items()}
    base = _fit_base(X[masks["fit"]], y[masks["fit"]], random_state)
    model, method = _calibrate(base, X[masks["calibrate"]], y[masks["calibrate"]], calibration)
    p_test = model.predict_proba(X[masks["test"]])[:, 1]
    p_test_raw = base.predict_proba(X[masks["test"]])[:, 1]

    metrics = {
        "split": {k: {"first_week": str(v[0]), "last_week": str(v[-1]), "weeks": len(v),
                      "rows": int(masks[k].sum()), "positives": int(y[masks[k]].sum())}
                  for k, v in split.items()},
        "gap_weeks": int(horizon_weeks),
        "calibration_method": method,
        "test": _slice_metrics(y[masks["test"]], p_test),
        "test_uncalibrated": _slice_metrics(y[masks["test"]], p_test_raw),
        "budget_recall_test": _budget_recall(df.loc[masks["test"]], y[masks["test"]], p_test, 0.02),
    }

    if refit_full:
        # Same protocol shifted forward: fit on every week before the last slice (less a gap), calibrate
        # on the last slice. The test metrics above stay the honest estimate.
        uniq = sorted(set(weeks))
        n_last = len(split["test"])
        last = uniq[-n_last:]
        fit_weeks = uniq[:len(uniq) - n_last - horizon_weeks]
        m_fit, m_cal = np.isin(weeks, np.array(fit_weeks, dtype=object)), np.isin(weeks, np.array(last, dtype=object))
        if y[m_cal].sum() > 0 and y[m_fit].sum() > 0:
            base = _fit_base(X[m_fit], y[m_fit], random_state)
            model, method = _calibrate(base, X[m_cal], y[m_cal], calibration)
            metrics["deployed"] = {"fit_first_week": str(fit_weeks[0]), "fit_last_week": str(fit_weeks[-1]),
                                   "calibrate_first_week": str(last[0]), "calibrate_last_week": str(last[-1]),
                                   "calibration_method": method}
        else:
            metrics["deployed"] = {"note": "refit skipped (a slice had no positives); evaluation model deployed",
                                   "fit_first_week": metrics["split"]["fit"]["first_week"],
                                   "fit_last_week": metrics["split"]["fit"]["last_week"],
                                   "calibrate_first_week": metrics["split"]["calibrate"]["first_week"],
                                   "calibrate_last_week": metrics["split"]["calibrate"]["last_week"],
                                   "calibration_method": metrics["calibration_method"]}
    else:
        metrics["deployed"] = {"fit_first_week": metrics["split"]["fit"]["first_week"],
                               "fit_last_week": metrics["split"]["fit"]["last_week"],
                               "calibrate_first_week": metrics["split"]["calibrate"]["first_week"],
                               "calibrate_last_week": metrics["split"]["calibrate"]["last_week"],
                               "calibration_method": method}
    return model, metrics


def _budget_recall(df: pd.DataFrame, y, p, share: float) -> float | None:
    """Share of positive township-weeks that rank in their week's top ``share`` (a quick operational view)."""
    if int(np.sum(y)) == 0:
        return None
    frame = pd.DataFrame({"week": df["week_start"].values, "y": y, "p": p})
    frame["rank"] = frame.groupby("week")["p"].rank(ascending=False, method="first")
    frame["k"] = frame.groupby("week")["p"].transform(lambda s: max(1, math.ceil(share * len(s))))
    return float(frame.loc[frame["y"] == 1, "rank"].le(frame.loc[frame["y"] == 1, "k"]).mean())


def predict_proba(model, features_df: pd.DataFrame, feature_columns: list[str] | None = None) -> np.ndarray:
    """Probability of escalation for each row (columns in the order the model was trained on)."""
    cols = list(feature_columns or FEATURE_COLUMNS)
    missing = [c for c in cols if c not in features_df.columns]
    if missing:
        raise ValueError(f"features lack columns the model needs: {missing}")
    if len(features_df) == 0:
        return np.zeros(0)
    X = features_df[cols].apply(pd.to_numeric, errors="coerce").astype(float)
    return model.predict_proba(X)[:, 1]
