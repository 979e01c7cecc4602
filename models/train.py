"""Train the escalation model from gold/region_week_features and the simulator's truth, then register it.

Only training reads ``truth/episodes.csv``; the scoring job never does.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn

from features import FEATURE_COLUMNS, KEY_COLUMNS
from models.escalation import (CONTEXT_COLUMNS, MODEL_COLUMNS, HorizonModels, model_columns,
                               train_escalation_model, with_context)
from models.labels import escalation_targets, read_episodes
from models.registry import register


def training_fingerprint(frame: pd.DataFrame) -> str:
    """sha256 of a frame's contents in a canonical order (rows sorted by key, columns as given)."""
    keys = [c for c in ("region_code", "week_start") if c in frame.columns]
    canon = frame.sort_values(keys).reset_index(drop=True) if keys else frame.reset_index(drop=True)
    canon = canon.astype({c: str for c in canon.columns if canon[c].dtype == object or c == "week_start"})
    hashed = pd.util.hash_pandas_object(canon, index=False).to_numpy()
    h = hashlib.sha256(hashed.tobytes())
    h.update(",".join(map(str, canon.columns)).encode())
    return h.hexdigest()


def training_settings(**kwargs) -> dict:
    """The settings that shape a model beyond its data: they are stored in its metadata and enter its version,
    so that retraining the same data with another alert-threshold rule (say) does not reuse the old version."""
    from models.escalation import ALERT_BUDGET_SHARE, ALERT_TARGET_PRECISION, RANDOM_STATE

    return {"alert_target_precision": ALERT_TARGET_PRECISION, "alert_budget_share": ALERT_BUDGET_SHARE,
            "calibration": kwargs.get("calibration"), "refit_full": kwargs.get("refit_full", True),
            "random_state": kwargs.get("random_state", RANDOM_STATE)}


def model_version_for(horizons: str, last_week, data_sha256: str, settings: dict) -> str:
    """``escalation-h<horizons>-<last training week>-<8 hex of the data and settings>``."""
    h = hashlib.sha256(data_sha256.encode())
    h.update(json.dumps(settings, sort_keys=True).encode())
    return f"escalation-h{horizons}-{str(last_week).replace('-', '')}-{h.hexdigest()[:8]}"


def complete_targets(town: pd.DataFrame, episodes_df: pd.DataFrame, horizon_weeks: int) -> pd.Series:
    """:func:`models.labels.escalation_targets` of one drop's township rows, NaN in its last ``horizon_weeks``
    weeks, which cannot see their whole label window."""
    targets = escalation_targets(town, episodes_df, horizon_weeks)
    weeks = pd.to_datetime(town["week_start"])
    complete = (weeks + pd.Timedelta(weeks=horizon_weeks)) <= weeks.max()
    return targets.where(complete.to_numpy())


def train_from_tables(features_df: pd.DataFrame, episodes_df: pd.DataFrame | None, horizon_weeks: int = 4,
                      targets: pd.Series | None = None, **kwargs):
    """Labels from the episodes (or ``targets`` given per row, e.g. of several drops), time-ordered fit and
    calibration; returns ``(model, metadata)``."""
    town = features_df[features_df["level"] == "township"].copy()
    town["week_start"] = pd.to_datetime(town["week_start"]).dt.date
    if targets is None:
        targets = complete_targets(town, episodes_df, horizon_weeks)
    else:
        targets = pd.Series(targets, index=features_df.index).loc[town.index]
    town, targets = town[targets.notna().to_numpy()], targets[targets.notna().to_numpy()]

    model, metrics = train_escalation_model(town, targets, horizon_weeks=horizon_weeks, **kwargs)
    frame = town[[c for c in KEY_COLUMNS if c in town.columns] + FEATURE_COLUMNS].assign(target=targets.values)
    fingerprint = training_fingerprint(frame)
    weeks = sorted(town["week_start"].unique())
    metadata = {
        "model_kind": "HistGradientBoostingClassifier" + (
            f" + CalibratedClassifierCV(FrozenEstimator, {metrics['deployed']['calibration_method']})"
            if metrics["deployed"]["calibration_method"] != "none" else " (uncalibrated: too few escalations)"),
        # Dated by the data (the last labelled training week), not the wall clock: retraining on the same
        # data gives the same metadata and version.
        "created": str(weeks[-1]),
        "created_from_data": True,
        "training_window": {"first_week": str(weeks[0]), "last_week": str(weeks[-1]), "weeks": len(weeks)},
        "training_rows": int(len(town)),
        "training_positives": int(np.nansum(targets.values)),
        "training_townships": int(town["region_code"].nunique()),
        "training_data_sha256": fingerprint,
        "feature_columns": list(FEATURE_COLUMNS),
        # Computed from the feature columns of the same week when scoring (models.escalation).
        "context_columns": [c for c in model_columns(model) if c in CONTEXT_COLUMNS],
        "alert_threshold": metrics["alert_threshold"],
        "horizon_weeks": int(horizon_weeks),
        "label": f"escalation episode of the township peaks in [week, week + {horizon_weeks} weeks]",
        "metrics": metrics,
        "sklearn_version": sklearn.__version__,
    }
    metadata["training_settings"] = training_settings(**kwargs)
    metadata["model_version"] = model_version_for(str(horizon_weeks), weeks[-1], fingerprint,
                                                   metadata["training_settings"])
    return model, metadata


HORIZONS = (1, 2, 4)
DEFAULT_HORIZON = 4  # the contract's: gold/risk_scores.score is the chance of escalation within 4 weeks


def train_horizons_from_drops(drops, horizons=HORIZONS, **kwargs):
    """:func:`train_horizons_from_tables` on several drops at once: ``drops`` is a list of ``(features,
    episodes)`` pairs, e.g. seeds of one or more simulated worlds. Context features and labels are computed
    within each drop (a township is compared with its own county and city, never with another drop's);
    the rows are then pooled and split by week as usual (the drops share a calendar or not, either way the
    fit weeks precede the calibration weeks)."""
    frames, targets = [], {int(h): [] for h in horizons}
    for features_df, episodes_df in drops:
        town = features_df[features_df["level"] == "township"].copy()
        town["week_start"] = pd.to_datetime(town["week_start"]).dt.date
        town = with_context(town)
        frames.append(town)
        for h in targets:
            targets[h].append(complete_targets(town, episodes_df, h))
    pooled = pd.concat(frames, ignore_index=True)
    pooled_targets = {h: pd.concat(t, ignore_index=True) for h, t in targets.items()}
    return train_horizons_from_tables(pooled, None, horizons, targets_by_horizon=pooled_targets, **kwargs)


def train_horizons_from_tables(features_df: pd.DataFrame, episodes_df: pd.DataFrame | None, horizons=HORIZONS,
                               targets_by_horizon: dict | None = None, **kwargs):
    """One calibrated model per horizon (weeks) in one :class:`models.escalation.HorizonModels`.

    Each horizon has its own labels (:func:`models.labels.escalation_targets`), its own time-ordered split
    with a purge gap of that horizon, its own calibration and alert threshold. Returns ``(model, metadata)``;
    the metadata's top-level ``metrics``, ``alert_threshold`` and ``horizon_weeks`` are the default
    horizon's (4 weeks when trained), ``horizons`` holds every horizon's.
    """
    horizons = sorted({int(h) for h in horizons})
    default = DEFAULT_HORIZON if DEFAULT_HORIZON in horizons else horizons[-1]
    town = features_df[features_df["level"] == "township"].copy()
    town["week_start"] = pd.to_datetime(town["week_start"]).dt.date
    # Context features from whole weeks, before any week is left out (given already for pooled drops).
    town = with_context(town)
    fitted, per_horizon, fingerprints, head = {}, {}, [], None
    for h in horizons:
        given = None if targets_by_horizon is None else targets_by_horizon[h].loc[town.index]
        model, meta = train_from_tables(town, episodes_df, h, targets=given, **kwargs)
        if h == default:
            head = meta
        fitted[f"h{h}"] = model
        per_horizon[f"h{h}"] = {"horizon_weeks": h, "label": meta["label"], "metrics": meta["metrics"],
                                "alert_threshold": meta["alert_threshold"],
                                "training_window": meta["training_window"], "training_rows": meta["training_rows"],
                                "training_positives": meta["training_positives"], "model_kind": meta["model_kind"]}
        fingerprints.append(meta["training_data_sha256"])
    combined = HorizonModels(fitted, default=f"h{default}",
                             thresholds={k: v["alert_threshold"] for k, v in per_horizon.items()},
                             columns=MODEL_COLUMNS)
    fingerprint = hashlib.sha256("".join(fingerprints).encode()).hexdigest()
    metadata = dict(head)
    metadata.update({
        "model_kind": f"HorizonModels({', '.join(per_horizon)}) of {per_horizon[f'h{default}']['model_kind']}",
        "horizon_weeks": default,
        "horizons_weeks": horizons,
        "horizons": per_horizon,
        "metrics": per_horizon[f"h{default}"]["metrics"],
        "alert_threshold": per_horizon[f"h{default}"]["alert_threshold"],
        "training_data_sha256": fingerprint,
        "training_window": per_horizon[f"h{default}"]["training_window"],
        "label": per_horizon[f"h{default}"]["label"],
    })
    metadata["model_version"] = model_version_for("".join(map(str, horizons)), metadata["training_window"]["last_week"],
                                                   fingerprint, metadata["training_settings"])
    return combined, metadata


def train_and_register(features_df: pd.DataFrame, episodes_df: pd.DataFrame, model_dir: Path,
                       horizon_weeks: int | None = None, horizons=HORIZONS, **kwargs) -> str:
    """Train and register: every horizon of ``horizons`` in one artefact, or only ``horizon_weeks``."""
    if horizon_weeks is not None:
        model, metadata = train_from_tables(features_df, episodes_df, horizon_weeks, **kwargs)
    else:
        model, metadata = train_horizons_from_tables(features_df, episodes_df, horizons, **kwargs)
    return register(model, metadata, Path(model_dir))


def train_from_lake(lake, truth_dir: Path, model_dir: Path, horizon_weeks: int | None = None) -> str:
    """Convenience for the CLI (``fengqiao train``): features from the lake, episodes from ``truth_dir``."""
    from fengqiao.lake import read_table

    features_df = read_table(lake.gold("region_week_features"))
    episodes_path = Path(truth_dir) / "episodes.csv"
    if not episodes_path.exists():
        raise FileNotFoundError(f"{episodes_path} not found: training needs a simulated drop with truth/")
    return train_and_register(features_df, read_episodes(episodes_path), model_dir, horizon_weeks)
