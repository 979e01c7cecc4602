"""The world's parameters, drawn per seed from wide ranges: volumes, mixes, seasons, trend, week and day rhythm.

Nothing here is fitted to anything; the ranges are guesses from the domain notes (12348 ≈ half 咨询, rural mix led
by 婚姻家庭 and 邻里, cities by 物业/合同/劳动争议/消费, wage arrears before the Spring Festival, summer neighbour,
property and traffic disputes). Each seed draws its own point in these ranges, so a model tuned to one seed's
numbers meets different ones on the next.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from .geography import Geography
from .situations import TYPES

REQUEST_TYPES = ("咨询", "求助", "投诉", "举报", "建议")
SPRING_FESTIVAL = {2024: dt.date(2024, 2, 10), 2025: dt.date(2025, 1, 29), 2026: dt.date(2026, 2, 17),
                   2027: dt.date(2027, 2, 6), 2028: dt.date(2028, 1, 26), 2029: dt.date(2029, 2, 13)}

# Prior shares (before the per-seed Dirichlet draw), in TYPES order; my own guesses, not data.
_RURAL = {"婚姻家庭": 20, "邻里": 18, "房屋宅基地": 9, "合同": 6, "生产经营": 4, "损害赔偿": 7, "山林土地": 8, "征地拆迁": 3,
          "环境污染": 2, "劳动争议": 9, "消费": 2, "医疗": 1.5, "道路交通事故": 4, "物业": 0.5, "其他": 6}
_URBAN = {"婚姻家庭": 13, "邻里": 10, "房屋宅基地": 3, "合同": 12, "生产经营": 4, "损害赔偿": 7, "山林土地": 0.5, "征地拆迁": 3,
          "环境污染": 3, "劳动争议": 15, "消费": 9, "医疗": 3, "道路交通事故": 5, "物业": 12, "其他": 6}
# Which requests are typical per type: (咨询, 求助, 投诉, 举报, 建议) tilt multipliers.
_TILT = {"物业": (0.7, 0.8, 1.8, 1.0, 1.5), "环境污染": (0.5, 0.7, 1.6, 3.0, 1.2), "消费": (0.8, 0.9, 1.7, 1.2, 0.8),
         "其他": (1.4, 1.0, 0.6, 1.2, 1.2), "劳动争议": (0.9, 1.4, 1.2, 0.8, 0.5), "婚姻家庭": (1.3, 1.3, 0.4, 0.3, 0.4)}


@dataclass
class World:
    seed: int
    geo: Geography
    start: dt.date
    weeks: int
    rng: np.random.Generator
    p: dict = field(default_factory=dict)       # scalar parameters
    mix: np.ndarray = None                      # township x type: share of calls
    mix_med: np.ndarray = None                  # township x type: share of mediation cases
    season: np.ndarray = None                   # type x day multiplier
    day_factor: np.ndarray = None               # day multiplier (trend x weekday x holidays), per feed
    base_calls: np.ndarray = None               # township: calls per week at factor 1
    base_cases: np.ndarray = None
    base_orders: np.ndarray = None              # orders from non-hotline channels
    req_mix: np.ndarray = None                  # type x request type
    hour_w: np.ndarray = None
    seasonal_truth: list = field(default_factory=list)

    @property
    def days(self) -> int:
        return self.weeks * 7

    def date(self, day: int) -> dt.date:
        return self.start + dt.timedelta(days=day)

    def daystr(self, day: int) -> str:
        """YYYYMMDD of a day, cached: ids carry it and strftime is slow."""
        cache = self.p.setdefault("_daystr", {})
        s = cache.get(day)
        if s is None:
            s = cache[day] = self.date(day).strftime("%Y%m%d")
        return s


def draw(seed: int, geo: Geography, start: dt.date, weeks: int) -> World:
    rng = np.random.default_rng([seed, 7103])
    w = World(seed, geo, start, weeks, rng)
    u = lambda a, b: float(rng.uniform(a, b))  # noqa: E731
    p = w.p
    p.update(calls_per_10k=u(3.0, 6.2), cases_per_10k=u(1.0, 2.5), other_orders_per_10k=u(0.3, 1.1),
             growth_per_year={"hotline": u(-0.12, 0.22), "orders": u(-0.10, 0.2), "mediation": u(-0.08, 0.25)},
             weekend={"hotline": u(0.45, 0.8), "orders": u(0.2, 0.5), "mediation": u(0.15, 0.45)},
             monday_boost=u(1.0, 1.25), ar_phi=u(0.75, 0.92), ar_sd=u(0.08, 0.22), week_noise_k=u(6.0, 25.0),
             p_order={"咨询": u(0.05, 0.2), "求助": u(0.4, 0.75), "投诉": u(0.65, 0.95), "举报": u(0.7, 0.95), "建议": u(0.15, 0.45)},
             p_return=u(0.03, 0.09), repeat_share=u(0.04, 0.12), null_region=u(0.015, 0.045), village_code_share=u(0.05, 0.25),
             dialect=u(0.2, 0.5), slip=u(0.1, 0.35), raw_asr=u(0.05, 0.25), misfire=u(0.02, 0.07), pd_in_text=u(0.15, 0.45),
             satisfaction_mean=u(3.7, 4.5), ivr_rate=u(0.45, 0.8), med_success=u(0.82, 0.95), wage_crowd_cue=u(0.02, 0.08))
    # per-county 纠纷来源 mix, hotline transfer chance and 12345 share: referrals.base_rates, once the volumes are drawn
    n_town = len(geo.townships)
    # Volume per township: population, a county effect (how known the hotline is there), a township effect.
    pop = np.array([t.population for t in geo.townships], dtype=float)
    county_eff = {c.code: float(rng.lognormal(0, 0.25)) for c in geo.counties}
    ce = np.array([county_eff[t.county] for t in geo.townships])
    urban = np.array([1.0 if t.kind == "街道" else (0.45 if t.kind == "镇" else 0.0) for t in geo.townships])
    te_calls = rng.lognormal(0, 0.3, n_town) * ce * (0.8 + 0.45 * urban)
    # mediation committees are more active in some counties than others, independently of the hotline
    med_eff = {c.code: float(rng.lognormal(0, 0.3)) for c in geo.counties}
    te_cases = rng.lognormal(0, 0.3, n_town) * np.array([med_eff[t.county] for t in geo.townships]) * (1.15 - 0.3 * urban)
    w.base_calls = pop / 1e4 * p["calls_per_10k"] * te_calls
    w.base_cases = pop / 1e4 * p["cases_per_10k"] * te_cases
    w.base_orders = pop / 1e4 * p["other_orders_per_10k"] * te_calls * (0.6 + 0.8 * urban)
    # Type mixes: a rural and an urban vector per seed, blended by urbanity, then a per-township wobble.
    rural = rng.dirichlet(np.array([_RURAL[t] for t in TYPES]) * u(8, 30))
    urbv = rng.dirichlet(np.array([_URBAN[t] for t in TYPES]) * u(8, 30))
    mix = urban[:, None] * urbv[None, :] + (1 - urban[:, None]) * rural[None, :]
    mix *= rng.lognormal(0, 0.25, mix.shape)
    w.mix = mix / mix.sum(1, keepdims=True)
    # Mediation sees more family and neighbour matters, fewer consumer and property ones, than the hotline.
    tilt = np.array([{"婚姻家庭": 1.5, "邻里": 1.6, "山林土地": 1.4, "房屋宅基地": 1.3, "消费": 0.4, "物业": 0.6,
                      "其他": 0.5}.get(t, 1.0) for t in TYPES]) * rng.lognormal(0, 0.2, len(TYPES))
    mm = w.mix * tilt[None, :]
    w.mix_med = mm / mm.sum(1, keepdims=True)
    base_req = rng.dirichlet(np.array([48, 20, 20, 6, 5.0]) * u(20, 60))
    w.req_mix = np.array([base_req * np.array(_TILT.get(t, (1, 1, 1, 1, 1))) for t in TYPES])
    w.req_mix /= w.req_mix.sum(1, keepdims=True)
    hours = np.array([.3, .15, .1, .1, .15, .3, .8, 2, 4.5, 6, 6, 5, 3.5, 4.5, 5.5, 5.5, 5, 4, 3, 2.8, 2.5, 2, 1.4, .8])
    w.hour_w = hours * rng.lognormal(0, 0.15, 24)
    w.hour_w /= w.hour_w.sum()
    _seasons(w, u)
    _day_factors(w, u)
    return w


def _bump(days: np.ndarray, centre: dt.date, start: dt.date, sigma: float) -> np.ndarray:
    c = (centre - start).days
    return np.exp(-0.5 * ((days - c) / sigma) ** 2)


def _seasons(w: World, u) -> None:
    days = np.arange(w.days, dtype=float)
    s = np.ones((len(TYPES), w.days))
    idx = {t: i for i, t in enumerate(TYPES)}
    years = range(w.start.year, w.date(w.days - 1).year + 2)
    amp = {"wage": u(0.5, 1.4), "summer": {t: u(0.12, 0.6) for t in ("邻里", "物业", "道路交通事故", "环境污染")},
           "divorce": u(0.15, 0.5), "qingming": u(0.3, 0.9), "shopping": u(0.1, 0.4), "flu": u(0.05, 0.3)}
    w.p["season_amp"] = amp
    for y in years:
        sf = SPRING_FESTIVAL.get(y)
        if sf:
            s[idx["劳动争议"]] += amp["wage"] * _bump(days, sf - dt.timedelta(days=16), w.start, 13)
            s[idx["婚姻家庭"]] += amp["divorce"] * _bump(days, sf + dt.timedelta(days=16), w.start, 9)
            s[idx["医疗"]] += amp["flu"] * _bump(days, sf - dt.timedelta(days=20), w.start, 25)
        for t, a in amp["summer"].items():
            s[idx[t]] += a * _bump(days, dt.date(y, 7, 25), w.start, 24)
        s[idx["山林土地"]] += amp["qingming"] * _bump(days, dt.date(y, 4, 4), w.start, 12)
        s[idx["消费"]] += amp["shopping"] * _bump(days, dt.date(y, 11, 20), w.start, 9)
    # Slow city-wide drift per type (projects, policies): a smoothed random walk.
    walk = np.cumsum(w.rng.normal(0, 0.02, (len(TYPES), w.days // 7 + 2)), axis=1)
    s *= np.exp(np.repeat(walk, 7, axis=1)[:, :w.days] - walk.mean(1, keepdims=True))
    w.season = s


def holiday_factor(d: dt.date) -> float:
    for y in (d.year, d.year + 1):
        sf = SPRING_FESTIVAL.get(y)
        if sf and -3 <= (d - sf).days <= 6:
            return 0.45
    if d.month == 10 and d.day <= 7:
        return 0.65
    if d.month == 5 and d.day <= 5:
        return 0.85
    if d.month == 1 and d.day == 1:
        return 0.7
    return 1.0


def _day_factors(w: World, u) -> None:
    """Per feed and day: the share of a week's volume that falls on that day, times trend and holidays."""
    w.day_factor = {}
    for feed in ("hotline", "orders", "mediation"):
        g, we, mon = w.p["growth_per_year"][feed], w.p["weekend"][feed], w.p["monday_boost"]
        week_sum = mon + 4 + 2 * we
        f = np.empty(w.days)
        for i in range(w.days):
            d = w.date(i)
            wd = we if d.weekday() >= 5 else (mon if d.weekday() == 0 else 1.0)
            hol = holiday_factor(d) if feed == "hotline" else holiday_factor(d) ** 1.6
            f[i] = (1 + g) ** (i / 365.0) * wd * hol / week_sum
        w.day_factor[feed] = f
