"""Plain-language reasons (Simplified Chinese) for a flagged region-week, with figures from the features.

:func:`explain` looks at one row of gold/region_week_features and the same region's earlier rows and
returns the 3-4 strongest of these findings, strongest first (strength = how far the figure is past the
point where it becomes worth mentioning):

* a dispute type surging against its mean of the previous 8 weeks ("劳动争议类纠纷较前8周均值上升240%"),
* all contacts, or 欠薪 records, surging the same way,
* repeat callers or repeat orders ("重复来电占31%"), orders sent back (退回), urgent orders, complaints,
* failed mediations ("本周2起调解不成功"), cases with 群体性 or 民转刑 tendency, cases with 5+ parties,
* records with escalation words from the lexicon (only the share and count, never any text),
* cases passed on by the petition office, the police or a court rising against their 8-week mean
  ("信访转办案件本周3件，高于前8周平均的0.4件"), and more of the calls coming in on the 12345 line,
* neighbouring townships rising at the same time ("邻近乡镇纠纷同步上升"),
* the township rising against the rest of its county ("…同区县其他乡镇仅上升5%"), from the model's context
  features (``models.context_features.CONTEXT_COLUMNS``) when the frame holds them.

Only counts and shares are used: no personal text reaches a reason. The list is never empty: when no
finding passes its threshold, a summary of the week's volume and the model score is returned.
"""
from __future__ import annotations

import math

import pandas as pd

from fengqiao.core.disputes import SLUG_TO_LABEL
from models.trailing import grouped_previous_mean

MAX_REASONS = 4
HISTORY_WEEKS = 8


def _num(row, col, default=0.0) -> float:
    try:
        v = row[col]
    except (KeyError, IndexError):
        return default
    try:
        v = float(v)
    except (TypeError, ValueError):
        return default
    return default if math.isnan(v) else v


def _pct(x: float) -> str:
    return f"{round(x * 100):d}%"


def _recent_history(history: pd.DataFrame | None, week) -> pd.DataFrame | None:
    """The (at most) 8 rows of ``history`` from weeks before ``week``, oldest first."""
    if history is None or len(history) == 0:
        return None
    h = history
    if "week_start" in h and week is not None:
        w = pd.to_datetime(h["week_start"])
        h = h.assign(_w=w)[w < pd.Timestamp(week)].sort_values("_w")
    h = h.tail(HISTORY_WEEKS)
    return h if len(h) else None


MEAN_COLUMNS_EXTRA = ("total_contacts", "wage_arrears", "repeat_caller_share", "repeat_order_share",
                      "complaint_share", "urgent_order_share", "escalation_term_share",
                      "petition_referral_cases", "police_referral_cases", "court_referral_cases", "line_12345_share")
# Referral channels (gold/region_week_features columns) and how a reason names them.
REFERRAL_REASONS = (("petition_referral_cases", "信访转办案件"), ("police_referral_cases", "公安移交案件"),
                    ("court_referral_cases", "法院委派调解案件"))


def _means_from_history(history: pd.DataFrame | None, week) -> dict[str, float]:
    h = _recent_history(history, week)
    if h is None:
        return {}
    cols = [c for c in h.columns if str(c).startswith("type_") or c in MEAN_COLUMNS_EXTRA]
    return {c: float(v) for c, v in h[cols].apply(pd.to_numeric, errors="coerce").fillna(0).mean().items()}


def _history_mean(means: dict, col: str, week=None) -> float | None:
    v = means.get(col) if means else None
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _rise(row, history, col, week, chg_col=None) -> tuple[float, float | None, float] | None:
    """(current, baseline mean or None, relative rise) from history, else from the *_chg_8w ratio."""
    x = _num(row, col)
    m = _history_mean(history, col, week)
    if m is not None:
        return x, m, (x - m) / m if m > 0 else (math.inf if x > 0 else 0.0)
    if chg_col is not None:
        ratio = _num(row, chg_col, float("nan"))
        if not math.isnan(ratio) and ratio > 0:
            # ratio = (x + 1) / (m + 1)  =>  m = (x + 1) / ratio - 1
            m = max(0.0, (x + 1) / ratio - 1)
            return x, m, (x - m) / m if m > 0 else (math.inf if x > 0 else 0.0)
    return None


# Below this many records a week a percentage misleads a reader ("上升433%" for 4 against 0.8): counts only.
COUNTS_ONLY_BELOW = 10


def _surge_text(prefix: str, x: float, m: float, rise: float, unit: str = "起") -> str:
    if m < 0.5 or math.isinf(rise):
        return f"{prefix}本周{int(round(x))}{unit}，前{HISTORY_WEEKS}周平均不足1{unit}"
    if max(x, m) < COUNTS_ONLY_BELOW:
        return f"{prefix}本周{int(round(x))}{unit}，高于前{HISTORY_WEEKS}周平均的{m:.1f}{unit}"
    return f"{prefix}较前{HISTORY_WEEKS}周均值上升{_pct(rise)}（本周{int(round(x))}{unit}，此前周均{m:.1f}{unit}）"


def explain(row, history: pd.DataFrame | None = None) -> list[str]:
    """Top reasons (strongest first, at most 4, never empty) for one region-week row.

    ``row``: a mapping/Series with the feature columns (and ``week_start``); ``history``: the same
    region's rows of earlier weeks (rows of the same or later weeks are ignored), or None.
    """
    week = row["week_start"] if "week_start" in row else None
    return _explain(row, _means_from_history(history, week))


def _explain(row, history: dict, fallback: bool = True, score: float | None = None) -> list[str]:
    """:func:`explain` with the previous weeks' means already computed (column -> mean)."""
    week = None
    found: list[tuple[float, str]] = []

    def add(strength: float, text: str) -> None:
        found.append((float(strength), text))

    # Dispute types surging against their own recent mean.
    type_cols = [c for c in row.index if c.startswith("type_")] if hasattr(row, "index") else \
        [c for c in row if str(c).startswith("type_")]
    best_types = []
    for col in type_cols:
        slug = col[len("type_"):]
        if slug not in SLUG_TO_LABEL:
            continue
        r = _rise(row, history, col, week)
        if r is None:
            continue
        x, m, rise = r
        if x >= 3 and x - m >= 2 and rise >= 0.5:
            strength = 1.0 + min(rise, 10.0) / 2 + math.log1p(x - m) / 3
            best_types.append((strength, _surge_text(f"{SLUG_TO_LABEL[slug]}类纠纷", x, m, rise)))
    for s, t in sorted(best_types, reverse=True)[:2]:
        add(s, t)

    r = _rise(row, history, "total_contacts", week, "total_contacts_chg_8w")
    if r is not None:
        x, m, rise = r
        if x >= 5 and rise >= 0.5:
            add(0.8 + min(rise, 10.0) / 3,
                _surge_text("来电、工单和调解案件合计", x, m, rise, unit="件"))
    r = _rise(row, history, "wage_arrears", week, "wage_arrears_chg_8w")
    if r is not None:
        x, m, rise = r
        if x >= 2 and rise >= 0.5:
            add(1.0 + min(rise, 10.0) / 2, _surge_text("欠薪相关诉求", x, m, rise, unit="件"))

    group = _num(row, "group_tendency_cases")
    if group >= 1:
        add(1.5 + group / 2, f"{int(group)}起案件有群体性倾向")
    crim = _num(row, "criminal_tendency_cases")
    if crim >= 1:
        add(1.5 + crim / 2, f"{int(crim)}起案件有民转刑倾向")
    failed = _num(row, "failed_mediations")
    if failed >= 1:
        add(1.0 + failed / 2, f"本周{int(failed)}起调解不成功")
    large = _num(row, "large_group_cases")
    if large >= 1:
        pmax = _num(row, "mediation_party_max")
        extra = f"（最多{int(pmax)}人）" if pmax >= 5 else ""
        add(0.9 + large / 2, f"{int(large)}起案件当事人达5人以上{extra}")
    def share_finding(col: str, threshold: float, volume_col: str | None, label: str, base: float) -> None:
        """A share worth mentioning: above ``threshold`` and, when the region has history, 10 points above
        its own mean of the previous weeks (a high share that is normal for the place is no reason)."""
        v = _num(row, col)
        if v < threshold or (volume_col and _num(row, volume_col) < 3):
            return
        m = _history_mean(history, col)
        if m is not None and v < m + 0.10:
            return
        suffix = f"（此前{HISTORY_WEEKS}周平均{_pct(m)}）" if m is not None else ""
        add(base + v * 3 + (v - (m or 0.0)) * 2, f"{label}{_pct(v)}{suffix}")

    esc_share, esc_n = _num(row, "escalation_term_share"), _num(row, "escalation_term_records")
    if esc_n >= 1 and esc_share >= 0.03:
        add(1.0 + esc_share * 10,
            f"{_pct(esc_share)}的记录（{int(esc_n)}条）含过激言辞（威胁、堵路、集体上访等词语）")
    share_finding("repeat_caller_share", 0.2, "hotline_calls", "重复来电占", 0.6)
    share_finding("repeat_order_share", 0.2, "work_orders", "重复工单占", 0.5)
    returned = _num(row, "returned_orders")
    if returned >= 2:
        add(0.6 + returned / 4, f"{int(returned)}件工单被退回")
    share_finding("urgent_order_share", 0.25, "work_orders", "紧急、特急工单占", 0.4)
    share_finding("complaint_share", 0.35, "hotline_calls", "投诉类来电占", 0.3)

    # Passed on by the petition office, the police or a court: one step from escalation (the strongest channel).
    referrals = []
    for col, label in REFERRAL_REASONS:
        r = _rise(row, history, col, week)
        if r is not None and r[0] >= 2 and r[0] - r[1] >= 1.5:
            x, m, rise = r
            referrals.append((1.1 + min(rise, 10.0) / 3 + (x - m) / 4, _surge_text(label, x, m, rise, unit="件")))
    if referrals:
        add(*max(referrals))
    share_finding("line_12345_share", 0.4, "hotline_calls", "12345政务服务热线来电占", 0.3)

    nb_type = _num(row, "nb_max_type_chg_8w", float("nan"))
    nb_total = _num(row, "nb_total_contacts_chg_8w", float("nan"))
    if not math.isnan(nb_type) and nb_type >= 1.8:
        add(0.7 + min(nb_type, 10.0) / 4, f"邻近乡镇纠纷同步上升（类型最大增幅{_pct(nb_type - 1)}）")
    elif not math.isnan(nb_total) and nb_total >= 1.4:
        add(0.6 + min(nb_total, 10.0) / 4, f"邻近乡镇纠纷总量同步上升{_pct(nb_total - 1)}")

    # Rising against its own county (the model's context features): not a county-wide channel or wave.
    own_chg = _num(row, "total_contacts_chg_8w", float("nan"))
    rest = _num(row, "county_rest_chg_8w", float("nan"))
    if (not math.isnan(own_chg) and not math.isnan(rest) and own_chg >= 1.5 and rest > 0
            and own_chg / rest >= 1.5 and _num(row, "total_contacts") >= 5):
        add(0.9 + min(own_chg / rest, 10.0) / 3,
            f"纠纷总量较前{HISTORY_WEEKS}周均值上升{_pct(own_chg - 1)}，同区县其他乡镇"
            + (f"仅上升{_pct(rest - 1)}" if rest >= 1.0 else f"下降{_pct(1 - rest)}") + "，属局部异常上升")

    wtsf = _num(row, "weeks_to_spring_festival", float("nan"))
    if not math.isnan(wtsf) and wtsf <= 6 and _num(row, "wage_arrears") >= 2:
        add(0.5, f"距春节约{int(wtsf)}周，正值欠薪问题高发期")

    found.sort(key=lambda p: p[0], reverse=True)
    out, seen = [], set()
    for _, text in found:
        if text not in seen:
            out.append(text)
            seen.add(text)
        if len(out) == MAX_REASONS:
            break
    if not out and fallback:
        total = _num(row, "total_contacts")
        score = _num(row, "score", float("nan")) if score is None else float(score)
        text = f"本周来电、工单和调解案件共{int(total)}件"
        if not math.isnan(score):
            text += f"，模型综合评估升级概率约{_pct(score)}"
        else:
            text += "，多项指标综合评估居本周前列"
        out.append(text)
    return out


def history_means(features_df: pd.DataFrame) -> pd.DataFrame:
    """Per row of ``features_df``: mean of each type and volume column over the region's previous 8 rows
    (weeks), vectorised; NaN where the region has no earlier week."""
    f = features_df.copy()
    f["region_code"] = f["region_code"].astype(str)
    f["_w"] = pd.to_datetime(f["week_start"])
    f = f.sort_values(["region_code", "_w"])
    cols = [c for c in f.columns if str(c).startswith("type_") or c in MEAN_COLUMNS_EXTRA]
    vals = f[cols].apply(pd.to_numeric, errors="coerce").fillna(0)
    means = pd.DataFrame(grouped_previous_mean(vals.to_numpy(dtype=float), f["region_code"].to_numpy(), HISTORY_WEEKS),
                         index=f.index, columns=cols)
    means.index = pd.MultiIndex.from_arrays([f["region_code"], f["_w"]])
    return means


def explain_frame(rows: pd.DataFrame, features_df: pd.DataFrame, means: pd.DataFrame | None = None,
                  fallback: bool = True) -> list[list[str]]:
    """:func:`explain` for each row of ``rows`` (keys region_code, week_start), history from ``features_df``.

    ``means`` (from :func:`history_means`) may be passed in to reuse it across calls. With
    ``fallback=False`` a row with no notable finding gets ``[]`` (the caller supplies its own reason,
    e.g. the EARS statistic, whose score is not a probability).
    """
    if len(rows) == 0:
        return []
    feats = features_df.copy()
    feats["region_code"] = feats["region_code"].astype(str)
    feats.index = pd.MultiIndex.from_arrays([feats["region_code"], pd.to_datetime(feats["week_start"])])
    feats = feats[~feats.index.duplicated()]
    if means is None:
        means = history_means(features_df)
    means = means[~means.index.duplicated()]
    keys = pd.MultiIndex.from_arrays([rows["region_code"].astype(str), pd.to_datetime(rows["week_start"])])
    cur = feats.reindex(keys)
    prev = means.reindex(keys)
    scores = rows["score"].to_numpy() if "score" in rows else [None] * len(rows)
    out = []
    for i in range(len(rows)):
        row = cur.iloc[i]
        if row.isna().all():
            row = rows.iloc[i]
        m = prev.iloc[i]
        out.append(_explain(row, {k: v for k, v in m.items() if pd.notna(v)}, fallback, scores[i]))
    return out
