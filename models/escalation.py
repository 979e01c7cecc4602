"""Escalation model: chance that a township's dispute situation peaks into an escalation within the horizon.

Pipeline: a ColumnTransformer over ``features.FEATURE_COLUMNS`` (``log1p`` on count-like columns, the
shares, ratios, z-scores and season columns passed through) and a HistGradientBoostingClassifier with
balanced class weights (escalations are rare, ~1 % of township-weeks). Missing feature values are left as
NaN: the gradient-boosting trees route them natively.

Training is strictly time-ordered (:func:`time_split`): the distinct weeks are cut into
``fit | gap | calibrate | gap | test``. The trees are fit on the earliest weeks, the probabilities are
calibrated on the later held-out weeks (``CalibratedClassifierCV(FrozenEstimator(...))``, sigmoid by
default: it is strictly monotone, so the ranking that the weekly alert budget uses keeps its resolution,
whereas isotonic calibration's plateaus tie many townships and return exact zeros; ``calibration="isotonic"``
or ``"auto"`` (isotonic from ``ISOTONIC_MIN_POSITIVES`` calibration positives) can be asked for), and average
precision, Brier score and base rate are reported on the final held-out slice. Each gap is
``horizon_weeks`` long: a label looks ``horizon_weeks`` ahead, so without the gap the last training rows
would share escalation peaks with the first calibration rows.

Slices follow 60 / 20 / 20 % of the weeks when every slice then holds an escalation; otherwise the cut
closest to those shares in which each slice holds one is taken (a small simulated province has only a
few episodes). With too few escalations for three slices there is no held-out evaluation (the metrics say
so) and the model is fit and calibrated on two slices; with too few for two it is fit on every week without
class weights and left uncalibrated (``calibration_method: "none"`` in the metadata).

No look-ahead: every feature of a row is computed by the features job from that week and earlier weeks
only; the model reads one row at a time. With ``refit_full=True`` (the default) the model that is returned
is refit with the same protocol shifted forward (fit on the first ~80 % of the weeks, calibrated on the
last ~20 %, a gap between) so that the deployed model has seen the most recent data; the metrics describe
the evaluation run, whose test slice the evaluated model never saw.
"""
from __future__ import annotations

import math
import os
import warnings
from contextlib import contextmanager

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


@contextmanager
def model_threads():
    """Limit OpenMP threads of the trees (``FENGQIAO_MODEL_THREADS``, default 1).

    The gold table is small (~10^5 rows): on a shared 2-core machine OpenMP's thread start-up and spin-waits
    made fitting ~10x slower with 2 threads than with 1.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=int(os.environ.get("FENGQIAO_MODEL_THREADS", "1")), user_api="openmp"):
        yield


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


class InsufficientEscalationsError(ValueError):
    """Too few weeks or escalations for a time-ordered split in which every slice holds a positive."""


def time_split(weeks, horizon_weeks: int = 4, fractions=(0.6, 0.2, 0.2), targets=None,
               min_positives: int = 1, names=("fit", "calibrate", "test")) -> dict[str, list]:
    """Cut the sorted distinct weeks into consecutive slices (default fit / calibrate / test), with a purge
    gap of ``horizon_weeks`` weeks between slices.

    Returns ``{name: [weeks...]}``: disjoint, in time order (max of one slice < min of the next, at least
    ``horizon_weeks + 1`` weeks apart), each at least 3 weeks long. Without ``targets`` the slices follow
    ``fractions`` of the usable weeks. With ``targets`` (0/1 aligned to ``weeks``) the cut is the one closest
    to ``fractions`` (in weeks) in which every slice holds at least ``min_positives`` positive rows: with few
    escalations (a small simulated province) the boundaries move so that each slice still has one.
    Raises :class:`InsufficientEscalationsError` when no such cut exists.
    """
    names = tuple(names)[:len(fractions)]
    uniq = sorted(set(weeks))
    n, k = len(uniq), len(fractions)
    gap = max(0, int(horizon_weeks))
    usable = n - (k - 1) * gap
    if usable < 3 * k:
        raise InsufficientEscalationsError(f"{n} weeks are too few for a time-ordered split into {k} slices "
                                           f"with {gap}-week gaps")
    total = float(sum(fractions))
    target = [usable * f / total for f in fractions]

    def build(sizes):
        out, pos = {}, 0
        for name, size in zip(names, sizes):
            out[name] = uniq[pos:pos + size]
            pos += size + gap
        return out

    # Positive rows per distinct week, cumulated, to count a slice's positives in O(1).
    if targets is None:
        sizes = [max(3, int(round(t))) for t in target[:-1]]
        while sum(sizes) > usable - 3:
            i = int(np.argmax(sizes))
            sizes[i] -= 1
        return build(sizes + [usable - sum(sizes)])
    index = {w: i for i, w in enumerate(uniq)}
    per_week = np.zeros(n)
    np.add.at(per_week, [index[w] for w in weeks], np.asarray(targets, dtype=float))
    cum = np.concatenate([[0.0], np.cumsum(per_week)])

    def positives(a, b):  # weeks uniq[a:b]
        return cum[b] - cum[a]

    best, best_cost = None, None
    if k == 2:
        candidates = ([a] for a in range(3, usable - 2))
    elif k == 3:
        candidates = ([a, b] for a in range(3, usable - 5) for b in range(3, usable - a - 2))
    else:
        raise ValueError("time_split supports 2 or 3 slices")
    for head in candidates:
        sizes = head + [usable - sum(head)]
        pos, ok = 0, True
        for size in sizes:
            if positives(pos, pos + size) < min_positives:
                ok = False
                break
            pos += size + gap
        if not ok:
            continue
        cost = sum(abs(sz - t) for sz, t in zip(sizes, target))
        if best_cost is None or cost < best_cost:
            best, best_cost = sizes, cost
    if best is None:
        raise InsufficientEscalationsError(
            f"no time-ordered cut of {n} weeks into {k} slices gives each slice {min_positives} escalation "
            f"row(s) ({int(cum[-1])} positive rows in all)")
    return build(best)


def _calibrate(fitted: Pipeline, X, y, method: str | None = None) -> tuple[CalibratedClassifierCV, str]:
    positives = int(np.sum(y))
    if positives == 0 or positives == len(y):
        raise InsufficientEscalationsError("the calibration weeks hold only one class")
    if method is None:
        method = "sigmoid"
    elif method == "auto":
        method = "isotonic" if positives >= ISOTONIC_MIN_POSITIVES else "sigmoid"
    cal = CalibratedClassifierCV(FrozenEstimator(fitted), method=method)
    with warnings.catch_warnings():
        # A frozen estimator is not refit per fold (sklearn's ensemble="auto" -> one calibrator on all the
        # calibration rows); the folds only pass predictions through, so few positives per fold do not matter.
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        cal.fit(X, y)
    return cal, method


def _fit_base(X, y, random_state: int) -> Pipeline:
    if int(np.sum(y)) == 0:
        raise InsufficientEscalationsError("the training weeks hold no escalation")
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
    with model_threads():
        return _train(features_df, targets, horizon_weeks, calibration, refit_full, random_state)


def _span(weeks: list) -> dict:
    return {"first_week": str(weeks[0]), "last_week": str(weeks[-1]), "weeks": len(weeks)}


def _train(features_df, targets, horizon_weeks, calibration, refit_full, random_state):
    missing = [c for c in FEATURE_COLUMNS if c not in features_df.columns]
    if missing:
        raise ValueError(f"features lack columns {missing}")
    y_all = pd.Series(targets, index=features_df.index)
    keep = y_all.notna().to_numpy()
    if "level" in features_df:
        keep &= (features_df["level"] == "township").to_numpy()
    df = features_df.loc[keep]
    y = y_all[keep].astype(int).to_numpy()
    if y.sum() == 0:
        raise InsufficientEscalationsError("the training data hold no escalation: nothing to learn from")
    weeks = pd.to_datetime(pd.Series(df["week_start"].values)).dt.date.to_numpy()
    X = df[FEATURE_COLUMNS].apply(pd.to_numeric, errors="coerce").astype(float)

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
        model, method = _calibrate(base, X[mask(split2["calibrate"])], y[mask(split2["calibrate"])], calibration)
        metrics["deployed"] = {"fit": _span(split2["fit"]), "calibrate": _span(split2["calibrate"]),
                               "calibration_method": method}
        return model, metrics
    if model is not None:
        return model, metrics
    # 3. Too few escalations to hold any out: fit every week without class weights (log-loss keeps the
    # probabilities near the base rate) and say so in the metadata.
    pipe = build_pipeline(random_state)
    pipe.set_params(hgb__class_weight=None)
    model = pipe.fit(X, y)
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


def predict_proba(model, features_df: pd.DataFrame, feature_columns: list[str] | None = None) -> np.ndarray:
    """Probability of escalation for each row (columns in the order the model was trained on)."""
    cols = list(feature_columns or FEATURE_COLUMNS)
    missing = [c for c in cols if c not in features_df.columns]
    if missing:
        raise ValueError(f"features lack columns the model needs: {missing}")
    if len(features_df) == 0:
        return np.zeros(0)
    X = features_df[cols].apply(pd.to_numeric, errors="coerce").astype(float)
    with model_threads():
        return model.predict_proba(X)[:, 1]
