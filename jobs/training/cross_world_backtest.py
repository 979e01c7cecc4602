"""Cross-world backtest: train on drops of one world, score drops of another, compare every detector.

A *drop* here is a simulated source with its ground truth (``truth/episodes.csv``, ``truth/world.json``) and
a lake whose silver and gold features were built from it (``fengqiao run``, or the stages without Airflow).
:func:`cross_world_backtest` trains a fresh escalation model on the training drops (all horizons, the same
code as ``fengqiao train``: :func:`models.train.train_horizons_from_drops`), scores each evaluation drop's
features exactly as the scoring job does (:func:`jobs.gold.risk_scores.score_features`: calibrated
probabilities, the model's alert threshold, the small-count guard, the weekly budget) and backtests the
model beside the count baselines and the keyword + signals rule under both protocols
(:mod:`models.backtest`). Each row of the result names the world and seeds the model learned from and the
world and seed it was scored on, so "same world" and "other world" figures cannot be mixed up.

Nothing here writes to a lake: the model is not registered and the scores are not published.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fengqiao.lake import Lake
from fengqiao.worlds import world_label, world_of
from jobs.gold.risk_scores import score_features
from jobs.training.train import lake_features, truth_episodes
from models.backtest import ALL_BASELINES, backtest_features
from models.escalation import WITHOUT_REFERRALS
from models.levels import DEFAULT_BUDGET_SHARE
from models.train import HORIZONS, train_horizons_from_drops


@dataclass
class Drop:
    """One simulated drop: its gold features, its episodes and what ``truth/world.json`` says of it."""
    name: str
    features: pd.DataFrame
    episodes: pd.DataFrame
    world: dict | None

    @property
    def label(self) -> str:
        return world_label(self.world) if self.world else self.name


def read_drop(lake_dir: Path, truth_dir: Path) -> Drop:
    """The drop whose lake is ``lake_dir`` and whose truth is ``truth_dir`` (never a real drop's: it has none)."""
    episodes = truth_episodes(truth_dir, "a cross-world backtest needs simulated drops")
    return Drop(str(lake_dir), lake_features(Lake.at(Path(lake_dir))), episodes, world_of(truth_dir))


def train_on(drops: list[Drop], horizons=HORIZONS, columns: list[str] | None = None):
    """A model trained on ``drops`` (pooled), with the worlds and seeds it learned from in its metadata;
    ``columns``: its inputs (default ``models.escalation.MODEL_COLUMNS``)."""
    model, metadata = train_horizons_from_drops([(d.features, d.episodes) for d in drops], horizons,
                                                columns=columns)
    metadata["training_drops"] = [d.world or {"name": d.name} for d in drops]
    return model, metadata


def backtest_drop(model, metadata: dict, drop: Drop, budget_share: float = DEFAULT_BUDGET_SHARE,
                  baselines=ALL_BASELINES, first_week=None, protocol: str = "both", others: dict | None = None):
    """Score ``drop`` with ``model`` as the scoring job would and backtest it beside ``baselines`` (and beside
    ``others``: detector name -> (model, metadata), e.g. an ablation)."""
    scores = score_features(drop.features, model, metadata, budget_share)
    detectors = {"model": scores}
    for name, (other, other_meta) in (others or {}).items():
        detectors[name] = score_features(drop.features, other, other_meta, budget_share)
    run = backtest_features(drop.features, detectors, drop.episodes, budget_share, baselines, first_week,
                            protocol=protocol)
    return run, scores


ABLATION_DETECTOR = "model_without_referrals"


def cross_world_backtest(train: list[Drop], evaluate: list[Drop], budget_share: float = DEFAULT_BUDGET_SHARE,
                         baselines=ALL_BASELINES, first_week=None, echo=print,
                         ablate_referrals: bool = False) -> pd.DataFrame:
    """Train on ``train``, backtest every drop of ``evaluate``; one row per evaluation drop × detector × protocol.

    ``ablate_referrals``: also train the same model without the referral features
    (:data:`models.escalation.WITHOUT_REFERRALS`) and backtest it as detector ``model_without_referrals``.
    """
    echo(f"training on {', '.join(d.label for d in train)} …")
    model, metadata = train_on(train)
    others = {}
    if ablate_referrals:
        echo("training the same model without the referral features …")
        others[ABLATION_DETECTOR] = train_on(train, columns=WITHOUT_REFERRALS)
    trained_on = ", ".join(d.label for d in train)
    tables = []
    for drop in evaluate:
        echo(f"scoring {drop.label} …")
        run, _ = backtest_drop(model, metadata, drop, budget_share, baselines, first_week, others=others)
        tables.append(run.table.assign(
            trained_on=trained_on, scored_on=drop.label,
            train_world="+".join(sorted({(d.world or {}).get("world", "?") for d in train})),
            eval_world=(drop.world or {}).get("world", "?"), eval_seed=(drop.world or {}).get("seed"),
            alert_threshold=float((metadata.get("alert_threshold") or {}).get("threshold", float("nan")))))
    return pd.concat(tables, ignore_index=True)
