"""models.trailing against the pandas computations it replaces, on random series with gaps."""
import numpy as np
import pandas as pd
import pytest

from models.trailing import grouped_previous_mean, trailing_mean, trailing_sum


def _series(seed: int, rows: int = 40, columns: int = 7, whole: bool = True) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.poisson(3.0, (rows, columns)).astype(float) if whole else rng.random((rows, columns))
    x[rng.random((rows, columns)) < 0.2] = np.nan  # weeks a township has no row
    x[:5, 0] = np.nan  # a township that starts late
    return x


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("span, min_periods, lag", [(8, 4, 1), (8, 4, 3), (8, 1, 1), (3, 3, 0), (1, 1, 0)])
def test_trailing_mean_equals_pandas_on_counts(seed, span, min_periods, lag):
    x = _series(seed)
    want = pd.DataFrame(x).shift(lag).rolling(span, min_periods=min_periods).mean().to_numpy()
    np.testing.assert_array_equal(trailing_mean(x, span, min_periods, lag=lag), want)


@pytest.mark.parametrize("seed", [4, 5])
def test_trailing_mean_and_sum_on_fractions(seed):
    x = _series(seed, whole=False)
    want = pd.DataFrame(x).shift(1).rolling(8, min_periods=4).mean().to_numpy()
    got = trailing_mean(x, 8, 4, lag=1)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(trailing_sum(x, 3, 3), pd.DataFrame(x).rolling(3, min_periods=3).sum().to_numpy(),
                               rtol=0, atol=1e-12)


def test_trailing_sum_equals_pandas_on_counts():
    x = _series(6)
    np.testing.assert_array_equal(trailing_sum(x, 3, 3), pd.DataFrame(x).rolling(3, min_periods=3).sum().to_numpy())


def test_grouped_previous_mean_equals_pandas_groupby_rolling():
    rng = np.random.default_rng(7)
    groups = np.repeat(["a", "b", "c", "d"], [1, 12, 3, 20])  # a group of one row has no previous rows
    values = rng.poisson(2.0, (len(groups), 3)).astype(float)
    frame = pd.DataFrame(values)
    g = pd.Series(groups)
    want = (frame.groupby(g).shift(1).groupby(g).rolling(8, min_periods=1).mean()
            .reset_index(level=0, drop=True).sort_index().to_numpy())
    got = grouped_previous_mean(values, groups, 8)
    np.testing.assert_array_equal(got, want)
    assert np.isnan(got[0]).all() and np.isnan(got[1]).all() and not np.isnan(got[2]).any()
