"""Helpers shared by the briefing and the alerts: week labels, warning levels, routing to bureaus,
and a last scrub of text that leaves the lake for people.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fengqiao.core.privacy import mask_text
from fengqiao.core.regions import county_of, is_valid_code

from fengqiao.delivery.webhooks import url_problem

# Warning levels, most severe first, with the colours local rules use for them.
LEVELS = ("红", "橙", "黄", "蓝")
LEVEL_RANK = {level: i for i, level in enumerate(LEVELS)}
LEVEL_COLOURS = {"红": "#cf1322", "橙": "#fa8c16", "黄": "#fadb14", "蓝": "#1677ff"}
LEVEL_TEXT_COLOURS = {"红": "#ffffff", "橙": "#ffffff", "黄": "#262626", "蓝": "#ffffff"}
LEVEL_NAMES = {"红": "红色", "橙": "橙色", "黄": "黄色", "蓝": "蓝色"}


# --- weeks ----------------------------------------------------------------------------------------
def as_date(value) -> dt.date:
    """A date from a date, datetime, pandas Timestamp or ISO string."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(str(value)).date()


def day_label(day: dt.date) -> str:
    return f"{day.month}月{day.day}日"


def week_label(week_start: dt.date) -> str:
    """``2025年第12周（3月17日—3月23日）`` for the ISO week starting on ``week_start``."""
    iso_year, iso_week, _ = week_start.isocalendar()
    return f"{iso_year}年第{iso_week}周（{day_label(week_start)}—{day_label(week_start + dt.timedelta(days=6))}）"


def week_short_label(week_start: dt.date) -> str:
    """``2025年第12周`` (for subjects)."""
    iso_year, iso_week, _ = week_start.isocalendar()
    return f"{iso_year}年第{iso_week}周"


def latest_scored_week(scores: pd.DataFrame) -> dt.date:
    if scores.empty:
        raise ValueError("gold/risk_scores holds no rows: run the scoring stage first")
    return max(as_date(w) for w in scores["week_start"].unique())


# --- values ---------------------------------------------------------------------------------------
def probability_text(score) -> str:
    """A 0-1 score as a percentage: ``63%``, or ``3.4%`` below 10 %."""
    if score is None or pd.isna(score):
        return "—"
    score = float(score)
    return f"{score:.0%}" if score >= 0.1 else f"{score:.1%}"


def change_ratio(this, previous) -> float | None:
    """Week-on-week change (0.12 = +12 %); None when there is no base to compare with."""
    if this is None or previous is None or pd.isna(this) or pd.isna(previous) or previous == 0:
        return None
    return (float(this) - float(previous)) / float(previous)


def small_counts(this, previous) -> bool:
    """Both counts known and under 10 records a week, where a percentage misleads ("↑300.0%" of 1)."""
    from models.reasons import COUNTS_ONLY_BELOW

    if this is None or previous is None or pd.isna(this) or pd.isna(previous):
        return False
    return max(float(this), float(previous)) < COUNTS_ONLY_BELOW


def count_change_text(this, previous) -> str:
    """Week-on-week change of a count: a percentage from 10 records a week up, below that both counts ("1→4件")."""
    if this is None or previous is None or pd.isna(this) or pd.isna(previous):
        return "—"
    if small_counts(this, previous):
        return f"{int(previous)}→{int(this)}件"
    return change_text(change_ratio(this, previous))


def change_text(ratio: float | None) -> str:
    if ratio is None:
        return "—"
    if abs(ratio) < 0.0005:
        return "持平"
    return f"{'↑' if ratio > 0 else '↓'}{abs(ratio):.1%}"


def level_of(value) -> str | None:
    return value if isinstance(value, str) and value in LEVEL_RANK else None


def flagged_rows(scores: pd.DataFrame) -> pd.DataFrame:
    """Rows of gold/risk_scores with ``flagged`` true (null counts as not flagged)."""
    return scores[scores["flagged"].fillna(False).astype(bool)]


# --- personal data: a last guard -------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


def one_line(text) -> str:
    """``text`` with line breaks and control characters turned into spaces: safe in a mail header or subject
    (a CR or LF there could add headers of the sender's choosing)."""
    return _CONTROL.sub(" ", "" if text is None else str(text)).strip()


def has_control(text) -> bool:
    return bool(_CONTROL.search("" if text is None else str(text)))


def scrub(text) -> str:
    """Gold holds aggregates only, but reasons and names are text written by other stages: mask
    anything shaped like a phone, ID or bank card number, address or cued name (fengqiao.core.privacy)
    before it reaches a briefing or a mail."""
    return mask_text("" if text is None else str(text))


# Quarantine reason codes (silver's "code[:field] | text") in the briefing's language.
QUARANTINE_REASONS_ZH = {
    "malformed_record": "记录格式损坏（行被截断、引号或列数错误）",
    "missing_required_field": "必填字段为空",
    "unparseable_date": "日期时间格式无法识别",
    "invalid_region_code": "区划代码不是12位数字",
    "unknown_region_code": "区划代码不在区划表中",
    "missing_region_code": "缺少区划代码且地址无法定位到乡镇",
    "stray_header_row": "文件中间夹带表头行",
    "unparseable_amount": "涉案金额无法识别",
    "unparseable_integer": "整数字段内容有误",
    "unknown_dispute_type": "纠纷类型不在15类之内",
    "unreadable_file": "文件无表头或编码无法识别，整个文件未入库",
    # The row-level rules of the silver suites, checked as each record is parsed (jobs/silver/rules.py).
    "null_value": "必填字段为空",
    "out_of_range": "数值或日期超出合理范围",
    "not_in_allowed_set": "取值不在规定范围内",
    "pattern_mismatch": "格式不符合规定",
    "forbidden_pattern": "含有不应出现的内容（如未脱敏的号码）",
    "order_violation": "时间先后矛盾（如办结早于受理）",
}


def quarantine_reason_zh(reason) -> str:
    """``unparseable_date:受理日期 | …`` -> ``日期时间格式无法识别（受理日期）``; unknown codes pass through masked."""
    if not isinstance(reason, str) or not reason.strip():
        return "未注明"
    code = reason.split("|", 1)[0].strip()
    base, _, field = code.partition(":")
    label = QUARANTINE_REASONS_ZH.get(base)
    if label is None:
        return scrub(reason)
    return f"{label}（{field}）" if field else label


def reasons_list(value) -> list[str]:
    """The ``reasons`` cell (list, numpy array, string or null) as a list of scrubbed strings."""
    if value is None:
        return []
    if isinstance(value, str):
        items = [value]
    else:
        try:
            items = list(value)
        except TypeError:
            items = [] if pd.isna(value) else [value]
    return [scrub(item) for item in items if item is not None and str(item).strip()]


# --- regions and bureaus --------------------------------------------------------------------------
def region_names(regions: pd.DataFrame) -> dict[str, str]:
    return dict(zip(regions["code"], regions["name"]))


def top_area_name(regions: pd.DataFrame) -> str:
    """Name of the one unit that covers the whole drop: its city for a city's drop (even when regions.csv also
    lists the province above it), its province for a province's; "全辖区" when neither is single."""
    for level in ("city", "province"):
        rows = regions[regions["level"] == level]
        if len(rows) == 1:
            return str(rows["name"].iloc[0])
    return "全辖区"


@dataclass(frozen=True)
class Bureau:
    region_code: str
    unit_name: str
    email: str


def bureau_index(bureaus: pd.DataFrame | None) -> dict[str, Bureau]:
    if bureaus is None or bureaus.empty:
        return {}
    return {
        str(row.region_code).strip(): Bureau(str(row.region_code).strip(), str(row.unit_name).strip(),
                                              str(row.email).strip())
        for row in bureaus.itertuples(index=False)
    }


def route(region_code: str, index: dict[str, Bureau]) -> Bureau | None:
    """The bureau that receives alerts for a region.

    A township goes to its own justice office when bureaus.csv lists one, else to its county's
    bureau; a county goes to its county bureau. Never to a bureau of another county.
    """
    return index.get(region_code) or index.get(county_of(region_code))


def county_bureau_name(county_code: str, names: dict[str, str], index: dict[str, Bureau]) -> str:
    bureau = index.get(county_code)
    return bureau.unit_name if bureau else f"{names.get(county_code, county_code)}司法局"


def township_office_name(township_code: str, names: dict[str, str], index: dict[str, Bureau]) -> str:
    bureau = index.get(township_code)
    return bureau.unit_name if bureau else f"{names.get(township_code, township_code)}司法所"


# --- bureaus.csv, checked on load ------------------------------------------------------------------
BUREAU_COLUMNS = ("region_code", "unit_name", "email", "webhook_url")
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*")


def email_problem(address: str) -> str | None:
    """Why ``address`` is not exactly one e-mail address, or None."""
    if re.search(r"[,;]", address) or len(address.split()) > 1 or address.count("@") > 1:
        return "more than one address in the email cell: one recipient per unit"
    if has_control(address) or not _EMAIL.fullmatch(address):
        return "email is not an e-mail address (name@domain, no spaces or line breaks)"
    return None


def read_bureaus_checked(path: str | Path, regions: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """bureaus.csv's usable rows and one problem (``line``, ``region_code``, ``reason``) per row skipped.

    A file without the required columns is an error; a bad row is reported and skipped (see
    :func:`check_bureaus`), the good rows are used. ``line`` is the row's first line in the file.
    """
    reader = csv.DictReader(io.StringIO(Path(path).read_bytes().decode("utf-8-sig"), newline=""))
    missing = set(BUREAU_COLUMNS) - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"{path}: bureaus.csv lacks columns {sorted(missing)}")
    rows, start = [], reader.line_num + 1
    for record in reader:
        rows.append({**{k: (v or "") for k, v in record.items() if k is not None}, "_line": start})
        start = reader.line_num + 1
    frame = pd.DataFrame(rows, columns=[*(reader.fieldnames or ()), "_line"])
    return check_bureaus(frame, regions)


def check_bureaus(bureaus: pd.DataFrame, regions: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """(the rows fit to receive alerts, one problem per row refused).

    A row is refused when its region code is not a county or township of regions.csv; its unit name
    holds a line break or control character; its email cell holds more than one address or something that
    is not an address; its webhook_url is not https (http only to loopback); it has neither; its optional
    ``county_code`` is not the county of its region (a bureau of another county); its region is already
    listed (one recipient per unit); or its address or webhook already serves a unit of another county
    (alerts of one county would reach another county's bureau).
    """
    if bureaus is None or bureaus.empty:
        return pd.DataFrame(columns=list(BUREAU_COLUMNS)), []
    levels = dict(zip(regions["code"].astype(str), regions["level"].astype(str)))
    lines = bureaus["_line"] if "_line" in bureaus.columns else pd.Series(range(2, len(bureaus) + 2),
                                                                            index=bureaus.index)
    good, problems = [], []
    units: dict[str, int] = {}
    recipients: dict[str, tuple[str, int]] = {}
    for idx, row in bureaus.iterrows():
        line = int(lines[idx])
        fields = {c: "" if pd.isna(row.get(c)) else str(row.get(c)) for c in (*BUREAU_COLUMNS, "county_code")}
        code = fields["region_code"].strip()
        reason = _bureau_row_problem(fields, code, levels, units, recipients)
        if reason:
            problems.append({"line": line, "region_code": one_line(code)[:20], "reason": reason})
            continue
        units[code] = line
        for recipient in (fields["email"].strip().lower(), fields["webhook_url"].strip()):
            if recipient:
                recipients.setdefault(recipient, (county_of(code), line))
        good.append(idx)
    return bureaus.loc[good].reset_index(drop=True), problems


def _bureau_row_problem(fields: dict, code: str, levels: dict, units: dict, recipients: dict) -> str | None:
    if not is_valid_code(code) or levels.get(code) not in ("county", "township"):
        return "region_code is not a 12-digit county or township code of regions.csv"
    if code in units:
        return f"region {code} is already listed on line {units[code]}: one recipient per unit"
    if not fields["unit_name"].strip() or has_control(fields["unit_name"]):
        return "unit_name is empty or holds a line break or control character (it goes into the mail header)"
    county = fields["county_code"].strip()
    if county and county != county_of(code):
        return (f"region {code} belongs to county {county_of(code)}, not to this bureau's county "
                f"{one_line(county)[:12]}: routing to another county's bureau refused")
    email, hook = fields["email"].strip(), fields["webhook_url"].strip()
    if not email and not hook:
        return "neither an email nor a webhook_url"
    if email and (problem := email_problem(email)):
        return problem
    if hook and (problem := url_problem(hook)):
        return problem
    for recipient in (email.lower(), hook):
        other = recipients.get(recipient) if recipient else None
        if other and other[0] != county_of(code):
            return (f"its address already receives the alerts of county {other[0]} (line {other[1]}): "
                    "routing to another county's bureau refused")
    return None
