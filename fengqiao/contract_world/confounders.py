"""Planning the confounders: everything in truth/episodes.csv that is not an escalation or a near miss.

They are what makes false alarms: a habitual complainant, a media wave, the yearly seasons, a county's reporting
change, feed outages, duplicate exports and mediation drives. Each gets a truth row (see episodes.py for kinds).
"""
from __future__ import annotations

import datetime as dt
import random

from . import people
from .escalation_talk import HABITUAL, MEDIA
from .planned import Episode, scaled_count
from .world import SPRING_FESTIVAL, World


def plan(world: World, rng: random.Random, eps: list) -> None:
    _habitual(world, rng, eps)
    _media(world, rng, eps)
    _seasonal(world, eps)
    _reporting(world, rng, eps)
    _outages(world, rng, eps)
    _duplicates(world, rng, eps)
    _campaigns(world, rng, eps)


def _habitual(world: World, rng: random.Random, eps: list) -> None:
    for i in range(scaled_count(rng, 3, 7, world, 1)):
        dtype = rng.choice(list(HABITUAL))
        length = min(world.weeks, rng.randint(8, 40))
        start = rng.randint(0, world.weeks - length)
        urban = [t for t in world.geo.townships if t.kind == "街道"] or world.geo.townships
        town = rng.choice(urban if dtype in ("物业", "邻里", "环境污染") else world.geo.townships)
        ep = Episode(f"H{i + 1:03d}", "habitual_complainant", dtype, town.code, start, start + length // 2,
                     start + length - 1, core=[people.person(rng)], extra={"rate": rng.uniform(1.5, 6.0)})
        eps.append(ep)


def _media(world: World, rng: random.Random, eps: list) -> None:
    if world.weeks < 8:
        return
    for i in range(scaled_count(rng, 2, 4, world, 1)):
        dtype = rng.choice(list(MEDIA))
        start = rng.randint(2, world.weeks - 3)
        length = rng.randint(1, 3)
        eps.append(Episode(f"M{i + 1:03d}", "media_wave", dtype, world.geo.city.code, start, start,
                           min(world.weeks - 1, start + length - 1), extra={"share": rng.uniform(0.04, 0.12)}))


def week_of(world: World, d: dt.date) -> int:
    return (d - world.start).days // 7


def _seasonal(world: World, eps: list) -> None:
    amp = world.p["season_amp"]
    city = world.geo.city.code
    rows = []
    for y in range(world.start.year, world.date(world.days - 1).year + 1):
        sf = SPRING_FESTIVAL.get(y)
        if sf:
            rows.append(("劳动争议", sf - dt.timedelta(days=49), sf - dt.timedelta(days=14), sf))
            if amp["divorce"] >= 0.3:
                rows.append(("婚姻家庭", sf + dt.timedelta(days=7), sf + dt.timedelta(days=16), sf + dt.timedelta(days=30)))
        for t, a in amp["summer"].items():
            if a >= 0.3:
                rows.append((t, dt.date(y, 6, 20), dt.date(y, 7, 25), dt.date(y, 8, 31)))
        if amp["qingming"] >= 0.5:
            rows.append(("山林土地", dt.date(y, 3, 15), dt.date(y, 4, 4), dt.date(y, 4, 25)))
    for i, (t, a, p, b) in enumerate(sorted(rows, key=lambda r: (r[2], r[0]))):
        s, pk, e = (max(0, min(world.weeks - 1, week_of(world, d))) for d in (a, p, b))
        if week_of(world, b) < 0 or week_of(world, a) >= world.weeks:
            continue
        eps.append(Episode(f"S{i + 1:03d}", "seasonal", t, city, s, pk, e))


def _reporting(world: World, rng: random.Random, eps: list) -> None:
    if world.weeks < 8:
        return
    counties = world.geo.counties[:]
    rng.shuffle(counties)
    for i, c in enumerate(counties[:scaled_count(rng, 1, 3, world, 1)]):
        w0 = rng.randint(int(world.weeks * 0.15), int(world.weeks * 0.85))
        variant = rng.choice(("hotline_12345", "hotline_12345", "orders_mobile"))
        factor = rng.uniform(1.3, 2.0) if variant == "hotline_12345" else rng.uniform(1.6, 3.0)
        eps.append(Episode(f"C{i + 1:03d}", "reporting_change", None, c.code, w0, w0, world.weeks - 1,
                           extra={"variant": variant, "factor": factor, "day0": w0 * 7 + rng.randint(0, 4)}))


def _outages(world: World, rng: random.Random, eps: list) -> None:
    if world.days < 35:  # an outage needs weeks around it to be one
        return
    for i in range(scaled_count(rng, 3, 6, world, 1)):
        c = rng.choice(world.geo.counties)
        feed = rng.choice(("hotline", "orders", "mediation"))
        d1 = rng.randint(7, world.days - 20)
        d2 = d1 + rng.randint(2, 11)
        catch = d2 + 1
        eps.append(Episode(f"O{i + 1:03d}", "outage", None, c.code, d1 // 7, catch // 7, catch // 7,
                           extra={"feed": feed, "d1": d1, "d2": d2, "catch": catch,
                                  "kept": 0.0 if rng.random() < 0.7 else rng.uniform(0.0, 0.08),
                                  "backlog": rng.uniform(0.4, 0.8)}))


def _duplicates(world: World, rng: random.Random, eps: list) -> None:
    for i in range(scaled_count(rng, 3, 8, world, 1)):
        feed = rng.choice(("hotline", "orders", "mediation"))
        day = rng.randint(0, max(0, world.days - 5))
        lag = rng.choice((0, 0, 1, 2, 5))
        eps.append(Episode(f"D{i + 1:03d}", "duplicate_export", None, world.geo.city.code, day // 7, day // 7, day // 7,
                           extra={"feed": feed, "day": day, "lag": lag}))


def _campaigns(world: World, rng: random.Random, eps: list) -> None:
    i = 0
    for _ in range(scaled_count(rng, 2, 4, world, 1)):
        if world.weeks < 6:
            break
        c = rng.choice(world.geo.counties)
        start = rng.randint(1, world.weeks - 4)
        end = min(world.weeks - 1, start + rng.randint(2, 5))
        i += 1
        eps.append(Episode(f"P{i:03d}", "campaign", None, c.code, start, (start + end) // 2, end,
                           extra={"factor": rng.uniform(1.6, 3.0)}))
    for y in range(world.start.year, world.date(world.days - 1).year + 1):
        sf = SPRING_FESTIVAL.get(y)
        if not sf:
            continue
        s, e = week_of(world, sf - dt.timedelta(days=70)), week_of(world, sf - dt.timedelta(days=7))
        if e < 0 or s >= world.weeks:
            continue
        i += 1  # 冬季攻坚: the winter drive to clear migrant workers' wage arrears, city-wide
        s, e = max(0, s), min(world.weeks - 1, e)
        eps.append(Episode(f"P{i:03d}", "campaign", "劳动争议", world.geo.city.code, s, (s + e) // 2, e,
                           extra={"factor": rng.uniform(1.3, 2.2), "winter": True}))
