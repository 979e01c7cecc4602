"""Change against each region's own recent past: 8-week ratios, a z-score, the sharpest type change.

Windows run over the complete zero-filled grid (``features.grid``), so ``rowsBetween(-8, -1)`` is
exactly weeks t-8..t-1 and a week without records counts as zero. Early weeks use whatever history
exists (fewer than 8 rows); the first week has none, and gets the neutral values chg = 1.0, z = 0.0.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from features import CHANGE_BASES, TYPE_COUNT_COLUMNS
from features.grid import EPOCH_MONDAY, week_index

HISTORY_WEEKS = 8


def history_window(partition: tuple[str, ...] = ("region_code", "level"), order: str = "week_start"):
    """Weeks t-8..t-1 of the same region (rows, not dates: the grid has one row per week)."""
    return Window.partitionBy(*partition).orderBy(order).rowsBetween(-HISTORY_WEEKS, -1)


def change_ratio(column: str, window) -> Column:
    """(x_t + 1) / (mean of x over t-8..t-1 + 1); 1.0 without history. The +1 keeps 0 → 1 finite."""
    mean = F.avg(F.col(column)).over(window)
    return F.coalesce((F.col(column) + 1) / (mean + 1), F.lit(1.0)).cast("double")


def z_score(column: str, window) -> Column:
    """(x_t - mean_8) / (sd_8 + 1) with the population sd of t-8..t-1 (defined from one week of history);
    the +1 damps regions with a flat, tiny history. 0.0 without history."""
    mean = F.avg(F.col(column)).over(window)
    sd = F.stddev_pop(F.col(column)).over(window)
    return F.coalesce((F.col(column) - mean) / (sd + 1), F.lit(0.0)).cast("double")


def add_dynamics(df: DataFrame, partition: tuple[str, ...] = ("region_code", "level"),
                 order: str = "week_start") -> DataFrame:
    """Adds ``<base>_chg_8w`` for ``CHANGE_BASES``, ``total_contacts_z_8w`` and ``max_type_chg_8w``.

    ``df`` must hold one row per region and week with no gaps. All expressions share one window
    spec, so Spark sorts the frame once.
    """
    window = history_window(partition, order)
    return df.select(
        *df.columns,
        *[change_ratio(base, window).alias(f"{base}_chg_8w") for base in CHANGE_BASES],
        z_score("total_contacts", window).alias("total_contacts_z_8w"),
        F.greatest(*[change_ratio(col, window) for col in TYPE_COUNT_COLUMNS]).alias("max_type_chg_8w"),
    )


def add_sparse_dynamics(df: DataFrame, first_week, partition: tuple[str, ...] = ("region_code", "level")) -> DataFrame:
    """The same columns as :func:`add_dynamics` for a frame that has rows only in weeks with records (villages).

    An absent week counts as zero, as a zero-filled row would: sums over the week numbers t-8..t-1 divided by
    the number of grid weeks behind t (up to 8, counted from ``first_week``, the grid's first Monday) give
    the dense frame's means; the variance comes from the sums of squares. Values equal :func:`add_dynamics`
    on the zero-filled frame up to floating-point rounding.
    """
    week = week_index("week_start")
    first = F.floor(F.datediff(F.lit(first_week), F.lit(EPOCH_MONDAY)) / 7).cast("int")
    window = Window.partitionBy(*partition).orderBy(week).rangeBetween(-HISTORY_WEEKS, -1)
    n_history = F.least(F.lit(HISTORY_WEEKS), week - first)

    def mean_of(column: str) -> Column:
        return F.coalesce(F.sum(F.col(column)).over(window), F.lit(0)) / n_history

    def ratio(column: str) -> Column:
        return F.when(n_history > 0, (F.col(column) + 1) / (mean_of(column) + 1)).otherwise(F.lit(1.0)).cast("double")

    mean = mean_of("total_contacts")
    mean_sq = F.coalesce(F.sum(F.col("total_contacts") * F.col("total_contacts")).over(window), F.lit(0)) / n_history
    sd = F.sqrt(F.greatest(mean_sq - mean * mean, F.lit(0.0)))
    z = F.when(n_history > 0, (F.col("total_contacts") - mean) / (sd + 1)).otherwise(F.lit(0.0)).cast("double")
    return df.select(
        *df.columns,
        *[ratio(base).alias(f"{base}_chg_8w") for base in CHANGE_BASES],
        z.alias("total_contacts_z_8w"),
        F.greatest(*[ratio(col) for col in TYPE_COUNT_COLUMNS]).alias("max_type_chg_8w"),
    )
