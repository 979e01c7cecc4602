"""Escalation model: chance that a township's dispute situation peaks into an escalation within the horizon.

Pipeline: a ColumnTransformer that selects ``MODEL_COLUMNS`` and a HistGradientBoostingClassifier (no class
weights: calibration follows). Missing feature values are left as NaN: the gradient-boosting trees route
them natively.

``MODEL_COLUMNS`` (``TRANSFER_COLUMNS``) hold only change, never level: a township against its own recent
weeks (:mod:`models.relative_features`, computed from the published columns when scoring) and
``CONTEXT_COLUMNS``, computed here from the same week's township rows (:func:`add_context_features`): a township's change
against the rest of its county, the rest of the city and its neighbours, its share of the county, the
hotline's change against the other channels (township and county), and its sharpest type change against
the city's and county's median. They separate escalation (one township rising against its surroundings)
from the confounders that lift many townships at once: a seasonal wave (the whole city), a new reporting
channel, a feed's catch-up or a media story (one county). They are not published in gold: they depend only
on published columns, and computing them at scoring time keeps the gold contract unchanged.

**Alert threshold.** :func:`choose_alert_threshold` picks, on the calibration weeks, the lowest calibrated
probability at which the weekly budget's alerts were right at least ``ALERT_TARGET_PRECISION`` (40 %) of
the time; it is registered with the model and used by the scoring job as the score floor of
:func:`models.levels.assign_levels`, so a week in which no township is likely flags fewer than the budget.

**Horizons.** :class:`HorizonModels` holds one calibrated model per horizon (1, 2 and 4 weeks, trained by
:func:`models.train.train_horizons_from_tables`); its ``predict_proba`` is the 4-week model's.

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

from features import FEATURE_COLUMNS
from models.relative_features import RELATIVE_COLUMNS, with_relative

# --- context features: a township against its county, its city and its neighbours in the same week ------

CONTEXT_COLUMNS = [
    "county_rest_chg_8w",       # the rest of the county's townships: (X + 1) / (M + 1) of their summed totals
    "rel_county_chg_8w",        # total_contacts_chg_8w / county_rest_chg_8w (> 1: rising against its county)
    "city_rest_chg_8w",         # the same over every other township of the drop (the city's seasonal wave)
    "rel_city_chg_8w",          # total_contacts_chg_8w / city_rest_chg_8w
    "county_share",             # this township's share of its county's contacts this week
    "rel_nb_chg_8w",            # total_contacts_chg_8w / nb_total_contacts_chg_8w (against its neighbours)
    "channel_shift",            # hotline change / change of orders + cases (one channel jumping alone)
    "county_channel_shift",     # the same for the whole county (a new reporting channel opens county-wide)
    "max_type_rel_city",        # max_type_chg_8w / median of it over the city's townships this week
    "max_type_rel_county",      # max_type_chg_8w / median of it over the county's townships this week
    "wage_rel_city",            # wage_arrears_chg_8w / the rest of the city's wage-arrears change
]
# Gold columns the context features are computed from (all in features.FEATURE_COLUMNS).
_CONTEXT_INPUTS = ["total_contacts", "total_contacts_chg_8w", "hotline_calls", "hotline_calls_chg_8w",
                   "work_orders", "work_orders_chg_8w", "mediation_cases", "mediation_cases_chg_8w",
                   "nb_total_contacts_chg_8w", "max_type_chg_8w", "wage_arrears", "wage_arrears_chg_8w"]


def _past_mean(x: np.ndarray, chg: np.ndarray) -> np.ndarray:
    """The 8-week mean m behind a published ratio chg = (x + 1) / (m + 1); 0 where it cannot be recovered."""
    with np.errstate(divide="ignore", invalid="ignore"):
        m = (x + 1.0) / chg - 1.0
    return np.where(np.isfinite(m), np.clip(m, 0.0, None), 0.0)


def _ratio(a, b) -> np.ndarray:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = a / b
    return np.where(np.isfinite(r), r, 1.0)


def add_context_features(features_df: pd.DataFrame) -> pd.DataFrame:
    """``features_df`` with ``CONTEXT_COLUMNS`` added to its township rows (NaN on county rows).

    Each value uses only the township rows of the same week (the township, the other townships of its
    county, of the whole frame and its neighbours' published lag), so scoring one week, a range of weeks or
    the whole history gives the same values, and nothing of a later week is read. The "city" is every
    township of the frame in that week: the drop's own region (a city or a province).

    Why: a seasonal wave lifts every township of the city, a new reporting channel or a feed's catch-up
    lifts every township of one county, a media story one type in one county; an escalation lifts one
    township against its neighbours. The 8-week means behind the published ``*_chg_8w`` ratios are
    recovered as ``m = (x + 1) / chg - 1`` and summed, so county and city changes weigh townships by volume.
    """
    out = features_df.copy()
    for col in CONTEXT_COLUMNS:
        out[col] = np.nan
    town_mask = (out["level"] == "township").to_numpy() if "level" in out else np.ones(len(out), dtype=bool)
    if not town_mask.any():
        return out
    missing = [c for c in _CONTEXT_INPUTS if c not in out.columns]
    if missing:
        raise ValueError(f"context features need columns {missing}")
    t = out.loc[town_mask, ["week_start", *_CONTEXT_INPUTS]].copy()
    t["week_start"] = pd.to_datetime(t["week_start"])
    t["county_code"] = (out.loc[town_mask, "county_code"].astype(str) if "county_code" in out
                        else out.loc[town_mask, "region_code"].astype(str).str[:6] + "000000")
    num = t[_CONTEXT_INPUTS].apply(pd.to_numeric, errors="coerce").fillna(0.0)
    x = num["total_contacts"].to_numpy()
    chg = num["total_contacts_chg_8w"].replace(0.0, np.nan).fillna(1.0).to_numpy()
    m = _past_mean(x, chg)

    def feed(name):
        v = num[name].to_numpy()
        return v, _past_mean(v, num[f"{name}_chg_8w"].replace(0.0, np.nan).fillna(1.0).to_numpy())

    (h, hm), (o, om), (c, cm) = feed("hotline_calls"), feed("work_orders"), feed("mediation_cases")
    w_, wm = feed("wage_arrears")
    s = pd.DataFrame({"week": t["week_start"].to_numpy(), "county": t["county_code"].to_numpy(),
                      "x": x, "m": m, "h": h, "hm": hm, "oc": o + c, "ocm": om + cm, "w": w_, "wm": wm,
                      "type": num["max_type_chg_8w"].to_numpy()}, index=t.index)
    by_county = s.groupby(["week", "county"])
    by_week = s.groupby("week")
    cty = by_county[["x", "m", "h", "hm", "oc", "ocm"]].transform("sum")
    city = by_week[["x", "m", "w", "wm"]].transform("sum")
    res = pd.DataFrame(index=t.index)
    res["county_rest_chg_8w"] = (cty["x"] - s["x"] + 1.0) / (cty["m"] - s["m"] + 1.0)
    res["rel_county_chg_8w"] = chg / res["county_rest_chg_8w"].to_numpy()
    res["city_rest_chg_8w"] = (city["x"] - s["x"] + 1.0) / (city["m"] - s["m"] + 1.0)
    res["rel_city_chg_8w"] = chg / res["city_rest_chg_8w"].to_numpy()
    res["county_share"] = _ratio(s["x"], cty["x"].where(cty["x"] > 0, np.nan))
    res["rel_nb_chg_8w"] = _ratio(chg, num["nb_total_contacts_chg_8w"].replace(0.0, np.nan))
    res["channel_shift"] = _ratio((s["h"] + 1) / (s["hm"] + 1), (s["oc"] + 1) / (s["ocm"] + 1))
    res["county_channel_shift"] = _ratio((cty["h"] + 1) / (cty["hm"] + 1), (cty["oc"] + 1) / (cty["ocm"] + 1))
    res["max_type_rel_city"] = _ratio(s["type"], by_week["type"].transform("median"))
    res["max_type_rel_county"] = _ratio(s["type"], by_county["type"].transform("median"))
    w_chg = (s["w"] + 1.0) / (s["wm"] + 1.0)
    res["wage_rel_city"] = _ratio(w_chg, (city["w"] - s["w"] + 1.0) / (city["wm"] - s["wm"] + 1.0))
    for col in CONTEXT_COLUMNS:
        out.loc[town_mask, col] = res[col].astype(float).to_numpy()
    return out


def with_context(features_df: pd.DataFrame) -> pd.DataFrame:
    """``features_df`` with the derived columns the model may read: ``CONTEXT_COLUMNS`` (same week) and
    :data:`models.relative_features.RELATIVE_COLUMNS` (own history, city median), each computed only when
    absent. The history needs a township's earlier weeks in the frame (the scoring job reads them)."""
    if not all(c in features_df.columns for c in CONTEXT_COLUMNS):
        features_df = add_context_features(features_df)
    return with_relative(features_df)


# What the model reads (issue 17): only change, never level. Each township against its own recent weeks
# (models.relative_features), against the rest of its county, city and neighbours in the same week
# (CONTEXT_COLUMNS) and the gold table's own 8-week changes. Absolute counts, shares and season columns are
# properties of a world (population, habits of a hotline, a registry's forms); a model fitted on them learned
# its training world: on drops of the contract world it filled the alert budget every week. The upstream
# warning flags and lexicon hits enter only summed as the keyword rule's warning signs (their mix and rate
# differ between worlds, their sum rising against a township's own history does not); measured on the
# development seeds of both worlds, 2026-12-03 (README, "Two worlds").
TRANSFER_COLUMNS = [
    "warning_signs_z8", "warning_signs_z3", "warning_signs_z8_city",
    "total_contacts_z8", "total_contacts_z3", "total_contacts_z8_city",
    "hotline_calls_z3", "work_orders_z3", "mediation_cases_z3",
    "repeat_caller_share_d8", "repeat_order_share_d8", "complaint_share_d8", "mediation_party_mean_d8",
    "failed_mediation_share_d8", "urgent_order_share_d8",
    "rel_county_chg_8w", "rel_city_chg_8w", "rel_nb_chg_8w", "county_rest_chg_8w", "city_rest_chg_8w",
    "county_share", "channel_shift", "county_channel_shift", "max_type_rel_city", "max_type_rel_county",
    "max_type_chg_8w",
]
MODEL_COLUMNS = list(TRANSFER_COLUMNS)
assert set(MODEL_COLUMNS) <= set(FEATURE_COLUMNS) | set(CONTEXT_COLUMNS) | set(RELATIVE_COLUMNS)

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
    """log(1 + max(x, 0)); NaN stays NaN. Models registered before 2026-12-03 apply it to count columns:
    kept, at module level, so that skops can name it and those artefacts still load."""
    return np.log1p(np.clip(np.asarray(x, dtype=float), 0.0, None))


def build_pipeline(random_state: int = RANDOM_STATE) -> Pipeline:
    """The columns of ``MODEL_COLUMNS`` (all relative, none needs a transform) into gradient-boosted trees.

    No class weights: the probabilities are calibrated on later weeks anyway, and with sample weights
    scikit-learn 1.9 bins every feature by weighted percentiles, which made a fit ~4x slower (measured
    2026-12-03: 104 s vs 24 s for one model on a city's two years) for no gain in ranking on the
    development seeds."""
    pre = ColumnTransformer([("pass", "passthrough", MODEL_COLUMNS)], remainder="drop",
                            verbose_feature_names_out=False)
    clf = HistGradientBoostingClassifier(
        learning_rate=0.05, max_iter=250, max_leaf_nodes=15, min_samples_leaf=40,
        l2_regularization=1.0, early_stopping=False, random_state=random_state,
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
    X = df[MODEL_COLUMNS].apply(pd.to_numeric, errors="coerce").astype(float)

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
        metrics["test_alerts"] = _threshold_metrics(weeks[masks["test"]], y[masks["test"]], p_test,
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
    model = build_pipeline(random_state).fit(X, y)
    metrics["alert_threshold"] = _base_rate_threshold(float(np.mean(y)), "no calibration slice")
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


# --- the alert threshold --------------------------------------------------------------------------------

# An alert is sent when the calibrated probability reaches the threshold chosen on the calibration weeks:
# the lowest probability at which the alerts the budget allows would have been right at least
# ALERT_TARGET_PRECISION of the time (a row is right when its township's escalation peaks within the horizon).
# 40 %, not the 30 % of earlier models: at 30 % the deployed calibration put the threshold at the low end of
# a plateau on which raising it up to ~0.09 lost no calibration escalation but dropped a fifth of the alerts,
# and on simulated drops the extra alerts were mostly false ones in seasonal waves and in counties with a new
# reporting channel (README, "Backtest"). 40 % keeps the calibration recall of 30 % (0.8) on the training drop.
ALERT_TARGET_PRECISION = 0.40
# Fewer calibration alerts than this above the threshold is no estimate of precision: use the base-rate rule.
ALERT_MIN_ALERTS = 5
# The fallback: this many times the base rate of the training rows, never below levels.SCORE_FLOOR.
ALERT_BASE_RATE_MULTIPLE = 5.0
ALERT_BUDGET_SHARE = 0.02


def _budget_rows(weeks, p, budget_share: float) -> np.ndarray:
    """Mask of the rows that rank in their week's top ``k`` (the alert budget of models.levels)."""
    frame = pd.DataFrame({"week": weeks, "p": p})
    rank = frame.groupby("week")["p"].rank(ascending=False, method="first")
    k = frame.groupby("week")["p"].transform(lambda v: max(1, math.ceil(budget_share * len(v) - 1e-9)))
    return (rank <= k).to_numpy()


def _base_rate_threshold(base_rate: float, why: str) -> dict:
    from models.levels import SCORE_FLOOR

    t = max(SCORE_FLOOR, ALERT_BASE_RATE_MULTIPLE * base_rate) if np.isfinite(base_rate) else SCORE_FLOOR
    return {"threshold": float(t), "method": f"{ALERT_BASE_RATE_MULTIPLE:g} x base rate ({why})",
            "base_rate": float(base_rate) if np.isfinite(base_rate) else None}


def choose_alert_threshold(weeks, y, p, target_precision: float | None = None,
                           budget_share: float | None = None) -> dict:
    """The calibrated probability from which a township is alerted, chosen on held-out calibration rows.

    Among the rows the weekly budget would alert (each week's top ``k``), sorted by probability, the
    threshold is the lowest probability ``t`` such that the alerts with ``p >= t`` have a precision of at
    least ``target_precision`` (and there are at least ``ALERT_MIN_ALERTS`` of them). Without such a ``t``
    (too few escalations to measure precision, or a model that never reaches it) it is
    ``ALERT_BASE_RATE_MULTIPLE`` × the base rate. Never below ``models.levels.SCORE_FLOOR``.
    Returns ``{"threshold", "method", "precision", "recall", "alerts", "base_rate"}``.
    """
    from models.levels import SCORE_FLOOR

    # Read when called, not when defined: the module's values are what models.train records in the metadata.
    target_precision = ALERT_TARGET_PRECISION if target_precision is None else target_precision
    budget_share = ALERT_BUDGET_SHARE if budget_share is None else budget_share
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    base_rate = float(y.mean()) if len(y) else float("nan")
    if len(y) == 0 or y.sum() == 0:
        return _base_rate_threshold(base_rate, "no escalation in the calibration weeks")
    sent = _budget_rows(np.asarray(weeks), p, budget_share)
    order = np.argsort(-p[sent], kind="stable")
    ps, ys = p[sent][order], y[sent][order]
    precision = np.cumsum(ys) / np.arange(1, len(ys) + 1)
    ok = np.flatnonzero((precision >= target_precision) & (np.arange(1, len(ys) + 1) >= ALERT_MIN_ALERTS))
    if len(ok) == 0:
        return _base_rate_threshold(base_rate, f"precision {target_precision:.0%} not reached on calibration weeks")
    n = int(ok[-1]) + 1
    t = max(SCORE_FLOOR, float(ps[n - 1]))
    above = ps >= t
    return {"threshold": t, "method": f"lowest calibrated probability with precision >= {target_precision:.0%} "
                                      f"among budget alerts of the calibration weeks",
            "precision": float(ys[above].mean()), "alerts": int(above.sum()),
            "recall": float(ys[above].sum() / y.sum()), "base_rate": base_rate}


def _threshold_metrics(weeks, y, p, threshold: float, budget_share: float = ALERT_BUDGET_SHARE) -> dict:
    """Alerts (budget top-k with p >= threshold) on a held-out slice: how many, their precision, row recall."""
    y = np.asarray(y, dtype=int)
    sent = _budget_rows(np.asarray(weeks), np.asarray(p), budget_share) & (np.asarray(p) >= threshold)
    return {"alerts": int(sent.sum()), "precision": float(y[sent].mean()) if sent.any() else None,
            "recall": float(y[sent].sum() / y.sum()) if y.sum() else None}


# --- several horizons in one artefact -------------------------------------------------------------------

class HorizonModels:
    """Calibrated escalation models for several horizons (weeks), registered as one artefact.

    ``predict_proba`` is the ``default`` horizon's (the contract's 4 weeks), so code that knows one model
    keeps working; :func:`predict_horizons` gives every horizon. ``models`` maps ``"h<weeks>"`` to a fitted
    estimator over ``MODEL_COLUMNS``; ``thresholds`` maps the same keys to alert thresholds.
    """

    def __init__(self, models: dict, default: str = "h4", thresholds: dict | None = None,
                 columns: list[str] | None = None):
        self.models = dict(models)
        self.default = default
        self.thresholds = dict(thresholds or {})
        self.feature_names_in_ = np.asarray(columns if columns is not None else MODEL_COLUMNS, dtype=object)

    @property
    def horizons(self) -> list[int]:
        return sorted(int(k[1:]) for k in self.models)

    def predict_proba(self, X):
        return self.models[self.default].predict_proba(X)

    def predict_horizon_proba(self, X, horizon: int):
        return self.models[f"h{int(horizon)}"].predict_proba(X)


def model_columns(model, feature_columns: list[str] | None = None) -> list[str]:
    """The columns ``model`` reads: its ``feature_names_in_`` when fitted on a frame, else ``feature_columns``."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(c) for c in names]
    return list(feature_columns or FEATURE_COLUMNS)


def _model_input(model, features_df: pd.DataFrame, feature_columns: list[str] | None) -> pd.DataFrame:
    cols = model_columns(model, feature_columns)
    derived = set(CONTEXT_COLUMNS) | set(RELATIVE_COLUMNS)
    if any(c in derived and c not in features_df.columns for c in cols):
        features_df = with_context(features_df)
    missing = [c for c in cols if c not in features_df.columns]
    if missing:
        raise ValueError(f"features lack columns the model needs: {missing}")
    return features_df[cols].apply(pd.to_numeric, errors="coerce").astype(float)


def predict_proba(model, features_df: pd.DataFrame, feature_columns: list[str] | None = None) -> np.ndarray:
    """Probability of escalation for each row (the default horizon's for :class:`HorizonModels`).

    The model's own input columns decide (``feature_names_in_``); context features are computed here when
    the model reads them and the frame lacks them, which needs every township of each week in the frame.
    """
    if len(features_df) == 0:
        return np.zeros(0)
    X = _model_input(model, features_df, feature_columns)
    with model_threads():
        return model.predict_proba(X)[:, 1]


def predict_horizons(model, features_df: pd.DataFrame, feature_columns: list[str] | None = None) -> dict[int, np.ndarray]:
    """``{horizon_weeks: probabilities}`` for every horizon of a :class:`HorizonModels` (an older single
    model gives ``{}``)."""
    if not isinstance(model, HorizonModels):
        return {}
    if len(features_df) == 0:
        return {h: np.zeros(0) for h in model.horizons}
    X = _model_input(model, features_df, feature_columns)
    with model_threads():
        return {h: model.predict_horizon_proba(X, h)[:, 1] for h in model.horizons}
