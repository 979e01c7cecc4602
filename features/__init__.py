"""Feature definitions for gold/region_week_features (one row per region × ISO week).

The column lists are the contract with models/ and the briefing: every name in FEATURE_COLUMNS is a
numeric column of the published table. Keys: ``region_code, level, county_code, week_start``. They are
defined in :mod:`fengqiao.core.feature_columns` (the floor below, where the table's schema is) and
re-exported here for the transforms of this package.
"""
from __future__ import annotations

from fengqiao.core.feature_columns import (CHANGE_BASES, COUNT_COLUMNS, DYNAMIC_COLUMNS, FEATURE_COLUMNS,
                                           KEY_COLUMNS, REFERRAL_COLUMNS, REFERRAL_COUNT_COLUMNS, SEASON_COLUMNS,
                                           SIGNAL_COLUMNS, SPATIAL_COLUMNS, TYPE_COUNT_COLUMNS)

__all__ = ["CHANGE_BASES", "COUNT_COLUMNS", "DYNAMIC_COLUMNS", "FEATURE_COLUMNS", "KEY_COLUMNS", "REFERRAL_COLUMNS",
           "REFERRAL_COUNT_COLUMNS", "SEASON_COLUMNS", "SIGNAL_COLUMNS", "SPATIAL_COLUMNS", "TYPE_COUNT_COLUMNS"]
