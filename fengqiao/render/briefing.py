"""The weekly briefing for Party and government leaders (矛盾纠纷风险研判周报), one HTML file a week.

Reads gold/risk_scores, gold/region_week_features, reference/regions.csv (and bureaus.csv for unit
names), silver/quarantine and the bronze manifest; writes ``outputs/briefings/<week>.html`` and a
copy as ``latest.html``. The file is self-contained (inline CSS and SVG, no scripts) so it can be
mailed or printed as is. It holds aggregates, region names and the scores' reasons only.
"""
from __future__ import annotations

import datetime as dt
import math
import os
import re
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
import pandas as pd

from features import KEY_COLUMNS, TYPE_COUNT_COLUMNS
from fengqiao.core.disputes import DISPUTE_TYPES
from fengqiao.lake import Lake, read_table
from fengqiao.core.regions import county_of, read_bureaus, read_regions
from fengqiao.core.weeks import weeks_to_spring_festival

from .maps import choropleth, sparkline
from .pdf import FONT_FAMILY, html_to_pdf
from .common import (
    LEVEL_COLOURS, LEVEL_NAMES, LEVEL_RANK, LEVEL_TEXT_COLOURS, LEVELS, as_date, bureau_index,
    change_ratio, count_change_text, county_bureau_name, day_label, flagged_rows, latest_scored_week, level_of,
    probability_text, quarantine_reason_zh, reasons_list, region_names, scrub, small_counts, top_area_name,
    township_office_name, week_label,
)

TEMPLATES = Path(__file__).parent / "templates"
TREND_WEEKS = 26
BASELINE_WEEKS = 8
SPARK_WEEKS = 12
# SVG text does not inherit the page's CSS fonts: name them (the PDF's embedded font first).
SVG_FONT = f"{FONT_FAMILY}, PingFang SC, Microsoft YaHei, Noto Sans CJK SC, Source Han Sans SC, sans-serif"
TOP_TYPES = 8
TYPE_LABELS_BY_COLUMN = {f"type_{slug}": label for label, slug in DISPUTE_TYPES}

# (feed as in the lake, its count column in region_week_features, its name in the briefing)
FEED_COLUMNS = (
    ("hotline", "hotline_calls", "热线来电（12348/12345）"),
    ("workorders", "work_orders", "工单"),
    ("mediation", "mediation_cases", "人民调解案件"),
)
COUNT_COLUMNS = [col for _, col, _ in FEED_COLUMNS] + ["total_contacts"]
LEVEL_SCOPES = (("township", "乡镇（街道）"), ("county", "县（市、区）"))


def render_briefing(lake: Lake, week_start: dt.date | None = None, county_code: str | None = None,
                    pdf: bool = True) -> Path:
    """Write the briefing of ``week_start`` (default: the latest scored week) as HTML and PDF and
    return the HTML's path.

    City-wide: ``briefings/<week>.html|.pdf`` and copies ``latest.html|.pdf``. With ``county_code``
    (12 digits), the county's edition with only its regions: ``briefings/county/<code>/<week>.html|.pdf``.
    """
    context = build_context(lake, week_start, county_code=county_code)
    html = _environment().get_template("briefing.html.j2").render(**context)
    folder = lake.briefings if county_code is None else lake.briefings / "county" / context["county_code"]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{context['week_start'].isoformat()}.html"
    _write_atomically(target, html)
    if pdf:
        html_to_pdf(html, target.with_suffix(".pdf"))
    if county_code is None:
        for suffix in (".html", ".pdf") if pdf else (".html",):
            latest = lake.briefings / f"latest{suffix}"
            tmp = latest.with_suffix(suffix + ".tmp")
            shutil.copyfile(target.with_suffix(suffix), tmp)
            os.replace(tmp, latest)
    return target


def render_county_briefings(lake: Lake, week_start: dt.date | None = None, pdf: bool = True) -> list[Path]:
    """One edition per county of regions.csv (HTML paths; a PDF beside each)."""
    regions = read_regions(lake.reference / "regions.csv")
    codes = sorted(regions.loc[regions["level"] == "county", "code"].astype(str))
    return [render_briefing(lake, week_start, county_code=code, pdf=pdf) for code in codes]


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _write_atomically(target: Path, text: str) -> None:
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)


# --- gathering the numbers ------------------------------------------------------------------------
def build_context(lake: Lake, week_start: dt.date | None = None, county_code: str | None = None) -> dict:
    """Everything the template shows, as plain Python values (tested without rendering).

    With ``county_code`` only that county and its townships are counted and shown.
    """
    scores = read_table(lake.gold("risk_scores"))
    week = as_date(week_start) if week_start is not None else latest_scored_week(scores)
    features = _read_features(lake)
    regions = read_regions(lake.reference / "regions.csv")
    names_all = {code: scrub(name) for code, name in region_names(regions).items()}
    area_name = scrub(top_area_name(regions))
    if county_code is not None:
        county_code = county_of(str(county_code))
        if county_code not in set(regions.loc[regions["level"] == "county", "code"]):
            raise ValueError(f"{county_code} is not a county of reference/regions.csv")
        scores = scores[scores["county_code"].astype(str) == county_code]
        features = features[features["county_code"].astype(str) == county_code]
        regions = regions[(regions["code"] == county_code) | (regions["parent_code"] == county_code)]
        area_name = names_all.get(county_code, county_code)
    week_scores = scores[scores["week_start"] == week]
    if week_scores.empty:
        raise ValueError(f"gold/risk_scores has no scores for the week of {week}: score that week first")

    bureaus_path = lake.reference / "bureaus.csv"
    bureaus = bureau_index(read_bureaus(bureaus_path) if bureaus_path.exists() else None)
    names = names_all

    weekly = _weekly_totals(features)
    flagged = _hotspots(week_scores, features, week, names)
    counties = _county_rows(regions, features, week_scores, week, names)
    completeness = _completeness(lake, weekly, week, county_code)
    model_versions = sorted({str(v) for v in week_scores["model_version"].dropna()})

    return {
        "title": "矛盾纠纷风险研判周报",
        "week_start": week,
        "week_label": week_label(week),
        "area_name": area_name,
        "county_code": county_code,
        "is_county_edition": county_code is not None,
        "overview": _overview(weekly, week_scores, week, flagged),
        "sources": _source_mix(weekly, week),
        "types": _type_distribution(features, week),
        "regional": _regional(regions, features, week_scores, week, names, counties, county_code),
        "flagged": flagged,
        "hotline": _hotline_hotspots(lake, features, regions, week, names, county_code),
        "seasonal": _seasonal(features, week),
        "charts": _trend_charts(weekly, scores, week),
        "counties": counties,
        "completeness": completeness,
        "recommendations": _recommendations(flagged, completeness, week, names, bureaus),
        "responses": _responses(lake, county_code),
        "model_versions": model_versions,
        "generated_at": _now_label(),
        "levels": LEVELS,
        "svg_font": SVG_FONT,
        "level_colours": LEVEL_COLOURS,
        "level_text_colours": LEVEL_TEXT_COLOURS,
    }


def _responses(lake: Lake, county_code: str | None) -> dict:
    """Per county: alerts sent so far and how many the bureaus have answered (gold/alert_dispositions)."""
    from fengqiao.delivery.acknowledgements import response_rates

    try:
        rates = response_rates(lake)
    except FileNotFoundError:
        rates = pd.DataFrame()
    if not rates.empty and county_code is not None:
        rates = rates[rates["county_code"].astype(str) == county_code]
    rows = [{
        "county": scrub(r.county_name) if isinstance(r.county_name, str) else r.county_code,
        "sent": int(r.alerts_sent), "acknowledged": int(r.acknowledged),
        "share": f"{r.ack_share:.0%}",
        "median_days": "—" if pd.isna(r.median_days_to_respond) else f"{r.median_days_to_respond:.1f}",
    } for r in rates.itertuples()]
    return {"rows": rows, "sent": sum(r["sent"] for r in rows), "acknowledged": sum(r["acknowledged"] for r in rows)}


def _read_features(lake: Lake) -> pd.DataFrame:
    """The count columns the briefing needs, plus the type, wage-arrears and repeat-caller columns
    when the table has them (older tables may not)."""
    import pyarrow.dataset as ds

    path = lake.gold("region_week_features")
    try:
        available = set(ds.dataset(path, format="parquet", partitioning="hive", exclude_invalid_files=True,
                                   ignore_prefixes=[".", "_"]).schema.names)
    except (FileNotFoundError, OSError):
        available = set()
    optional = [c for c in (*TYPE_COUNT_COLUMNS, "wage_arrears", "repeat_caller_share") if c in available]
    return read_table(path, columns=[*KEY_COLUMNS, *COUNT_COLUMNS, *optional])


def _base_level(features: pd.DataFrame) -> pd.DataFrame:
    """Rows that add up to the whole area once: counties when published, else townships."""
    counties = features[features["level"] == "county"]
    return counties if not counties.empty else features[features["level"] == "township"]


def _weekly_totals(features: pd.DataFrame) -> pd.DataFrame:
    base = _base_level(features)
    return base.groupby("week_start")[COUNT_COLUMNS].sum()


def _value(frame: pd.DataFrame, week: dt.date, col: str):
    return frame.at[week, col] if week in frame.index else None


def _overview(weekly: pd.DataFrame, week_scores: pd.DataFrame, week: dt.date, flagged: list[dict]) -> dict:
    previous = week - dt.timedelta(days=7)
    year_ago = week - dt.timedelta(weeks=52)  # the same ISO week a year earlier (52 weeks keeps the weekday)
    feeds = []
    for _, col, label in (*FEED_COLUMNS, (None, "total_contacts", "合计")):
        this, prev, last_year = (_value(weekly, w, col) for w in (week, previous, year_ago))
        ratio, yoy = change_ratio(this, prev), change_ratio(this, last_year)
        feeds.append({"label": label, "this": _int(this), "previous": _int(prev), "change": count_change_text(this, prev),
                      "direction": _direction(ratio), "is_total": col == "total_contacts",
                      "year_ago": _int(last_year), "yoy": count_change_text(this, last_year), "yoy_direction": _direction(yoy)})

    level_table = []
    for scope, scope_label in LEVEL_SCOPES:
        rows = flagged_rows(week_scores[week_scores["level"] == scope])
        counts = {level: int((rows["risk_level"] == level).sum()) for level in LEVELS}
        level_table.append({"scope": scope_label, "counts": counts, "total": int(len(rows)),
                            "scored": int((week_scores["level"] == scope).sum())})

    total = feeds[-1]
    town = level_table[0]
    parts = [f"{LEVEL_NAMES[level]}{town['counts'][level]}个" for level in LEVELS if town["counts"][level]]
    if total["this"] is None:
        lead = "本周暂无汇总诉求数据。"
    else:
        lead = f"本周共汇聚群众诉求{total['this']:,}件（热线、工单、人民调解合计）"
        lead += f"，环比{_change_words(total['this'], total['previous'])}"
        if total["year_ago"] is not None:
            lead += f"，同比{_change_words(total['this'], total['year_ago'])}"
        lead += "。"
    if town["total"]:
        lead += f"研判发现风险乡镇（街道）{town['total']}个" + (f"，其中{'、'.join(parts)}" if parts else "") + "。"
    else:
        lead += "本周未发现需预警的乡镇（街道）。"
    if level_table[1]["total"]:
        lead += f"另有{level_table[1]['total']}个县（市、区）整体风险偏高。"
    top = [f for f in flagged if f["risk_level"] == "红"]
    if top:
        lead += "红色预警地区：" + "、".join(f["full_name"] for f in top) + "，请重点关注。"
    return {"feeds": feeds, "levels": level_table, "lead": lead}


def _hotspots(week_scores: pd.DataFrame, features: pd.DataFrame, week: dt.date,
                  names: dict[str, str]) -> list[dict]:
    rows = flagged_rows(week_scores)
    region_totals = features.set_index(["region_code", "week_start"])["total_contacts"]
    region_totals = region_totals[~region_totals.index.duplicated()]
    previous = week - dt.timedelta(days=7)
    out = []
    for row in rows.itertuples(index=False):
        code = str(row.region_code)
        county = county_of(code)
        is_township = row.level == "township"
        name = names.get(code) or scrub(getattr(row, "region_name", None) or code)
        this, prev = region_totals.get((code, week)), region_totals.get((code, previous))
        level = level_of(row.risk_level)
        spark_weeks = [week - dt.timedelta(days=7 * i) for i in range(SPARK_WEEKS - 1, -1, -1)]
        spark_values = [_int(region_totals.get((code, w))) for w in spark_weeks]
        out.append({
            "spark": sparkline(spark_values),
            "region_code": code,
            "county_code": county,
            "county_name": names.get(county, county),
            "township_name": name if is_township else "—（县级整体）",
            "full_name": (names.get(county, "") + name) if is_township else name,
            "is_township": is_township,
            "risk_level": level,
            "level_name": LEVEL_NAMES.get(level, "未定级"),
            "score": float(row.score),
            "probability": probability_text(row.score),
            "reasons": reasons_list(row.reasons),
            "contacts": _int(this),
            "contacts_change": count_change_text(this, prev),
        })
    out.sort(key=lambda r: (LEVEL_RANK.get(r["risk_level"], 9), -r["score"], r["region_code"]))
    for rank, row in enumerate(out, start=1):
        row["rank"] = rank
    return out


def _county_rows(regions: pd.DataFrame, features: pd.DataFrame, week_scores: pd.DataFrame,
                 week: dt.date, names: dict[str, str]) -> list[dict]:
    county_codes = sorted(regions.loc[regions["level"] == "county", "code"])
    per_week = _base_level(features).groupby(["county_code", "week_start"])["total_contacts"].sum()
    flagged = flagged_rows(week_scores)
    townships = regions[regions["level"] == "township"]
    previous = week - dt.timedelta(days=7)
    out = []
    for code in county_codes:
        this, prev = per_week.get((code, week)), per_week.get((code, previous))
        mine = flagged[flagged["region_code"].map(county_of) == code]
        levels = [lvl for lvl in (level_of(v) for v in mine["risk_level"]) if lvl]
        highest = min(levels, key=LEVEL_RANK.get) if levels else None
        ratio = change_ratio(this, prev)
        out.append({
            "code": code,
            "name": names.get(code, code),
            "townships": int((townships["parent_code"] == code).sum()),
            "this": _int(this),
            "change": count_change_text(this, prev),
            "direction": _direction(ratio),
            "flagged_townships": int((mine["level"] == "township").sum()),
            "county_flagged": bool((mine["level"] == "county").any()),
            "highest": highest,
        })
    out.sort(key=lambda r: (LEVEL_RANK.get(r["highest"], 9), -r["flagged_townships"], -(r["this"] or 0), r["code"]))
    return out


# --- composition, types, map, hotline, season ----------------------------------------------------------
def _source_mix(weekly: pd.DataFrame, week: dt.date) -> list[dict]:
    """Each feed's share of all contacts, this week and last (来源构成)."""
    previous = week - dt.timedelta(days=7)
    total_this, total_prev = _value(weekly, week, "total_contacts"), _value(weekly, previous, "total_contacts")
    out = []
    for _, col, label in FEED_COLUMNS:
        this, prev = _value(weekly, week, col), _value(weekly, previous, col)
        share = _share(this, total_this)
        share_prev = _share(prev, total_prev)
        diff = None if share is None or share_prev is None else (share - share_prev) * 100
        out.append({
            "label": label, "this": _int(this), "previous": _int(prev),
            "share": _pct(share), "share_previous": _pct(share_prev),
            "share_change": "—" if diff is None else ("持平" if abs(diff) < 0.05 else f"{diff:+.1f}"),
            "bar": 0 if share is None else round(share * 100, 1),
            "change": count_change_text(this, prev), "direction": _direction(change_ratio(this, prev)),
        })
    return out


def _share(part, whole) -> float | None:
    if part is None or whole is None or pd.isna(part) or pd.isna(whole) or not whole:
        return None
    return float(part) / float(whole)


def _pct(share: float | None) -> str:
    return "—" if share is None else f"{share:.1%}"


def _township_rows(features: pd.DataFrame) -> pd.DataFrame:
    towns = features[features["level"] == "township"]
    return towns if not towns.empty else _base_level(features)


def _type_distribution(features: pd.DataFrame, week: dt.date) -> dict:
    """The week's most frequent dispute types over all feeds, summed over townships (类型分布)."""
    columns = [c for c in TYPE_COUNT_COLUMNS if c in features.columns]
    if not columns:
        return {"available": False, "rows": []}
    per_week = _township_rows(features).groupby("week_start")[columns].sum()
    previous = week - dt.timedelta(days=7)
    if week not in per_week.index:
        return {"available": False, "rows": []}
    this = per_week.loc[week]
    prev = per_week.loc[previous] if previous in per_week.index else None
    total = float(this.sum())
    top = this.sort_values(ascending=False, kind="stable")
    top = top[top > 0].head(TOP_TYPES)
    widest = float(top.max()) if len(top) else 1.0
    rows = []
    for col, value in top.items():
        before = None if prev is None else prev[col]
        ratio = change_ratio(value, before)
        rows.append({"label": TYPE_LABELS_BY_COLUMN[col], "this": _int(value), "previous": _int(before),
                     "share": _pct(_share(value, total)), "change": count_change_text(value, before), "direction": _direction(ratio),
                     "bar": round(100 * float(value) / widest, 1) if widest else 0})
    return {"available": True, "rows": rows, "total": _int(total)}


def _regional(regions: pd.DataFrame, features: pd.DataFrame, week_scores: pd.DataFrame, week: dt.date,
              names: dict[str, str], counties: list[dict], county_code: str | None) -> dict:
    """The map (counties by contacts per 10,000 residents, townships by risk level) and, in a
    county's edition, the ranking of its townships (区域分布)."""
    population = dict(zip(regions["code"], pd.to_numeric(regions["population"], errors="coerce")))
    townships = regions[regions["level"] == "township"]
    town_pop = pd.to_numeric(townships["population"], errors="coerce").groupby(townships["parent_code"]).sum()
    map_counties = []
    for c in counties:
        pop = population.get(c["code"])
        if pop is None or pd.isna(pop) or pop <= 0:
            pop = town_pop.get(c["code"])
        rate = (c["this"] / pop * 10_000) if (c["this"] is not None and pop and not pd.isna(pop)) else None
        c["rate"] = "—" if rate is None else f"{rate:.1f}"
        map_counties.append({"code": c["code"], "name": c["name"], "rate": rate, "highest": c["highest"]})
    levels = {str(r.region_code): level_of(r.risk_level) for r in flagged_rows(week_scores).itertuples(index=False)}
    points = [{"name": names.get(r.code, r.code), "lat": _float(r.lat), "lon": _float(r.lon),
               "level": levels.get(r.code)} for r in townships.itertuples(index=False)]
    ranking = []
    if county_code is not None:
        town = features[(features["level"] == "township") & (features["week_start"] == week)]
        prev = features[(features["level"] == "township") & (features["week_start"] == week - dt.timedelta(days=7))]
        prev_totals = dict(zip(prev["region_code"], prev["total_contacts"]))
        for r in town.itertuples(index=False):
            pop = population.get(r.region_code)
            rate = r.total_contacts / pop * 10_000 if pop and not pd.isna(pop) and pop > 0 else None
            ratio = change_ratio(r.total_contacts, prev_totals.get(r.region_code))
            ranking.append({"code": r.region_code, "name": names.get(r.region_code, r.region_code),
                            "this": _int(r.total_contacts), "rate": "—" if rate is None else f"{rate:.1f}",
                            "rate_value": rate or 0, "direction": _direction(ratio),
                            "change": count_change_text(r.total_contacts, prev_totals.get(r.region_code)),
                            "level": levels.get(r.region_code)})
        ranking.sort(key=lambda t: (LEVEL_RANK.get(t["level"], 9), -t["rate_value"], t["code"]))
    return {"map": choropleth(map_counties, points), "townships": ranking}


def _float(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _hotline_hotspots(lake: Lake, features: pd.DataFrame, regions: pd.DataFrame, week: dt.date,
                      names: dict[str, str], county_code: str | None) -> dict:
    """热线热点: hotline types and townships growing fastest against their last 8 weeks; repeat callers."""
    baseline = [week - dt.timedelta(days=7 * i) for i in range(1, BASELINE_WEEKS + 1)]
    types, types_source = _hotline_types(lake, week, baseline, county_code), "热线"
    if types is None:
        types_source = "全渠道"
        columns = [c for c in TYPE_COUNT_COLUMNS if c in features.columns]
        per_week = _township_rows(features).groupby("week_start")[columns].sum() if columns else pd.DataFrame()
        per_week.columns = [TYPE_LABELS_BY_COLUMN[c] for c in per_week.columns]
        types = _growth_rows(per_week, week, baseline) if columns else []

    town = _township_rows(features)
    hotline = town.pivot_table(index="week_start", columns="region_code", values="hotline_calls", aggfunc="sum")
    places = [dict(r, name=names.get(r["label"], r["label"])) for r in _growth_rows(hotline, week, baseline, minimum=10)]

    repeat, repeat_available, overall = [], "repeat_caller_share" in features.columns, None
    if repeat_available:
        week_rows = town[town["week_start"] == week]
        calls = week_rows["hotline_calls"].sum()
        if calls:
            overall = f"{(week_rows['repeat_caller_share'].fillna(0) * week_rows['hotline_calls']).sum() / calls:.1%}"
        now = town[(town["week_start"] == week) & (town["hotline_calls"] >= REPEAT_MIN_CALLS)]
        now = now[now["repeat_caller_share"] >= REPEAT_SHARE_HIGH].sort_values(
            ["repeat_caller_share", "region_code"], ascending=[False, True]).head(8)
        for r in now.itertuples(index=False):
            repeat.append({"name": names.get(r.region_code, r.region_code),
                           "county": names.get(county_of(r.region_code), ""),
                           "share": f"{r.repeat_caller_share:.0%}", "calls": _int(r.hotline_calls),
                           "repeats": _int(round(r.repeat_caller_share * r.hotline_calls))})
    return {"types": types[:5], "types_source": types_source, "places": places[:5], "repeat": repeat,
            "repeat_available": repeat_available, "repeat_overall": overall, "repeat_threshold": f"{REPEAT_SHARE_HIGH:.0%}"}


REPEAT_SHARE_HIGH = 0.3
REPEAT_MIN_CALLS = 10


def _hotline_types(lake: Lake, week: dt.date, baseline: list[dt.date], county_code: str | None):
    """Hotline calls per dispute type and week from silver (type and week only), or None."""
    path = lake.silver("hotline_calls")
    if not path.exists():
        return None
    try:
        import pyarrow.dataset as ds

        wanted = [w.isoformat() for w in [week, *baseline]]
        calls = read_table(path, columns=["county_code", "dispute_type", "week_start"],
                           filters=ds.field("week_start").cast("string").isin(wanted))
    except Exception:  # an unreadable silver table is no reason to lose the briefing
        return None
    if county_code is not None:
        calls = calls[calls["county_code"].astype(str) == county_code]
    if calls.empty:
        return None
    per_week = calls.groupby(["week_start", "dispute_type"]).size().unstack(fill_value=0)
    return _growth_rows(per_week, week, baseline, minimum=3)


def _growth_rows(per_week: pd.DataFrame, week: dt.date, baseline: list[dt.date], minimum: int = 3) -> list[dict]:
    """Columns of ``per_week`` (weeks × items) whose count this week most exceeds their 8-week mean."""
    if per_week.empty or week not in per_week.index:
        return []
    present = [w for w in baseline if w in per_week.index]
    this = per_week.loc[week].fillna(0)
    mean = per_week.loc[present].fillna(0).mean() if present else this * float("nan")
    previous = week - dt.timedelta(days=7)
    prev = per_week.loc[previous].fillna(0) if previous in per_week.index else None
    rows = []
    for item, value in this.items():
        if value < minimum:
            continue
        base = mean.get(item)
        ratio = None if base is None or pd.isna(base) else (float(value) + 1) / (float(base) + 1)
        if ratio is None or ratio < 1.2:
            continue
        rows.append({"label": str(item), "this": _int(value),
                     "mean": None if base is None or pd.isna(base) else round(float(base), 1),
                     "ratio": ratio, "ratio_text": f"{ratio:.1f}倍",
                     "change": count_change_text(value, None if prev is None else prev.get(item))})
    rows.sort(key=lambda r: (-r["ratio"], -r["this"], r["label"]))
    return rows


SUMMER_TYPES = (("邻里", "type_neighbour"), ("物业", "type_property_mgmt"), ("道路交通事故", "type_traffic"))


def _seasonal(features: pd.DataFrame, week: dt.date) -> list[dict]:
    """季节性提示: wage arrears before Spring Festival; neighbour, property and traffic disputes in summer."""
    hints = []
    base = _base_level(features)
    previous = week - dt.timedelta(days=7)
    to_festival = _weeks_to_festival(week)
    if to_festival <= 8:
        text = (f"距春节约{to_festival}周，进入农民工工资支付集中期，拖欠工资引发的劳动争议和群体性讨薪易发多发。"
                if to_festival else "本周为春节所在周，节日期间值班值守和欠薪问题应急处置不可放松。")
        if "wage_arrears" in base.columns:
            per_week = base.groupby("week_start")["wage_arrears"].sum()
            this, prev = per_week.get(week), per_week.get(previous)
            if this is not None and not pd.isna(this):
                text += f"本周涉欠薪诉求{int(this):,}件，环比{_change_words(this, prev)}。"
        text += "请重点关注工程建设、劳动密集型企业集中的地区，配合人社部门做好欠薪线索快速调处。"
        hints.append({"title": "春节前欠薪问题", "text": text})
    middle = week + dt.timedelta(days=3)
    if middle.month in (6, 7, 8):
        parts = []
        towns = _township_rows(features)
        for label, col in SUMMER_TYPES:
            if col in towns.columns:
                per_week = towns.groupby("week_start")[col].sum()
                this, prev = per_week.get(week), per_week.get(previous)
                if this is not None and not pd.isna(this):
                    parts.append(f"{label}纠纷{int(this):,}件（环比{count_change_text(this, prev)}）")
        text = "夏季夜间活动增多、用电用水和噪声问题集中，邻里、物业和道路交通事故纠纷进入高发期。"
        if parts:
            text += "本周" + "、".join(parts) + "。"
        text += "请加强城市社区和交通要道周边的排查化解，做好调解力量调度。"
        hints.append({"title": "夏季高发纠纷", "text": text})
    return hints


# --- data completeness ----------------------------------------------------------------------------
_DAY_IN_PATH = re.compile(r"(\d{4}-\d{2}-\d{2})")


def _completeness(lake: Lake, weekly: pd.DataFrame, week: dt.date, county_code: str | None = None) -> dict:
    week_days = {week + dt.timedelta(days=i) for i in range(7)}
    baseline_weeks = [week - dt.timedelta(days=7 * i) for i in range(1, BASELINE_WEEKS + 1)]
    present = [w for w in baseline_weeks if w in weekly.index]
    manifest, manifest_note = _read_manifest(lake)
    quarantine, quarantine_note = _read_quarantine(lake)

    feeds = []
    for feed, col, label in FEED_COLUMNS:
        this = _int(_value(weekly, week, col))
        average = float(weekly.loc[present, col].mean()) if present else None
        ratio = (this / average) if (this is not None and average) else None
        notes = []
        if ratio is not None and ratio < 0.5:
            notes.append("记录量不足近8周均值一半，可能存在断报或延迟报送")
        elif ratio is not None and ratio > 2:
            notes.append("记录量超过近8周均值两倍，请核实是否重复报送或口径变化")
        days = files = None
        if manifest is not None:
            mine = manifest[(manifest["feed"] == feed) & manifest["day"].isin(week_days)]
            days, files = int(mine["day"].nunique()), int(len(mine))
            if days < 7:
                notes.append(f"本周有{7 - days}天未收到数据")
        reasons, quarantined = [], None
        if quarantine is not None:
            mine = quarantine[(quarantine["feed"] == feed) & quarantine["day"].isin(week_days)]
            quarantined = int(len(mine))
            counts = mine["reason"].map(quarantine_reason_zh).value_counts()
            reasons = [{"reason": reason, "count": int(n)} for reason, n in counts.items()]
        # Worth a recommendation (not only a note): volume far off its average, or most days missing.
        serious = (ratio is not None and not 0.5 <= ratio <= 2) or (days is not None and days <= 4)
        feeds.append({
            "feed": feed, "label": label, "this": this, "serious": serious,
            "average": None if average is None else round(average, 1),
            "ratio": "—" if ratio is None else f"{ratio:.0%}",
            "low": ratio is not None and ratio < 0.5,
            "days": days, "files": files, "quarantined": quarantined, "reasons": reasons, "notes": notes,
        })
    health = _feed_health(lake, week, county_code)
    return {
        "feeds": feeds,
        "baseline_weeks": len(present),
        "manifest_note": manifest_note,
        "quarantine_note": quarantine_note,
        "issues": [f for f in feeds if f["notes"]],
        **health,
    }


def _feed_health(lake: Lake, week: dt.date, county_code: str | None) -> dict:
    """Outages and catch-up bursts per feed and county this week, from gold/feed_health, in Chinese."""
    try:
        health = read_table(lake.gold("feed_health"))
    except FileNotFoundError:
        return {"outages": [], "catch_ups": [], "feed_health_note":
                "未找到数据报送监测表（gold/feed_health），无法判断各县（市、区）数据是否中断。"}
    mine = health[health["week_start"] == week]
    if county_code is not None:
        mine = mine[mine["county_code"].astype(str) == county_code]
    outages, catch_ups = [], []
    for r in mine.sort_values(["feed", "county_code"]).itertuples(index=False):
        place, feed = scrub(str(r.county_name or r.county_code)), r.feed_zh
        usual = "" if pd.isna(r.baseline_median) else f"（近8周中位数{_int(r.baseline_median)}条）"
        if r.status in ("outage", "feed_down"):
            silent = (f"已连续{int(r.days_since_data)}天无数据" if not pd.isna(r.days_since_data)
                      and r.days_since_data >= 7 else f"仅为常态的{r.ratio:.0%}")
            scope = "全市各县（市、区）同时中断，疑为导出故障" if r.status == "feed_down" else "其他县（市、区）报送正常"
            outages.append({"feed": feed, "county": place, "status": r.status_zh,
                            "text": f"{feed}·{place}：本周{_int(r.records)}条{usual}，{silent}，{scope}，"
                                    f"判定为数据中断；该地区本周风险评分可能偏低，不代表平稳。"})
        elif r.status == "catch_up":
            catch_ups.append({"feed": feed, "county": place, "status": r.status_zh,
                              "text": f"{feed}·{place}：本周{_int(r.records)}条{usual}，为常态的{r.ratio:.0%}，"
                                      f"系中断后的集中补报，不代表矛盾纠纷激增。"})
    return {"outages": outages, "catch_ups": catch_ups, "feed_health_note": None}


def _read_manifest(lake: Lake) -> tuple[pd.DataFrame | None, str | None]:
    path = lake.bronze_manifest
    if not path.exists():
        return None, "未找到原始数据落地清单（bronze/_manifest.parquet），无法统计有数据天数和落地文件数。"
    manifest = pd.read_parquet(path, columns=["feed", "day"])
    manifest["day"] = pd.to_datetime(manifest["day"].astype(str), errors="coerce").dt.date
    return manifest, None


def _read_quarantine(lake: Lake) -> tuple[pd.DataFrame | None, str | None]:
    path = lake.quarantine
    if not path.exists():
        return None, "未找到隔离记录表（silver/quarantine），无法统计隔离记录。"
    if not any(path.rglob("*.parquet")):  # published empty: nothing was rejected
        return pd.DataFrame({"feed": [], "reason": [], "day": []}), None
    # Never read raw_masked: the briefing counts rejected records, it does not show them.
    quarantine = read_table(path, columns=["feed", "source_file", "reason", "quarantined_at"])
    from_path = quarantine["source_file"].astype(str).str.extract(_DAY_IN_PATH, expand=False)
    day = pd.to_datetime(from_path, errors="coerce")
    landed = pd.to_datetime(quarantine["quarantined_at"], errors="coerce", utc=True)
    day = day.fillna(landed.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None))
    quarantine["day"] = day.dt.date
    quarantine["feed"] = quarantine["feed"].astype(str)
    return quarantine, None


# --- trend charts (SVG geometry; the template draws it) ---------------------------------------------
def _trend_charts(weekly: pd.DataFrame, scores: pd.DataFrame, week: dt.date) -> list[dict]:
    weeks = [week - dt.timedelta(days=7 * i) for i in range(TREND_WEEKS - 1, -1, -1)]
    totals = [_int(_value(weekly, w, "total_contacts")) for w in weeks]
    town = scores[scores["level"] == "township"]
    scored_weeks = set(town["week_start"])
    flagged_per_week = flagged_rows(town).groupby("week_start").size()
    flagged = [int(flagged_per_week.get(w, 0)) if w in scored_weeks else None for w in weeks]
    return [
        line_chart(weeks, totals, "群众诉求总量（热线＋工单＋人民调解）", "件", "#1d39c4"),
        line_chart(weeks, flagged, "预警乡镇（街道）数", "个", "#cf1322"),
    ]


def nice_ticks(maximum: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``maximum`` (about ``count`` intervals, whole numbers)."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    step = max(1, step)
    top = math.ceil(maximum / step) * step
    return [i * step for i in range(int(round(top / step)) + 1)]


def line_chart(weeks: list[dt.date], values: list[int | None], title: str, unit: str, colour: str,
               width: int = 860, height: int = 250) -> dict:
    """Positions of a line chart's line, points and ticks; gaps where a value is missing."""
    left, right, top, bottom = 64, 20, 36, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    known = [v for v in values if v is not None]
    ticks = nice_ticks(max(known) if known else 0)
    y_max = ticks[-1]

    def x_at(i: int) -> float:
        return left + (plot_w * i / (len(weeks) - 1) if len(weeks) > 1 else plot_w / 2)

    def y_at(v: float) -> float:
        return top + plot_h - plot_h * v / y_max

    lines, segment, points = [], [], []
    for i, (w, v) in enumerate(zip(weeks, values)):
        if v is None:
            if segment:
                lines.append(" ".join(segment))
            segment = []
            continue
        x, y = round(x_at(i), 1), round(y_at(v), 1)
        segment.append(f"{x},{y}")
        points.append({"x": x, "y": y, "label": f"{day_label(w)}当周：{v:,}{unit}"})
    if segment:
        lines.append(" ".join(segment))
    step = max(1, math.ceil(len(weeks) / 9))
    x_ticks = [{"x": round(x_at(i), 1), "label": f"{w.month}/{w.day}"}
               for i, w in enumerate(weeks) if (len(weeks) - 1 - i) % step == 0]
    y_ticks = [{"y": round(y_at(t), 1), "label": f"{t:,.0f}"} for t in ticks]
    last = points[-1] if points and values and values[-1] is not None else None
    return {
        "title": title, "unit": unit, "colour": colour, "width": width, "height": height,
        "left": left, "right": width - right, "top": top, "bottom": top + plot_h,
        "lines": lines, "points": points, "x_ticks": x_ticks, "y_ticks": y_ticks, "last": last,
        "empty": not known,
        "caption": f"{_full_day(weeks[0])}至{_full_day(weeks[-1] + dt.timedelta(days=6))}，共{len(weeks)}周",
    }


# --- recommendations --------------------------------------------------------------------------------
_ACTIONS = {
    "红": "于48小时内组织专人赴实地开展全面排查，逐件核实相关纠纷，落实领导包案和化解稳控措施，"
          "必要时会同公安、信访、人社等部门联合处置，并及时向当地党委政府报告",
    "橙": "在一周内开展重点排查，摸清矛盾纠纷底数和当事人诉求，组织调解组织提前介入，防止矛盾激化升级",
}
# For yellow and blue places, listed together per county: "请X司法局对A、B<action>".
_MILD_ACTIONS = {
    "黄": "加强日常排查和跟踪研判，做好调解力量调度",
    "蓝": "保持关注，做好常态化排查化解",
}


def _recommendations(flagged: list[dict], completeness: dict, week: dt.date, names: dict[str, str],
                     bureaus: dict) -> list[str]:
    out = []
    urgent = [f for f in flagged if f["risk_level"] in ("红", "橙")]
    for f in urgent:
        county_bureau = county_bureau_name(f["county_code"], names, bureaus)
        basis = f"（主要依据：{f['reasons'][0]}）" if f["reasons"] else ""
        if f["is_township"]:
            office = township_office_name(f["region_code"], names, bureaus)
            out.append(f"【{f['level_name']}】请{county_bureau}会同{office}{_ACTIONS[f['risk_level']]}{basis}。")
        else:
            out.append(f"【{f['level_name']}】请{county_bureau}在{_county_scope(f['county_name'])}范围内"
                       f"{_ACTIONS[f['risk_level']]}{basis}。")
    milder: dict[tuple[str, str], list[str]] = {}
    for f in flagged:
        if f["risk_level"] in ("黄", "蓝") or f["risk_level"] is None:
            level = f["risk_level"] or "蓝"
            place = f["township_name"] if f["is_township"] else _county_scope(f["county_name"])
            milder.setdefault((f["county_code"], level), []).append(place)
    for (county, level), places in sorted(milder.items(), key=lambda kv: (LEVEL_RANK[kv[0][1]], kv[0][0])):
        out.append(f"【{LEVEL_NAMES[level]}】请{county_bureau_name(county, names, bureaus)}对"
                   f"{'、'.join(places)}{_MILD_ACTIONS[level]}。")
    if urgent:
        out.append("请收到预警的司法局、司法所在7日内通过预警邮件中的确认编号反馈核查及处置情况，"
                   "反馈结果将用于检验和改进研判模型。")
    if _weeks_to_festival(week) <= 8:
        out.append("春节前为拖欠农民工工资问题高发期，请各地司法行政机关配合人社部门开展冬季攻坚，"
                   "对工程建设领域欠薪线索优先受理、快速调处。")
    if completeness.get("outages"):
        places = "、".join(f"{o['county']}{o['feed']}" for o in completeness["outages"])
        out.append(f"{places}数据本周中断，请信息中心督促补报；补报前相关地区的风险评分可能偏低，请结合实地排查研判。")
    for f in completeness["issues"]:
        if not f["serious"]:
            continue
        out.append(f"{f['label']}数据：{'；'.join(f['notes'])}。请信息中心核实数据报送情况，"
                   "相关地区研判结果请审慎使用。")
    if not flagged:
        out.insert(0, "本周未发现需重点关注的地区，请各地继续做好矛盾纠纷常态化排查化解工作。")
    return out


def _county_scope(county_name: str) -> str:
    """``全区`` / ``全县`` / ``全市`` for a county-level unit's name."""
    return f"全{county_name[-1]}" if county_name and county_name[-1] in "区县市旗" else "全辖区"


# --- small formatting helpers -------------------------------------------------------------------------
def _now_label() -> str:
    now = dt.datetime.now(ZoneInfo("Asia/Shanghai"))
    return f"{now.year}年{day_label(now.date())} {now:%H:%M}"


def _weeks_to_festival(week: dt.date) -> int:
    try:
        return weeks_to_spring_festival(week)
    except ValueError:  # past the calendar in fengqiao.core.weeks: no seasonal hint
        return 99


def _full_day(day: dt.date) -> str:
    return f"{day.year}年{day_label(day)}"


def _int(value) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _direction(ratio: float | None) -> str:
    if ratio is None or abs(ratio) < 0.0005:
        return "flat"
    return "up" if ratio > 0 else "down"


def _change_words(this, previous) -> str:
    """Change in words for the lead text; counts instead of a percentage below 10 records."""
    ratio = change_ratio(this, previous)
    if ratio is not None and small_counts(this, previous):
        return f"由{int(previous)}件变为{int(this)}件"
    if ratio is None:
        return "无可比数据"
    if abs(ratio) < 0.0005:
        return "持平"
    return f"{'上升' if ratio > 0 else '下降'}{abs(ratio):.1%}"
