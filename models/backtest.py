"""Backtest: detectors side by side on the same weeks, against the simulator's truth/episodes.csv.

Detectors: ``model`` (gold/risk_scores), ``baseline`` (gold/baseline_scores, EARS C2 as published) and
``ears_c1``, ``ears_c2``, ``ears_c3`` computed here on ``total_contacts`` of gold/region_week_features. All are
evaluated on the weeks present in every available detector (the intersection), townships only.

``baselines`` chooses the detectors computed here: ``DEFAULT_BASELINES`` (EARS C1-C3) or ``ALL_BASELINES``,
which adds ``keyword_rule`` (:mod:`models.keyword_rule`, the hand-written rule over escalation words and
the upstream systems' own warning flags, against the township's 8-week mean: the detector to beat), ``farrington`` (:mod:`models.farrington`, Farrington-flexible on ``total_contacts``),
``persistence`` (:mod:`models.persistence`, this week's count relative to the township's own history) and,
when gold/risk_scores exists, ``model_lag1`` (the model's score of the previous week: "flag who was flagged
last week"). :func:`backtest` defaults to ``DEFAULT_BASELINES`` so that its output keeps its columns and rows;
pass ``baselines=ALL_BASELINES`` for the full comparison.

**Two protocols** (``protocol``: ``"equal_capacity"``, ``"as_sent"`` or ``"both"``; one row per detector and
protocol, named in the ``protocol`` column). In both, a week's alert capacity is
``k = max(1, ceil(budget_share × townships that week))`` (townships the detector scored that week, as in
:func:`models.levels.budget_k`).

* **Equal capacity** (``equal_capacity``, the default): in each week a detector's alerts are its top ``k``
  townships by score (ties by region code), among those with a score above 0 (no evidence, no alert). The
  published ``flagged`` column and the small-count guard are not used: this compares *rankings* at equal
  alert capacity, whatever each detector would really have sent.
* **As sent** (``as_sent``): a detector alerts only where its own standard alarm rule fires, and only
  townships with at least ``MIN_CONTACTS`` records that week (the small-count guard of
  :mod:`models.levels`, applied to every detector alike, from ``total_contacts`` of the features); when more
  than ``k`` fire, the ``k`` highest scores are kept. The rules (``alarm_rule_text``): EARS C1 > 3, C2 > 3,
  C3 > 2 (``models.ears.ALARM_THRESHOLDS``, the CDC conventions; C3 sums the excess of C2 over 1);
  ``baseline``: its published EARS C2 score above 0.5, i.e. C2 > 3; Farrington-flexible: the count above its
  99 % upper bound (``farrington_alarm``, which also carries Farrington's own 4-week small-count guard);
  persistence: the count at least ``models.persistence.ALARM_RATIO`` (2) times the township's usual level;
  ``model``: the published ``flagged`` column of gold/risk_scores (the model's registered alert threshold, the
  guard and the run's budget ``FENGQIAO_ALERT_BUDGET``; a larger ``budget_share`` here cannot add alerts the
  run did not flag); ``model_lag1``: townships the model flagged the previous week. A detector frame may
  also carry its own boolean ``alarm`` column, which then wins. Alerts actually e-mailed also pass the
  alert cool-down (:mod:`jobs.outputs.alerts`); that is not applied here.

Weeks in which EARS C2 cannot yet be computed for most townships (the first 9 weeks of the features) are
left out, so that every detector is warm.

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
  in weeks (0 = alerted only in the peak week). :func:`episode_outcomes` gives each episode's lead.
* ``precision``: alert-weeks falling in ``[start_week, end_week]`` of an escalation episode of the same
  township, divided by all alert-weeks; ``false_alerts`` = the other alert-weeks.
* ``alerts_per_week``: alert-weeks divided by evaluated weeks.
* ``false_alerts_confounder``: alert-weeks in a township covered by a confounder episode (any ``kind`` other
  than ``escalation``) during its ``[start_week, end_week]`` and not inside any escalation episode's
  ``[start_week, end_week]`` of that township. A confounder's region covers townships by code prefix: a
  township (or village) code covers that township, a county code its townships, a city or province code all
  of theirs. ``fa_<kind>`` counts these per confounder kind (an alert-week covered by two kinds counts in
  each; ``false_alerts_confounder`` counts it once).
* ``average_precision`` (every detector) and ``brier`` (detectors named ``model…``, whose score is a
  calibrated probability; NaN for the others): the detector's ``score`` on every township row of the
  evaluated weeks against the 4-week escalation label :func:`models.labels.escalation_targets`
  (``PROB_HORIZON_WEEKS``), average precision from scikit-learn (the area under the precision-recall curve
  of the pooled township-weeks) and the mean squared error of the probability. Only weeks whose horizon
  ends by the last week of the data count: a later week's label is censored (an escalation peaking after
  the drop ends is not in the truth). Both are the same in either protocol (they do not depend on alerts).
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fengqiao.lake import Lake, read_table
from models.ears import ALARM_THRESHOLDS, ears_scores
from models.farrington import farrington_scores
from models.labels import escalation_targets, is_township_or_village, normalise_episodes, read_episodes
from models.levels import MIN_CONTACTS
from models.keyword_rule import ALARM_EXCESS as KEYWORD_EXCESS
from models.keyword_rule import ALARM_RATIO as KEYWORD_RATIO
from models.keyword_rule import keyword_rule_scores
from models.persistence import ALARM_RATIO, lagged_scores, persistence_scores


DEFAULT_BASELINES = ("ears_c1", "ears_c2", "ears_c3")
ALL_BASELINES = ("keyword_rule", "ears_c1", "ears_c2", "ears_c3", "farrington", "persistence", "model_lag1")
PROTOCOLS = ("equal_capacity", "as_sent")
PROB_HORIZON_WEEKS = 4
# Alert budgets of the recall-against-budget curve (share of townships per week).
CURVE_BUDGETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.10)


def alarm_rule_text(name: str) -> str:
    """The as-sent alarm rule of a detector, in words (for the printed table and the report)."""
    if name.startswith("ears_"):
        m = name.split("_", 1)[1].upper()
        return f"EARS {m} statistic > {ALARM_THRESHOLDS[m]:g}"
    return {
        "baseline": f"published EARS C2 score > 0.5 (C2 > {ALARM_THRESHOLDS['C2']:g})",
        "farrington": "count above the 99% upper bound (exceedance > 1; own 4-week small-count guard)",
        "persistence": f"count >= {ALARM_RATIO:g} x the township's usual level",
        "keyword_rule": (f"warning signs >= {KEYWORD_EXCESS:g} above and >= {KEYWORD_RATIO:g} x the township's "
                         "8-week mean (escalation words, 群体性/民转刑 flags, >= 5 parties, failed mediations, "
                         "repeat and returned orders)"),
        "model": "published `flagged` of gold/risk_scores (registered alert threshold, run's budget)",
        "model_lag1": "flagged by the model the week before",
    }.get(name, "its `alarm` column, else its published `flagged`")


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
        elif name == "keyword_rule":
            out[name] = keyword_rule_scores(town)
        elif name == "model_lag1":
            if model_scores is not None and len(model_scores):
                m = model_scores[model_scores["level"] == "township"]
                lag = lagged_scores(m)
                if "flagged" in m:
                    lag["alarm"] = _lagged_flags(m, lag)
                out[name] = lag
        else:
            raise ValueError(f"unknown baseline {name!r}: use one of {ALL_BASELINES}")
    return out


def _lagged_flags(model: pd.DataFrame, lagged: pd.DataFrame) -> np.ndarray:
    """For each row of ``lagged``: was its township flagged by ``model`` one week earlier?"""
    prev = model[["region_code", "week_start", "flagged"]].copy()
    prev["week_start"] = (pd.to_datetime(prev["week_start"]) + pd.Timedelta(weeks=1)).dt.date
    prev["region_code"] = prev["region_code"].astype(str)
    prev["flagged"] = prev["flagged"].eq(True)
    keys = pd.DataFrame({"region_code": lagged["region_code"].astype(str).values,
                         "week_start": pd.to_datetime(lagged["week_start"]).dt.date.values})
    merged = keys.merge(prev, on=["region_code", "week_start"], how="left")
    return merged["flagged"].eq(True).to_numpy()


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


def _townships(scores: pd.DataFrame) -> pd.DataFrame:
    return scores[scores["level"] == "township"] if "level" in scores else scores


def _weekly_k(t: pd.DataFrame, budget_share: float) -> np.ndarray:
    """Alert capacity of each row's week: max(1, ceil(budget_share × townships scored that week))."""
    n = t.groupby("week_start")["region_code"].transform("size")
    return np.maximum(1, np.ceil(budget_share * n.to_numpy() - 1e-9))


def _top_k(t: pd.DataFrame, k: np.ndarray, keep: np.ndarray) -> pd.DataFrame:
    """Rows of ``t`` with ``keep`` among the ``k`` (per row's week) highest scores, ties by region code."""
    t = t.assign(_k=k)[keep]
    t = t.sort_values(["week_start", "score", "region_code"], ascending=[True, False, True])
    rank = t.groupby("week_start").cumcount() + 1
    return t[rank <= t["_k"]][["region_code", "week_start"]].reset_index(drop=True)


def top_alerts(scores: pd.DataFrame, budget_share: float) -> pd.DataFrame:
    """Equal capacity: (region_code, week_start) of each week's top-k townships by score (score > 0)."""
    t = _townships(scores)[["region_code", "week_start", "score"]].copy()
    t["region_code"] = t["region_code"].astype(str)
    t["score"] = pd.to_numeric(t["score"], errors="coerce").fillna(0.0)
    return _top_k(t, _weekly_k(t, budget_share), (t["score"] > 0).to_numpy())


def alarm_flags(name: str, scores: pd.DataFrame) -> np.ndarray:
    """Where detector ``name``'s own alarm rule fires, one bool per row of ``scores`` (see the docstring)."""
    def col(c):
        return pd.to_numeric(scores[c], errors="coerce").to_numpy(dtype=float)

    if "alarm" in scores:
        return scores["alarm"].eq(True).to_numpy()
    if name.startswith("ears_") and "ears_stat" in scores:
        return col("ears_stat") > ALARM_THRESHOLDS[name.split("_", 1)[1].upper()]
    if name == "baseline":
        return col("score") > 0.5
    if name == "farrington" and "farrington_alarm" in scores:
        return scores["farrington_alarm"].eq(True).to_numpy()
    if name == "persistence" and "persistence_ratio" in scores:
        return col("persistence_ratio") >= ALARM_RATIO
    if "flagged" in scores:
        return scores["flagged"].eq(True).to_numpy()
    raise ValueError(f"detector {name!r} has no alarm rule: give its frame a boolean `alarm` column")


def as_sent_alerts(scores: pd.DataFrame, budget_share: float, min_contacts: int = MIN_CONTACTS) -> pd.DataFrame:
    """As sent: (region_code, week_start) where ``scores["alarm"]`` fires and ``total_contacts >= min_contacts``
    (guard skipped when the column is absent), at most the week's top-k of those by score."""
    t = _townships(scores).copy()
    t["region_code"] = t["region_code"].astype(str)
    t["score"] = pd.to_numeric(t["score"], errors="coerce").fillna(0.0)
    keep = t["alarm"].eq(True).to_numpy()
    if "total_contacts" in t:
        keep &= pd.to_numeric(t["total_contacts"], errors="coerce").fillna(0).to_numpy() >= min_contacts
    return _top_k(t[["region_code", "week_start", "score"]], _weekly_k(t, budget_share), keep)


def _normalised(episodes: pd.DataFrame) -> pd.DataFrame:
    """:func:`normalise_episodes` once: curves re-evaluate the same episodes hundreds of times."""
    if episodes.attrs.get("normalised_episodes"):
        return episodes
    out = normalise_episodes(episodes)
    out.attrs["normalised_episodes"] = True
    return out


def _escalations(episodes: pd.DataFrame) -> pd.DataFrame:
    eps = _normalised(episodes)
    esc = eps[(eps["kind"] == "escalation") & eps["region_code"].map(is_township_or_village)].copy()
    esc["township"] = esc["region_code"].str[:9] + "000"
    return esc


def _normalise_alerts(alerts: pd.DataFrame) -> pd.DataFrame:
    return alerts.assign(week_start=pd.to_datetime(alerts["week_start"]).dt.date,
                         region_code=alerts["region_code"].astype(str))


def _week_list(weeks) -> list[dt.date]:
    weeks = list(weeks)
    return sorted(pd.to_datetime(pd.Series(weeks, dtype=object)).dt.date) if weeks else []


def episode_outcomes(alerts: pd.DataFrame, episodes: pd.DataFrame, weeks) -> pd.DataFrame:
    """One row per evaluated escalation episode: ``episode_id, township, start_week, peak_week, detected,
    lead_weeks`` (NaN when not detected); the recall and lead of the module docstring."""
    weeks = _week_list(weeks)
    first, last = (weeks[0], weeks[-1]) if weeks else (None, None)
    alerts = _normalise_alerts(alerts)
    by_town: dict[str, list] = alerts.groupby("region_code")["week_start"].apply(sorted).to_dict()
    rows = []
    for e in _escalations(episodes).itertuples(index=False):
        if first is None or e.peak_week < first or e.start_week > last:
            continue
        hits = [w for w in by_town.get(e.township, []) if e.start_week <= w <= e.peak_week]
        rows.append({"episode_id": e.episode_id, "township": e.township, "start_week": e.start_week,
                     "peak_week": e.peak_week, "detected": bool(hits),
                     "lead_weeks": float((e.peak_week - min(hits)).days // 7) if hits else float("nan")})
    return pd.DataFrame(rows, columns=["episode_id", "township", "start_week", "peak_week", "detected",
                                       "lead_weeks"])


def evaluate_alerts(alerts: pd.DataFrame, episodes: pd.DataFrame, weeks) -> dict:
    """The metrics of the module docstring for one detector's alert-weeks."""
    weeks = _week_list(weeks)
    alerts = _normalise_alerts(alerts)
    eps = _normalised(episodes)
    esc = _escalations(eps)
    conf = eps[eps["kind"] != "escalation"].copy()
    conf["prefix"] = conf["region_code"].map(region_prefix)

    # Recall and lead.
    outcomes = episode_outcomes(alerts, eps, weeks)
    leads = outcomes.loc[outcomes["detected"], "lead_weeks"].to_list()
    n_eps = len(outcomes)

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
        "alerts_per_week": (len(alerts) / len(weeks)) if weeks else float("nan"),
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


def labelled_rows(scores: pd.DataFrame, episodes: pd.DataFrame, weeks, column: str = "score",
                  horizon_weeks: int = PROB_HORIZON_WEEKS, label_end=None) -> tuple[np.ndarray, np.ndarray]:
    """``(p, y)``: ``column`` and the ``horizon_weeks`` escalation label of the township rows of ``weeks``
    whose horizon ends by ``label_end`` (default the last of ``weeks``); rows without a score are left out."""
    weeks = set(_week_list(weeks))
    if not weeks or column not in scores:
        return np.array([]), np.array([])
    end = pd.Timestamp(str(label_end)).date() if label_end is not None else max(weeks)
    t = _townships(scores)
    wk = pd.to_datetime(t["week_start"]).dt.date
    known = wk.map(lambda w: w in weeks and w + dt.timedelta(weeks=horizon_weeks) <= end).to_numpy(dtype=bool)
    t = t[known]
    p = pd.to_numeric(t[column], errors="coerce").to_numpy(dtype=float)
    frame = pd.DataFrame({"region_code": t["region_code"].astype(str).values, "level": "township",
                          "week_start": pd.to_datetime(t["week_start"]).dt.date.values})
    y = escalation_targets(frame, episodes, horizon_weeks).to_numpy(dtype=float)
    ok = ~np.isnan(p)
    return p[ok], y[ok]


def probability_metrics(p: np.ndarray, y: np.ndarray, brier: bool = True) -> dict:
    """``average_precision``, ``brier`` and calibration-in-the-large: ``mean_probability`` against
    ``observed_rate`` (the last three NaN without rows, or with ``brier=False``: a score that is no
    probability has no calibration)."""
    from sklearn.metrics import average_precision_score, brier_score_loss

    has_both = len(y) and 0 < y.sum() < len(y)
    calibrated = bool(brier and len(y))
    return {"average_precision": float(average_precision_score(y, p)) if has_both else float("nan"),
            "brier": float(brier_score_loss(y, np.clip(p, 0, 1))) if calibrated else float("nan"),
            "mean_probability": float(np.mean(np.clip(p, 0, 1))) if calibrated else float("nan"),
            "observed_rate": float(np.mean(y)) if calibrated else float("nan")}


@dataclass
class BacktestRun:
    """Everything one backtest evaluated: its table and what is needed to re-evaluate (curves, plots).

    ``detectors``: township rows of the evaluated weeks per detector, with ``alarm`` (the as-sent rule)
    and ``total_contacts`` when known; ``label_end``: the last week of the data (labels after it are
    censored)."""
    table: pd.DataFrame
    detectors: dict[str, pd.DataFrame]
    weeks: list
    episodes: pd.DataFrame
    budget_share: float
    label_end: dt.date
    min_contacts: int = MIN_CONTACTS
    meta: dict = field(default_factory=dict)

    def alerts(self, name: str, protocol: str, budget_share: float | None = None) -> pd.DataFrame:
        share = self.budget_share if budget_share is None else budget_share
        d = self.detectors[name]
        if protocol == "equal_capacity":
            return top_alerts(d, share)
        if protocol == "as_sent":
            return as_sent_alerts(d, share, self.min_contacts)
        raise ValueError(f"unknown protocol {protocol!r}: use one of {PROTOCOLS}")

    def outcomes(self, name: str, protocol: str) -> pd.DataFrame:
        return episode_outcomes(self.alerts(name, protocol), self.episodes, self.weeks)


def _protocols(protocol: str) -> tuple[str, ...]:
    protocol = protocol.replace("-", "_")
    if protocol == "both":
        return PROTOCOLS
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}: use equal_capacity, as_sent or both")
    return (protocol,)


def evaluate_detectors(detectors: dict[str, pd.DataFrame], episodes: pd.DataFrame,
                       budget_share: float = 0.02, first_week=None, last_week=None,
                       training_window: tuple | None = None, protocol: str = "equal_capacity",
                       contacts: pd.DataFrame | None = None, min_contacts: int = MIN_CONTACTS,
                       label_end=None) -> BacktestRun:
    """Compare detectors (name -> frame with region_code, level, week_start, score) on their common weeks
    (optionally only weeks in ``[first_week, last_week]``) under ``protocol``.

    ``contacts`` (region_code, week_start, total_contacts) feeds the as-sent small-count guard; without it a
    frame's own ``total_contacts`` is used, and without that the guard is skipped. ``label_end``: the last
    week of the data (default the last week any detector scored)."""
    protocols = _protocols(protocol)
    episodes = _normalised(episodes)
    detectors = {k: v for k, v in detectors.items() if v is not None and len(v)}
    if not detectors:
        raise ValueError("no detector has scores to backtest")
    common, data_end = None, None
    for df in detectors.values():
        w = set(pd.to_datetime(_townships(df)["week_start"]).dt.date)
        common = w if common is None else common & w
        data_end = max(w) if data_end is None else max(data_end, max(w, default=data_end))
    if first_week is not None:
        common = {w for w in common if w >= pd.Timestamp(str(first_week)).date()}
    if last_week is not None:
        common = {w for w in common if w <= pd.Timestamp(str(last_week)).date()}
    if not common:
        raise ValueError("the detectors share no week to backtest")
    weeks = sorted(common)
    end = pd.Timestamp(str(label_end)).date() if label_end is not None else data_end
    if contacts is not None:
        contacts = contacts[["region_code", "week_start", "total_contacts"]].assign(
            region_code=contacts["region_code"].astype(str),
            week_start=pd.to_datetime(contacts["week_start"]).dt.date).drop_duplicates(["region_code", "week_start"])

    prepared: dict[str, pd.DataFrame] = {}
    rows = []
    for name, df in detectors.items():
        d = _townships(df).copy()
        d["week_start"] = pd.to_datetime(d["week_start"]).dt.date
        d["region_code"] = d["region_code"].astype(str)
        d = d[d["week_start"].isin(common)].reset_index(drop=True)
        try:
            d["alarm"] = alarm_flags(name, d)
        except ValueError:
            if "as_sent" in protocols:
                raise
        if contacts is not None:
            d = d.drop(columns=["total_contacts"], errors="ignore").merge(
                contacts, on=["region_code", "week_start"], how="left")
        prepared[name] = d
        version = str(d["model_version"].iloc[0]) if "model_version" in d and len(d) else name
        p, y = labelled_rows(d, episodes, weeks, "score", PROB_HORIZON_WEEKS, end)
        probs = probability_metrics(p, y, brier=name.startswith("model"))
        for proto in protocols:
            alerts = top_alerts(d, budget_share) if proto == "equal_capacity" else \
                as_sent_alerts(d, budget_share, min_contacts)
            row = {"detector": name, "protocol": proto, "model_version": version,
                   **evaluate_alerts(alerts, episodes, weeks), **probs}
            if training_window is not None:
                lo, hi = (pd.Timestamp(str(x)).date() for x in training_window)
                row["training_overlap_weeks"] = sum(lo <= w <= hi for w in weeks) if name == "model" else 0
            rows.append(row)
    out = pd.DataFrame(rows)
    fa_cols = [c for c in out.columns if c.startswith("fa_")]
    out[fa_cols] = out[fa_cols].fillna(0).astype(int)
    # Probability metrics last: the alert metrics keep their place for readers of older tables.
    tail = [c for c in ("average_precision", "brier", "mean_probability", "observed_rate", "training_overlap_weeks")
            if c in out]
    out = out[[c for c in out.columns if c not in tail] + tail]
    if len(protocols) > 1:  # rows grouped by protocol, detectors in their order within each
        out = out.sort_values("protocol", key=lambda s: s.map(PROTOCOLS.index), kind="stable",
                              ignore_index=True)
    return BacktestRun(out, prepared, weeks, _normalised(episodes), budget_share, end, min_contacts)


def backtest_frames(detectors: dict[str, pd.DataFrame], episodes: pd.DataFrame,
                    budget_share: float = 0.02, first_week=None, last_week=None,
                    training_window: tuple | None = None, protocol: str = "equal_capacity",
                    contacts: pd.DataFrame | None = None, min_contacts: int = MIN_CONTACTS) -> pd.DataFrame:
    """The table of :func:`evaluate_detectors` (one row per detector and protocol)."""
    return evaluate_detectors(detectors, episodes, budget_share, first_week, last_week, training_window,
                              protocol, contacts, min_contacts).table


def recall_by_budget(run: BacktestRun, budgets=CURVE_BUDGETS, protocols=PROTOCOLS) -> pd.DataFrame:
    """Recall, precision and alerts per week of every detector at each alert budget, per protocol."""
    rows = []
    for proto in protocols:
        for name in run.detectors:
            for b in budgets:
                m = evaluate_alerts(run.alerts(name, proto, b), run.episodes, run.weeks)
                rows.append({"detector": name, "protocol": proto, "budget": float(b), "recall": m["recall"],
                             "precision": m["precision"], "alerts_per_week": m["alerts_per_week"]})
    return pd.DataFrame(rows)


def _training_window(model_dir: Path | None) -> tuple | None:
    if model_dir is None:
        return None
    import json
    pointer = Path(model_dir) / "current.json"
    if not pointer.exists():
        return None
    version = json.loads(pointer.read_text(encoding="utf-8"))["model_version"]
    meta = json.loads((Path(model_dir) / f"{version}.json").read_text(encoding="utf-8"))
    window = meta.get("training_window") or {}
    if window.get("first_week") and window.get("last_week"):
        return (window["first_week"], window["last_week"])
    return None


def warm_first_week(town: pd.DataFrame, detectors: dict, first_week=None):
    """The first week in which EARS C2 is defined for at least half the townships (every detector is warm),
    or ``first_week`` when that is later. Uses the detectors' ``ears_c2`` frame when there is one."""
    c2 = detectors["ears_c2"] if "ears_c2" in detectors else ears_scores(town, method="C2")
    warm = c2.groupby("week_start")["ears_stat"].apply(lambda s: s.notna().mean() >= 0.5)
    warm_weeks = sorted(w for w, ok in warm.items() if ok)
    if not warm_weeks:
        return first_week
    start = pd.Timestamp(str(warm_weeks[0])).date()
    return max(start, pd.Timestamp(str(first_week)).date()) if first_week is not None else start


def backtest_run(lake: Lake, truth_dir: Path, budget_share: float = 0.02, first_week=None, last_week=None,
                 model_dir: Path | None = None, baselines=DEFAULT_BASELINES,
                 protocol: str = "equal_capacity") -> BacktestRun:
    """:func:`backtest`, returning the whole :class:`BacktestRun` (for curves and the report)."""
    training_window = _training_window(model_dir)
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
    first_week = warm_first_week(town, detectors, first_week)
    data_end = pd.to_datetime(town["week_start"]).dt.date.max() if len(town) else None
    contacts = town[["region_code", "week_start", "total_contacts"]] if "total_contacts" in town else None
    run = evaluate_detectors(detectors, episodes, budget_share, first_week, last_week, training_window,
                             protocol, contacts, label_end=data_end)
    run.meta.update(lake=str(lake.root), truth=str(truth_dir), baselines=list(baselines))
    return run


def backtest(lake: Lake, truth_dir: Path, budget_share: float = 0.02, first_week=None, last_week=None,
             model_dir: Path | None = None, baselines=DEFAULT_BASELINES,
             protocol: str = "equal_capacity") -> pd.DataFrame:
    """Backtest every available detector of ``lake`` against ``truth_dir/episodes.csv`` (one row per detector
    and protocol).

    ``baselines``: the detectors computed from the features (``DEFAULT_BASELINES`` or ``ALL_BASELINES``);
    EARS C2 is always computed, to find the warm weeks, but only reported when named. ``protocol``:
    ``equal_capacity`` (default), ``as_sent`` or ``both``."""
    return backtest_run(lake, truth_dir, budget_share, first_week, last_week, model_dir, baselines,
                        protocol).table


def _fmt(v, spec: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    return format(v, spec)


def format_backtest(df: pd.DataFrame) -> str:
    """A readable fixed-width table of :func:`backtest`'s result (one block per protocol)."""
    blocks = []
    protocols = list(dict.fromkeys(df["protocol"])) if "protocol" in df and len(df) else [None]
    for proto in protocols:
        part = df[df["protocol"] == proto] if proto is not None else df
        shown = part.drop(columns=["protocol"], errors="ignore").copy()
        for col, spec in (("recall", ".0%"), ("precision", ".0%"), ("median_lead_weeks", ".1f"),
                          ("alerts_per_week", ".1f"), ("average_precision", ".3f"), ("brier", ".4f")):
            if col in shown:
                shown[col] = shown[col].map(lambda v, s=spec: _fmt(v, s))
        weeks = int(part["weeks"].iloc[0]) if len(part) else 0
        if proto == "as_sent":
            what = ("alerts = where each detector's own alarm rule fires (small-count guard), "
                    "at most the top share of townships per week")
        else:
            what = "alerts = top share of townships per week"
        label = f" [{proto.replace('_', ' ')}]" if proto else ""
        blocks.append(f"Backtest{label}: {weeks} common weeks, {what}\n" + shown.to_string(index=False))
    return "\n\n".join(blocks)
