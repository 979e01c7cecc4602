"""Train the escalation model on labelled township rows and describe it for the registry.

Frames in, a fitted model and its metadata out: the labels are the simulator's truth per horizon
(:func:`models.labels.escalation_targets`, :func:`train_from_tables`, :func:`train_horizons_from_tables`) or a
label frame of :mod:`models.lifecycle` (truth and bureaus' dispositions, :func:`train_on_labels`). Reading
gold/region_week_features and ``truth/episodes.csv`` is the training job's (:mod:`jobs.training.train`); only
training reads the truth, the scoring job never does.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn

from features import FEATURE_COLUMNS, KEY_COLUMNS
from models import alert_threshold
from models.context_features import CONTEXT_COLUMNS, with_context
from models.escalation import MODEL_COLUMNS, RANDOM_STATE, HorizonModels, model_columns
from models.escalation_training import train_escalation_model
from models.labels import escalation_targets
from models.lifecycle import InsufficientLabelsError
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
    # The alert rule is read when called, as models.alert_threshold reads it: a changed setting is recorded.
    return {"alert_target_precision": alert_threshold.ALERT_TARGET_PRECISION,
            "alert_budget_share": alert_threshold.ALERT_BUDGET_SHARE,
            "calibration": kwargs.get("calibration"), "refit_full": kwargs.get("refit_full", True),
            "random_state": kwargs.get("random_state", RANDOM_STATE),
            # Only when not the default, so that a default model's version does not change with this key.
            **({"columns": list(kwargs["columns"])} if kwargs.get("columns") not in (None, MODEL_COLUMNS) else {})}


def model_version_for(horizons: str, last_week, data_sha256: str, settings: dict) -> str:
    """``escalation-h<horizons>-<last training week>-<8 hex of the data and settings>``."""
    h = hashlib.sha256(data_sha256.encode())
    h.update(json.dumps(settings, sort_keys=True).encode())
    return f"escalation-h{horizons}-{str(last_week).replace('-', '')}-{h.hexdigest()[:8]}"


def label_text(horizon_weeks: int) -> str:
    return f"escalation episode of the township peaks in [week, week + {horizon_weeks} weeks]"


def model_metadata(model, metrics: dict, rows: pd.DataFrame, targets: pd.Series, fingerprint: str,
                   horizon_weeks: int, label: str, label_sources: list[str] | None = None) -> dict:
    """What every escalation model is registered with: kind, training window and rows, fingerprint,
    columns, alert threshold, label and metrics (without its settings and version: :func:`versioned`)."""
    weeks = sorted(rows["week_start"].unique())
    method = metrics["deployed"]["calibration_method"]
    metadata = {
        "model_kind": "HistGradientBoostingClassifier" + (
            f" + CalibratedClassifierCV(FrozenEstimator, {method})" if method != "none"
            else " (uncalibrated: too few escalations)"),
        # Dated by the data (the last labelled training week), not the wall clock: retraining on the same
        # data gives the same metadata and version.
        "created": str(weeks[-1]),
        "created_from_data": True,
        "training_window": {"first_week": str(weeks[0]), "last_week": str(weeks[-1]), "weeks": len(weeks)},
        "training_rows": int(len(rows)),
        "training_positives": int(np.nansum(targets.values)),
        "training_townships": int(rows["region_code"].nunique()),
        "training_data_sha256": fingerprint,
        "feature_columns": list(FEATURE_COLUMNS),
        # Computed from the feature columns of the same week when scoring (models.context_features).
        "context_columns": [c for c in model_columns(model) if c in CONTEXT_COLUMNS],
        "model_columns": list(model_columns(model)),
        "alert_threshold": metrics["alert_threshold"],
        "horizon_weeks": int(horizon_weeks),
        "label": label,
    }
    if label_sources is not None:
        metadata["label_sources"] = label_sources
    metadata.update(metrics=metrics, sklearn_version=sklearn.__version__)
    return metadata


def versioned(metadata: dict, horizons: str, train_kwargs: dict) -> dict:
    """``metadata`` with its ``training_settings`` and the ``model_version`` they and the data name."""
    metadata["training_settings"] = training_settings(**train_kwargs)
    metadata["model_version"] = model_version_for(horizons, metadata["training_window"]["last_week"],
                                                   metadata["training_data_sha256"], metadata["training_settings"])
    return metadata


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
    metadata = model_metadata(model, metrics, town, targets, training_fingerprint(frame), horizon_weeks,
                              label_text(horizon_weeks))
    return model, versioned(metadata, str(horizon_weeks), kwargs)


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
                             columns=list(kwargs.get("columns") or MODEL_COLUMNS))
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


def labelled_rows(features_df: pd.DataFrame, labels: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Township feature rows that have a label, and their targets (aligned)."""
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
    """Fit the escalation model (:func:`models.escalation_training.train_escalation_model`) on the labelled
    township rows of a label frame (:data:`models.lifecycle.LABEL_COLUMNS`); returns ``(model, metadata)``
    with the metadata keys of :func:`train_from_tables`, plus the label sources."""
    rows, targets = labelled_rows(features_df, labels)
    if rows.empty or targets.sum() == 0:
        raise InsufficientLabelsError(f"no positive label among {len(rows)} labelled township-weeks")
    model, metrics = train_escalation_model(rows, targets, horizon_weeks=horizon_weeks, **train_kwargs)
    frame = rows[["region_code", "week_start"] + FEATURE_COLUMNS].assign(target=targets.values)
    sources = sorted(set(labels["source"])) if "source" in labels and len(labels) else []
    label = label_text(horizon_weeks) + (
        "; bureaus' dispositions: 已核实/已处置 = 1, 已排除 = 0" if "feedback" in sources else "")
    metadata = model_metadata(model, metrics, rows, targets, training_fingerprint(frame), horizon_weeks, label,
                              label_sources=sources)
    if sources == ["feedback"]:
        metadata["label_caveat"] = ("trained only on township-weeks that were alerted and answered: the "
                                    "probabilities describe alerted-like weeks and run high for the rest")
    if label_info:
        metadata["labels"] = label_info
    return model, versioned(metadata, str(horizon_weeks), train_kwargs)
