"""``fengqiao backtest``: a scored lake's detectors against the simulator's ``truth/episodes.csv``.

Reads gold/risk_scores and gold/baseline_scores (the published detectors, when present), gold/region_week_features
(the baselines computed from it) and the truth, and evaluates them with :func:`models.backtest.backtest_features`
(every definition is in :mod:`models.backtest`).
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from fengqiao.lake import Lake, read_table
from jobs.training.train import lake_features
from models.backtest import DEFAULT_BASELINES, BacktestRun, backtest_features
from models.labels import read_episodes
from models.registry import current_version

PUBLISHED_DETECTORS = (("model", "risk_scores"), ("baseline", "baseline_scores"))


def training_window(model_dir: Path | None) -> tuple | None:
    """``(first_week, last_week)`` the registry's current model was trained on, or None (no registry, no
    model, no window in its metadata)."""
    version = current_version(model_dir) if model_dir is not None else None
    if version is None:
        return None
    meta = json.loads((Path(model_dir) / f"{version}.json").read_text(encoding="utf-8"))
    window = meta.get("training_window") or {}
    if window.get("first_week") and window.get("last_week"):
        return (window["first_week"], window["last_week"])
    return None


def backtest_run(lake: Lake, truth_dir: Path, budget_share: float = 0.02, first_week=None, last_week=None,
                 model_dir: Path | None = None, baselines=DEFAULT_BASELINES,
                 protocol: str = "equal_capacity") -> BacktestRun:
    """:func:`backtest`, returning the whole :class:`~models.backtest.BacktestRun` (for curves and the report)."""
    window = training_window(model_dir)
    episodes = read_episodes(Path(truth_dir) / "episodes.csv")
    published: dict[str, pd.DataFrame] = {}
    for name, table in PUBLISHED_DETECTORS:
        try:
            published[name] = read_table(lake.gold(table))
        except FileNotFoundError:
            pass
    run = backtest_features(lake_features(lake), published, episodes, budget_share, baselines, first_week,
                            last_week, window, protocol)
    run.meta.update(lake=str(lake.root), truth=str(truth_dir), baselines=list(baselines))
    return run


def backtest(lake: Lake, truth_dir: Path, budget_share: float = 0.02, first_week=None, last_week=None,
             model_dir: Path | None = None, baselines=DEFAULT_BASELINES,
             protocol: str = "equal_capacity") -> pd.DataFrame:
    """Backtest every available detector of ``lake`` against ``truth_dir/episodes.csv`` (one row per detector
    and protocol).

    ``baselines``: the detectors computed from the features (``DEFAULT_BASELINES`` or ``ALL_BASELINES``);
    EARS C2 is always computed, to find the warm weeks, but only reported when named. ``protocol``:
    ``equal_capacity`` (default), ``as_sent`` or ``both``."""
    return backtest_run(lake, truth_dir, budget_share, first_week, last_week, model_dir, baselines,
                        protocol).table
