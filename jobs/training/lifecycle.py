"""``fengqiao train``: a lake's labels (bureaus' dispositions, and the simulator's truth when given) into a
model registered with champion/challenger (:mod:`models.lifecycle`, :mod:`models.champion_challenger`).

The caller reads gold/alert_dispositions and passes the frame (``dispositions``); this module reads the
lake's features and, only when a truth folder is passed explicitly, ``truth/episodes.csv``. A real drop has
no ``truth/``, and ``fengqiao run`` never calls anything here.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Callable

import pandas as pd

from fengqiao.lake import Lake
from jobs.training.bootstrap import BuildLake, build_simulated_lake
from jobs.training.train import lake_features, truth_episodes
from models.champion_challenger import DEFAULT_HOLDOUT_WEEKS, train_guarded, truth_fitter
from models.lifecycle import MIN_FEEDBACK_NEGATIVES, MIN_FEEDBACK_POSITIVES, training_labels


def lake_labels(lake: Lake, dispositions: pd.DataFrame | None, truth_dir: Path | None, horizon_weeks: int = 4,
                min_positives: int = MIN_FEEDBACK_POSITIVES,
                min_negatives: int = MIN_FEEDBACK_NEGATIVES) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Features, labels and label counts of a lake: its dispositions, plus truth only when ``truth_dir`` is
    given."""
    features, labels, stats, _ = _lake_labels(lake, dispositions, truth_dir, horizon_weeks, min_positives,
                                              min_negatives)
    return features, labels, stats


def _lake_labels(lake, dispositions, truth_dir, horizon_weeks, min_positives, min_negatives):
    features = lake_features(lake)
    episodes = (None if truth_dir is None
                else truth_episodes(truth_dir, "--truth must be a simulator's truth/ folder"))
    labels, stats = training_labels(features, dispositions, episodes, horizon_weeks, min_positives, min_negatives)
    return features, labels, stats, episodes


def train_on_lake(lake: Lake, dispositions: pd.DataFrame | None, model_dir: Path, truth_dir: Path | None = None,
                  horizon_weeks: int = 4, holdout_weeks: int = DEFAULT_HOLDOUT_WEEKS, force: bool = False,
                  eval_lake: Lake | None = None, eval_dispositions: pd.DataFrame | None = None,
                  eval_truth_dir: Path | None = None, budget_share: float = 0.02,
                  echo: Callable[[str], None] | None = None) -> dict:
    """``fengqiao train --lake``: dispositions (and truth when given) -> guarded registration.

    Without truth the 4-week model is trained on the answered township-weeks. With truth (which wins over
    dispositions) the multi-horizon model of :mod:`models.train` is trained on the truth labels, as
    ``fengqiao run`` would train it; the dispositions then only add their agreement counts to the metadata.
    ``eval_lake`` (with its ``eval_dispositions`` and ``eval_truth_dir``) replaces the held-out weeks.
    """
    features, labels, stats, episodes = _lake_labels(lake, dispositions, truth_dir, horizon_weeks,
                                                     MIN_FEEDBACK_POSITIVES, MIN_FEEDBACK_NEGATIVES)
    if echo:
        echo(f"labels: {stats}")
    eval_features = eval_labels = None
    if eval_lake is not None:
        eval_features, eval_labels, _ = lake_labels(eval_lake, eval_dispositions, eval_truth_dir, horizon_weeks,
                                                    0, 0)
    fit = None
    if episodes is not None:
        labels = labels[labels["source"] == "truth"]
        fit = truth_fitter(features, episodes, label_info=stats)
    return train_guarded(features, labels, model_dir, horizon_weeks, holdout_weeks, force,
                         eval_features, eval_labels, budget_share, label_info=stats, fit=fit)


def train_on_simulated(model_dir: Path, build_lake: BuildLake, seed: int, scale: str, weeks: int | None = None,
                       holdout_weeks: int = DEFAULT_HOLDOUT_WEEKS, force: bool = False,
                       horizon_weeks: int = 4, echo: Callable[[str], None] = print, world: str = "home",
                       vary: bool = False) -> dict:
    """``fengqiao train`` without ``--lake``: simulate a province (its truth is the simulator's, not a
    deployment's), build its features with ``build_lake(source_dir, lake_dir)`` and train with
    champion/challenger registration. The simulated lake has no dispositions: its labels are the truth's."""
    work = Path(tempfile.mkdtemp(prefix="fengqiao-train-"))
    try:
        source, lake_dir = build_simulated_lake(work, seed, scale, build_lake, weeks, echo, world, vary)
        echo("  training the escalation model …")
        return train_on_lake(Lake.at(lake_dir), None, model_dir, truth_dir=source / "truth",
                             horizon_weeks=horizon_weeks, holdout_weeks=holdout_weeks, force=force, echo=echo)
    finally:
        shutil.rmtree(work, ignore_errors=True)
