"""Emerging hot spot analysis: Gi*, Mann-Kendall, the ArcGIS categories, the gold job (no Spark)."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from models.hotspots import (
    CATEGORIES_ZH, OUTPUT_COLUMNS, classify_patterns, gi_star, hotspot_patterns, mann_kendall, township_weights,
    weights_from_edges,
)

MONDAY = dt.date(2025, 1, 6)


def queen_grid(side: int) -> dict[str, list[str]]:
    def code(r, c):
        return f"370102{r * side + c + 1:03d}000"
    nb = {}
    for r in range(side):
        for c in range(side):
            nb[code(r, c)] = [code(r + dr, c + dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)
                              if (dr or dc) and 0 <= r + dr < side and 0 <= c + dc < side]
    return nb


def grid_regions(side: int, population: int = 50_000) -> pd.DataFrame:
    rows = [{"code": "370102000000", "name": "测试区", "level": "county", "parent_code": "370100000000",
             "lat": 36.6, "lon": 117.0, "population": population * side * side}]
    for r in range(side):
        for c in range(side):
            rows.append({"code": f"370102{r * side + c + 1:03d}000", "name": f"镇{r}{c}", "level": "township",
                         "parent_code": "370102000000", "lat": 36.0 + 0.05 * r, "lon": 117.0 + 0.05 * c,
                         "population": population})
    return pd.DataFrame(rows)


# --- Gi* ----------------------------------------------------------------------------------------

def test_gi_star_hot_cluster_on_3x3_grid():
    w = weights_from_edges(queen_grid(3))
    values = {c: 1.0 for c in w.id_order}
    for c in ("370102001000", "370102002000", "370102004000", "370102005000"):   # top-left 2×2 block
        values[c] = 10.0
    y = np.array([values[c] for c in w.id_order])
    z, p = gi_star(y, w, permutations=99, seed=1)
    i = w.id_order.index("370102001000")
    j = w.id_order.index("370102009000")
    assert z[i] > 1.5 and p[i] <= 0.10
    assert z[j] < 0
    # Analytic Gi* z with binary weights including the township itself.
    A = np.eye(9)
    for a, nbs in w.neighbors.items():
        for b in nbs:
            A[w.id_order.index(a), w.id_order.index(b)] = 1
    n, xb, s = 9, y.mean(), y.std()
    Wi, W2 = A.sum(1), (A ** 2).sum(1)
    edge = Wi < n                      # the centre's neighbourhood is the whole grid: Gi* undefined, z = 0
    expected = (A @ y - xb * Wi)[edge] / (s * np.sqrt((n * W2 - Wi ** 2)[edge] / (n - 1)))
    assert z[edge] == pytest.approx(expected)
    assert z[~edge] == pytest.approx(0.0)
    # Constant values: nothing to cluster.
    z0, p0 = gi_star(np.ones(9), w)
    assert (z0 == 0).all() and (p0 == 1).all()


def test_township_weights_from_seats():
    w = township_weights(grid_regions(4))
    assert w.n == 16 and all(len(v) == 5 for v in w.neighbors.values())
    assert "370102000000" not in w.id_order


# --- Mann-Kendall ---------------------------------------------------------------------------------

def test_mann_kendall_monotone_and_flat():
    tau, p = mann_kendall(np.arange(12.0))
    assert tau == pytest.approx(1.0) and p < 0.001
    tau, p = mann_kendall(-np.arange(12.0) ** 2)
    assert tau == pytest.approx(-1.0) and p < 0.001
    tau, p = mann_kendall(np.ones(12))
    assert tau == 0 and p == 1
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 12))
    taus, ps = mann_kendall(x)
    from scipy.stats import kendalltau
    for row, t in zip(x, taus):
        assert t == pytest.approx(kendalltau(np.arange(12), row).statistic)
    # S = 1 for (1, 3, 2): 2 concordant pairs, 1 discordant; tie correction keeps p in [0, 1].
    assert mann_kendall(np.array([1.0, 3.0, 2.0]))[0] == pytest.approx(1 / 3)
    assert 0 <= mann_kendall(np.array([1.0, 1.0, 2.0, 2.0, 3.0]))[1] <= 1


# --- categories -----------------------------------------------------------------------------------

N = 12
S, NS = 0.01, 0.9            # significant / not significant p


def seq(spec: str, rising: bool | None = None):
    """'H' hot, 'C' cold, '.' not significant; z magnitudes carry a trend if asked."""
    base = np.linspace(2.0, 4.0, len(spec)) if rising else (np.linspace(4.0, 2.0, len(spec)) if rising is False
                                                             else 3.0 + 0.3 * np.sin(np.arange(len(spec)) * 2.1))
    z = np.array([b if ch == "H" else (-b if ch == "C" else 0.3 * (-1) ** k) for k, (ch, b) in
                  enumerate(zip(spec, base))])
    p = np.array([S if ch in "HC" else NS for ch in spec])
    return z, p


CASES = [
    ("." * 11 + "H", None, "new_hot_spot"),
    ("." * 9 + "HHH", None, "consecutive_hot_spot"),
    ("H" * 12, True, "intensifying_hot_spot"),
    ("H" * 12, None, "persistent_hot_spot"),
    (".H" + "H" * 10, None, "persistent_hot_spot"),   # 11 of 12 = 92% >= 90%
    ("H" * 12, False, "diminishing_hot_spot"),
    ("..H..H...H.H", None, "sporadic_hot_spot"),
    ("H.H" + "." * 8 + "H", None, "sporadic_hot_spot"),
    ("C....H.....H", None, "oscillating_hot_spot"),
    ("H" * 11 + ".", None, "historical_hot_spot"),
    ("." * 11 + "C", None, "new_cold_spot"),
    ("." * 10 + "CC", None, "consecutive_cold_spot"),
    ("C" * 12, False, "intensifying_cold_spot"),     # ever more negative: z -2 .. -4
    ("C" * 12, None, "persistent_cold_spot"),
    ("C" * 12, True, "diminishing_cold_spot"),        # z -4 .. -2
    (".C..C......C", None, "sporadic_cold_spot"),
    ("H...C......C", None, "oscillating_cold_spot"),
    ("C" * 11 + ".", None, "historical_cold_spot"),
    ("." * 12, None, "no_pattern"),
    ("..H..H...H..", None, "no_pattern"),            # on-off hot but not in the final week, < 90%
]


@pytest.mark.parametrize("spec,trend,expected", CASES)
def test_each_category(spec, trend, expected):
    assert len(spec) == N
    z, p = seq(spec, trend)
    if expected.startswith("intensifying_cold") or expected.startswith("diminishing_cold"):
        z = -np.abs(z)
        z = np.linspace(-2, -4, N) if expected.startswith("intensifying") else np.linspace(-4, -2, N)
    res = classify_patterns(z[None, :], p[None, :])
    assert res["category"].iloc[0] == expected
    assert res["category_zh"].iloc[0] == CATEGORIES_ZH[expected]


def test_all_categories_covered_and_vectorised():
    expected = {c for _, _, c in CASES}
    assert expected == set(CATEGORIES_ZH)
    zs, ps = zip(*(seq(s, t) for s, t, _ in CASES))
    res = classify_patterns(np.array(zs), np.array(ps))
    assert len(res) == len(CASES)
    assert res["hot_weeks"].iloc[2] == 12 and res["cold_weeks"].iloc[2] == 0


def test_final_week_pattern_beats_historical():
    z, p = seq("H" * 11 + "C")                  # hot 11 weeks, then a cold final week
    assert classify_patterns(z[None, :], p[None, :])["category"].iloc[0] == "oscillating_cold_spot"


# --- townships × weeks and the job ---------------------------------------------------------------

def grid_features(side=5, n_weeks=16, hot_from=13, seed=0):
    rng = np.random.default_rng(seed)
    regs = grid_regions(side)
    towns = regs[regs["level"] == "township"]["code"].tolist()
    cluster = {f"370102{r * side + c + 1:03d}000" for r in range(2) for c in range(2)}   # top-left corner
    rows = []
    for w in range(n_weeks):
        for code in towns:
            lam = 60 if (code in cluster and w >= hot_from) else 20
            rows.append({"region_code": code, "level": "township", "county_code": "370102000000",
                         "region_name": code[-6:], "week_start": MONDAY + dt.timedelta(weeks=w),
                         "total_contacts": float(rng.poisson(lam))})
    return pd.DataFrame(rows), regs


def test_hotspot_patterns_emerging_cluster():
    feats, regs = grid_features()
    out = hotspot_patterns(feats, regs, window_weeks=12)
    assert list(out.columns) == OUTPUT_COLUMNS
    assert len(out) == 25 and out["week_start"].nunique() == 1
    assert out["week_start"].iloc[0] == MONDAY + dt.timedelta(weeks=15)
    corner = out.set_index("region_code").loc["370102001000"]
    assert corner["category"] in ("consecutive_hot_spot", "new_hot_spot", "sporadic_hot_spot")
    assert corner["gi_z_last"] > 2
    assert out["value"].iloc[0] == "total_contacts_per_10k"
    # A window ending before the cluster emerged: the corner is not a hot spot in its final week.
    early = hotspot_patterns(feats, regs, last_week=MONDAY + dt.timedelta(weeks=12), window_weeks=12)
    assert early.set_index("region_code").loc["370102001000", "gi_z_last"] < 2
    rolling = hotspot_patterns(feats, regs, window_weeks=12, all_weeks=True, value="count")
    assert rolling["week_start"].nunique() == 16 - 12 + 1 and len(rolling) == 25 * 5
    assert hotspot_patterns(feats, regs, window_weeks=20).empty


def test_gold_hotspot_patterns_job(tmp_path):
    from fengqiao.lake import Lake, read_table, write_table
    from jobs.gold import hotspot_patterns as gold_hotspot_patterns

    feats, regs = grid_features(n_weeks=14)
    lake = Lake.at(tmp_path / "lake")
    lake.reference.mkdir(parents=True)
    regs.to_csv(lake.reference / "regions.csv", index=False)
    write_table(feats, lake, "gold", "region_week_features")
    summary = gold_hotspot_patterns.run(lake)
    assert summary["rows"] == 25 * 3 and summary["weeks"] == 3
    table = read_table(lake.gold("hotspot_patterns"))
    assert set(OUTPUT_COLUMNS) <= set(table.columns)
    assert sorted(table["week_start"].unique())[-1] == MONDAY + dt.timedelta(weeks=13)
    assert (tmp_path / "lake" / "gold" / "hotspot_patterns" / f"week_start={MONDAY + dt.timedelta(weeks=13)}").is_dir()
    assert set(table["category"]) <= set(CATEGORIES_ZH)
