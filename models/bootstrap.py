"""Make sure a model is registered before scoring.

A real drop carries no ground truth, so the model that scores it is trained elsewhere: here, on a
province simulated with a different seed than any demo drop (its ``truth/`` is the simulator's,
not the deployment's). Once bureaus return dispositions of alerts, retraining on those replaces it.
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


def train_on_simulated_province(model_dir: Path, seed: int, scale: str, weeks: int | None = None,
                                work_dir: Path | None = None, echo=print) -> str:
    """Simulate a province, build its silver and features, train on its truth, register the model."""
    import pandas as pd

    from fengqiao import pipeline
    from fengqiao.envscope import settings_env
    from fengqiao.lake import FEEDS, Lake, read_table
    from fengqiao.simulator import simulate
    from models.train import train_and_register

    own_dir = work_dir is None
    work = Path(work_dir or tempfile.mkdtemp(prefix="fengqiao-train-"))
    try:
        source, lake_dir = work / "source", work / "lake"
        echo(f"  simulating the training province into {source} …")
        simulate(source, seed=seed, scale=scale, weeks=weeks, progress=None)
        with settings_env(FENGQIAO_SOURCE=str(source), FENGQIAO_LAKE=str(lake_dir), FENGQIAO_THROUGH=None):
            for feed in FEEDS:
                echo(f"  landing and cleaning {feed} …")
                pipeline.land_feed(feed)
                pipeline.build_silver(feed)
            echo("  building features …")
            pipeline.build_features()
        features = read_table(Lake.at(lake_dir).gold("region_week_features"))
        episodes = pd.read_csv(source / "truth" / "episodes.csv", dtype={"region_code": str})
        echo("  training the escalation model …")
        version = train_and_register(features, episodes, model_dir)
        echo(f"  registered model {version} in {model_dir}")
        return version
    finally:
        if own_dir:
            shutil.rmtree(work, ignore_errors=True)
