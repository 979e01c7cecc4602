"""Backtest: detectors side by side on the same weeks, against the simulator's truth/episodes.csv.

Detectors: ``model`` (gold/risk_scores), ``baseline`` (gold/baseline_scores, EARS C2 as published) and
``ears_c1``, ``ears_c2``, ``ears_c3`` computed here on ``total_contacts`` of gold/region_week_features. All are
evaluated on the weeks present in every available detector (the intersection), townships only.

``baselines`` chooses the detectors computed here: ``DEFAULT_BASELINES`` (EARS C1-C3) or ``ALL_BASELINES``,
which adds ``farrington`` (:mod:`models.farrington`, Farrington-flexible on ``total_contacts``),
``persistence`` (:mod:`models.persistence`, this week's count relative to the township's own history) and,
when gold/risk_scores exists, ``model_lag1`` (the model's score of the previous week: "flag who was flagged
last week"). :func:`backtest` defaults to ``DEFAULT_BASELINES`` so that its output keeps its columns and rows;
pass ``baselines=ALL_BASELINES`` for the full comparison.

**Alerts.** Every detector gets the same budget: in each week its alerts are the top
``k = max(1, ceil(budget_share × townships that week))`` townships by score (ties by region code), among
those with a score above 0 (no evidence, no alert). Weeks in which EARS C2 cannot yet be computed for most
townships (the first 9 weeks of the features) are left out, so that every detector is warm. The published ``flagged`` column (which adds the small-count guard
and score floor) is not used, so the comparison is of rankings at equal alert capacity.

**In-sample caution.** A model scored on the very weeks it was trained on looks better than it is. Score a
lake the model has not seen (another simulated seed) or pass ``first_week`` after its training window; with
``model_dir`` the result reports ``training_overlap_weeks``, the evaluated weeks inside the current model's
training window.

**Definitions** (weeks are Monday dates; an episode's township is ``township_of(region_code)``):

* ``episodes``: escalation episodes (of a township or village) whose ``[start_week, peak_week]`` overlaps the
  evaluated weeks.
* ``detected``: an episode is detected when its township is alerted in some week of ``[start_week, peak_week]``;
  ``recall = detected / episodes``.
* ``median_lead_weeks``: over detected episodes, median of ``peak_week - first alert week in that window``
  in weeks (0 = alerted only in the peak week).
* ``precision``: alert-weeks falling in ``[start_week, end_week]`` of an escalation episode of the same
  township, divided by all alert-weeks; ``false_alerts`` = the other alert-weeks.
* ``false_alerts_confounder``: alert-weeks in a township covered by a confounder episode (any ``kind`` other
  than ``escalation``) during its ``[start_week, end_week]`` and not inside any escalation episode's
  ``[start_week, end_week]`` of that township. A confounder's region covers townships by code prefix: a
  township (or village) code covers that township, a county code its townships, a city or province code all
  of theirs. ``fa_<kind>`` counts these per confounder kind (an alert-week covered by two kinds counts in
  each; ``false_alerts_confounder`` counts it once).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from fengqiao.lake import Lake, read_table
from models.ears import ears_scores
from models.farrington import farrington_scores
from models.labels import is_township_or_village, normalise_episodes, read_episodes
from models.persistence import lagged_scores, persistence_scores


DEFAULT_BASELINES = ("ears_c1", "ears_c2", "ears_c3")
ALL_BASELINES = ("ears_c1", "ears_c2", "ears_c3", "farrington", "persistence", "model_lag1")


def baseline_detectors(features: pd.DataFrame, baselines=ALL_BASELINES,
                       model_scores: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """The baseline detectors named in ``baselines`` on the township rows of ``features``."""
    town = features[features["level"] == "township"] if "level" in features else features
    out: dict[str, pd.DataFrame] = {}
    for name in baselines:
        if name.startswith("ears_"):
            out[name] = ears_scores(town, method=name.split("_", 1)[1].upper())
        elif name == "farrington":
            out[name] = farrington_scores(town)
        elif name == "persistence":
            out[name] = persistence_scores(town)
        elif name == "model_lag1":
            if model_scores is not None and len(model_scores):
                out[name] = lagged_scores(model_scores[model_scores["level"] == "township"])
        else:
            raise ValueError(f"unknown baseline {name!r}: use one of {ALL_BASELINES}")
    return out


def region_prefix(code: str) -> str:
    """Code prefix of the townships a region covers (village codes cover their township)."""
    code = str(code)
    if code[2:] == "0" * 10:
        return code[:2]
    if code[4:] == "0" * 8:
        return code[:4]
    if code[6:] == "0" * 6:
        return code[:6]
    return code[:9]


def top_alerts(scores: pd.DataFrame, budget_share: float) -> pd.DataFrame:
    """(region_code, week_start) of each week's top-k townships by score."""
    t = scores[scores["level"] == "township"] if "level" in scores else scores
    t = t[["region_code", "week_start", "score"]].copy()
    t = t[pd.to_numeric(t["score"], errors="coerce").fillna(0) > 0]
    t["region_code"] = t["region_code"].astype(str)
    t = t.sort_values(["week_start", "score", "region_code"], ascending=[True, False, True])
    t["rank"] = t.groupby("week_start").cumcount() + 1
    n = t.groupby("week_start")["region_code"].transform("size")
    k = np.maximum(1, np.ceil(budget_share * n - 1e-9))
    return t[t["rank"] <= k][["region_code", "week_start"]].reset_index(drop=True)


def evaluate_alerts(alerts: pd.DataFrame, episodes: pd.DataFrame, weeks) -> dict:
    """The metrics of the module docstring for one detector's alert-weeks."""
    weeks = sorted(pd.to_datetime(pd.Series(list(weeks))).dt.date)
    first, last = (weeks[0], weeks[-1]) if weeks else (None, None)
    alerts = alerts.assign(week_start=pd.to_datetime(alerts["week_start"]).dt.date,
                           region_code=alerts["region_code"].astype(str))
    by_town: dict[str, list] = alerts.groupby("region_code")["week_start"].apply(sorted).to_dict()
    eps = normalise_episodes(episodes)
    esc = eps[(eps["kind"] == "escalation") & eps["region_code"].map(is_township_or_village)].copy()
    esc["township"] = esc["region_code"].str[:9] + "000"
    conf = eps[eps["kind"] != "escalation"].copy()
    conf["prefix"] = conf["region_code"].map(region_prefix)

    # Recall and lead.
    n_eps, leads = 0, []
    for e in esc.itertuples(index=False):
        if first is None or e.peak_week < first or e.start_week > last:
            continue
        n_eps += 1
        hits = [w for w in by_town.get(e.township, []) if e.start_week <= w <= e.peak_week]
        if hits:
            leads.append((e.peak_week - min(hits)).days // 7)

    # Precision and false alerts on confounders.
    in_esc = np.zeros(len(alerts), dtype=bool)
    for e in esc.itertuples(index=False):
        in_esc |= ((alerts["region_code"] == e.township) & (alerts["week_start"] >= e.start_week)
                   & (alerts["week_start"] <= e.end_week)).to_numpy()
    kinds = sorted(conf["kind"].unique())
    per_kind = {k: np.zeros(len(alerts), dtype=bool) for k in kinds}
    for c in conf.itertuples(index=False):
        per_kind[c.kind] |= (alerts["region_code"].str.startswith(c.prefix) & (alerts["week_start"] >= c.start_week)
                             & (alerts["week_start"] <= c.end_week)).to_numpy()
    any_conf = np.zeros(len(alerts), dtype=bool)
    for m in per_kind.values():
        any_conf |= m
    out = {
        "weeks": len(weeks),
        "alerts": int(len(alerts)),
        "episodes": n_eps,
        "detected": len(leads),
        "recall": (len(leads) / n_eps) if n_eps else float("nan"),
        "median_lead_weeks": float(np.median(leads)) if leads else float("nan"),
        "precision": float(in_esc.mean()) if len(alerts) else float("nan"),
        "false_alerts": int((~in_esc).sum()),
        "false_alerts_confounder": int((any_conf & ~in_esc).sum()),
    }
    for k in kinds:
        out[f"fa_{k}"] = int((per_kind[k] & ~in_esc).sum())
    return out


def backtest_frames(detectors: dict[str, pd.DataFrame], episodes: pd.DataFrame,
                    budget_share: float = 0.02, first_week=None, last_week=None,
                    training_window: tuple | None = None) -> pd.DataFrame:
    """Compare detectors (name -> frame with region_code, level, week_start, score) on their common weeks
    (optionally only weeks in ``[first_week, last_week]``)."""
    detectors = {k: v for k, v in detectors.items() if v is not None and len(v)}
    if not detectors:
        raise ValueError("no detector has scores to backtest")
    common = None
    for df in detectors.values():
        w = set(pd.to_datetime(df["week_start"]).dt.date)
        common = w if common is None else common & w
    if first_week is not None:
        common = {w for w in common if w >= pd.Timestamp(str(first_week)).date()}
    if last_week is not None:
        common = {w for w in common if w <= pd.Timestamp(str(last_week)).date()}
    if not common:
        raise ValueError("the detectors share no week to backtest")
    weeks = sorted(common)
    rows = []
    for name, df in detectors.items():
        d = df.assign(week_start=pd.to_datetime(df["week_start"]).dt.date)
        d = d[d["week_start"].isin(common)]
        version = str(d["model_version"].iloc[0]) if "model_version" in d and len(d) else name
        row = {"detector": name, "model_version": version,
               **evaluate_alerts(top_alerts(d, budget_share), episodes, weeks)}
        if training_window is not None:
            lo, hi = (pd.Timestamp(str(x)).date() for x in training_window)
            row["training_overlap_weeks"] = sum(lo <= w <= hi for w in weeks) if name == "model" else 0
        rows.append(row)
    out = pd.DataFrame(rows)
    fa_cols = [c for c in out.columns if c.startswith("fa_")]
    out[fa_cols] = out[fa_cols].fillna(0).astype(int)
    return out


def backtest(lake: Lake, truth_dir: Path, budget_share: float = 0.02, first_week=None, last_week=None,
             model_dir: Path | None = None, baselines=DEFAULT_BASELINES) -> pd.DataFrame:
    """Backtest every available detector of ``lake`` against ``truth_dir/episodes.csv`` (one row per detector).

    ``baselines``: the detectors computed from the features (``DEFAULT_BASELINES`` or ``ALL_BASELINES``);
    EARS C2 is always computed, to find the warm weeks, but only reported when named."""
    training_window = None
    if model_dir is not None:
        import json
        pointer = Path(model_dir) / "current.json"
        if pointer.exists():
            version = json.loads(pointer.read_text(encoding="utf-8"))["model_version"]
            meta = json.loads((Path(model_dir) / f"{version}.json").read_text(encoding="utf-8"))
            window = meta.get("training_window") or {}
            if window.get("first_week") and window.get("last_week"):
                training_window = (window["first_week"], window["last_week"])
    episodes = read_episodes(Path(truth_dir) / "episodes.csv")
    detectors: dict[str, pd.DataFrame] = {}
    for name, table in (("model", "risk_scores"), ("baseline", "baseline_scores")):
        try:
            detectors[name] = read_table(lake.gold(table))
        except FileNotFoundError:
            pass
    features = read_table(lake.gold("region_week_features"))
    town = features[features["level"] == "township"]
    detectors.update(baseline_detectors(town, baselines, detectors.get("model")))
    c2 = detectors["ears_c2"] if "ears_c2" in detectors else ears_scores(town, method="C2")
    warm = c2.groupby("week_start")["ears_stat"].apply(lambda s: s.notna().mean() >= 0.5)
    warm_weeks = sorted(w for w, ok in warm.items() if ok)
    if warm_weeks:
        start = pd.Timestamp(str(warm_weeks[0])).date()
        first_week = max(start, pd.Timestamp(str(first_week)).date()) if first_week is not None else start
    return backtest_frames(detectors, episodes, budget_share, first_week, last_week, training_window)


def format_backtest(df: pd.DataFrame) -> str:
    """A readable fixed-width table of :func:`backtest`'s result."""
    shown = df.copy()
    for col in ("recall", "precision"):
        if col in shown:
            shown[col] = shown[col].map(lambda v: "—" if v is None or (isinstance(v, float) and math.isnan(v))
                                        else f"{v:.0%}")
    if "median_lead_weeks" in shown:
        shown["median_lead_weeks"] = shown["median_lead_weeks"].map(
            lambda v: "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1f}")
    header = (f"Backtest: {int(df['weeks'].iloc[0]) if len(df) else 0} common weeks, alerts = top share of "
              f"townships per week")
    return header + "\n" + shown.to_string(index=False)
