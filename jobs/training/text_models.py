"""Train and register the text models (:mod:`models.text_models`) from a simulated province's silver.

The dispute-type classifier learns from the lake's mediation 纠纷简介 (labelled by 纠纷类型) and the
work-order summaries whose category the table maps; the cue model from simulated texts of ``seed``.
Both are measured on held-out simulated texts of another seed (:mod:`jobs.training.text_corpus`); the
figures go into their metadata.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from fengqiao.lake import Lake, read_table
from jobs.training.text_corpus import simulated_text_corpus
from models.text_training import train_and_register_text_models


def train_text_models(model_dir: Path, mediation: pd.DataFrame, orders: pd.DataFrame | None, seed: int,
                      echo=print, eval_size: int = 3000, cue_size: int = 3000) -> dict:
    """Both text models from the given silver frames and the simulated texts of ``seed`` (and seed + 1)."""
    corpus = simulated_text_corpus(seed, eval_size, cue_size)
    return train_and_register_text_models(model_dir, mediation, orders, corpus["hotline_eval"],
                                          corpus["cue_train"], corpus["cue_eval"], seed, echo=echo)


def train_text_models_from_lake(model_dir: Path, lake_dir: Path, seed: int, echo=print) -> dict:
    """Both text models from the silver mediation cases and work orders of the lake at ``lake_dir``."""
    lake = Lake.at(lake_dir)
    mediation = read_table(lake.silver("mediation_cases"), columns=["summary", "dispute_type", "week_start"])
    orders = read_table(lake.silver("work_orders"), columns=["summary", "category", "week_start"])
    echo(f"  training the text models on {len(mediation):,} mediation cases and {len(orders):,} work orders …")
    return train_text_models(model_dir, mediation, orders, seed, echo=echo)
