"""Features relative to a township's own history and its city's same week (models.relative_features)."""
from __future__ import annotations

import numpy as np
import pytest

from feature_frames import synthetic_features


def test_relative_features_by_hand():
    from models.keyword_rule import warning_signs
    from models.relative_features import RELATIVE_COLUMNS, add_relative_features

    feats = synthetic_features(n_counties=2, towns_per_county=5, n_weeks=30, episodes=[(3, 20)])
    out = add_relative_features(feats)
    assert set(RELATIVE_COLUMNS) <= set(out.columns)
    assert out.loc[out["level"] == "county", RELATIVE_COLUMNS].isna().all().all()
    town = out[out["level"] == "township"]
    code = sorted(town["region_code"].unique())[3]
    one = town[town["region_code"] == code].sort_values("week_start")
    signs = warning_signs(one).to_numpy()
    for t in (12, 20):
        m8 = signs[t - 8:t].mean()
        assert one["warning_signs_z8"].iloc[t] == pytest.approx((signs[t] - m8) / np.sqrt(m8 + 1))
        m3 = signs[t - 10:t - 2].mean()
        assert one["warning_signs_z3"].iloc[t] == pytest.approx((signs[t - 2:t + 1].sum() - 3 * m3) / np.sqrt(3 * m3 + 1))
        share = one["complaint_share"].to_numpy()
        assert one["complaint_share_d8"].iloc[t] == pytest.approx(share[t] - share[t - 8:t].mean())
    # Fewer than 4 earlier weeks: no mean, no feature.
    assert one["warning_signs_z8"].iloc[:4].isna().all() and one["warning_signs_z8"].iloc[4:].notna().all()
    # Against the city: the week's median township is 0.
    week = town[town["week_start"] == town["week_start"].max()]
    assert np.median(week["total_contacts_z8_city"]) == pytest.approx(0.0)
    # The planted build-up of township 3 stands out against its own history at its peak.
    assert one["warning_signs_z3"].iloc[20] > 3


def test_relative_features_do_not_see_later_weeks_or_other_levels_of_scale():
    """Scoring a week from a frame that ends there gives what the whole history gives; a world with ten times
    the volume gives the same history-relative shares (levels cancel out)."""
    from models.relative_features import RELATIVE_COLUMNS, add_relative_features

    feats = synthetic_features(n_counties=2, towns_per_county=4, n_weeks=26, episodes=[(1, 15)])
    whole = add_relative_features(feats)
    weeks = sorted(feats["week_start"].unique())
    cut = add_relative_features(feats[feats["week_start"].isin(weeks[3:16])])
    key = ["region_code", "week_start"]
    a = whole[(whole["level"] == "township") & (whole["week_start"] == weeks[15])].sort_values(key)
    b = cut[(cut["level"] == "township") & (cut["week_start"] == weeks[15])].sort_values(key)
    np.testing.assert_allclose(a[RELATIVE_COLUMNS].to_numpy(float), b[RELATIVE_COLUMNS].to_numpy(float), equal_nan=True)
    shares = [c for c in RELATIVE_COLUMNS if c.endswith("_d8")]
    loud = feats.copy()
    loud[["total_contacts", "hotline_calls", "work_orders", "mediation_cases"]] *= 10
    np.testing.assert_allclose(add_relative_features(loud)[shares].to_numpy(float), whole[shares].to_numpy(float),
                               equal_nan=True)
