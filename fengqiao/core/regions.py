"""The region hierarchy from ``reference/regions.csv`` and helpers on 12-digit codes.

Codes: 2 province + 2 city + 2 county + 3 township + 3 village digits, zero-padded upwards.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pandas as pd

LEVELS = ("province", "city", "county", "township", "village")
# Levels that are sent alerts (司法所 and 司法局); cities and the province read the briefing.
ALERT_LEVELS = ("township", "county")


def province_of(code: str) -> str:
    return code[:2] + "0000000000"


def city_of(code: str) -> str:
    return code[:4] + "00000000"


def county_of(code: str) -> str:
    return code[:6] + "000000"


def township_of(code: str) -> str:
    return code[:9] + "000"


# The code of the region above (or at) a 12-digit code, by level: a village's or township's township, county,
# city and province.
CODE_AT_LEVEL = {"township": township_of, "county": county_of, "city": city_of, "province": province_of}


def is_valid_code(code: str | None) -> bool:
    return bool(code) and len(code) == 12 and code.isdigit()


def _regular_file(path: str | Path) -> Path:
    """``path`` if it is a regular file itself: reference files come from a drop, a link is never followed."""
    path = Path(path)
    if not stat.S_ISREG(os.lstat(path).st_mode):
        raise ValueError(f"{path.name}: not a regular file (a link, FIFO or device); refused")
    return path


def read_regions(path: str | Path) -> pd.DataFrame:
    """Read regions.csv with codes kept as strings (leading digits matter, never parse as int)."""
    path = _regular_file(path)
    df = pd.read_csv(
        path,
        dtype={"code": str, "name": str, "level": str, "parent_code": str},
        encoding="utf-8-sig",
    )
    missing = {"code", "name", "level", "parent_code", "lat", "lon", "population"} - set(df.columns)
    if missing:
        raise ValueError(f"{path}: regions.csv lacks columns {sorted(missing)}")
    df["code"] = df["code"].str.strip()
    df["parent_code"] = df["parent_code"].fillna("").str.strip()
    return df


def read_bureaus(path: str | Path) -> pd.DataFrame:
    df = pd.read_csv(_regular_file(path), dtype=str, encoding="utf-8-sig").fillna("")
    missing = {"region_code", "unit_name", "email", "webhook_url"} - set(df.columns)
    if missing:
        raise ValueError(f"{path}: bureaus.csv lacks columns {sorted(missing)}")
    return df
