"""The bureau directory (``reference/bureaus.csv``): who receives the alerts of a region, and the checks a
row must pass before anything is sent to it.

Columns: ``region_code,unit_name,email,webhook_url`` (and optionally ``county_code``). A township's own
justice office (司法所) receives its alerts when the file lists one, else its county's justice bureau
(司法局); a county goes to its county bureau; never to a bureau of another county.

Unit names and addresses go into mail headers and webhook requests, so the checks here also decide what
text is safe there (:func:`one_line`, :func:`has_control`) and which webhook addresses are acceptable
(:func:`url_problem`: https, plain http to a loopback host only).
"""
from __future__ import annotations

import csv
import io
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd

from fengqiao.core.regions import county_of, is_valid_code

BUREAU_COLUMNS = ("region_code", "unit_name", "email", "webhook_url")


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


# --- text that goes into a mail header ------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


def one_line(text) -> str:
    """``text`` with line breaks and control characters turned into spaces: safe in a mail header or subject
    (a CR or LF there could add headers of the sender's choosing)."""
    return _CONTROL.sub(" ", "" if text is None else str(text)).strip()


def has_control(text) -> bool:
    return bool(_CONTROL.search("" if text is None else str(text)))


# --- addresses ------------------------------------------------------------------------------------
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*")


def email_problem(address: str) -> str | None:
    """Why ``address`` is not exactly one e-mail address, or None."""
    if re.search(r"[,;]", address) or len(address.split()) > 1 or address.count("@") > 1:
        return "more than one address in the email cell: one recipient per unit"
    if has_control(address) or not _EMAIL.fullmatch(address):
        return "email is not an e-mail address (name@domain, no spaces or line breaks)"
    return None


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be used as a webhook address, or None."""
    if not url or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return "webhook_url in bureaus.csv is empty or holds spaces, line breaks or control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a malformed port)
    except ValueError:
        return "webhook_url in bureaus.csv is not a valid address"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "webhook_url in bureaus.csv is not an https address"
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return (f"webhook_url to {parts.hostname} is plain http: alerts go to https addresses only "
                "(http only to a loopback host)")
    return None


def is_loopback(host: str | None) -> bool:
    """``localhost`` or a loopback IP address: the only hosts plain http (and a login-free SMTP) may reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


# --- bureaus.csv, checked on load ------------------------------------------------------------------
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
