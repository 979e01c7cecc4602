"""Backtest metrics of one detector's alert-weeks, and of its scores as probabilities, against the truth.

Every figure is defined in :mod:`models.backtest` ("Definitions"): recall and lead per episode
(:func:`episode_outcomes`), precision and false alerts on confounders (:func:`evaluate_alerts`), average
precision and Brier score of the scores on the 4-week escalation label (:func:`labelled_rows`,
:func:`probability_metrics`).
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss

from models.labels import escalation_targets, is_township_or_village, normalise_episodes

PROB_HORIZON_WEEKS = 4


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


def township_rows(scores: pd.DataFrame) -> pd.DataFrame:
    """The township rows of a detector's frame (all rows when it has no ``level``)."""
    return scores[scores["level"] == "township"] if "level" in scores else scores


def normalised_once(episodes: pd.DataFrame) -> pd.DataFrame:
    """:func:`normalise_episodes` once: curves re-evaluate the same episodes hundreds of times."""
    if episodes.attrs.get("normalised_episodes"):
        return episodes
    out = normalise_episodes(episodes)
    out.attrs["normalised_episodes"] = True
    return out


def township_escalations(episodes: pd.DataFrame) -> pd.DataFrame:
    """The escalation episodes of townships and villages, each with its ``township`` (a village's counts for it)."""
    eps = normalised_once(episodes)
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
    for e in township_escalations(episodes).itertuples(index=False):
        if first is None or e.peak_week < first or e.start_week > last:
            continue
        hits = [w for w in by_town.get(e.township, []) if e.start_week <= w <= e.peak_week]
        rows.append({"episode_id": e.episode_id, "township": e.township, "start_week": e.start_week,
                     "peak_week": e.peak_week, "detected": bool(hits),
                     "lead_weeks": float((e.peak_week - min(hits)).days // 7) if hits else float("nan")})
    return pd.DataFrame(rows, columns=["episode_id", "township", "start_week", "peak_week", "detected",
                                       "lead_weeks"])


def possible_leads(episodes: pd.DataFrame, weeks) -> np.ndarray:
    """Each evaluated escalation's lead under a perfect detector: one that alerts it in the first week of its
    build-up (``start_week``, or the first evaluated week when the build-up began before it). No detector
    that reads a week's data can warn earlier; a flare whose peak is its first week has 0 whatever detects it."""
    weeks = _week_list(weeks)
    if not weeks:
        return np.array([], dtype=float)
    esc = township_escalations(episodes)
    # the episodes :func:`episode_outcomes` evaluates, each alerted in its first evaluated build-up week
    esc = esc[(esc["peak_week"] >= weeks[0]) & (esc["start_week"] <= weeks[-1])]
    leads = [(peak - max(start, weeks[0])).days // 7 for start, peak in zip(esc["start_week"], esc["peak_week"])]
    return np.array(leads, dtype=float)


def lead_ceiling_weeks(episodes: pd.DataFrame, weeks) -> float:
    """The median of :func:`possible_leads`: a perfect detector's median lead at full recall. A detector that
    finds a share r of the episodes can pass it only by missing the shortest build-ups, and then reaches at
    most their (1 - r/2) quantile."""
    leads = possible_leads(episodes, weeks)
    return float(np.median(leads)) if len(leads) else float("nan")


def evaluate_alerts(alerts: pd.DataFrame, episodes: pd.DataFrame, weeks) -> dict:
    """The metrics of the module docstring for one detector's alert-weeks."""
    weeks = _week_list(weeks)
    alerts = _normalise_alerts(alerts)
    eps = normalised_once(episodes)
    esc = township_escalations(eps)
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
    t = township_rows(scores)
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
    has_both = len(y) and 0 < y.sum() < len(y)
    calibrated = bool(brier and len(y))
    return {"average_precision": float(average_precision_score(y, p)) if has_both else float("nan"),
            "brier": float(brier_score_loss(y, np.clip(p, 0, 1))) if calibrated else float("nan"),
            "mean_probability": float(np.mean(np.clip(p, 0, 1))) if calibrated else float("nan"),
            "observed_rate": float(np.mean(y)) if calibrated else float("nan")}
