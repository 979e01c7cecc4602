"""``fengqiao train`` on a lake and its truth: gold/region_week_features and ``truth/episodes.csv`` in, a
registered model out (:func:`models.train.train_and_register`).

Only training reads ``truth/episodes.csv``; the scoring job never does.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds

from fengqiao.lake import Lake, read_table
from models.labels import read_episodes
from models.train import train_and_register


def lake_features(lake: Lake) -> pd.DataFrame:
    """gold/region_week_features of ``lake`` without its village rows: what every trainer learns from (the
    model learns townships; villages, several times as many rows, are never read)."""
    return read_table(lake.gold("region_week_features"), filters=ds.field("level") != "village")


def truth_episodes(truth_dir: Path, why: str) -> pd.DataFrame:
    """``truth_dir/episodes.csv`` (a simulator's truth), or FileNotFoundError saying ``why`` it is needed."""
    episodes_path = Path(truth_dir) / "episodes.csv"
    if not episodes_path.is_file():
        raise FileNotFoundError(f"{episodes_path} not found: {why}")
    return read_episodes(episodes_path)


def train_from_lake(lake: Lake, truth_dir: Path, model_dir: Path, horizon_weeks: int | None = None) -> str:
    """Features from the lake, episodes from ``truth_dir``; trains and registers, returns the version."""
    features = lake_features(lake)
    episodes = truth_episodes(truth_dir, "training needs a simulated drop with truth/")
    return train_and_register(features, episodes, model_dir, horizon_weeks)
