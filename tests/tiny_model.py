"""A small registered model for tests of the scoring stage: scoring needs one, not a good one."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def register_tiny_model(model_dir: Path, rows: int = 400, iterations: int = 20) -> None:
    """Fit the registry's kind of pipeline on random rows and register it as ``test-tiny``."""
    from models.escalation import MODEL_COLUMNS, build_pipeline
    from models.registry import register

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.poisson(3.0, size=(rows, len(MODEL_COLUMNS))).astype(float), columns=MODEL_COLUMNS)
    y = (rng.random(rows) < 0.2).astype(int)
    model = build_pipeline()
    model.set_params(hgb__max_iter=iterations)
    model.fit(X, y)
    register(model, {"model_version": "test-tiny", "feature_columns": list(MODEL_COLUMNS)}, model_dir)
