"""gold/risk_scores (the registered escalation model) and gold/baseline_scores (EARS C2): townships, and the
counties, cities and province above them (derived from their townships' probabilities, :mod:`models.levels`).

Reads gold/region_week_features and the current model of the registry (``FENGQIAO_MODEL_DIR``); never reads
``truth/``. Each week's flags follow :func:`models.levels.assign_levels` (alert budget
``FENGQIAO_ALERT_BUDGET``, small-count guard, colour thresholds); flagged regions get reasons from
:mod:`models.reasons`. Regions of a county whose feed had an outage that week in gold/feed_health keep their
score but get ``data_gap`` and a 数据中断 reason (:func:`jobs.gold.feed_health.mark_outages`), applied to every
week of a table right before its one write (:mod:`jobs.gold.score_marks`). Both tables have exactly the
columns of ``fengqiao.core.schemas.RISK_SCORES_PUBLISHED`` (``RISK_SCORES`` plus ``data_gap``).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as ds

from fengqiao.lake import (Lake, clean_stale_staging, partition_fingerprints, read_table, recover_interrupted_publish,
                           tree_fingerprint, week_of_partition)
from fengqiao.lake.markers import read_inputs, write_inputs
from fengqiao.core.weeks import week_start as monday_of
from jobs.gold.feed_health import read_feed_health
from jobs.gold.score_marks import TABLES, finish, outage_fingerprints, publish_weeks, remark_scores
from models.ears import ALARM_THRESHOLDS, BASELINE_WEEKS, GUARD_WEEKS, ears_scores
from models.score_frame import RISK_SCORE_COLUMNS
from models.escalation import predict_horizons, predict_proba, with_context
from models.keyword_rule import keyword_rule_scores
from models.levels import AGGREGATE_LEVELS, DEFAULT_BUDGET_SHARE, SCORE_FLOOR, assign_levels
from models.reasons import HISTORY_WEEKS, MAX_REASONS, explain_frame
from models.registry import load_current

BASELINE_METHOD = "C2"
# Weeks of features before a scored week that its scores depend on: the reasons' means of the previous
# HISTORY_WEEKS weeks, and EARS' baseline (guard weeks + BASELINE_WEEKS, two more for C3). A run that
# scores some weeks reads only these weeks of features before them, so a weekly run reads the same
# amount at year 3 as at year 1 (the features grid has a row for every region and week, so the previous
# N rows of a region are its previous N weeks).
LOOKBACK_WEEKS = max(HISTORY_WEEKS, 1 + max(GUARD_WEEKS.values()) + BASELINE_WEEKS + 2)


def _reasons_with_lead(features_df: pd.DataFrame, lead_of=None):
    """Reasons for flagged rows (``models.reasons.explain_frame`` over ``features_df``); where ``lead_of(rows)``
    gives a row a text (the EARS statistic, the keyword rule's alarm), that text comes first and the row keeps
    its MAX_REASONS - 1 strongest findings. A row with neither gets the summary fallback."""
    def fn(rows: pd.DataFrame) -> list[list[str]]:
        leads = lead_of(rows) if lead_of is not None else [None] * len(rows)
        produced = explain_frame(rows, features_df, fallback=False)
        out = [[lead] + r[:MAX_REASONS - 1] if isinstance(lead, str) else r for lead, r in zip(leads, produced)]
        empty = [j for j, r in enumerate(out) if not r]
        if empty:
            for j, r in zip(empty, explain_frame(rows.iloc[empty], features_df)):
                out[j] = r
        return out
    return fn


def keyword_rule_alarms(features_df: pd.DataFrame) -> pd.DataFrame:
    """The keyword + signals rule on every township row of ``features_df`` (its own history as the usual
    level): ``region_code, week_start, corroborated`` (the rule's alarm) and the reason it gives."""
    rule = keyword_rule_scores(features_df)
    reason = [f"预警信号（升级用语、群体性/民转刑标记、5人以上案件、调解不成功、重复及退回工单）本周{s:.0f}条，"
              f"前8周平均{u:.1f}条，翻倍以上" if a else None
              for s, u, a in zip(rule["warning_signs"], rule["usual_signs"], rule["alarm"])]
    return pd.DataFrame({"region_code": rule["region_code"].astype(str).to_numpy(),
                         "week_start": pd.to_datetime(rule["week_start"]).dt.date.to_numpy(),
                         "corroborated": rule["alarm"].to_numpy(dtype=bool), "rule_reason": reason})


def _rule_reason_of(town: pd.DataFrame):
    """``lead_of`` for :func:`_reasons_with_lead`: the keyword rule's reason of a corroborated township-week (why
    a lower floor applied), else None."""
    rule_reason = dict(zip(zip(town["region_code"], town["week_start"]), town["rule_reason"]))
    return lambda rows: [rule_reason.get(key) for key in zip(rows["region_code"], rows["week_start"])]


def _named_regions_above(features_df: pd.DataFrame) -> pd.DataFrame:
    """Rows of the counties, cities and province: they lend their names to the rows aggregated from townships."""
    above = features_df[features_df["level"].isin(list(AGGREGATE_LEVELS))]
    return above[["region_code", "level", "week_start", "county_code", "region_name"]]


def _prepare(features_df: pd.DataFrame) -> pd.DataFrame:
    f = features_df.copy()
    f["region_code"] = f["region_code"].astype(str)
    if "county_code" not in f:
        f["county_code"] = f["region_code"].str[:6] + "000000"
    f["county_code"] = f["county_code"].astype(str)
    f["week_start"] = pd.to_datetime(f["week_start"]).dt.date
    if "region_name" not in f:
        f["region_name"] = None
    return f.reset_index(drop=True)


def alert_threshold(metadata: dict) -> float:
    """The model's registered alert threshold (see :mod:`models.levels`); ``SCORE_FLOOR`` for older models."""
    t = (metadata.get("alert_threshold") or {}).get("threshold") if isinstance(metadata.get("alert_threshold"),
                                                                                dict) else None
    try:
        return max(SCORE_FLOOR, float(t)) if t is not None else SCORE_FLOOR
    except (TypeError, ValueError):
        return SCORE_FLOOR


def score_features(features_df: pd.DataFrame, model, metadata: dict,
                   budget_share: float = DEFAULT_BUDGET_SHARE, weeks=None) -> pd.DataFrame:
    """Score every township row with ``model``, flag and colour, aggregate counties: a risk_scores frame.

    ``weeks`` (optional iterable of dates) restricts the output to those weeks; all rows of
    ``features_df`` still serve as history for the reasons. ``score`` is the model's default (4-week)
    probability; ``score_h1/h2/h4`` come from a multi-horizon model (null for an older single model, except
    ``score_h4`` = ``score`` when that model's horizon is 4 weeks). Flags need twice the model's alert threshold,
    or half of it where the keyword + signals rule alarms (:mod:`models.levels`, "Two kinds of evidence").
    """
    f = _prepare(features_df)
    # Context features (township against its county and city that week) for the model and the reasons.
    f = with_context(f)
    target = f if weeks is None else f[f["week_start"].isin(set(weeks))]
    town = target[target["level"] == "township"]
    p = predict_proba(model, town, metadata.get("feature_columns"))
    by_horizon = predict_horizons(model, town, metadata.get("feature_columns"))
    if not by_horizon and int(metadata.get("horizon_weeks", 4) or 4) == 4:
        by_horizon = {4: p}
    scores = pd.DataFrame({
        "region_code": town["region_code"].values, "level": "township", "week_start": town["week_start"].values,
        "score": p, "county_code": town["county_code"].values, "region_name": town["region_name"].values,
        "total_contacts": town["total_contacts"].values if "total_contacts" in town else 0,
        "model_version": str(metadata.get("model_version", "unknown")),
        **{f"score_h{h}": by_horizon.get(h, np.full(len(town), np.nan)) for h in (1, 2, 4)},
    })
    # The keyword rule corroborates (lower floor, models.levels): computed on all rows, the look-back included.
    scores = scores.merge(keyword_rule_alarms(f[f["level"] == "township"]), how="left", on=["region_code", "week_start"])
    scores["corroborated"] = scores["corroborated"].eq(True)
    reasons_fn = _reasons_with_lead(f, _rule_reason_of(scores))
    scores = pd.concat([scores, _named_regions_above(target).assign(score=0.0)], ignore_index=True)
    return finish(assign_levels(scores, budget_share=budget_share, score_floor=alert_threshold(metadata),
                                 reasons_fn=reasons_fn))


def baseline_features(features_df: pd.DataFrame, budget_share: float = DEFAULT_BUDGET_SHARE,
                      method: str = BASELINE_METHOD, weeks=None) -> pd.DataFrame:
    """EARS scores (default C2 on total_contacts) with the same flags, colours, counties and reasons."""
    f = _prepare(features_df)
    town_all = f[f["level"] == "township"]
    ears = ears_scores(town_all, method=method)          # EARS needs the full history of each township
    ears["_row"] = range(len(ears))
    if weeks is not None:
        ears = ears[pd.Series(ears["week_start"]).isin(set(weeks)).to_numpy()]
    thr = ALARM_THRESHOLDS[method.upper()]
    lead = {i: f"EARS {method.upper()}统计量为{s:.1f}（报警阈值{thr:g}）"
            for i, s in zip(ears["_row"], ears["ears_stat"]) if pd.notna(s)}
    target = f if weeks is None else f[f["week_start"].isin(set(weeks))]
    scores = pd.concat([ears, _named_regions_above(target).assign(
        score=0.0, model_version=ears["model_version"].iloc[0] if len(ears) else f"ears-{method.lower()}")],
        ignore_index=True)
    lead_of = (lambda rows: [lead.get(i) for i in rows["_row"]])
    return finish(assign_levels(scores, budget_share=budget_share, reasons_fn=_reasons_with_lead(f, lead_of)))


def _select_weeks(all_weeks: list[dt.date], weeks) -> list[dt.date] | None:
    if weeks is None or (isinstance(weeks, str) and weeks == "all"):
        return None
    if isinstance(weeks, str) and weeks == "latest":
        return all_weeks[-1:]
    if isinstance(weeks, str):
        raise ValueError(f"weeks={weeks!r}: use 'all', 'latest', a number of weeks or a list of week starts")
    if isinstance(weeks, int):
        return all_weeks[-weeks:]
    return sorted(pd.to_datetime(pd.Series(list(weeks))).dt.date)


def _without(d: dict, *keys: str) -> dict:
    return {k: v for k, v in d.items() if k not in keys}


def _read_features(lake: Lake, selected) -> pd.DataFrame:
    """gold/region_week_features: all weeks, or only what scoring ``selected`` needs (LOOKBACK_WEEKS before)."""
    path = lake.gold("region_week_features")
    # Villages are not scored (and outnumber townships several times): never read.
    scored = ds.field("level") != "village"
    if selected is None:
        return read_table(path, filters=scored)
    first = min(selected) - dt.timedelta(weeks=LOOKBACK_WEEKS)
    return read_table(path, filters=scored & (ds.field("week_start") >= first.isoformat()))


def changed_feature_weeks(stored: dict | None, inputs: dict) -> list[dt.date] | None:
    """The weeks whose feature partitions changed since the published scores, when only those need
    scoring; None when everything must be scored (no per-week record, another model, budget, column
    list or week selection, ``through`` moved back, or a week gone from the features).

    Why this is exact: a township-week's score, flag and colour depend on that week's features only
    (context features compare townships within the week); its reasons and the EARS baseline look at
    earlier weeks, and the features job rewrites every week from the earliest changed one onwards.
    """
    if not stored or "feature_weeks" not in stored or inputs["weeks"] != "all":
        return None
    if any(stored.get(k) != inputs[k] for k in ("model_version", "budget_share", "columns", "weeks")):
        return None
    old_through, new_through = stored.get("through"), inputs["through"]
    if old_through != new_through and (old_through is None or new_through is None or new_through < old_through):
        return None
    before, now = stored["feature_weeks"], inputs["feature_weeks"]
    if set(before) - set(now):
        return None
    changed = [week_of_partition(name) for name in now if now[name] != before.get(name)]
    if None in changed:  # not a week partition: score everything
        return None
    return sorted(changed) or None


def run(lake: Lake, model_dir: Path, through=None, weeks="all", budget_share: float = DEFAULT_BUDGET_SHARE) -> dict:
    """Score gold/region_week_features and publish gold/risk_scores and gold/baseline_scores.

    ``through``: last date (inclusive, date or YYYY-MM-DD) whose week is scored; later weeks are ignored.
    ``weeks``: ``"all"`` (rewrite both tables), ``"latest"``, an int N (the last N weeks), or a list of
    week starts; other weeks already in the tables are kept.
    Raises :class:`models.registry.NoModelError` when no model is registered.
    """
    model, metadata = load_current(Path(model_dir))
    clean_stale_staging(lake)
    for name in ("region_week_features", "feed_health", *TABLES):
        recover_interrupted_publish(lake.gold(name))
    health = read_feed_health(lake)  # a county's silent feed is not a calm week
    # Nothing new: same features, feed health, model, budget and weeks as the published scores.
    inputs = {"features": tree_fingerprint(lake.gold("region_week_features")),
              # the outage marks (data_gap, 数据中断 reason) follow gold/feed_health
              "feed_health": tree_fingerprint(lake.gold("feed_health")),
              "model_version": str(metadata.get("model_version")), "budget_share": budget_share,
              "through": str(through) if through is not None else None, "weeks": str(weeks),
              # A new table layout (e.g. the horizon columns) republishes even when nothing else changed.
              "columns": list(RISK_SCORE_COLUMNS),
              # per week: a weekly run rescores only the weeks the features job rewrote
              "feature_weeks": partition_fingerprints(lake.gold("region_week_features")),
              # per week: and re-marks only the kept weeks whose outages changed
              "outage_weeks": outage_fingerprints(health)}
    # Inputs of the published scores (features and feed-health fingerprints, model, budget, weeks).
    stored = read_inputs(lake.gold("risk_scores"))
    published = stored is not None and lake.gold("baseline_scores").is_dir()
    if published:
        if stored == inputs:
            return {"model_version": metadata.get("model_version"), "new_files": 0, "changed": False}
        # Only feed health changed (a marker written before feed health was an input has no "feed_health"
        # or "outage_weeks": compared like a change of it).
        if _without(stored, "feed_health", "outage_weeks") == _without(inputs, "feed_health", "outage_weeks"):
            return remark_scores(lake, inputs, metadata.get("model_version"))
    limit = monday_of(pd.Timestamp(str(through)).date()) if through is not None else None
    all_weeks = sorted(w for w in (week_of_partition(n) for n in inputs["feature_weeks"])
                       if w is not None and (limit is None or w <= limit))
    selected = _select_weeks(all_weeks, weeks)
    changed = changed_feature_weeks(stored if published else None, inputs)
    if selected is None and changed is not None:
        selected = [w for w in changed if w in set(all_weeks)]

    if selected is not None and not selected:  # the changed weeks all lie after ``through``
        risk = base = finish(pd.DataFrame(columns=RISK_SCORE_COLUMNS))
        weeks_read = 0
    else:
        features = _read_features(lake, selected)
        if limit is not None:
            features = features[features["week_start"] <= limit]
        if selected is None:
            all_weeks = sorted(features["week_start"].unique())
        risk = score_features(features, model, metadata, budget_share, weeks=selected)
        base = baseline_features(features, budget_share, weeks=selected)
        weeks_read = int(features["week_start"].nunique())
    # Kept weeks are marked again only where their outages changed; all of them for an older marker.
    before = stored.get("outage_weeks") if published else None
    remark_weeks = None if before is None else {w for w in set(before) | set(inputs["outage_weeks"])
                                                if before.get(w) != inputs["outage_weeks"].get(w)}
    risk_gaps = publish_weeks(lake, "risk_scores", risk, selected, health, remark_weeks)
    base_gaps = publish_weeks(lake, "baseline_scores", base, selected, health, remark_weeks)
    # Written after both tables: a run killed before this line scores again next time.
    write_inputs(lake.gold("risk_scores"), inputs)
    flagged = risk[risk["flagged"]]
    return {
        "model_version": metadata.get("model_version"),
        "weeks_scored": len(selected) if selected is not None else len(all_weeks),
        "first_week": str((selected or all_weeks or [None])[0]),
        "last_week": str((selected or all_weeks or [None])[-1]),
        "rows": int(len(risk)),
        "flagged_townships": int((flagged["level"] == "township").sum()),
        "flagged_counties": int((flagged["level"] == "county").sum()),
        "rows_by_level": {str(k): int(v) for k, v in risk["level"].value_counts().items()},
        "baseline_flagged_townships": int((base["flagged"] & (base["level"] == "township")).sum()),
        "features_weeks_read": weeks_read,
        "risk_scores": str(lake.gold("risk_scores")),
        "baseline_scores": str(lake.gold("baseline_scores")),
        "risk_scores_data_gap_rows": risk_gaps,
        "baseline_scores_data_gap_rows": base_gaps,
    }
