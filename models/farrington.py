"""Farrington-flexible outbreak detection on weekly counts per township (Noufaily et al., 2013).

A classic public-health baseline next to EARS (:mod:`models.ears`): for region ``r`` and week ``t``, the count
``y_t`` (default ``total_contacts`` of gold/region_week_features) is compared with an upper prediction bound
``U_t`` built from the same season of earlier years.

**Reference weeks.** Weeks ``t-52-3 .. t-52+3`` and ``t-104-3 .. t-104+3`` (``WINDOW_HALF_WIDTH = 3``,
``YEARS_BACK = 2``): up to 14 same-season weeks, none of them recent (the most recent is 49 weeks back, so
a build-up cannot inflate its own baseline). The *seasonal* mode needs at least ``MIN_SEASONAL_REFS = 5``
reference weeks inside the region's own span.

**Fallback with less than a year of history.** When fewer than 5 same-season weeks exist (the first ~53
weeks of a series), the reference weeks are the recent weeks ``t-3 .. t-12`` (``FALLBACK_WEEKS = 10`` weeks
behind a 2-week guard band, as in EARS C2), fitted without trend. It needs at least
``MIN_FALLBACK_REFS = 5`` of them; before that the statistic is missing (score 0). The ``farrington_mode``
column says which baseline was used (``seasonal``, ``recent`` or null).

**Model** (one per region and week, all fitted at once by a vectorised IRLS in numpy,
:mod:`models.quasipoisson`): quasi-Poisson GLM ``log mu_i = a + b * (week_i - t) / 52`` on the reference weeks.

1. Both the intercept-only and the trend model are fitted; each is then *reweighted* (Noufaily et al. 2013,
   replacing Farrington's 1996 threshold of 1 by 2.58): Anscombe residuals
   ``r_i = 1.5 (y_i^(2/3) - mu_i^(2/3)) / (phi^(1/2) mu_i^(1/6) (1 - h_ii)^(1/2))``; weights
   ``w_i = gamma * r_i^-2`` where ``r_i > 2.58`` (a past outbreak), else ``gamma``, with ``gamma`` such that
   the weights sum to the number of reference weeks; the model is refitted once with these weights.
2. The trend is kept only when it is significant at 5% (two-sided Wald test with the quasi-Poisson
   dispersion, on the reweighted fit) *and* the trend prediction does not exceed the largest reference count
   (Farrington et al. 1996); the seasonal mode only (the fallback is intercept-only).
3. Dispersion ``phi = max(1, sum w_i (y_i - mu_i)^2 / mu_i / (n - p))``.

**Bound.** ``mu_0 = exp(a)`` is the expected count in week ``t``. The upper bound ``U`` is the ``1 - ALPHA``
quantile (``ALPHA = 0.01``, a 99% bound) of a negative binomial with mean ``mu_0`` and variance
``phi * mu_0`` (Poisson when ``phi = 1``): Noufaily's "nbPlugin" threshold, without the estimation
uncertainty of ``mu_0``.

**Exceedance** ``X = (y_t - mu_0) / max(U - mu_0, MIN_SPAN)`` (``MIN_SPAN = 1`` record): ``X > 1`` means
``y_t`` above the bound (an alarm). **Small-count guard**: no alarm, and score 0, when the region's count in
the last 4 weeks (``t-3 .. t``) is below ``MIN_RECENT_COUNT = 5`` (Farrington-flexible's ``limit54``).

**Score.** ``score = 1 / (1 + exp(-SCORE_SLOPE * (X - 1)))`` with ``SCORE_SLOPE = 4``: monotone in ``X``,
0.5 exactly at the bound, about 0.02 for ``X = 0`` (the count equals its expectation). A ranking score, not
a calibrated probability; a missing ``X`` (too little history) or the small-count guard scores 0.

Weeks absent from the features table inside a region's span count as 0 (as in EARS).

**Limits.** With two years of data (the demo) every seasonal baseline rests on the single year-ago window, so
no trend across years can be estimated (the trend term only sees the 7 weeks of that window): general growth
and a county's reporting change (a new channel: more calls, same content) exceed last year's level for a whole
year. Farrington is meant for 3-5 years of history (Noufaily's default is 5).

**Speed.** All regions and weeks are fitted at once: ~1 s for 200 townships × 104 weeks, ~15 s for
1,800 × 156 (2-core machine); ``count_column`` as the 15 type columns takes ~15 times as long.

References: Farrington, Andrews, Beale & Catchpole (1996), JRSS A 159:547-563; Noufaily, Enki, Farrington,
Garthwaite, Andrews & Charlett (2013), Statistics in Medicine 32:1206-1222 (the R ``surveillance`` package's
``farringtonFlexible``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from models.ears import _wide_counts
from models.quasipoisson import fit_reweighted, nb_upper_bound
from models.score_frame import unlevelled_scores

MODEL_VERSION = "farrington-flexible"
WINDOW_HALF_WIDTH = 3
YEARS_BACK = 2
PERIOD_WEEKS = 52
MIN_SEASONAL_REFS = 5
FALLBACK_WEEKS = 10
FALLBACK_GUARD = 2
MIN_FALLBACK_REFS = 5
ALPHA = 0.01
TREND_P = 0.05
MIN_RECENT_COUNT = 5
RECENT_WEEKS = 4
MIN_SPAN = 1.0
SCORE_SLOPE = 4.0


def seasonal_offsets(half_width: int = WINDOW_HALF_WIDTH, years: int = YEARS_BACK,
                     period: int = PERIOD_WEEKS) -> np.ndarray:
    """Lags (weeks back) of the same-season reference weeks: 52±3, 104±3."""
    return np.array([k * period + d for k in range(1, years + 1) for d in range(-half_width, half_width + 1)])


def fallback_offsets(weeks: int = FALLBACK_WEEKS, guard: int = FALLBACK_GUARD) -> np.ndarray:
    return np.arange(guard + 1, guard + 1 + weeks)


def farrington_series(y_ref: np.ndarray, x_ref: np.ndarray, mask: np.ndarray, y_now: np.ndarray,
                      allow_trend: np.ndarray, alpha: float = ALPHA, reweight: bool = True) -> dict:
    """Fit, select trend, bound and exceedance for S series at once (arrays (S, n) and (S,)).

    ``reweight=False`` skips the down-weighting of past outbreaks (for comparison only)."""
    y_ref = np.where(mask, y_ref, 0.0)
    flat = fit_reweighted(y_ref, None, mask, reweight)
    mu0 = np.exp(flat["beta"][:, 0])
    phi = flat["phi"].copy()
    trend = np.zeros(len(y_now), dtype=bool)
    if allow_trend.any():
        idx = np.flatnonzero(allow_trend & (mask.sum(1) >= 3))
        if len(idx):
            tr = fit_reweighted(y_ref[idx], x_ref[idx], mask[idx], reweight)
            b1 = tr["beta"][:, 1]
            se = np.sqrt(np.maximum(tr["cov"][:, 1, 1], 1e-300))
            pval = 2 * stats.norm.sf(np.abs(b1 / se))
            pred = np.exp(tr["beta"][:, 0])
            ymax = np.where(mask[idx], y_ref[idx], -np.inf).max(1)
            keep = (pval < TREND_P) & (pred <= ymax)
            trend[idx[keep]] = True
            mu0[idx[keep]] = pred[keep]
            phi[idx[keep]] = tr["phi"][keep]
    upper = nb_upper_bound(mu0, phi, alpha)
    exceed = (y_now - mu0) / np.maximum(upper - mu0, MIN_SPAN)
    return {"expected": mu0, "upper": upper, "phi": phi, "trend": trend, "exceedance": exceed}


# --- weeks × regions ----------------------------------------------------------------------------

def farrington_wide(wide: pd.DataFrame, alpha: float = ALPHA, reweight: bool = True) -> dict[str, pd.DataFrame]:
    """Farrington statistics for a weeks × regions matrix (rows one per week, NaN before a region starts).

    Returns frames (same shape as ``wide``): ``expected``, ``upper``, ``exceedance``, ``alarm`` (bool),
    ``mode`` (``seasonal``/``recent``/None), ``trend`` (bool), ``recent_count``.
    """
    vals = wide.to_numpy(float)
    T, R = vals.shape
    frames = {k: np.full((T, R), np.nan) for k in ("expected", "upper", "exceedance")}
    mode = np.full((T, R), None, dtype=object)
    trend = np.zeros((T, R), dtype=bool)
    recent = pd.DataFrame(vals).rolling(RECENT_WEEKS, min_periods=1).sum().to_numpy()
    recent = np.where(np.isnan(vals), np.nan, recent)

    def gather(offsets):
        ti = np.arange(T)[:, None] - offsets[None, :]             # (T, n)
        ok = ti >= 0
        g = np.where(ok[:, :, None], vals[np.clip(ti, 0, None)], np.nan)   # (T, n, R)
        return np.transpose(g, (0, 2, 1)), -offsets / PERIOD_WEEKS  # (T, R, n)

    seas, x_seas = gather(seasonal_offsets())
    fall, _ = gather(fallback_offsets())
    seas_mask = ~np.isnan(seas)
    fall_mask = ~np.isnan(fall)
    now_ok = ~np.isnan(vals)
    use_seas = now_ok & (seas_mask.sum(2) >= MIN_SEASONAL_REFS)
    use_fall = now_ok & ~use_seas & (fall_mask.sum(2) >= MIN_FALLBACK_REFS)
    for sel, refs, msk, name, allow in ((use_seas, seas, seas_mask, "seasonal", True),
                                        (use_fall, fall, fall_mask, "recent", False)):
        ti, ri = np.nonzero(sel)
        if not len(ti):
            continue
        y_ref = refs[ti, ri]
        m = msk[ti, ri]
        x_ref = np.broadcast_to(x_seas, y_ref.shape) if allow else np.zeros_like(y_ref)
        res = farrington_series(y_ref, x_ref, m, vals[ti, ri], np.full(len(ti), allow), alpha, reweight)
        for k in ("expected", "upper", "exceedance"):
            frames[k][ti, ri] = res[k]
        trend[ti, ri] = res["trend"]
        mode[ti, ri] = name
    guard = recent < MIN_RECENT_COUNT
    exceed = frames["exceedance"]
    alarm = (exceed > 1) & ~guard
    out = {k: pd.DataFrame(v, index=wide.index, columns=wide.columns) for k, v in frames.items()}
    out["alarm"] = pd.DataFrame(alarm, index=wide.index, columns=wide.columns)
    out["mode"] = pd.DataFrame(mode, index=wide.index, columns=wide.columns)
    out["trend"] = pd.DataFrame(trend, index=wide.index, columns=wide.columns)
    out["recent_count"] = pd.DataFrame(recent, index=wide.index, columns=wide.columns)
    return out


def exceedance_to_score(exceed, guarded=None) -> np.ndarray:
    """Logistic map of the exceedance to 0-1 (0.5 at the bound); NaN or small-count guard -> 0."""
    x = np.asarray(exceed, float)
    with np.errstate(over="ignore"):
        s = 1.0 / (1.0 + np.exp(-SCORE_SLOPE * (x - 1.0)))
    s = np.where(np.isnan(x), 0.0, s)
    if guarded is not None:
        s = np.where(np.asarray(guarded, bool), 0.0, s)
    return s


def farrington_statistic(features_df: pd.DataFrame, count_column: str = "total_contacts",
                         alpha: float = ALPHA) -> pd.DataFrame:
    """Per row of ``features_df``: expected, upper, exceedance, alarm, mode, trend, recent_count."""
    cols = ["expected", "upper", "exceedance", "alarm", "mode", "trend", "recent_count"]
    if features_df.empty:
        return pd.DataFrame(columns=cols, index=features_df.index)
    wide = _wide_counts(features_df, count_column)
    res = farrington_wide(wide, alpha)
    ti = wide.index.get_indexer(pd.to_datetime(features_df["week_start"]))
    ri = wide.columns.get_indexer(features_df["region_code"])
    out = pd.DataFrame(index=features_df.index)
    for k in cols:
        out[k] = res[k].to_numpy()[ti, ri]
    out["alarm"] = out["alarm"].fillna(False).astype(bool)
    out["trend"] = out["trend"].fillna(False).astype(bool)
    return out


def farrington_scores(features_df: pd.DataFrame, count_column: str | list[str] = "total_contacts",
                      alpha: float = ALPHA) -> pd.DataFrame:
    """Farrington scores in the gold/risk_scores format (like :func:`models.ears.ears_scores`).

    ``count_column`` may be a list of columns (e.g. the 15 ``type_<slug>`` counts): each is tested
    separately and a row keeps the largest exceedance (not guarded), with ``farrington_column`` naming it.
    Extra columns: ``farrington_expected``, ``farrington_upper``, ``farrington_exceedance``,
    ``farrington_alarm``, ``farrington_mode``, ``farrington_column`` and ``total_contacts``.
    ``model_version`` is ``farrington-flexible``.
    """
    columns = [count_column] if isinstance(count_column, str) else list(count_column)
    best, best_col, best_guard = None, None, None
    for col in columns:
        st = farrington_statistic(features_df, col, alpha)
        guard = (st["recent_count"].astype(float) < MIN_RECENT_COUNT).to_numpy()
        ex = st["exceedance"].astype(float).to_numpy()
        key = np.where(guard | np.isnan(ex), -np.inf, ex)
        if best is None:
            best, best_col, best_guard, best_key = st, np.full(len(st), col, dtype=object), guard, key
            continue
        better = key > best_key
        best = pd.DataFrame({k: np.where(better, st[k].to_numpy(), best[k].to_numpy()) for k in best.columns},
                            index=best.index)
        best_col = np.where(better, col, best_col)
        best_guard = np.where(better, guard, best_guard)
        best_key = np.maximum(best_key, key)
    n = len(features_df)
    exceed = best["exceedance"].astype(float).to_numpy() if n else np.array([])
    out = unlevelled_scores(features_df, exceedance_to_score(exceed, best_guard), MODEL_VERSION)
    out["farrington_expected"] = best["expected"].astype(float).to_numpy() if n else []
    out["farrington_upper"] = best["upper"].astype(float).to_numpy() if n else []
    out["farrington_exceedance"] = exceed
    out["farrington_alarm"] = best["alarm"].astype(bool).to_numpy() if n else []
    out["farrington_mode"] = best["mode"].to_numpy() if n else []
    out["farrington_column"] = best_col if n else []
    if "total_contacts" in features_df:
        out["total_contacts"] = features_df["total_contacts"].values
    return out
