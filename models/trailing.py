"""Trailing window sums and means of weekly series, over whole arrays at once.

pandas computes ``DataFrame.rolling`` one column at a time and ``groupby().rolling`` one group at a time: a
scoring run's ~2,000 townships times a dozen columns made ~100,000 such calls, most of a province's weekly
scoring time. Here a window's sum is the difference of two cumulative sums, for every column (or every
group) in one numpy operation. Missing values (NaN) are skipped, as pandas skips them; a window with fewer
than ``min_periods`` present values is NaN. On whole-number inputs (counts) the results equal pandas' exactly;
on fractions (shares) they may differ in the last digits, where the order of additions differs.
"""
from __future__ import annotations

import numpy as np


def _window_sums(x: np.ndarray, span: int, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum and number of present values of rows ``t-lag-span+1 .. t-lag`` per row ``t`` and column."""
    values = np.asarray(x, dtype=float)
    present = ~np.isnan(values)
    zero_row = np.zeros((1, *values.shape[1:]))
    total = np.concatenate([zero_row, np.cumsum(np.where(present, values, 0.0), axis=0)])
    count = np.concatenate([zero_row, np.cumsum(present, axis=0)])
    rows = len(values)
    end = np.clip(np.arange(rows) - lag + 1, 0, rows)  # exclusive, in the cumulative arrays
    start = np.clip(end - span, 0, rows)
    return total[end] - total[start], count[end] - count[start]


def trailing_mean(x: np.ndarray, span: int, min_periods: int, lag: int = 0) -> np.ndarray:
    """Per column of ``x`` (rows in time order): the mean over rows ``t-lag-span+1 .. t-lag``.

    pandas' ``DataFrame(x).shift(lag).rolling(span, min_periods=min_periods).mean()``.
    """
    sums, counts = _window_sums(x, span, lag)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts >= max(min_periods, 1), sums / counts, np.nan)


def trailing_sum(x: np.ndarray, span: int, min_periods: int) -> np.ndarray:
    """Per column of ``x``: the sum over rows ``t-span+1 .. t`` (pandas' ``rolling(span, min_periods).sum()``)."""
    sums, counts = _window_sums(x, span, 0)
    return np.where(counts >= max(min_periods, 1), sums, np.nan)


def grouped_previous_mean(values: np.ndarray, groups: np.ndarray, span: int) -> np.ndarray:
    """Mean of the previous ``span`` rows of the same group, for rows sorted by group (and time within it).

    ``values`` has no missing values; ``groups`` holds each row's group label. NaN where the row is its group's
    first. pandas' ``groupby(g).shift(1).groupby(g).rolling(span, min_periods=1).mean()``.
    """
    values = np.asarray(values, dtype=float)
    groups = np.asarray(groups)
    rows = np.arange(len(values))
    first_of_group = np.ones(len(groups), dtype=bool)  # empty for no rows
    first_of_group[1:] = groups[1:] != groups[:-1]
    group_start = np.maximum.accumulate(np.where(first_of_group, rows, 0))
    total = np.concatenate([np.zeros((1, *values.shape[1:])), np.cumsum(values, axis=0)])
    start = np.maximum(rows - span, group_start)
    counts = (rows - start).astype(float)
    if values.ndim > 1:
        counts = counts[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, (total[rows] - total[start]) / counts, np.nan)
