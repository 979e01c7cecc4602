"""Shared state of one generation run: random streams, id counters, caller pools, outages, look-ups.

Two random streams: numpy for bulk counts (Poisson volumes per township and day), Python's `random` for the
many small choices in records and texts (faster per call). Both are seeded from the run's seed only, and
nothing iterates over a set or a hash-ordered container, so the same seed writes the same bytes.
"""
from __future__ import annotations

import datetime as dt
import bisect
import random
from collections import deque

import numpy as np

from .phrasing import MaskingForms
from .planned import Episode
from .world import World

FEEDS = ("hotline", "orders", "mediation")


class FastRandom(random.Random):
    """random.Random with choice/randint from one random() call: the stdlib versions loop on getrandbits and
    were the largest single cost of a run. Still deterministic per seed."""

    def choice(self, seq):
        return seq[int(self.random() * len(seq))]

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def randrange(self, n: int) -> int:  # only the one-argument form is used here
        return int(self.random() * n)

    def choices(self, population, weights=None, *, cum_weights=None, k=1):
        if k != 1 or weights is None:
            return super().choices(population, weights, cum_weights=cum_weights, k=k)
        x = self.random() * sum(weights)  # a handful of weights: a linear scan beats accumulate + bisect
        for item, wgt in zip(population, weights):
            x -= wgt
            if x < 0:
                return [item]
        return [population[-1]]


class Gen:
    def __init__(self, world: World, episodes: list[Episode], writer):
        self.w = world
        self.eps = episodes
        self.out = writer
        self.rng = FastRandom(world.seed * 1_000_003 + 17)
        self.np = np.random.default_rng([world.seed, 4242])
        self.forms = MaskingForms(world.seed)  # personal data in forms that defeat plain masking
        geo = world.geo
        self.towns = geo.townships
        self.town = {t.code: t for t in geo.townships}
        self.county = {c.code: c for c in geo.counties}
        self.n_call = 0
        self.n_order = 0
        self.case_seq: dict[tuple[str, int], int] = {}
        # recent callers per (township, type): [person, last day, last order id or None]
        self.pool: dict[tuple[str, str], deque] = {}
        # recent calls that opened an order, for mediation cases transferred from the hotline (热线转办)
        self.transfers: dict[tuple[str, str], deque] = {}
        self.orders_of: dict[tuple[str, str], str] = {}   # (phone, matter key) -> last order id
        self.outages = {f: [e.extra for e in episodes if e.kind == "outage" and e.extra["feed"] == f] for f in FEEDS}
        for f in FEEDS:
            for o, e in zip(self.outages[f], [e for e in episodes if e.kind == "outage" and e.extra["feed"] == f]):
                o["county"] = e.region
        self.hour_cum = list(np.cumsum(world.hour_w))
        self.counts = {"hotline": 0, "orders": 0, "order_snapshots": 0, "mediation": 0, "case_snapshots": 0}

    # --- time --------------------------------------------------------------------------------------------
    def moment(self, day: int, hour: int | None = None) -> dt.datetime:
        if hour is None:
            hour = bisect.bisect(self.hour_cum, self.rng.random() * self.hour_cum[-1])
        d = self.w.date(day)
        return dt.datetime(d.year, d.month, d.day, hour, self.rng.randint(0, 59), self.rng.randint(0, 59))

    def day_of(self, t: dt.datetime) -> int:
        return (t.date() - self.w.start).days

    # --- outages -----------------------------------------------------------------------------------------
    def outage_day(self, feed: str, county: str, day: int) -> int | None:
        """Where a record made on `day` lands when its county's feed is down: same day, catch-up day, or lost.

        Hotline and orders are entered when the system is back, with the time of entry; part of the backlog
        is never entered. (Mediation: see registry_backlog and export_delay.)
        """
        for o in self.outages[feed]:
            if o["county"] == county and o["d1"] <= day <= o["d2"]:
                r = self.rng.random()
                if r < o["kept"]:
                    return day
                if r < o["kept"] + (1 - o["kept"]) * o["backlog"]:
                    return o["catch"]
                return None
        return day

    def registry_backlog(self, county: str, day: int) -> int:
        """Mediation: a case accepted while the county's registry was down is entered on the catch-up day, and
        the clerk often writes that day as its 受理日期 too (the rest keep the paper date, exported late)."""
        for o in self.outages["mediation"]:
            if o["county"] == county and o["d1"] <= day <= o["d2"] and self.rng.random() < o["backlog"]:
                return o["catch"]
        return day

    def export_delay(self, feed: str, county: str, day: int) -> int:
        for o in self.outages[feed]:
            if o["county"] == county and o["d1"] <= day <= o["d2"]:
                return o["catch"]
        return day

    # --- callers -----------------------------------------------------------------------------------------
    def remember(self, town: str, dtype: str, person, day: int, order_id: str | None) -> None:
        q = self.pool.get((town, dtype))
        if q is None:
            q = self.pool[(town, dtype)] = deque(maxlen=25)
        q.append([person, day, order_id])

    def returning(self, town: str, dtype: str, day: int):
        q = self.pool.get((town, dtype))
        if not q:
            return None
        cands = [e for e in q if day - e[1] <= 56]
        return self.rng.choice(cands) if cands else None
