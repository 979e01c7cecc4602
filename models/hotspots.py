"""Emerging hot spot analysis of townships: where disputes cluster in space, and how that clustering evolves.

A space-time pattern in the manner of ArcGIS Pro's *Emerging Hot Spot Analysis* (Space Time Pattern Mining
toolbox), for the briefing's 区域分布 and for analysts; it is descriptive and does not feed the alerts.

**1. Hot and cold spots each week: Getis-Ord Gi\\*.** For every week, the value of each township (default
``value="rate"``: ``total_contacts`` per 10,000 residents from regions.csv ``population``; ``value="count"``
or any column name of gold/region_week_features uses that column) is tested with the local Gi\\* statistic
(Getis & Ord 1992; Ord & Getis 1995): ``esda.G_Local(star=True, transform="B")``, binary weights over the
township itself and its neighbours. The neighbours are the township neighbour graph of the features,
:func:`features.spatial.neighbour_edges` (5 nearest township seats), as a ``libpysal.weights.W``. The
reported z is esda's analytic Gi\\* z-score (``Zs``); significance comes from esda's conditional permutation
test (``PERMUTATIONS = 99`` permutations, seeded; the township's own value is held fixed and its neighbours
drawn at random from the others). The p-value reported is two-sided in the direction of z:
``min(1, 2 (#{simulated G >= observed G} + 1) / 100)`` when ``z >= 0`` (``<=`` when ``z < 0``), smallest
attainable 0.02. (esda's own ``p_sim`` folds to whichever side the observation lies, which can disagree with
the sign of the unconditional z when a township's own value is extreme but its neighbours are not; such a
township is then not significant in z's direction.)
A township-week is a **hot spot bin** when ``p <= ALPHA = 0.10`` (ArcGIS counts bins at 90%, 95% and 99%
confidence, two-sided) and ``z > 0``, a **cold spot bin** when ``p <= 0.10`` and ``z < 0``. Townships without a seat (lat/lon) are left out.

**2. Trend: Mann-Kendall** on each township's Gi\\* z-scores over the window (``window_weeks``, default 12):
``S = sum_{i<j} sign(z_j - z_i)``, variance with the tie correction, continuity-corrected normal
approximation, two-sided p; ``tau = S / (n(n-1)/2)``. A trend is significant when ``p <= TREND_ALPHA = 0.05``.

**3. Categories** (ESRI, "How Emerging Hot Spot Analysis works", ArcGIS Pro tool reference, space-time
pattern mining; the 90% rule is ``hot bins / window >= 0.9``, i.e. 11 of 12 weeks). Hot spots (cold spots
mirror them with cold bins, "intensifying" meaning an increasingly *negative* z trend):

* ``new_hot_spot`` 新增热点: hot in the final week and no significant bin (hot or cold) before it in the window.
* ``consecutive_hot_spot`` 连续热点: a single uninterrupted run of at least two hot bins ending in the final week,
  no significant bin before the run, and fewer than 90% of the bins hot.
* ``intensifying_hot_spot`` 加剧热点: at least 90% of the bins hot, including the final week, and a significant
  increasing trend of z.
* ``persistent_hot_spot`` 持续热点: at least 90% of the bins hot, including the final week, no significant trend.
* ``diminishing_hot_spot`` 减弱热点: at least 90% of the bins hot, including the final week, and a significant
  decreasing trend.
* ``sporadic_hot_spot`` 零星热点: hot in the final week, an on-again off-again hot spot before (fewer than 90% of
  the bins hot), never a cold spot in the window.
* ``oscillating_hot_spot`` 振荡热点: hot in the final week, a cold spot in some earlier week, fewer than 90% hot.
* ``historical_hot_spot`` 历史热点: not hot in the final week, but at least 90% of the bins hot.
* ``no_pattern`` 无明显模式: none of the above (nor their cold counterparts).

Where ESRI's wording leaves the order open, this module resolves it as sfdep's ``emerging_hotspot_analysis``
does (Parry, R package sfdep): "new" and "consecutive" require no earlier significant bin of either sign, a
location hot in the final week with an earlier cold bin is "oscillating", and the ≥90% persistent category
requires the final week to be hot (else it is "historical").

Deviations from ArcGIS, documented: the Gi\\* neighbourhood is spatial only (ArcGIS' default also includes
the previous time step), p-values come from permutations rather than the normal approximation, and there is
no false-discovery-rate correction.

**Weeks.** :func:`hotspot_patterns` classifies the window ending at ``last_week`` (default: the latest
week), or with ``all_weeks=True`` every week that closes a full window (a rolling classification). The Gi\\*
of each week is computed once and shared by the windows: ~0.05 s a week for 200 townships, ~0.25 s for 1,800,
so the job (:mod:`jobs.gold.hotspot_patterns`) computes every week. Weights and Gi*: :mod:`models.getis_ord`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from models.getis_ord import (  # noqa: F401  (gi_star is re-exported: one of hot spot analysis's names)
    PERMUTATIONS, SEED, gi_star, gi_star_panel, township_weights, weights_from_edges,
)

ALPHA = 0.10
TREND_ALPHA = 0.05
WINDOW_WEEKS = 12
RATIO_RULE = 0.9
RATE_PER = 10_000

CATEGORIES_ZH = {
    "new_hot_spot": "新增热点",
    "consecutive_hot_spot": "连续热点",
    "intensifying_hot_spot": "加剧热点",
    "persistent_hot_spot": "持续热点",
    "diminishing_hot_spot": "减弱热点",
    "sporadic_hot_spot": "零星热点",
    "oscillating_hot_spot": "振荡热点",
    "historical_hot_spot": "历史热点",
    "new_cold_spot": "新增冷点",
    "consecutive_cold_spot": "连续冷点",
    "intensifying_cold_spot": "加剧冷点",
    "persistent_cold_spot": "持续冷点",
    "diminishing_cold_spot": "减弱冷点",
    "sporadic_cold_spot": "零星冷点",
    "oscillating_cold_spot": "振荡冷点",
    "historical_cold_spot": "历史冷点",
    "no_pattern": "无明显模式",
}

OUTPUT_COLUMNS = ["region_code", "level", "county_code", "region_name", "week_start", "category", "category_zh",
                  "gi_z_last", "gi_p_last", "trend_tau", "trend_p", "hot_weeks", "cold_weeks", "window_weeks",
                  "value"]


# --- Mann-Kendall ----------------------------------------------------------------------------------

def mann_kendall(x) -> tuple[np.ndarray, np.ndarray]:
    """Mann-Kendall trend test on each row of ``x`` (N, n) or on a 1-d series: (tau, two-sided p).

    ``S = sum_{i<j} sign(x_j - x_i)``; ``Var S = [n(n-1)(2n+5) - sum_g t_g(t_g-1)(2t_g+5)] / 18`` over tie
    groups; ``Z = (S - sign S) / sqrt(Var S)``; ``tau = S / (n(n-1)/2)``. A constant series: tau 0, p 1.
    """
    a = np.asarray(x, dtype=float)
    one = a.ndim == 1
    a = np.atleast_2d(a)
    n = a.shape[1]
    diff = a[:, None, :] - a[:, :, None]                  # [s, i, j] = x_j - x_i
    upper = np.triu(np.ones((n, n), dtype=bool), 1)
    s = np.sign(diff[:, upper]).sum(1)
    eq = (diff == 0).sum(2)                               # size of each element's tie group
    ties = ((eq - 1) * (2 * eq + 5)).sum(1)
    var = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        zs = np.where(var > 0, (s - np.sign(s)) / np.sqrt(np.maximum(var, 1e-300)), 0.0)
    p = np.where(var > 0, 2 * stats.norm.sf(np.abs(zs)), 1.0)
    tau = s / (n * (n - 1) / 2) if n > 1 else np.zeros(len(s))
    return (tau[0], p[0]) if one else (tau, p)


# --- classification ---------------------------------------------------------------------------------

def classify_patterns(z, p, alpha: float = ALPHA, trend_alpha: float = TREND_ALPHA,
                      ratio_rule: float = RATIO_RULE) -> pd.DataFrame:
    """Emerging hot spot category of each row of z-scores and p-values (N, n), last column the final week.

    Returns a frame with ``category``, ``category_zh``, ``trend_tau``, ``trend_p``, ``hot_weeks``,
    ``cold_weeks`` (one row per input row).
    """
    z = np.atleast_2d(np.asarray(z, float))
    p = np.atleast_2d(np.asarray(p, float))
    N, n = z.shape
    sig = p <= alpha
    hot = sig & (z > 0)
    cold = sig & (z < 0)
    tau, tp = mann_kendall(z)
    tau, tp = np.atleast_1d(tau), np.atleast_1d(tp)
    up = (tau > 0) & (tp <= trend_alpha)
    down = (tau < 0) & (tp <= trend_alpha)
    cat = np.full(N, "no_pattern", dtype=object)

    def run_end(mask):
        """Length of the run of True ending in the final week."""
        rev = mask[:, ::-1]
        return np.where(rev.all(1), n, np.argmin(rev, axis=1))

    final_cat, hist_cat = {}, {}
    cols = np.arange(n)[None, :]
    sig_count = sig.sum(1)
    for kind, same, other, rising, falling in (("hot", hot, cold, up, down), ("cold", cold, hot, down, up)):
        final = same[:, -1]
        many = same.sum(1) / n >= ratio_rule - 1e-12
        run = run_end(same)
        before = (sig & (cols < (n - run)[:, None])).any(1)      # a significant bin before the final run
        rules = [
            (final & many & rising, f"intensifying_{kind}_spot"),
            (final & many & falling, f"diminishing_{kind}_spot"),
            (final & many, f"persistent_{kind}_spot"),
            (final & (sig_count == 1), f"new_{kind}_spot"),
            (final & (run >= 2) & ~before, f"consecutive_{kind}_spot"),
            (final & ~many & other.any(1), f"oscillating_{kind}_spot"),
            (final & ~many, f"sporadic_{kind}_spot"),
        ]
        c = np.full(N, None, dtype=object)
        for mask, name in reversed(rules):                      # the first matching rule wins
            c = np.where(mask, name, c)
        final_cat[kind] = c
        hist_cat[kind] = np.where(~final & many, f"historical_{kind}_spot", None)
    # A pattern of the final week (hot or cold) comes before a historical one.
    for c in (final_cat["hot"], final_cat["cold"], hist_cat["hot"], hist_cat["cold"]):
        cat = np.where((cat == "no_pattern") & (c != None), c, cat)  # noqa: E711
    return pd.DataFrame({
        "category": cat.astype(str),
        "category_zh": [CATEGORIES_ZH[c] for c in cat],
        "trend_tau": tau.astype(float),
        "trend_p": tp.astype(float),
        "hot_weeks": hot.sum(1).astype(int),
        "cold_weeks": cold.sum(1).astype(int),
    })


# --- townships × weeks --------------------------------------------------------------------------------

def _values(features_df: pd.DataFrame, regions_df: pd.DataFrame, value: str) -> tuple[pd.DataFrame, str]:
    town = features_df[features_df["level"] == "township"] if "level" in features_df else features_df
    town = town.assign(region_code=town["region_code"].astype(str), week_start=pd.to_datetime(town["week_start"]))
    if value == "rate":
        pop = pd.to_numeric(regions_df.set_index(regions_df["code"].astype(str))["population"], errors="coerce")
        pop = pop[pop > 0]
        if len(pop) and town["region_code"].isin(pop.index).mean() > 0.5:
            v = town["total_contacts"] / town["region_code"].map(pop) * RATE_PER
            name = "total_contacts_per_10k"
        else:
            v, name = town["total_contacts"], "total_contacts"
    else:
        column = "total_contacts" if value == "count" else value
        v, name = town[column], column
    wide = town.assign(_v=v.astype(float)).pivot_table(index="week_start", columns="region_code", values="_v",
                                                       aggfunc="sum")
    return wide.sort_index(), name


def hotspot_patterns(features_df: pd.DataFrame, regions_df: pd.DataFrame, last_week=None,
                     window_weeks: int = WINDOW_WEEKS, value: str = "rate", all_weeks: bool = False,
                     permutations: int = PERMUTATIONS, seed: int = SEED, alpha: float = ALPHA,
                     trend_alpha: float = TREND_ALPHA) -> pd.DataFrame:
    """Emerging hot spot category of every township for the window of ``window_weeks`` weeks ending at
    ``last_week`` (default: the latest week of ``features_df``), or for every full window (``all_weeks``).

    Columns: region_code, level, county_code, region_name, week_start (last week of the window),
    category (English code), category_zh, gi_z_last, gi_p_last, trend_tau, trend_p, hot_weeks, cold_weeks,
    window_weeks, value (the analysed variable). Empty when there are fewer than ``window_weeks`` weeks.
    """
    w = township_weights(regions_df)
    wide, value_name = _values(features_df, regions_df, value)
    if last_week is not None:
        wide = wide[wide.index <= pd.Timestamp(str(last_week))]
    if wide.empty:
        return pd.DataFrame(columns=OUTPUT_COLUMNS)
    grid = pd.date_range(wide.index.min(), wide.index.max(), freq="7D")
    codes = [c for c in w.id_order if c in set(wide.columns)]
    if len(codes) < 3:
        return pd.DataFrame(columns=OUTPUT_COLUMNS)
    if len(codes) < len(w.id_order):
        w = weights_from_edges({c: [nb for nb in w.neighbors[c] if nb in set(codes)] for c in codes})
        codes = list(w.id_order)
    wide = wide.reindex(index=grid, columns=codes).fillna(0.0)
    T = len(wide)
    if T < window_weeks:
        return pd.DataFrame(columns=OUTPUT_COLUMNS)
    first = 0 if all_weeks else T - window_weeks
    zf, pf = gi_star_panel(wide.iloc[first:], w, permutations, seed + first)
    zs, ps = zf.to_numpy(), pf.to_numpy()
    ends = range(window_weeks - 1, len(zs)) if all_weeks else [len(zs) - 1]
    frames = []
    for e in ends:
        zw = zs[e - window_weeks + 1: e + 1].T
        pw = ps[e - window_weeks + 1: e + 1].T
        res = classify_patterns(zw, pw, alpha, trend_alpha)
        res.insert(0, "region_code", codes)
        res.insert(1, "week_start", zf.index[e].date())
        res["gi_z_last"] = zw[:, -1]
        res["gi_p_last"] = pw[:, -1]
        frames.append(res)
    out = pd.concat(frames, ignore_index=True)
    meta = features_df.assign(region_code=features_df["region_code"].astype(str)).drop_duplicates("region_code")
    meta = meta.set_index("region_code")
    out["level"] = "township"
    out["county_code"] = (out["region_code"].map(meta["county_code"].astype(str)) if "county_code" in meta
                          else out["region_code"].str[:6] + "000000")
    out["region_name"] = out["region_code"].map(meta["region_name"]) if "region_name" in meta else None
    out["window_weeks"] = int(window_weeks)
    out["value"] = value_name
    return out[OUTPUT_COLUMNS]
