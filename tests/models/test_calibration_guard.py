"""A sigmoid calibrator of the wrong slope would turn the model's ranking upside down: isotonic instead."""
from __future__ import annotations

import numpy as np
import pandas as pd

from models.escalation import MODEL_COLUMNS, build_pipeline
from models.escalation_training import _calibrate


def _rows(rng, n):
    return pd.DataFrame(rng.normal(size=(n, len(MODEL_COLUMNS))), columns=MODEL_COLUMNS)


def test_an_inverted_sigmoid_falls_back_to_isotonic_and_keeps_the_order():
    rng = np.random.default_rng(3)
    X_fit, X_cal = _rows(rng, 3000), _rows(rng, 2000)
    lead = MODEL_COLUMNS[0]
    base = build_pipeline().set_params(hgb__max_iter=30).fit(X_fit, (X_fit[lead] > 1.0).astype(int))
    raw = base.predict_proba(X_cal)[:, 1]

    # Calibration weeks in which the same signal goes the other way (another world, another year).
    backwards = (X_cal[lead] < -1.0).astype(int)
    model, method = _calibrate(base, X_cal, backwards)
    assert method == "isotonic (sigmoid slope inverted)"
    p = model.predict_proba(X_cal)[:, 1]
    order = np.argsort(raw)
    assert np.all(np.diff(p[order]) >= -1e-12)       # never ranks a higher score lower

    # The ordinary case keeps the sigmoid.
    model, method = _calibrate(base, X_cal, (X_cal[lead] > 1.0).astype(int))
    assert method == "sigmoid"
    p = model.predict_proba(X_cal)[:, 1]
    assert np.corrcoef(raw, p)[0, 1] > 0.99
