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

from features import KEY_COLUMNS
from fengqiao.lake import Lake, read_table
from fengqiao.regions import county_of, read_bureaus, read_regions
from fengqiao.weeks import weeks_to_spring_festival

from .common import (
    LEVEL_COLOURS, LEVEL_NAMES, LEVEL_RANK, LEVEL_TEXT_COLOURS, LEVELS, as_date, bureau_index,
    change_ratio, change_text, county_bureau_name, day_label, flagged_rows, latest_scored_week, level_of,
    probability_text, quarantine_reason_zh, reasons_list, region_names, scrub, top_area_name, township_office_name, week_label,
)

TEMPLATES = Path(__file__).parent / "templates"
TREND_WEEKS = 26
BASELINE_WEEKS = 8

# (feed as in the lake, its count column in region_week_features, its name in the briefing)
FEED_COLUMNS = (
    ("hotline", "hotline_calls", "热线来电（12348/12345）"),
    ("workorders", "work_orders", "工单"),
    ("mediation", "mediation_cases", "人民调解案件"),
)
COUNT_COLUMNS = [col for _, col, _ in FEED_COLUMNS] + ["total_contacts"]
LEVEL_SCOPES = (("township", "乡镇（街道）"), ("county", "县（市、区）"))


def render_briefing(lake: Lake, week_start: dt.date | None = None) -> Path:
    """Write the briefing of ``week_start`` (default: the latest scored week) and return its path."""
    context = build_context(lake, week_start)
    html = _environment().get_template("briefing.html.j2").render(**context)
    lake.briefings.mkdir(parents=True, exist_ok=True)
    target = lake.briefings / f"{context['week_start'].isoformat()}.html"
    _write_atomically(target, html)
    latest = lake.briefings / "latest.html"
    tmp = latest.with_suffix(".html.tmp")
    shutil.copyfile(target, tmp)
    os.replace(tmp, latest)
    return target


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
def build_context(lake: Lake, week_start: dt.date | None = None) -> dict:
    """Everything the template shows, as plain Python values (tested without rendering)."""
    scores = read_table(lake.gold("risk_scores"))
    week = as_date(week_start) if week_start is not None else latest_scored_week(scores)
    week_scores = scores[scores["week_start"] == week]
    if week_scores.empty:
        raise ValueError(f"gold/risk_scores has no scores for the week of {week}: score that week first")

    features = _read_features(lake)
    regions = read_regions(lake.reference / "regions.csv")
    bureaus_path = lake.reference / "bureaus.csv"
    bureaus = bureau_index(read_bureaus(bureaus_path) if bureaus_path.exists() else None)
    names = {code: scrub(name) for code, name in region_names(regions).items()}

    weekly = _weekly_totals(features)
    flagged = _hotspots(week_scores, features, week, names)
    counties = _county_rows(regions, features, week_scores, week, names)
    completeness = _completeness(lake, weekly, week)
    model_versions = sorted({str(v) for v in week_scores["model_version"].dropna()})

    return {
        "title": "矛盾纠纷风险研判周报",
        "week_start": week,
        "week_label": week_label(week),
        "area_name": scrub(top_area_name(regions)),
        "overview": _overview(weekly, week_scores, week, flagged),
        "flagged": flagged,
        "charts": _trend_charts(weekly, scores, week),
        "counties": counties,
        "completeness": completeness,
        "recommendations": _recommendations(flagged, completeness, week, names, bureaus),
        "model_versions": model_versions,
        "generated_at": _now_label(),
        "levels": LEVELS,
        "level_colours": LEVEL_COLOURS,
        "level_text_colours": LEVEL_TEXT_COLOURS,
    }


def _read_features(lake: Lake) -> pd.DataFrame:
    return read_table(lake.gold("region_week_features"), columns=[*KEY_COLUMNS, *COUNT_COLUMNS])


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
    feeds = []
    for _, col, label in (*FEED_COLUMNS, (None, "total_contacts", "合计")):
        this, prev = _value(weekly, week, col), _value(weekly, previous, col)
        ratio = change_ratio(this, prev)
        feeds.append({"label": label, "this": _int(this), "previous": _int(prev), "change": change_text(ratio),
                      "direction": _direction(ratio), "is_total": col == "total_contacts"})

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
        lead += f"，环比{_change_words(change_ratio(total['this'], total['previous']))}。"
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
        out.append({
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
            "contacts_change": change_text(change_ratio(this, prev)),
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
            "change": change_text(ratio),
            "direction": _direction(ratio),
            "flagged_townships": int((mine["level"] == "township").sum()),
            "county_flagged": bool((mine["level"] == "county").any()),
            "highest": highest,
        })
    out.sort(key=lambda r: (LEVEL_RANK.get(r["highest"], 9), -r["flagged_townships"], -(r["this"] or 0), r["code"]))
    return out


# --- data completeness ----------------------------------------------------------------------------
_DAY_IN_PATH = re.compile(r"(\d{4}-\d{2}-\d{2})")


def _completeness(lake: Lake, weekly: pd.DataFrame, week: dt.date) -> dict:
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
    return {
        "feeds": feeds,
        "baseline_weeks": len(present),
        "manifest_note": manifest_note,
        "quarantine_note": quarantine_note,
        "issues": [f for f in feeds if f["notes"]],
    }


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
    except ValueError:  # past the calendar in fengqiao.weeks: no seasonal hint
        return 99


def _full_day(day: dt.date) -> str:
    return f"{day.year}年{day_label(day)}"


def _int(value) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _direction(ratio: float | None) -> str:
    if ratio is None or abs(ratio) < 0.0005:
        return "flat"
    return "up" if ratio > 0 else "down"


def _change_words(ratio: float | None) -> str:
    if ratio is None:
        return "无可比数据"
    if abs(ratio) < 0.0005:
        return "持平"
    return f"{'上升' if ratio > 0 else '下降'}{abs(ratio):.1%}"
