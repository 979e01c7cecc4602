"""The world-defining choices of the simulator: today's fixed world, or one drawn per seed.

``Variation()`` holds the values the simulator has always used; with ``vary=False`` every module reads
them and the drop is byte-identical to what it was before this file existed. ``draw(seed)`` draws a
different world per seed (domain randomisation), so that a model trained on several seeds cannot learn
one world's phrases, rates and episode shapes. Draws come from ``random.Random(f"vary-{seed}")``, a
stream of its own: no existing stream moves. The drawn values are written to ``truth/variation.json``.

Ranges (uniform unless said; "x" = a factor on today's value) and why:

* Volumes per feed: x0.4-x2.5 each (log-uniform, independently). Per-capita contact rates differ that
  much between provinces: how well known 12348 is, whether 12345 is merged, how actively 司法所 register.
* Trend: -25 % to +35 % a year per feed (a common part plus a feed's own). Hotlines are being merged and
  publicised; mediation registration drives come and go.
* Yearly cycle: amplitude 0-20 % on all types with a random peak day; weekend volumes x0.6-x1.5
  (capped at a weekday's). Seasonal waves: pre-festival wage wave 0.3-3.0 (today 1.5) over 3-9 weeks
  (today 6), festival-week dip to 0.35-0.9 (0.6), summer waves x0.2-x2.5 shifted by +-20 days.
* Dispute-type mix: each type x0.4-x2.5 (a shared log-normal factor, sigma 0.45, plus +-20 % noise for
  rural and urban separately); feed emphasis x~0.6-1.6 (sigma 0.25); township-level noise sigma 0.1-0.6
  (today 0.25). A mining county and a coastal city have very different caseloads.
* Request types (咨询/求助/投诉/举报/建议): Dirichlet(30 x today's 0.50/0.20/0.18/0.05/0.07), i.e. 咨询
  roughly 0.35-0.65. Calls opening orders 0.35-0.85 (0.6); web orders of unknown category 1-12 % (4 %).
* Repeat contact 1-10 % of ordinary calls (4 %); share of repeats linked by the order system 0.6-0.99
  (0.9); orders sent back (退回) 2-15 % (5 %); exports 70-97 % on time (88 %).
* Satisfaction: mean 2.8-4.5 for ordinary contacts, 0.8-2.0 lower in a surge; missing 10-60 % (30 %).
* Mediation: two parties 60-92 % (80 %); group cases up to 15-120 parties (60); failure 4-25 % (10 %),
  in a surge 0.10-0.30 + 0.2-0.6 x level (0.15 + 0.45 x level); settled on the spot 20-70 % (40 %);
  ordinary-time flags 民转刑 0.5-6 % (2 %), 群体性 0.3-4 % (1 %), 涉及农民工 1-8 % (3 %), blank 2-25 % (8 %).
  Registries differ most in how they tick boxes.
* Escalations: 1.5-20 per 100 townships a year (5), all 15 types possible (weights Gamma(0.7) + 0.03,
  tilted towards today's usual types); 10-50 % are 1-2 week flares, the rest build 3-10 weeks (3-8);
  decay 1-5 weeks (1-3); 10-60 % are subtle (x1.3-2 at the peak, few cue words, mostly more repeat
  callers) instead of loud (x2.5-8); 10-60 % span 2-4 neighbouring townships; a non-group type turns
  collective 5-40 % of the time. Escalation cues outside episodes 0.2-3 % of contacts (1 %).
* Confounders: new hotline channels and outages x0.3-x3 as often, channel factor 1.2-2.5 (1.5-2.0) and
  10-40 % of changes a drop instead (a channel closed); outages silent up to 1-3 weeks (2); duplicate
  exports 1-8 a year (3); media stories 0.5-6 a year (2) at 0.3-2.0 x the county's calls (0.9) about
  one of six types; habitual complainants (老上访户) 2-25 per 100 townships, calling 0.5-4 times a week,
  with cue words in 5-50 % of their calls (none today).
* Referrals (纠纷来源 base rates, 12345 share, build-ups before escalations, referral confounders): drawn
  in ``referrals.py`` from a stream of its own (``referrals-{seed}``) and written beside these parameters.
* Text: each phrase bank keeps 30-100 % of its phrases (a per-seed 40-100 % +-15 %; today all); caller lines are paraphrased 10-70 %,
  carry fillers 0-60 %, dialect 0-80 %, a typo or homophone slip 0-6 % (none); 10-70 % of escalation
  cues are only implied (none); ordinary contacts carry a cue word out of context 0-4 % (none); vague
  topics 4-30 % (12 %); cues of collective types are collective 50-90 % (75 %).
"""
from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, field

from fengqiao.core.disputes import TYPE_LABELS

from .orders import ORDER_MARKS_REPEAT
from .type_mix import ESCALATION_TYPES, FEED_MIX, MIX_RURAL, MIX_URBAN

FEEDS = ("hotline", "orders", "mediation")
# Today's volume per weekday (Monday first) relative to a working day, per feed.
WEEKDAY = {"hotline": (1, 1, 1, 1, 1, .65, .6), "orders": (1, 1, 1, 1, 1, .45, .4),
           "mediation": (1, 1, 1, 1, 1, .3, .25)}


def _feeds(value):
    return field(default_factory=lambda: {f: value for f in FEEDS})


@dataclass
class Variation:
    """One world's choices. The defaults are today's world; ``draw`` gives a varied one."""

    vary: bool = False
    # volumes, trend, cycles
    volume: dict = _feeds(1.0)
    trend: dict = _feeds(0.0)  # growth per year
    yearly_amp: float = 0.0
    yearly_peak_day: int = 0
    weekday: dict = field(default_factory=lambda: {f: tuple(WEEKDAY[f]) for f in FEEDS})
    wage_amp: float = 1.5
    wage_weeks: int = 6
    festival_dip: float = 0.6
    summer_scale: float = 1.0
    summer_shift: int = 0
    # type mix
    mix_rural: tuple = tuple(float(x) for x in MIX_RURAL)
    mix_urban: tuple = tuple(float(x) for x in MIX_URBAN)
    feed_mix: dict = field(default_factory=lambda: {f: tuple(float(x) for x in FEED_MIX[f]) for f in FEEDS})
    township_mix_sigma: float = 0.25
    # hotline and orders
    rtype_cum: tuple = (0.5, 0.7, 0.88, 0.93)  # cumulative 咨询, 求助, 投诉, 举报 (rest 建议)
    p_open: float = 0.6
    unknown_category: float = 0.04
    background_repeat: float = 0.04  # ordinary calls that repeat a matter of the past four weeks (feeds.py)
    order_marks_repeat: float = ORDER_MARKS_REPEAT
    return_rate: float = 0.05
    late: tuple = (0.88, 0.95, 0.98)  # cumulative: on time, 1, 2 days late (rest 3)
    wage_share: float = 0.45
    bg_cue: float = 0.01
    sat_missing: float = 0.3
    sat_normal: tuple = (2, 3, 4, 4, 5, 5, 5)
    sat_surge: tuple = (1, 1, 2, 2, 3, 4)
    order_sat_surge: tuple = (1, 2, 2, 3, 3, 4)
    order_sat_filled: float = 0.85
    # mediation
    parties_two: float = 0.8
    group_parties_max: int = 60
    settle_on_spot: float = 0.4
    fail_base: float = 0.1
    fail_surge: tuple = (0.15, 0.45)
    flag_threat: float = 0.02
    flag_collective: float = 0.01
    flag_migrant: float = 0.03
    flag_blank: float = 0.08
    # escalation episodes
    esc_rate: float = 0.05
    esc_types: dict = field(default_factory=lambda: dict(ESCALATION_TYPES))
    flare_share: float = 0.0
    build_max: int = 8
    decay_max: int = 3
    subtle_share: float = 0.0
    multi_share: float = 0.0
    group_share_other: float = 0.0
    # confounders
    reporting_rate: float = 1.0
    reporting_factor: tuple = (1.5, 2.0)
    reporting_down: float = 0.0
    outage_rate: float = 1.0
    outage_weeks_max: int = 2
    duplicate_rate: float = 3.0
    media_rate: float = 2.0
    media_strength: float = 0.9
    media_types: dict = field(default_factory=lambda: {"消费": 0.6, "医疗": 0.4})
    habitual_rate: float = 0.0  # per township
    habitual_calls: tuple = (0.5, 4.0)  # calls a week
    habitual_cue: tuple = (0.05, 0.5)
    # text
    bank_keep: float = 1.0
    paraphrase: float = 0.0
    filler: float = 0.0
    dialect: float = 0.0
    typo: float = 0.0
    implied_share: float = 0.0
    stray_cue: float = 0.0
    vague_topic: float = 0.12
    collective_share: float = 0.75

    def as_dict(self) -> dict:
        return asdict(self)


def _rd(x: float) -> float:
    return round(float(x), 4)


def draw(seed: int) -> Variation:
    """A world drawn for ``seed`` from the ranges of the module docstring."""
    r = random.Random(f"vary-{seed}")
    u = r.uniform

    def logu(a: float, b: float) -> float:
        return _rd(math.exp(u(math.log(a), math.log(b))))

    def clip(x: float, lo: float, hi: float) -> float:
        return min(hi, max(lo, x))

    v = Variation(vary=True)
    v.volume = {f: logu(0.4, 2.5) for f in FEEDS}
    common = u(-0.2, 0.3)
    v.trend = {f: _rd(clip(common + u(-0.1, 0.1), -0.25, 0.35)) for f in FEEDS}
    v.yearly_amp, v.yearly_peak_day = _rd(u(0, 0.2)), r.randrange(365)
    v.weekday = {f: tuple(WEEKDAY[f][:5]) + tuple(_rd(min(1.0, x * u(0.6, 1.5))) for x in WEEKDAY[f][5:])
                 for f in FEEDS}
    v.wage_amp, v.wage_weeks, v.festival_dip = _rd(u(0.3, 3.0)), r.randint(3, 9), _rd(u(0.35, 0.9))
    v.summer_scale, v.summer_shift = _rd(u(0.2, 2.5)), r.randint(-20, 20)

    shared = [clip(r.lognormvariate(0, 0.45), 0.4, 2.5) for _ in TYPE_LABELS]
    v.mix_rural = tuple(_rd(m * s * u(0.8, 1.2)) for m, s in zip(MIX_RURAL, shared))
    v.mix_urban = tuple(_rd(m * s * u(0.8, 1.2)) for m, s in zip(MIX_URBAN, shared))
    v.feed_mix = {f: tuple(_rd(x * clip(r.lognormvariate(0, 0.25), 0.6, 1.6)) for x in FEED_MIX[f]) for f in FEEDS}
    v.township_mix_sigma = _rd(u(0.1, 0.6))

    g = [r.gammavariate(30 * p, 1.0) for p in (0.5, 0.2, 0.18, 0.05, 0.07)]
    cum = 0.0
    v.rtype_cum = tuple(_rd(cum := cum + x / sum(g)) for x in g[:4])
    v.p_open, v.unknown_category = _rd(u(0.35, 0.85)), _rd(u(0.01, 0.12))
    v.background_repeat, v.order_marks_repeat = _rd(u(0.01, 0.10)), _rd(u(0.6, 0.99))
    v.return_rate = _rd(u(0.02, 0.15))
    on_time = u(0.7, 0.97)
    v.late = (_rd(on_time), _rd(on_time + (1 - on_time) * 0.55), _rd(on_time + (1 - on_time) * 0.85))
    v.wage_share, v.bg_cue = _rd(u(0.25, 0.7)), _rd(u(0.002, 0.03))
    v.sat_missing = _rd(u(0.1, 0.6))
    mean = u(2.8, 4.5)
    drop = u(0.8, 2.0)
    v.sat_normal = tuple(sorted(int(clip(round(r.gauss(mean, 1.0)), 1, 5)) for _ in range(10)))
    v.sat_surge = tuple(sorted(int(clip(round(r.gauss(mean - drop, 1.0)), 1, 5)) for _ in range(8)))
    v.order_sat_surge, v.order_sat_filled = v.sat_surge, _rd(u(0.6, 0.95))

    v.parties_two, v.group_parties_max = _rd(u(0.6, 0.92)), r.randint(15, 120)
    v.settle_on_spot, v.fail_base = _rd(u(0.2, 0.7)), _rd(u(0.04, 0.25))
    v.fail_surge = (_rd(u(0.1, 0.3)), _rd(u(0.2, 0.6)))
    v.flag_threat, v.flag_collective = _rd(u(0.005, 0.06)), _rd(u(0.003, 0.04))
    v.flag_migrant, v.flag_blank = _rd(u(0.01, 0.08)), _rd(u(0.02, 0.25))

    v.esc_rate = logu(0.015, 0.2)
    # Every type can escalate; today's usual types (wages, land, property...) keep a mild head start.
    v.esc_types = {t: _rd((r.gammavariate(0.7, 1.0) + 0.03) * (1 + ESCALATION_TYPES.get(t, 0.0) / 3))
                   for t in TYPE_LABELS}
    v.flare_share, v.build_max, v.decay_max = _rd(u(0.1, 0.5)), 10, r.randint(1, 5)
    v.subtle_share, v.multi_share = _rd(u(0.1, 0.6)), _rd(u(0.1, 0.6))
    v.group_share_other = _rd(u(0.05, 0.4))

    v.reporting_rate, v.outage_rate = logu(0.3, 3.0), logu(0.3, 3.0)
    lo = u(1.2, 2.0)
    v.reporting_factor, v.reporting_down = (_rd(lo), _rd(u(lo, 2.5))), _rd(u(0.1, 0.4))
    v.outage_weeks_max, v.duplicate_rate = r.randint(1, 3), _rd(u(1.0, 8.0))
    v.media_rate, v.media_strength = logu(0.5, 6.0), _rd(u(0.3, 2.0))
    media = ("消费", "医疗", "劳动争议", "物业", "婚姻家庭", "道路交通事故")
    v.media_types = {t: _rd(r.gammavariate(1.0, 1.0) + 0.05) for t in media}
    v.habitual_rate = _rd(u(0.02, 0.25))
    v.habitual_calls = (_rd(u(0.3, 1.0)), _rd(u(1.5, 4.0)))
    v.habitual_cue = (_rd(u(0.02, 0.1)), _rd(u(0.2, 0.5)))

    v.bank_keep, v.paraphrase, v.filler = _rd(u(0.4, 1.0)), _rd(u(0.1, 0.7)), _rd(u(0.0, 0.6))
    v.dialect, v.typo, v.implied_share = _rd(u(0.0, 0.8)), _rd(u(0.0, 0.06)), _rd(u(0.1, 0.7))
    v.stray_cue, v.vague_topic = _rd(u(0.0, 0.04)), _rd(u(0.04, 0.3))
    v.collective_share = _rd(u(0.5, 0.9))
    return v
