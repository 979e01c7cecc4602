"""Spatial weights over the township neighbour graph and the local Getis-Ord Gi* statistic, week by week.

The first step of emerging hot spot analysis (:mod:`models.hotspots`, which documents the method): binary
weights over a township and its neighbours (:func:`features.spatial.neighbour_edges`, 5 nearest township
seats) as a ``libpysal.weights.W``; esda's analytic Gi* z-score and a two-sided conditional permutation
p-value (``PERMUTATIONS = 99``, seeded) in the direction of z.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

PERMUTATIONS = 99
SEED = 20240101


def township_weights(regions_df: pd.DataFrame, k: int = 5):
    """libpysal ``W`` (binary) over the townships of ``regions_df`` from :func:`features.spatial.neighbour_edges`."""
    # libpysal, and Spark under features.spatial, load only when hot spots are computed.
    from libpysal.weights import W

    from features.spatial import neighbour_edges

    edges = neighbour_edges(regions_df, {"township": k})
    edges = edges[edges["level"] == "township"]
    neighbours = edges.groupby("region_code")["neighbour_code"].apply(list).to_dict()
    if not neighbours:
        raise ValueError("no township with a seat (lat/lon) in regions: cannot build spatial weights")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return W(neighbours, silence_warnings=True)


def weights_from_edges(neighbours: dict[str, list[str]]):
    """libpysal ``W`` from a {code: [neighbour codes]} mapping (tests, other graphs)."""
    from libpysal.weights import W  # loads only when hot spots are computed

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return W(neighbours, silence_warnings=True)


def gi_star(values: np.ndarray, w, permutations: int = PERMUTATIONS, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Gi* z-scores and two-sided permutation pseudo p-values for one cross-section ordered as ``w.id_order``.

    A constant cross-section (no variance) has z = 0 and p = 1 everywhere.
    """
    from esda.getisord import G_Local  # loads only when hot spots are computed

    y = np.asarray(values, dtype=float)
    if len(y) < 3 or np.nanstd(y) == 0 or np.isnan(y).any():
        return np.zeros(len(y)), np.ones(len(y))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        g = G_Local(y, w, transform="B", star=True, permutations=permutations, seed=seed,
                    keep_simulations=bool(permutations))
    z = np.nan_to_num(np.asarray(g.Zs, float))
    if permutations:
        # One-sided permutation p in the direction of the analytic z, doubled (two-sided).
        sims = np.asarray(g.rGs, float)
        obs = np.asarray(g.Gs, float)[:, None]
        up = ((sims >= obs).sum(1) + 1) / (permutations + 1)
        down = ((sims <= obs).sum(1) + 1) / (permutations + 1)
        p = np.minimum(1.0, 2 * np.where(z >= 0, up, down))
    else:
        p = 2 * stats.norm.sf(np.abs(z))
    return z, np.nan_to_num(p, nan=1.0)


def gi_star_panel(wide: pd.DataFrame, w, permutations: int = PERMUTATIONS, seed: int = SEED):
    """Gi* z and p for a weeks × regions matrix whose columns are ``w.id_order`` (one esda call a week)."""
    z = np.zeros(wide.shape)
    p = np.ones(wide.shape)
    for i, row in enumerate(wide.to_numpy(float)):
        z[i], p[i] = gi_star(row, w, permutations, seed + i)
    return (pd.DataFrame(z, index=wide.index, columns=wide.columns),
            pd.DataFrame(p, index=wide.index, columns=wide.columns))
