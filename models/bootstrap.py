"""Make sure a model is registered before scoring.

A real drop carries no ground truth, so the model that scores it is trained elsewhere: here, on a
province simulated with a different seed than any demo drop (its ``truth/`` is the simulator's,
not the deployment's). Once bureaus return dispositions of alerts, retraining on those replaces it.
The registered artefact holds the 1-, 2- and 4-week models (:func:`models.train.train_and_register`).

Where the time goes (seed 20240101, city scale, measured 2026-11-23 stage by stage on the shared 2-core
machine under a load average of ~15-20): simulate 155 s, land 12 s + 4 s + 1 s, silver hotline 1,254 s,
work orders 228 s, mediation 165 s, features 12 s; fitting and calibrating the three horizons' models (two
fits each: the evaluation split and the deployed refit) 15 s wall at a lower load (94 s under the full
load). The silver jobs, not the model, are what to speed up.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from models.registry import NoModelError, load_current

TRAINING_SEED = 20240101
TRAINING_SCALE = "city"


def ensure_model(model_dir: Path, echo=print) -> str:
    """Return the current model's version, training and registering one first if there is none."""
    try:
        _, metadata = load_current(model_dir)
        return metadata["model_version"]
    except NoModelError:
        echo(f"no model registered in {model_dir}: training one on a simulated province "
             f"(seed {TRAINING_SEED}, scale {TRAINING_SCALE}); this happens once")
        return train_on_simulated_province(model_dir, seed=TRAINING_SEED, scale=TRAINING_SCALE, echo=echo)


def build_simulated_lake(work: Path, seed: int, scale: str, weeks: int | None = None, echo=print,
                         world: str = "home", vary: bool = False) -> tuple[Path, Path]:
    """Simulate a province of ``world`` (:mod:`fengqiao.worlds`) into ``work/source`` and build its silver and
    features in ``work/lake``.

    Returns (source, lake_dir). The source's ``truth/`` is the simulator's: training material, never a
    deployment's drop."""
    from fengqiao import pipeline
    from fengqiao.envscope import settings_env
    from fengqiao.lake import FEEDS
    from fengqiao.worlds import simulate_world

    source, lake_dir = work / "source", work / "lake"
    echo(f"  simulating the {world} world (seed {seed}, scale {scale}{', varied' if vary else ''}) into {source} …")
    simulate_world(world, source, seed=seed, scale=scale, weeks=weeks, vary=vary)
    with settings_env(FENGQIAO_SOURCE=str(source), FENGQIAO_LAKE=str(lake_dir), FENGQIAO_THROUGH=None):
        for feed in FEEDS:
            echo(f"  landing and cleaning {feed} …")
            pipeline.land_feed(feed)
            pipeline.build_silver(feed)
        echo("  building features …")
        pipeline.build_features()
    return source, lake_dir


def train_on_simulated_province(model_dir: Path, seed: int, scale: str, weeks: int | None = None,
                                work_dir: Path | None = None, echo=print) -> str:
    """Simulate a province, build its silver and features, train on its truth, register the model."""
    import pandas as pd

    from fengqiao.lake import Lake, read_table
    from models.train import train_and_register

    own_dir = work_dir is None
    work = Path(work_dir or tempfile.mkdtemp(prefix="fengqiao-train-"))
    try:
        source, lake_dir = build_simulated_lake(work, seed, scale, weeks, echo)
        features = read_table(Lake.at(lake_dir).gold("region_week_features"))
        episodes = pd.read_csv(source / "truth" / "episodes.csv", dtype={"region_code": str})
        echo("  training the escalation model …")
        version = train_and_register(features, episodes, model_dir)
        echo(f"  registered model {version} in {model_dir}")
        train_text_models_from_lake(model_dir, lake_dir, seed, echo=echo)
        return version
    finally:
        if own_dir:
            shutil.rmtree(work, ignore_errors=True)


def train_text_models_from_lake(model_dir: Path, lake_dir: Path, seed: int, echo=print) -> dict:
    """Train and register the text models (models.text_models) from a simulated province's silver.

    The dispute-type classifier learns from the lake's mediation 纠纷简介 (labelled by 纠纷类型) and the
    work-order summaries whose category the table maps; the cue model from simulated texts of ``seed``.
    Both are measured on held-out simulated texts of another seed; the figures go into their metadata.
    """
    from fengqiao.lake import Lake, read_table
    from models.text_models import train_and_register_text_models

    lake = Lake.at(lake_dir)
    mediation = read_table(lake.silver("mediation_cases"), columns=["summary", "dispute_type", "week_start"])
    orders = read_table(lake.silver("work_orders"), columns=["summary", "category", "week_start"])
    echo(f"  training the text models on {len(mediation):,} mediation cases and {len(orders):,} work orders …")
    return train_and_register_text_models(model_dir, mediation, orders, seed, echo=echo)
