"""Backtest: detectors side by side on the same weeks, against the simulator's truth/episodes.csv.

Detectors: ``model`` (gold/risk_scores), ``baseline`` (gold/baseline_scores, EARS C2 as published) and
``ears_c1``, ``ears_c2``, ``ears_c3`` computed here on ``total_contacts`` of gold/region_week_features. All are
evaluated on the weeks present in every available detector (the intersection), townships only.

``baselines`` chooses the detectors computed here: ``DEFAULT_BASELINES`` (EARS C1-C3) or ``ALL_BASELINES``,
which adds ``keyword_rule`` (:mod:`models.keyword_rule`, the hand-written rule over escalation words and
the upstream systems' own warning flags, against the township's 8-week mean: the detector to beat),
``farrington`` (:mod:`models.farrington`, Farrington-flexible on ``total_contacts``), ``persistence``
(:mod:`models.persistence`, this week's count relative to the township's own history) and, when
gold/risk_scores exists, ``model_lag1`` (the model's score of the previous week: "flag who was flagged last
week"). :func:`jobs.training.backtest.backtest` defaults to ``DEFAULT_BASELINES`` so that its output keeps
its columns and rows; pass ``baselines=ALL_BASELINES`` for the full comparison.

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

The alerts of either protocol: :mod:`models.backtest_alerts`; the metrics: :mod:`models.backtest_metrics`.
Reading the lake and ``truth/episodes.csv``: :mod:`jobs.training.backtest`.

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
* ``lead_ceiling_weeks``: the median lead a perfect detector would have on the same episodes and weeks (it
  alerts every escalation in the first week of its build-up; :func:`lead_ceiling_weeks`). At full recall no
  detector's median lead exceeds it; at recall r, only by missing the shortest build-ups.
* ``rule_alarm_lead_weeks`` (when ``keyword_rule`` is among the detectors): the median lead of the keyword +
  signals rule's every alarm, unbudgeted and unguarded (:func:`rule_alarm_lead_weeks`): when the records first
  show a rise a hand-written rule can see. A build-up's first weeks often leave nothing in the records.
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

import numpy as np
import pandas as pd

from models.backtest_alerts import PROTOCOLS, alarm_flags, as_sent_alerts, top_alerts
from models.backtest_metrics import (PROB_HORIZON_WEEKS, episode_outcomes, evaluate_alerts, labelled_rows,
                                     lead_ceiling_weeks, normalised_once, probability_metrics, township_rows)
from models.ears import ears_scores
from models.farrington import farrington_scores
from models.keyword_rule import keyword_rule_scores
from models.levels import MIN_CONTACTS
from models.persistence import lagged_scores, persistence_scores

DEFAULT_BASELINES = ("ears_c1", "ears_c2", "ears_c3")
ALL_BASELINES = ("keyword_rule", "ears_c1", "ears_c2", "ears_c3", "farrington", "persistence", "model_lag1")
# Alert budgets of the recall-against-budget curve (share of townships per week).
CURVE_BUDGETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.10)


def baseline_detectors(features: pd.DataFrame, baselines=ALL_BASELINES,
                       model_scores: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """The baseline detectors named in ``baselines`` on the township rows of ``features``."""
    town = township_rows(features)
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
    episodes = normalised_once(episodes)
    detectors = {k: v for k, v in detectors.items() if v is not None and len(v)}
    if not detectors:
        raise ValueError("no detector has scores to backtest")
    common, data_end = None, None
    for df in detectors.values():
        w = set(pd.to_datetime(township_rows(df)["week_start"]).dt.date)
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
    ceiling = lead_ceiling_weeks(episodes, weeks)
    for name, df in detectors.items():
        d = township_rows(df).copy()
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
                   **evaluate_alerts(alerts, episodes, weeks), "lead_ceiling_weeks": ceiling, **probs}
            if training_window is not None:
                lo, hi = (pd.Timestamp(str(x)).date() for x in training_window)
                row["training_overlap_weeks"] = sum(lo <= w <= hi for w in weeks) if name == "model" else 0
            rows.append(row)
    out = pd.DataFrame(rows)
    if "keyword_rule" in prepared and "alarm" in prepared["keyword_rule"]:
        out["rule_alarm_lead_weeks"] = rule_alarm_lead_weeks(prepared["keyword_rule"], episodes, weeks)
    fa_cols = [c for c in out.columns if c.startswith("fa_")]
    out[fa_cols] = out[fa_cols].fillna(0).astype(int)
    # Probability metrics last: the alert metrics keep their place for readers of older tables.
    tail = [c for c in ("average_precision", "brier", "mean_probability", "observed_rate", "training_overlap_weeks")
            if c in out]
    out = out[[c for c in out.columns if c not in tail] + tail]
    if len(protocols) > 1:  # rows grouped by protocol, detectors in their order within each
        out = out.sort_values("protocol", key=lambda s: s.map(PROTOCOLS.index), kind="stable",
                              ignore_index=True)
    return BacktestRun(out, prepared, weeks, normalised_once(episodes), budget_share, end, min_contacts)


def rule_alarm_lead_weeks(rule: pd.DataFrame, episodes: pd.DataFrame, weeks) -> float:
    """Median lead of the escalations the keyword + signals rule sees when every one of its alarms counts (no
    budget, no small-count guard): how early the records show a rise that a hand-written rule can see. Unlike
    the lead ceiling, which starts at the truth's ``start_week`` whether or not anything is in the records
    yet, this is a reference point a detector can be compared with; a better detector may see more, earlier."""
    outcomes = episode_outcomes(rule.loc[rule["alarm"].eq(True), ["region_code", "week_start"]], episodes, weeks)
    leads = outcomes.loc[outcomes["detected"], "lead_weeks"]
    return float(leads.median()) if len(leads) else float("nan")


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


def backtest_features(features: pd.DataFrame, published: dict[str, pd.DataFrame], episodes: pd.DataFrame,
                      budget_share: float = 0.02, baselines=DEFAULT_BASELINES, first_week=None, last_week=None,
                      training_window: tuple | None = None, protocol: str = "equal_capacity") -> BacktestRun:
    """Backtest the ``published`` detectors (name -> scores: ``model`` for gold/risk_scores, ``baseline`` for
    gold/baseline_scores) beside the ``baselines`` computed from ``features`` (gold/region_week_features):
    from the first warm week (:func:`warm_first_week`), with the features' ``total_contacts`` as the as-sent
    small-count guard and labels known through the features' last week."""
    town = features[features["level"] == "township"]
    detectors = dict(published)
    detectors.update(baseline_detectors(town, baselines, detectors.get("model")))
    first_week = warm_first_week(town, detectors, first_week)
    data_end = pd.to_datetime(town["week_start"]).dt.date.max() if len(town) else None
    contacts = town[["region_code", "week_start", "total_contacts"]] if "total_contacts" in town else None
    return evaluate_detectors(detectors, episodes, budget_share, first_week, last_week, training_window,
                              protocol, contacts, label_end=data_end)


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
