"""What happens when: escalation episodes, confounders and seasons, as per-week multiplier arrays.

Escalations raise one dispute type in one township (and, late, in its nearest neighbours) across all
three feeds; confounders change volumes in ways that are *not* escalation (see the domain notes):
province/city-wide seasons, a county's new hotline channel, a feed outage and its catch-up, a
duplicated export, a media story. Everything planted is listed in ``truth/episodes.csv``. Referral
patterns (build-ups of referred cases and 12345 calls before some escalations, and the referral
confounders ``referral_court_campaign``, ``referral_petition_backlog``, ``referral_line_shift``) are
planted on top of this plan by ``referrals.py``, from a stream of their own.

Escalations themselves are planted in ``escalations.py``; their number, types and shapes, and the
confounders' rates and strengths, come from a ``Variation`` (``variation.py``): today's fixed world by
default, a world drawn per seed with ``simulate(..., vary=True)``.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from fengqiao.core.weeks import SPRING_FESTIVAL, week_start

from .escalations import plant_default, plant_habituals, plant_varied
from .type_mix import TI, K
from .variation import Variation


@dataclass
class Plan:
    n_weeks: int
    week0: dt.date
    # per township x type x week: volume multiplier, escalation level 0..1, episode index (-1 none)
    mult: np.ndarray
    level: np.ndarray
    episode: np.ndarray
    # per county x week: hotline and work-order volume multipliers (reporting change, outage)
    hot_county: np.ndarray
    ord_county: np.ndarray
    # per type x day: seasonal multiplier; per day: extra share of wage arrears inside 劳动争议
    season: np.ndarray
    wage_boost: np.ndarray
    media: list[dict] = field(default_factory=list)  # {county, week, type} (+ strength when varied)
    duplicates: list[dict] = field(default_factory=list)  # {county, day, delay, same_folder}
    pools: list[list[tuple[str, str]]] = field(default_factory=list)  # per episode: (name, phone)
    episode_type: list[str] = field(default_factory=list)
    # varied worlds only (empty otherwise): per episode {cue: (a, b), pool: factor, collective: bool};
    # habitual complainants {t, k, first, last, rate, cue, name, phone}
    signal: list[dict] = field(default_factory=list)
    habituals: list[dict] = field(default_factory=list)
    truth: list[dict] = field(default_factory=list)
    details: list[dict] = field(default_factory=list)


def _monday(week0: dt.date, w: int) -> str:
    return (week0 + dt.timedelta(days=7 * w)).isoformat()


def seasons(start: dt.date, n_days: int,
            var=None) -> tuple[np.ndarray, np.ndarray, list[tuple[str, dt.date, dt.date, dt.date]]]:
    """Seasonal multipliers per type and day, wage-arrears boost per day, and the seasonal waves.

    ``var`` (a ``Variation``) sets the waves' length, amplitudes and timing; its defaults are today's.
    """
    var = var or Variation()
    season = np.ones((K, n_days))
    wage = np.zeros(n_days)
    days = [start + dt.timedelta(days=i) for i in range(n_days)]
    end = days[-1]
    waves = []
    for sf in SPRING_FESTIVAL:
        a, b = sf - dt.timedelta(weeks=var.wage_weeks), sf
        if b < start or a > end:
            continue
        waves.append(("劳动争议", week_start(a), week_start(sf - dt.timedelta(days=7)), week_start(sf)))
        for i, d in enumerate(days):
            if a <= d < b:
                x = (d - a).days / (b - a).days  # ramps up towards the festival (冬季攻坚)
                wage[i] = var.wage_amp * x
                season[TI["劳动争议"], i] *= 1 + var.wage_amp * x
            if sf <= d < sf + dt.timedelta(days=7):  # the festival week itself is quiet
                season[:, i] *= var.festival_dip
    for year in range(start.year, end.year + 1):
        shift = dt.timedelta(days=var.summer_shift)
        a, peak, b = dt.date(year, 6, 10) + shift, dt.date(year, 7, 25) + shift, dt.date(year, 9, 10) + shift
        if b < start or a > end:
            continue
        for label, amp in (("邻里", 0.45), ("物业", 0.4), ("道路交通事故", 0.35)):
            waves.append((label, week_start(a), week_start(peak), week_start(b)))
            for i, d in enumerate(days):
                if a <= d <= b:
                    x = 1 - abs((d - peak).days) / max((peak - a).days, (b - peak).days)
                    season[TI[label], i] *= 1 + amp * var.summer_scale * max(x, 0.0)
    if var.yearly_amp:  # a varied world's yearly cycle on all types (today's world has none)
        phase = np.array([(d.timetuple().tm_yday - var.yearly_peak_day) / 365.25 for d in days])
        season *= 1 + var.yearly_amp * np.cos(2 * np.pi * phase)[None, :]
    return season, wage, waves


def make_plan(geo, start: dt.date, n_weeks: int, seed: int, region_for_seasons: str, text_rng, var=None) -> Plan:
    """Plant escalations and confounders; ``var`` (a ``Variation``, default today's world) sets their rates."""
    var = var or Variation()
    rng = np.random.default_rng([seed, 3])
    T, C = len(geo.t_code), len(geo.county_codes)
    mult = np.ones((T, K, n_weeks), dtype=np.float32)
    level = np.zeros((T, K, n_weeks), dtype=np.float32)
    episode = np.full((T, K, n_weeks), -1, dtype=np.int32)
    hot_c = np.ones((C, n_weeks), dtype=np.float32)
    ord_c = np.ones((C, n_weeks), dtype=np.float32)
    season, wage, waves = seasons(start, n_weeks * 7, var)
    plan = Plan(n_weeks, start, mult, level, episode, hot_c, ord_c, season, wage)
    years = n_weeks / 52.0
    eid = 0

    def add_truth(region, dtype, s, p, e, kind, **detail):
        nonlocal eid
        eid += 1
        row = dict(episode_id=f"EP{eid:04d}", region_code=region, dispute_type=dtype,
                   start_week=_monday(start, s) if isinstance(s, int) else s.isoformat(),
                   peak_week=_monday(start, p) if isinstance(p, int) else p.isoformat(),
                   end_week=_monday(start, e) if isinstance(e, int) else e.isoformat(), kind=kind)
        plan.truth.append(row)
        plan.details.append(dict(episode_id=row["episode_id"], kind=kind, **{k: str(v) for k, v in detail.items()}))

    for label, a, p, b in waves:
        add_truth(region_for_seasons, label, a, p, b, "seasonal",
                  note="pre-Spring-Festival wage wave" if label == "劳动争议" else "summer wave")

    if var.vary:  # a world of its own: every type, flares and slow builds, loud and subtle, 1-4 townships
        vrng = np.random.default_rng([seed, 3, 1])  # a stream of its own: today's streams do not move
        plant_varied(plan, geo, vrng, var, years, text_rng, add_truth)
        plant_habituals(plan, geo, vrng, var, years, text_rng, add_truth)
    else:
        plant_default(plan, geo, rng, years, text_rng, add_truth)

    def county_weeks(min_start: int, span: int) -> tuple[int, int]:
        c = int(rng.integers(C))
        s = int(rng.integers(min(min_start, n_weeks - 1), max(min_start + 1, n_weeks - span)))
        return c, min(s, n_weeks - 1)

    # Confounders. Extra draws of a varied world sit behind its parameters (0 today), so that today's
    # world draws exactly what it always drew.
    for _ in range(max(1, int(rng.poisson(C * years / 6 * var.reporting_rate)))):  # a new hotline channel
        c, s = county_weeks(max(1, n_weeks // 4), 1)
        f = float(rng.uniform(*var.reporting_factor))
        if var.reporting_down and rng.random() < var.reporting_down:
            f = 1 / f  # a channel closed or merged away: fewer calls from then on
        hot_c[c, s:] *= f
        add_truth(geo.county_codes[c], "", s, s, n_weeks - 1, "reporting_change", feed="hotline", factor=round(f, 2))
    for i in range(max(1, int(rng.poisson(C * years / 4 * var.outage_rate)))):  # silent, then catches up
        n_out = int(rng.integers(1, var.outage_weeks_max + 1))
        c, s = county_weeks(1, n_out + 1)
        s = min(s, max(0, n_weeks - n_out - 1))
        catch = min(s + n_out, n_weeks - 1)
        arr, feed = (hot_c, "hotline") if i % 2 == 0 else (ord_c, "workorders")
        arr[c, s:catch] = 0.0
        arr[c, catch] *= 1.5 + 0.5 * n_out
        add_truth(geo.county_codes[c], "", s, catch, catch, "outage", feed=feed, silent_weeks=n_out)
    for i in range(max(1, int(rng.poisson(var.duplicate_rate * years)))):  # an export batch delivered twice
        c, s = county_weeks(0, 1)
        day = 7 * s + int(rng.integers(0, 7))
        day = min(day, 7 * n_weeks - 6)
        same = i == 0  # the first one: same folder, another file name, same bytes
        delay = 0 if same else int(rng.integers(1, 5))
        plan.duplicates.append(dict(county=c, day=day, delay=delay))
        w = (day + delay) // 7
        add_truth(geo.county_codes[c], "", w, w, w, "duplicate_export", day=(start + dt.timedelta(days=day)).isoformat(),
                  delay_days=delay)
    for _ in range(max(1, int(rng.poisson(var.media_rate * years)))):  # a media story: curious 咨询 calls, one week
        c, s = county_weeks(0, 1)
        if var.vary:
            kinds, weights = list(var.media_types), np.array(list(var.media_types.values()))
            dtype = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
            plan.media.append(dict(county=c, week=s, type=dtype,
                                   strength=round(var.media_strength * float(rng.uniform(0.6, 1.4)), 3)))
        else:
            dtype = "消费" if rng.random() < 0.6 else "医疗"
            plan.media.append(dict(county=c, week=s, type=dtype))
        add_truth(geo.county_codes[c], dtype, s, s, s, "media", feed="hotline")
    return plan
