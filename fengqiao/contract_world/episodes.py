"""Planning what happens: escalations and near misses (here) and the confounders (confounders.py), with truth rows.

Kinds written to truth/episodes.csv:
- escalation: a real build-up toward a serious incident (peak = the incident's week); one row per township.
- resolved_buildup: a near miss that builds up like one and is then settled.
- habitual_complainant: one person calling about the same thing for months; never escalates.
- media_wave: a news story makes people city-wide call with alarming words, out of curiosity.
- seasonal: the big yearly waves (wages before the Spring Festival, summer neighbour/property/traffic, ...).
- reporting_change: a county starts routing 12345 calls here, or a new order channel opens: volume steps up.
- outage: a county's feed is silent for days, then a catch-up day with a backlog.
- duplicate_export: the same batch delivered again under another name.
- campaign: a 矛盾纠纷大排查 drive (or the winter wage drive) that raises mediation counts.
- referral_campaign, petition_backlog, line_shift: referral patterns that precede nothing (a court's 诉前调解 drive,
  a petition office clearing its backlog, calls moving from 12348 to 12345); planned in referrals.py, which also
  gives some escalations a referral build-up before their peak (their rows stay kind=escalation).
"""
from __future__ import annotations

import datetime as dt
import random

from . import confounders, people, referrals
from .escalation_talk import MATTER, THING
from .phrasing import place_morpheme
from .planned import Episode, Site, scaled_count
from .situations import TYPES
from .world import World

URBAN_TYPES = {"物业", "消费", "医疗", "合同"}
RURAL_TYPES = {"山林土地", "房屋宅基地", "征地拆迁", "生产经营", "环境污染"}


def _pick(rng: random.Random, items: list, weights: list):
    return rng.choices(items, weights=weights, k=1)[0]


def _weekly_calls(world: World, code: str) -> float:
    i = next(k for k, t in enumerate(world.geo.townships) if t.code == code)
    return float(world.base_calls[i])


def plan(world: World) -> list[Episode]:
    rng = random.Random(world.seed * 7919 + 11)
    eps: list[Episode] = []
    busy: dict[str, list[tuple[int, int]]] = {}
    _escalations(world, rng, eps, busy)
    _resolved(world, rng, eps, busy)
    confounders.plan(world, rng, eps)
    referrals.plan(world, eps)
    return eps


def _fits(dtype: str, town) -> bool:
    """A matter can spread to a neighbour only if that kind of place has it (no 物业 estate in a 乡)."""
    if dtype in URBAN_TYPES:
        return town.kind != "乡"
    if dtype in RURAL_TYPES:
        return town.kind != "街道"
    return True


def _township_for(world: World, rng: random.Random, dtype: str, busy: dict, span: tuple[int, int]):
    towns = world.geo.townships
    weights = []
    for t in towns:
        wgt = t.population / 50000
        if dtype in URBAN_TYPES:
            wgt *= 3.0 if t.kind == "街道" else (0.6 if t.kind == "镇" else 0.1)
        elif dtype in RURAL_TYPES:
            wgt *= 0.15 if t.kind == "街道" else 1.5
        if any(not (span[1] + 3 < a or span[0] > b + 3) for a, b in busy.get(t.code, [])):
            wgt = 0.0
        weights.append(wgt)
    if sum(weights) == 0:
        return None
    return _pick(rng, towns, weights)


def _matter(world: World, rng: random.Random, ep: Episode, town) -> None:
    crowd = MATTER[ep.dtype][0]
    ep.crowd = crowd
    villages = world.geo.villages_of.get(town.code) or []
    rural = [x for x in villages if x.kind == "村"]  # hills, fields and requisitioned land belong to 村, not 社区
    v = rng.choice(rural or villages or [None])
    ep.thing = rng.choice(THING[ep.dtype]).format(p=place_morpheme(rng), v=(v.name if v else town.name))
    ep.n_people = rng.randint(12, 160) if crowd else rng.randint(2, 6)
    ep.core = [people.person(rng) for _ in range(rng.randint(3, 8) if crowd else rng.randint(1, 3))]


def _escalations(world: World, rng: random.Random, eps: list, busy: dict) -> None:
    n = scaled_count(rng, 10, 20, world, 2)
    order: list[str] = []
    while len(order) < n:  # every type gets its turn before any repeats
        batch = TYPES[:]
        rng.shuffle(batch)
        order += batch
    if world.weeks < 30:  # a short drop still gets one spreading episode, which needs a crowd matter
        first = next(k for k, t in enumerate(order) if MATTER[t][0])
        order.insert(0, order.pop(first))
    for i in range(n):
        dtype = order[i]
        crowd = MATTER[dtype][0]
        if world.weeks < 30 and i == 0:
            shape = "spread"
        else:
            shape = rng.choices(("slow", "flare", "spread"), (0.45, 0.25, 0.3))[0]
        if shape == "spread" and not crowd:
            shape = "slow"  # a family feud or a crash victim's family does not spread to the next township
        loud = rng.choices(("subtle", "normal", "loud"), (0.3, 0.45, 0.25))[0]
        build = {"slow": rng.randint(4, 10), "flare": rng.randint(1, 2), "spread": rng.randint(3, 8)}[shape]
        if world.weeks < 4:
            break  # too short a drop to hold a build-up and its incident
        # the peak leaves room for the build-up inside the drop where it can, and a week after it
        peak = rng.randint(min(build, world.weeks - 2), world.weeks - 2)
        end = min(world.weeks - 1, peak + rng.randint(1, 4))
        start = max(0, peak - build + 1)
        town = _township_for(world, rng, dtype, busy, (start, end))
        if town is None:
            continue
        eid = f"E{len([e for e in eps if e.kind == 'escalation']) + 1:03d}"
        ep = Episode(eid, "escalation", dtype, town.code, start, peak, end, shape=shape, loud=loud)
        _matter(world, rng, ep, town)
        # extra contacts a week at the peak, relative to the township's usual calls of all kinds (with a floor, so
        # that a small township's episode is not a single call)
        rel = {"subtle": rng.uniform(0.12, 0.3), "normal": rng.uniform(0.3, 0.7), "loud": rng.uniform(0.6, 1.4)}[loud]
        rel *= 1.25 if ep.crowd else 1.0
        floor = {"subtle": 2.0, "normal": 4.0, "loud": 8.0}[loud]
        towns = [town]
        if shape == "spread":
            by = {t.code: t for t in world.geo.townships}
            near = [by[c] for c in town.neighbours if c in by and not busy.get(c) and _fits(dtype, by[c])]
            rng.shuffle(near)
            towns += near[:rng.randint(1, 3)]
        for j, t in enumerate(towns):
            lag = 0 if j == 0 else rng.randint(0, 3)
            s_start = min(peak, start + lag)
            s_peak = peak if j == 0 else min(world.weeks - 1, peak + rng.randint(0, 1))
            s_end = max(s_peak, min(world.weeks - 1, end + rng.randint(0, 1)))
            row = eid + ("abcdefgh"[j] if len(towns) > 1 else "")
            amp = max(floor, rel * _weekly_calls(world, t.code)) * (1.0 if j == 0 else rng.uniform(0.4, 0.9))
            ep.sites.append(Site(row, t.code, s_start, s_peak, s_end, amp))
            busy.setdefault(t.code, []).append((s_start, s_end))
        ep.start, ep.end = min(s.start for s in ep.sites), max(s.end for s in ep.sites)
        eps.append(ep)


def _resolved(world: World, rng: random.Random, eps: list, busy: dict) -> None:
    n = scaled_count(rng, 8, 22, world, 1)
    for i in range(n):
        dtype = rng.choice(TYPES)
        build = rng.randint(3, 9)
        if build + 2 > world.weeks - 1:
            continue
        peak = rng.randint(build, world.weeks - 2)
        start, end = peak - build + 1, min(world.weeks - 1, peak + rng.randint(1, 3))
        town = _township_for(world, rng, dtype, busy, (start, end))
        if town is None:
            continue
        ep = Episode(f"R{i + 1:03d}", "resolved_buildup", dtype, town.code, start, peak, end, shape="slow",
                     loud=rng.choices(("subtle", "normal"), (0.4, 0.6))[0])
        _matter(world, rng, ep, town)
        amp = max(3.0, rng.uniform(0.2, 0.6) * _weekly_calls(world, town.code))
        ep.sites.append(Site(ep.eid, town.code, start, peak, end, amp))
        busy.setdefault(town.code, []).append((start, end))
        eps.append(ep)


def truth_rows(world: World, eps: list[Episode]) -> list[list[str]]:
    monday = lambda w: (world.start + dt.timedelta(weeks=w)).isoformat()  # noqa: E731
    rows = []
    for e in eps:
        if e.sites and e.kind == "escalation":
            for s in e.sites:
                rows.append([s.row_id, s.township, e.dtype, monday(s.start), monday(s.peak), monday(s.end), e.kind])
        else:
            rows.append([e.eid, e.region, e.dtype or "", monday(e.start), monday(e.peak), monday(e.end), e.kind])
    return rows
