"""Records of the three feeds, generated month by month.

Counts per day x township x type are Poisson draws from one vectorised intensity (population x type
mix x season x weekday x episode and confounder multipliers); only the text of each record is built
in a Python loop, with ``random.Random`` for speed. Every record version is handed to the sink with
the day folder it is exported in (usually its own day, sometimes 1-3 days late). Rates, mixes and
shares come from a ``Variation`` (today's world unless ``simulate(..., vary=True)``), the wording from
the ``text`` module or a varied world's ``VariedText``.
"""
from __future__ import annotations

import datetime as dt
import math
import random
from collections import deque

import numpy as np

from . import text as tx
from .hotline import HotlineRecords
from .mediation import DATE_FORMATS, MediationRecords
from .orders import OrderRecords
from .referral_records import ReferralRecords
from .type_mix import GROUP_TYPES, TI, K
from .variation import Variation

# Per person per day (contract: a province of 50 M has ~10 k calls, ~5.5 k new orders, ~3.5 k cases a day).
RATE_HOTLINE = 2.0e-4
RATE_ORDERS_OTHER = 0.5e-4  # orders from web, window, app; ~0.3 of calls add the hotline-opened ones
RATE_MEDIATION = 7.0e-5
HOUR_W = np.array([1, .5, .3, .3, .3, .5, 1, 3, 8, 10, 10, 9, 6, 7, 9, 9, 8, 7, 5, 4, 3, 2.5, 2, 1.5])
HOUR_P = HOUR_W / HOUR_W.sum()
DAY = 86400
# Repeat contact. Outside escalations a few % of calls (``Variation.background_repeat``) come from
# someone who called about the same matter (township and type) in the past four weeks; in an escalation
# the aggrieved parties of the episode's pool take a rising share of its surge calls as the episode
# builds (domain notes: "the same caller again and again").
REPEAT_WINDOW_DAYS = 28
POOL_SHARE = {"hotline": (0.45, 0.45), "orders": (0.4, 0.4)}  # chance a surge contact is a pool member: a + b x level


# "THH:MM:SS+08:00" for every second of a day: timestamps are a day string plus one of these.
_CLOCK = [f"T{h:02d}:{m:02d}:{x:02d}+08:00" for h in range(24) for m in range(60) for x in range(60)]


class FeedBuilder(HotlineRecords, OrderRecords, MediationRecords, ReferralRecords):
    """Draws the counts of a month and hands each record version to the sink (the writer)."""

    def __init__(self, geo, plan, start: dt.date, n_days: int, volume: float, seed: int, sink, dirt, pii,
                 batch_digits: int = 6, var=None, words=None, *, forms, referrals):
        self.geo, self.plan, self.start, self.n_days = geo, plan, start, n_days
        self.volume, self.seed, self.sink, self.dirt, self.pii = volume, seed, sink, dirt, pii
        self.forms = forms  # personal data in forms that defeat plain masking (dirt.MaskingForms)
        self.var = var = var or Variation()
        self.words = words or tx  # the text module itself, or a varied world's VariedText
        self.feed_mix = {f: np.array(x) for f, x in var.feed_mix.items()}
        self.weekday = {f: np.array(x) for f, x in var.weekday.items()}
        self.late_cut = var.late
        # a varied world's growth or decline over the drop (today's world has none)
        self.trend = {f: np.exp(np.log1p(g) * np.arange(n_days) / 365.25) for f, g in var.trend.items() if g}
        rng = np.random.default_rng([seed, 4])
        mix = np.where(geo.t_urban[:, None], np.array(var.mix_urban)[None, :], np.array(var.mix_rural)[None, :])
        mix = mix * rng.lognormal(0, var.township_mix_sigma, size=mix.shape)
        self.base = geo.t_pop[:, None] * mix / mix.sum(axis=1, keepdims=True)  # residents x type share
        # referral patterns (referrals.py); the usual cases a day per township and type size the extra
        # cases of the referral confounders
        self.referrals, self.t_county_list = referrals, [int(c) for c in geo.t_county]
        self.ordinary_cases = self.base * self.feed_mix["mediation"][None, :] * (
            RATE_MEDIATION * var.volume["mediation"] * volume)
        self.days = [start + dt.timedelta(days=i) for i in range(n_days + 60)]
        self.daystr = [d.isoformat() for d in self.days]
        self.daycompact = [d.strftime("%Y%m%d") for d in self.days]  # for record ids
        self.county_style = [DATE_FORMATS[i] for i in rng.choice(4, size=len(geo.county_codes), p=[.55, .2, .15, .1])]
        self.order_seq: dict[int, int] = {}
        self.call_seq: dict[int, int] = {}
        self.case_seq: dict[int, int] = {}
        # A person is [name, number, last day heard, [(created, order id), ...] or None]: episode pools, and recent callers
        # per (township, type) who may call again about the same matter.
        self.pool_people = [[[name, number, -1, None] for name, number in pool] for pool in plan.pools]
        self.recent: dict[tuple[int, int], deque] = {}
        self.habit_people = [[h["name"], h["phone"], -1, None] for h in plan.habituals]
        self.counts = {"hotline_calls": 0, "hotline_versions": 0, "orders": 0, "order_versions": 0,
                       "mediation_cases": 0, "mediation_versions": 0, "calls_without_region": 0}
        self.batch_digits = batch_digits  # records are batched per county (6) or per city (4)
        self.t_batch = [code[:batch_digits] for code in geo.t_code]

    # --- helpers --------------------------------------------------------------------------------
    def iso(self, ts: int) -> str:
        d, s = divmod(int(ts), DAY)
        return self.daystr[d] + _CLOCK[s]

    def stamp(self, ts: int) -> str:
        return self.iso(ts)[:19].replace("T", " ")

    def late(self, r: random.Random) -> int:
        x = r.random()
        return 0 if x < 0.88 else 1 if x < 0.95 else 2 if x < 0.98 else 3

    def emit(self, feed: str, ts: int, t: int, row, r: random.Random) -> None:
        x = r.random()  # exported late: inlined ``late`` (called once per record version)
        a, b, c = self.late_cut
        self.sink.add(feed, int(ts) // DAY + (0 if x < a else 1 if x < b else 2 if x < c else 3),
                      self.t_batch[t], row)

    def region(self, r: random.Random, t: int, p_village: float, feed: str, day: int) -> str:
        if self.dirt.want("invalid_region_code", day, feed):
            bad = self.geo.t_code[t][:11] if r.random() < 0.5 else self.geo.t_code[t][:3] + "O" + self.geo.t_code[t][4:]
            self.dirt.note("invalid_region_code", feed, self.daystr[day], bad)
            return bad
        if self.dirt.want("unknown_region_code", day, feed):
            bad = self.geo.t_code[t][:6] + f"{r.randint(900, 999)}000"
            self.dirt.note("unknown_region_code", feed, self.daystr[day], bad)
            return bad
        if r.random() < p_village:
            return r.choice(self.geo.t_villages[t])[0]
        return self.geo.t_code[t]

    def who(self, r: random.Random, feed: str, ti: int, ki: int, day: int, ep: int, lev: float) -> list | None:
        """The person behind a contact if already known: an episode's aggrieved party or a recent caller.

        ``ep`` is the episode of a surge contact (else -1). None means a new person; hotline callers
        are then registered with ``remember`` so that they may call again.
        """
        if ep >= 0:
            a, b = POOL_SHARE[feed]
            share = a + b * lev
            if self.plan.signal:  # a varied world: subtle episodes lean on their repeat callers
                share = min(0.95, share * self.plan.signal[ep]["pool"])
            if r.random() < share:
                pool = self.pool_people[ep]
                active = max(1, math.ceil(len(pool) * (0.3 + 0.7 * lev)))  # more parties join as it builds
                return pool[r.randrange(active)]
        bucket = self.recent.get((ti, ki))
        if not bucket or r.random() >= self.var.background_repeat:
            return None
        while bucket and bucket[0][2] < day - REPEAT_WINDOW_DAYS:
            bucket.popleft()
        if not bucket:
            return None
        person = bucket[r.randrange(len(bucket))]
        return person if person[2] >= day - REPEAT_WINDOW_DAYS else None

    def remember(self, ti: int, ki: int, name, number: str, day: int) -> list:
        bucket = self.recent.setdefault((ti, ki), deque())
        while bucket and bucket[0][2] < day - REPEAT_WINDOW_DAYS:
            bucket.popleft()
        person = [name, number, day, None]
        bucket.append(person)
        return person

    @staticmethod
    def restyle(r: random.Random, number: str) -> str:
        """The same mobile number as another operator types it (the pipeline normalises them)."""
        digits = number.replace("+86", "").replace(" ", "").replace("-", "")
        if len(digits) != 11 or not digits.startswith("1") or r.random() < 0.6:
            return number
        x = r.random()
        return digits if x < 0.4 else f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}" if x < 0.7 else \
            f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"

    # --- intensities ----------------------------------------------------------------------------
    def intensity(self, feed: str, d0: int, d1: int, rate: float, county_mult=None) -> np.ndarray:
        """Expected records per (day, township, type) for days d0..d1-1."""
        plan, idx = self.plan, np.arange(d0, d1)
        wk = idx // 7
        lam = (self.base * self.feed_mix[feed][None, :])[None, :, :] * (rate * self.var.volume[feed] * self.volume)
        lam = lam * plan.season[:, idx].T[:, None, :]
        lam = lam * self.weekday[feed][[self.days[i].weekday() for i in idx]][:, None, None]
        if feed in self.trend:
            lam = lam * self.trend[feed][idx][:, None, None]
        lam = lam * plan.mult[:, :, wk].transpose(2, 0, 1)
        if county_mult is not None:
            lam = lam * county_mult[self.geo.t_county][:, wk].T[:, :, None]
        return lam

    def draw(self, rng, lam):
        counts = rng.poisson(lam)
        d, t, k = np.nonzero(counts)
        n = counts[d, t, k]
        return np.repeat(d, n), np.repeat(t, n), np.repeat(k, n)

    # --- one month ------------------------------------------------------------------------------
    def month(self, d0: int, d1: int) -> None:
        rng = np.random.default_rng([self.seed, 5, d0])
        r = random.Random(f"{self.seed}-{d0}")
        lam_h = self.intensity("hotline", d0, d1, RATE_HOTLINE, self.plan.hot_county)
        d, t, k = self.draw(rng, lam_h)
        media = np.zeros(len(d), dtype=bool)
        for ev in self.plan.media:  # media story: extra short 咨询 calls, one county, one week
            days = [x for x in range(7 * ev["week"], 7 * ev["week"] + 7) if d0 <= x < d1]
            if not days:
                continue
            ts = np.nonzero(self.geo.t_county == ev["county"])[0]
            lam = np.zeros((d1 - d0, len(self.geo.t_code), K))
            for x in days:
                lam[x - d0, ts, TI[ev["type"]]] = ev.get("strength", 0.9) * lam_h[x - d0, ts, :].sum(axis=1)
            md, mt, mk = self.draw(rng, lam)
            d, t, k = np.concatenate([d, md]), np.concatenate([t, mt]), np.concatenate([k, mk])
            media = np.concatenate([media, np.ones(len(md), dtype=bool)])
        habit = None
        if self.plan.habituals:  # a varied world's habitual complainants: their own calls, on top
            d, t, k, media, habit = self.habitual_calls(rng, d0, d1, d, t, k, media)
        order = np.lexsort((t, d))
        d, t, k, media = d[order] + d0, t[order], k[order], media[order]
        habit = None if habit is None else habit[order]
        secs = rng.choice(24, size=len(d), p=HOUR_P) * 3600 + rng.integers(0, 3600, size=len(d))
        self.hotline(r, d, t, k, media, d * DAY + secs, rng.random(len(d)), habit)

        lam_o = self.intensity("orders", d0, d1, RATE_ORDERS_OTHER, self.plan.ord_county)
        d, t, k = self.draw(rng, lam_o)
        order = np.lexsort((t, d))
        d, t, k = d[order] + d0, t[order], k[order]
        secs = rng.choice(24, size=len(d), p=HOUR_P) * 3600 + rng.integers(0, 3600, size=len(d))
        ep_u = rng.random(len(d))
        for i in range(len(d)):
            self.order(r, int(d[i] * DAY + secs[i]), int(t[i]), int(k[i]), ep_u[i], None)

        lam_m = self.intensity("mediation", d0, d1, RATE_MEDIATION)
        d, t, k = self.draw(rng, lam_m)
        order = np.lexsort((t, d))
        d, t, k = d[order] + d0, t[order], k[order]
        secs = rng.integers(8 * 3600, 18 * 3600, size=len(d))
        ep_u = rng.random(len(d))
        for i in range(len(d)):
            self.case(r, int(d[i] * DAY + secs[i]), int(t[i]), int(k[i]), ep_u[i])
        self.referral_cases(d0, d1)  # after the drawn ones: their streams and records stay as they were

    def episode_state(self, t: int, k: int, day: int, u: float) -> tuple[bool, float, int]:
        """(record belongs to the episode surge, escalation level 0..1, episode index or -1)."""
        w = min(day // 7, self.plan.n_weeks - 1)
        m = float(self.plan.mult[t, k, w])
        if m <= 1.0:
            return False, 0.0, -1
        return u < (m - 1) / m, float(self.plan.level[t, k, w]), int(self.plan.episode[t, k, w])

    def wage(self, r, k: int, day: int, ep: int) -> bool:
        if k != TI["劳动争议"]:
            return False
        if ep >= 0:
            return True
        b = self.plan.wage_boost[min(day, self.n_days - 1)]
        return r.random() < (self.var.wage_share + b) / (1 + b)

    def habitual_calls(self, rng, d0: int, d1: int, d, t, k, media):
        """Append each habitual complainant's calls of days d0..d1-1 (day offsets, as the drawn ones)."""
        habit = np.full(len(d), -1)
        for hi, h in enumerate(self.plan.habituals):
            days = np.arange(max(d0, 7 * h["first"]), min(d1, 7 * h["last"] + 7)) - d0
            n = int(rng.poisson(h["rate"] * len(days) / 7)) if len(days) else 0
            if n:
                d = np.concatenate([d, rng.choice(days, size=n)])
                t, k = np.concatenate([t, np.full(n, h["t"])]), np.concatenate([k, np.full(n, h["k"])])
                media, habit = np.concatenate([media, np.zeros(n, dtype=bool)]), np.concatenate([habit, np.full(n, hi)])
        return d, t, k, media, habit

    def cue_p(self, surge: bool, ep: int, lev: float) -> float:
        """Chance that a contact's text carries an escalation cue (per episode in a varied world)."""
        if not surge:
            return self.var.bg_cue
        if ep >= 0 and self.plan.signal:
            a, b = self.plan.signal[ep]["cue"]
            return a + b * lev
        return 0.15 + 0.5 * lev

    def collective(self, ep: int, dtype: str) -> bool:
        """Is this episode a group dispute (its parties many, its cues collective)?"""
        if ep >= 0 and self.plan.signal:
            return self.plan.signal[ep]["collective"]
        return dtype in GROUP_TYPES
