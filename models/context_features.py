"""Context features: a township against its county, its city and its neighbours in the same week.

The escalation model (:mod:`models.escalation`) reads ``CONTEXT_COLUMNS``, computed here from the same week's
township rows (:func:`add_context_features`): a township's change against the rest of its county, the rest
of the city and its neighbours, its share of the county, the hotline's change against the other channels
(township and county), and its sharpest type change against the city's and county's median. They separate
escalation (one township rising against its surroundings) from the confounders that lift many townships at
once: a seasonal wave (the whole city), a new reporting channel, a feed's catch-up or a media story (one
county). They are not published in gold: they depend only on published columns, and computing them at
scoring time keeps the gold contract unchanged.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from models.relative_features import with_relative

CONTEXT_COLUMNS = [
    "county_rest_chg_8w",       # the rest of the county's townships: (X + 1) / (M + 1) of their summed totals
    "rel_county_chg_8w",        # total_contacts_chg_8w / county_rest_chg_8w (> 1: rising against its county)
    "city_rest_chg_8w",         # the same over every other township of the drop (the city's seasonal wave)
    "rel_city_chg_8w",          # total_contacts_chg_8w / city_rest_chg_8w
    "county_share",             # this township's share of its county's contacts this week
    "rel_nb_chg_8w",            # total_contacts_chg_8w / nb_total_contacts_chg_8w (against its neighbours)
    "channel_shift",            # hotline change / change of orders + cases (one channel jumping alone)
    "county_channel_shift",     # the same for the whole county (a new reporting channel opens county-wide)
    "max_type_rel_city",        # max_type_chg_8w / median of it over the city's townships this week
    "max_type_rel_county",      # max_type_chg_8w / median of it over the county's townships this week
    "wage_rel_city",            # wage_arrears_chg_8w / the rest of the city's wage-arrears change
]
# Gold columns the context features are computed from (all in features.FEATURE_COLUMNS).
_CONTEXT_INPUTS = ["total_contacts", "total_contacts_chg_8w", "hotline_calls", "hotline_calls_chg_8w",
                   "work_orders", "work_orders_chg_8w", "mediation_cases", "mediation_cases_chg_8w",
                   "nb_total_contacts_chg_8w", "max_type_chg_8w", "wage_arrears", "wage_arrears_chg_8w"]


def _past_mean(x: np.ndarray, chg: np.ndarray) -> np.ndarray:
    """The 8-week mean m behind a published ratio chg = (x + 1) / (m + 1); 0 where it cannot be recovered."""
    with np.errstate(divide="ignore", invalid="ignore"):
        m = (x + 1.0) / chg - 1.0
    return np.where(np.isfinite(m), np.clip(m, 0.0, None), 0.0)


def _ratio(a, b) -> np.ndarray:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = a / b
    return np.where(np.isfinite(r), r, 1.0)


def add_context_features(features_df: pd.DataFrame) -> pd.DataFrame:
    """``features_df`` with ``CONTEXT_COLUMNS`` added to its township rows (NaN on county rows).

    Each value uses only the township rows of the same week (the township, the other townships of its
    county, of the whole frame and its neighbours' published lag), so scoring one week, a range of weeks or
    the whole history gives the same values, and nothing of a later week is read. The "city" is every
    township of the frame in that week: the drop's own region (a city or a province).

    Why: a seasonal wave lifts every township of the city, a new reporting channel or a feed's catch-up
    lifts every township of one county, a media story one type in one county; an escalation lifts one
    township against its neighbours. The 8-week means behind the published ``*_chg_8w`` ratios are
    recovered as ``m = (x + 1) / chg - 1`` and summed, so county and city changes weigh townships by volume.
    """
    out = features_df.copy()
    for col in CONTEXT_COLUMNS:
        out[col] = np.nan
    town_mask = (out["level"] == "township").to_numpy() if "level" in out else np.ones(len(out), dtype=bool)
    if not town_mask.any():
        return out
    missing = [c for c in _CONTEXT_INPUTS if c not in out.columns]
    if missing:
        raise ValueError(f"context features need columns {missing}")
    t = out.loc[town_mask, ["week_start", *_CONTEXT_INPUTS]].copy()
    t["week_start"] = pd.to_datetime(t["week_start"])
    t["county_code"] = (out.loc[town_mask, "county_code"].astype(str) if "county_code" in out
                        else out.loc[town_mask, "region_code"].astype(str).str[:6] + "000000")
    num = t[_CONTEXT_INPUTS].apply(pd.to_numeric, errors="coerce").fillna(0.0)
    x = num["total_contacts"].to_numpy()
    chg = num["total_contacts_chg_8w"].replace(0.0, np.nan).fillna(1.0).to_numpy()
    m = _past_mean(x, chg)

    def feed(name):
        v = num[name].to_numpy()
        return v, _past_mean(v, num[f"{name}_chg_8w"].replace(0.0, np.nan).fillna(1.0).to_numpy())

    (h, hm), (o, om), (c, cm) = feed("hotline_calls"), feed("work_orders"), feed("mediation_cases")
    w_, wm = feed("wage_arrears")
    s = pd.DataFrame({"week": t["week_start"].to_numpy(), "county": t["county_code"].to_numpy(),
                      "x": x, "m": m, "h": h, "hm": hm, "oc": o + c, "ocm": om + cm, "w": w_, "wm": wm,
                      "type": num["max_type_chg_8w"].to_numpy()}, index=t.index)
    by_county = s.groupby(["week", "county"])
    by_week = s.groupby("week")
    cty = by_county[["x", "m", "h", "hm", "oc", "ocm"]].transform("sum")
    city = by_week[["x", "m", "w", "wm"]].transform("sum")
    res = pd.DataFrame(index=t.index)
    res["county_rest_chg_8w"] = (cty["x"] - s["x"] + 1.0) / (cty["m"] - s["m"] + 1.0)
    res["rel_county_chg_8w"] = chg / res["county_rest_chg_8w"].to_numpy()
    res["city_rest_chg_8w"] = (city["x"] - s["x"] + 1.0) / (city["m"] - s["m"] + 1.0)
    res["rel_city_chg_8w"] = chg / res["city_rest_chg_8w"].to_numpy()
    res["county_share"] = _ratio(s["x"], cty["x"].where(cty["x"] > 0, np.nan))
    res["rel_nb_chg_8w"] = _ratio(chg, num["nb_total_contacts_chg_8w"].replace(0.0, np.nan))
    res["channel_shift"] = _ratio((s["h"] + 1) / (s["hm"] + 1), (s["oc"] + 1) / (s["ocm"] + 1))
    res["county_channel_shift"] = _ratio((cty["h"] + 1) / (cty["hm"] + 1), (cty["oc"] + 1) / (cty["ocm"] + 1))
    res["max_type_rel_city"] = _ratio(s["type"], by_week["type"].transform("median"))
    res["max_type_rel_county"] = _ratio(s["type"], by_county["type"].transform("median"))
    w_chg = (s["w"] + 1.0) / (s["wm"] + 1.0)
    res["wage_rel_city"] = _ratio(w_chg, (city["w"] - s["w"] + 1.0) / (city["wm"] - s["wm"] + 1.0))
    for col in CONTEXT_COLUMNS:
        out.loc[town_mask, col] = res[col].astype(float).to_numpy()
    return out


def with_context(features_df: pd.DataFrame) -> pd.DataFrame:
    """``features_df`` with the derived columns the model may read: ``CONTEXT_COLUMNS`` (same week) and
    :data:`models.relative_features.RELATIVE_COLUMNS` (own history, city median), each computed only when
    absent. The history needs a township's earlier weeks in the frame (the scoring job reads them)."""
    if not all(c in features_df.columns for c in CONTEXT_COLUMNS):
        features_df = add_context_features(features_df)
    return with_relative(features_df)
