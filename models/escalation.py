"""Escalation model: chance that a township's dispute situation peaks into an escalation within the horizon.

Pipeline: a ColumnTransformer that selects ``MODEL_COLUMNS`` and a HistGradientBoostingClassifier (no class
weights: calibration follows). Missing feature values are left as NaN: the gradient-boosting trees route
them natively.

``MODEL_COLUMNS`` (``TRANSFER_COLUMNS``) hold only change, never level: a township against its own recent
weeks (:mod:`models.relative_features`, computed from the published columns when scoring) and against the
rest of its county, city and neighbours in the same week (:mod:`models.context_features`).

Fitting and calibration: :mod:`models.escalation_training`; the alert threshold registered with a model:
:mod:`models.alert_threshold`.

**Horizons.** :class:`HorizonModels` holds one calibrated model per horizon (1, 2 and 4 weeks, trained by
:func:`models.train.train_horizons_from_tables`); its ``predict_proba`` is the 4-week model's.

:class:`HorizonModels` and :func:`log1p_nonneg` stay in this module: registered artefacts name them by
their import path (``models.registry.ALLOWED_TYPES``).
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from features import FEATURE_COLUMNS
from models.context_features import CONTEXT_COLUMNS, with_context
from models.relative_features import RELATIVE_COLUMNS

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
# Referral signals (issue 21): cases passed on by courts, police and petition offices against the township's own
# weeks and its city, their share of its cases, the 12345 line's share of its calls, and the neighbours'
# referral change. Relative forms only, like the rest. ``fengqiao train``/the benchmarks can leave them out
# (``columns=WITHOUT_REFERRALS``) to measure what they add.
REFERRAL_MODEL_COLUMNS = [
    "referral_cases_z8", "referral_cases_z3", "referral_cases_z8_city", "referral_share_d8",
    "line_12345_share_d8", "line_12345_calls_z8_city", "nb_referral_cases_chg_8w",
]
MODEL_COLUMNS = TRANSFER_COLUMNS + REFERRAL_MODEL_COLUMNS
WITHOUT_REFERRALS = list(TRANSFER_COLUMNS)
assert set(MODEL_COLUMNS) <= set(FEATURE_COLUMNS) | set(CONTEXT_COLUMNS) | set(RELATIVE_COLUMNS)

RANDOM_STATE = 0


@contextmanager
def model_threads(threads: int = 1):
    """Limit OpenMP threads of the trees (one by default).

    The gold table is small (~10^5 rows): on a shared 2-core machine OpenMP's thread start-up and spin-waits
    made fitting ~10x slower with 2 threads than with 1.
    """
    with threadpool_limits(limits=threads, user_api="openmp"):
        yield


def log1p_nonneg(x):
    """log(1 + max(x, 0)); NaN stays NaN. Models registered before 2026-12-03 apply it to count columns:
    kept, at module level, so that skops can name it and those artefacts still load."""
    return np.log1p(np.clip(np.asarray(x, dtype=float), 0.0, None))


def build_pipeline(random_state: int = RANDOM_STATE, columns: list[str] | None = None) -> Pipeline:
    """The columns of ``MODEL_COLUMNS`` (or ``columns``; all relative, none needs a transform) into
    gradient-boosted trees.

    No class weights: the probabilities are calibrated on later weeks anyway, and with sample weights
    scikit-learn 1.9 bins every feature by weighted percentiles, which made a fit ~4x slower (measured
    2026-12-03: 104 s vs 24 s for one model on a city's two years) for no gain in ranking on the
    development seeds."""
    pre = ColumnTransformer([("pass", "passthrough", list(columns or MODEL_COLUMNS))], remainder="drop",
                            verbose_feature_names_out=False)
    clf = HistGradientBoostingClassifier(
        learning_rate=0.05, max_iter=250, max_leaf_nodes=15, min_samples_leaf=40,
        l2_regularization=1.0, early_stopping=False, random_state=random_state,
    )
    return Pipeline([("features", pre), ("hgb", clf)])

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
