"""The map of the contract world: 衡阳市 (Hengyang, Hunan), its real counties, synthetic townships and villages.

County codes and names are the real GB/T 2260 ones; county seats are approximate. Townships and villages are
invented (names from local-sounding morphemes) but follow the statistical code rules: township digits 001-099
are 街道, 100-199 镇, 200-399 乡; village digits 001-199 are 社区 (居委会), 200-399 村 (村委会).

The map does not depend on the seed: a real city does not change between two runs, only what happens in it.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

PROVINCE = ("430000000000", "湖南省", 28.228, 112.939, None)
CITY = ("430400000000", "衡阳市", 26.894, 112.572, None)

# code, name, seat lat, seat lon, kind, number of townships at city scale, spread of its townships (km)
COUNTIES = [
    ("430405", "珠晖区", 26.894, 112.623, "urban", 8, 7),
    ("430406", "雁峰区", 26.868, 112.614, "urban", 6, 5),
    ("430407", "石鼓区", 26.944, 112.598, "urban", 7, 6),
    ("430408", "蒸湘区", 26.911, 112.567, "urban", 6, 5),
    ("430412", "南岳区", 27.232, 112.738, "mixed", 5, 9),
    ("430421", "衡阳县", 26.969, 112.370, "rural", 25, 30),
    ("430422", "衡南县", 26.738, 112.678, "rural", 24, 30),
    ("430423", "衡山县", 27.230, 112.868, "rural", 14, 20),
    ("430424", "衡东县", 27.081, 112.953, "rural", 19, 25),
    ("430426", "祁东县", 26.799, 112.090, "rural", 23, 28),
    ("430481", "耒阳市", 26.422, 112.860, "rural", 20, 28),
    ("430482", "常宁市", 26.421, 112.399, "rural", 18, 26),
]

SCALES = {
    # scale -> (county codes, townships per county override, default weeks)
    "small": (("430407", "430423"), {}, 20),
    "city": (tuple(c[0] for c in COUNTIES), {}, 104),
}

_FIRST = list("金石白杨洪长新大东西南北樟松柏桃花凤龙云高黄青清泉茶杉梅湘蒸耒潭塘双三五七九岳宝盛兴荣安和平乐福寿仁义德永太丰庆隆文武罗谭彭曾唐邓")
_SECOND = list("溪塘湾桥铺岭坪冲山江河洲田市口头阳峰源屋堰港渡滩林园门坳湖亭场圩州")
_VILLAGE_2 = list("家湾塘冲坪山岭桥铺屋园田溪源坝井村垅")


@dataclass
class Unit:
    code: str
    name: str
    level: str
    parent: str
    lat: float
    lon: float
    population: int | None
    kind: str = ""            # township: 街道/镇/乡; county: urban/mixed/rural
    county: str = ""          # 12-digit county code (townships and villages)
    township: str = ""        # 12-digit township code (villages)
    neighbours: list[str] = field(default_factory=list)


@dataclass
class Geography:
    province: Unit
    city: Unit
    counties: list[Unit]
    townships: list[Unit]
    villages: list[Unit]
    villages_of: dict[str, list[Unit]]

    def by_code(self) -> dict[str, Unit]:
        units = [self.province, self.city, *self.counties, *self.townships, *self.villages]
        return {u.code: u for u in units}


def _km(a: Unit, b: Unit) -> float:
    dy = (a.lat - b.lat) * 111.0
    dx = (a.lon - b.lon) * 111.0 * math.cos(math.radians(a.lat))
    return math.hypot(dx, dy)


def _name(rng: random.Random, used: set[str], pool2=_SECOND) -> str:
    for _ in range(200):
        n = rng.choice(_FIRST) + rng.choice(pool2)
        if n not in used and n[0] != n[1]:
            used.add(n)
            return n
    raise RuntimeError("ran out of place names")


def build(scale: str) -> Geography:
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}: use one of {', '.join(sorted(SCALES))}")
    wanted, override, _ = SCALES[scale]
    rng = random.Random(20260402)  # fixed: the map is the same for every seed
    prov = Unit(PROVINCE[0], PROVINCE[1], "province", "", PROVINCE[2], PROVINCE[3], None)
    city = Unit(CITY[0], CITY[1], "city", prov.code, CITY[2], CITY[3], None)
    counties, townships, villages, villages_of = [], [], [], {}
    used: set[str] = set()
    for code6, cname, lat, lon, kind, n_town, spread in COUNTIES:
        # draw every county even when not wanted, so that the small scale's townships are the city's ones
        # (石鼓区 and 衡山县: 7 + 14 = 21 townships)
        n_town = override.get(code6, n_town)
        county = Unit(code6 + "000000", cname, "county", city.code, lat, lon, None, kind=kind)
        towns = _townships(rng, county, n_town, spread, used)
        vills = {t.code: _villages(rng, t) for t in towns}
        county.population = sum(t.population for t in towns)
        if code6 in wanted:
            counties.append(county)
            townships.extend(towns)
            for t in towns:
                villages_of[t.code] = vills[t.code]
                villages.extend(vills[t.code])
    _link_neighbours(townships)
    return Geography(prov, city, counties, townships, villages, villages_of)


def _townships(rng: random.Random, county: Unit, n: int, spread: float, used: set[str]) -> list[Unit]:
    # Urban districts are mostly 街道; rural counties have a few 街道 at the seat, many 镇 and some 乡.
    if county.kind == "urban":
        n_jd = max(1, n - rng.randint(0, 2))
        n_xiang = 0
    elif county.kind == "mixed":
        n_jd, n_xiang = 2, 0
    else:
        n_jd = rng.randint(2, 4)
        n_xiang = rng.randint(1, max(1, n // 5))
    n_zhen = n - n_jd - n_xiang
    kinds = ["街道"] * n_jd + ["镇"] * n_zhen + ["乡"] * n_xiang
    out, seq = [], {"街道": 1, "镇": 100, "乡": 200}
    for i, k in enumerate(kinds):
        digits = seq[k]
        seq[k] += 1 if k == "街道" else rng.choice((1, 1, 1, 2))
        if k == "街道":
            r = rng.uniform(0.3, 0.45) * spread if county.kind != "urban" else rng.uniform(0.1, 1.0) * spread
        else:
            r = rng.uniform(0.35, 1.0) * spread
        ang = rng.uniform(0, 2 * math.pi)
        lat = county.lat + r * math.sin(ang) / 111.0
        lon = county.lon + r * math.cos(ang) / (111.0 * math.cos(math.radians(county.lat)))
        pop = rng.randint(38000, 80000) if k == "街道" else rng.randint(20000, 62000)
        code = county.code[:6] + f"{digits:03d}" + "000"
        name = _name(rng, used) + k
        out.append(Unit(code, name, "township", county.code, round(lat, 5), round(lon, 5), pop, kind=k,
                        county=county.code))
    return out


def _villages(rng: random.Random, town: Unit) -> list[Unit]:
    n = rng.randint(6, 14) if town.kind == "街道" else rng.randint(10, 26)
    n_comm = n if town.kind == "街道" else rng.randint(1, 3)
    out, used = [], set()
    for i in range(n):
        comm = i < n_comm
        digits = (1 + i) if comm else (200 + i - n_comm + 1)
        base = _name(rng, used, _VILLAGE_2)
        name = base + ("社区" if comm else "村")
        pop = None if rng.random() < 0.3 else int(town.population / n * rng.uniform(0.6, 1.4))
        out.append(Unit(town.code[:9] + f"{digits:03d}", name, "village", town.code,
                        round(town.lat + rng.uniform(-0.03, 0.03), 5), round(town.lon + rng.uniform(-0.03, 0.03), 5),
                        pop, kind="社区" if comm else "村", county=town.county, township=town.code))
    return out


def _link_neighbours(towns: list[Unit]) -> None:
    # Neighbours: the nearest townships (any county) within a reach that grows with local spacing.
    for t in towns:
        dists = sorted((_km(t, o), o.code) for o in towns if o.code != t.code)
        near = [c for d, c in dists[:6] if d <= max(12.0, dists[0][0] * 2.2)]
        t.neighbours = near or [dists[0][1]]


def regions_rows(geo: Geography) -> list[list]:
    rows = []
    for u in [geo.province, geo.city, *geo.counties, *geo.townships, *geo.villages]:
        rows.append([u.code, u.name, u.level, u.parent, f"{u.lat:.5f}", f"{u.lon:.5f}",
                     "" if u.population is None else str(u.population)])
    return rows


def bureaus_rows(geo: Geography, rng: random.Random) -> list[list]:
    """One 司法局 per county and one 司法所 per township; some have a webhook, most only an email."""
    rows = []
    for c in geo.counties:
        hook = f"https://im.example.gov.cn/hook/{rng.getrandbits(48):012x}" if rng.random() < 0.6 else ""
        rows.append([c.code, f"衡阳市{c.name}司法局", f"sfj{c.code[:6]}@hysf.example.gov.cn", hook])
    for t in geo.townships:
        county = next(c for c in geo.counties if c.code == t.county)
        hook = f"https://im.example.gov.cn/hook/{rng.getrandbits(48):012x}" if rng.random() < 0.3 else ""
        unit = f"{county.name}{t.name[:-2] if t.kind == '街道' else t.name[:-1]}司法所"
        rows.append([t.code, unit, f"sfs{t.code[:9]}@hysf.example.gov.cn", hook])
    return rows
