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


def stated_type_texts(lake_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(mediation cases, work orders) of the lake's silver, the columns the type classifier learns from. A feed that
    never delivered has no table: no work orders is an empty frame; no mediation cases, a ValueError."""
    lake = Lake.at(lake_dir)
    if not lake.silver("mediation_cases").exists():
        raise ValueError(f"{lake_dir} has no silver mediation cases: run the pipeline on it first (fengqiao run)")
    mediation = read_table(lake.silver("mediation_cases"), columns=["summary", "dispute_type", "week_start"])
    orders = (read_table(lake.silver("work_orders"), columns=["summary", "category", "week_start"])
              if lake.silver("work_orders").exists() else pd.DataFrame(columns=["summary", "category", "week_start"]))
    return mediation, orders


def train_text_models_from_lake(model_dir: Path, lake_dir: Path, seed: int, echo=print) -> dict:
    """Both text models from the silver mediation cases and work orders of the lake at ``lake_dir``."""
    mediation, orders = stated_type_texts(lake_dir)
    echo(f"  training the text models on {len(mediation):,} mediation cases and {len(orders):,} work orders …")
    return train_text_models(model_dir, mediation, orders, seed, echo=echo)


def retrain_type_model_on_lake(model_dir: Path, lake_dir: Path, force: bool = False, echo=print) -> dict:
    """``fengqiao train-types``: the dispute-type classifier trained on the lake's own silver texts with a stated
    type, registered when at least as accurate as the current one on the lake's latest weeks
    (:func:`models.text_training.retrain_type_model`)."""
    from models.text_models import TYPE_KIND, load_text_model
    from models.text_training import retrain_type_model

    mediation, orders = stated_type_texts(lake_dir)
    current = load_text_model(model_dir, TYPE_KIND)
    echo(f"  training the dispute-type classifier on {len(mediation):,} mediation cases and {len(orders):,} work "
         f"orders of {lake_dir} (the latest weeks held out) …")
    return retrain_type_model(model_dir, mediation, orders, current[0] if current else None, str(lake_dir),
                              force=force)
