"""Referral patterns (issue 21): where mediation cases come from, and which line a call comes in on.

A dispute that has reached the petition office (信访转办) or the police (公安移交), or that a court sends down
(法院委派), is one step from escalation; a caller who moves from the 12348 legal line to the 12345
government line has stopped expecting a legal answer. But referrals also rise for reasons that have
nothing to do with escalation. Planted here, all of it on top of the world of ``episodes.py``:

* Base rates. The mediation registry's ``纠纷来源`` (主动排查, 当事人申请, 热线转办, 法院委派, 公安移交,
  信访转办, 其他) and the hotline's ``line`` (12348 or 12345). Today's world keeps the simulator's old
  fixed values (25/40/10/7/8/5/5 %, 12345 on 40 % of calls). A varied world draws each source's weight
  from a range of its own (主动排查 10-45, 当事人申请 20-55, 热线转办 3-20, 法院委派 2-15, 公安移交 3-15,
  信访转办 1-10, 其他 1-10, then normalised) and the 12345 share from 15-75 %: how far a province has
  merged 12348 into 12345 and how actively its committees go looking for disputes differ that much.
* Build-ups before SOME escalations (a share of 50 % today, 20-80 % drawn per seed). In the 2-4 weeks
  before the peak (1-2 to 3-6 when varied) a rising part of the episode's own mediation cases (type and
  township) arrives via 信访转办 / 公安移交 / 法院委派 (30-60 % at the last week; drawn 15-40 to 25-80 %),
  with a mix of the three that suits the dispute type (police for neighbours and families, petitions
  for land and wages, courts for contracts), plus a few extra referred cases (Poisson mean 3; 1-5),
  and/or a rising part of its calls comes on 12345 (+15-35 points; drawn from 5-20 to 10-45). Which of
  the two: mediation 80 % and hotline 60 % of build-ups (50-95 %, 20-90 %), at least one of them. The
  townships of one multi-township episode share the choice. Listed per escalation in
  ``truth/episode_details.csv`` (``referral_buildup`` = none, mediation, hotline or both). Before issue
  21 every escalation's cases turned to 信访转办 as it built (weight 5 + 20 x level): now only these do.
* Confounders, regions and weeks drawn independently of the escalations, each a ``kind`` of its own in
  ``truth/episodes.csv`` (county row, blank dispute type, like ``reporting_change``):

  - ``referral_court_campaign``: a court's 诉前调解 drive sends extra 法院委派 cases (mostly contract,
    family, damages, traffic cases) to a county's committees for 3-8 weeks, +20-60 % of its usual cases
    (varied: rate x0.3-3, strength from 10-40 to up to 100 %, 2-4 to 6-12 weeks). About one per county
    every three years.
  - ``referral_petition_backlog``: a petition office passes a backlog down in 1-2 weeks: extra 信访转办
    cases, +40-120 % of the county's usual cases (varied: from 20-60 to up to 200 %), leaning to land,
    housing, wage and pollution disputes, unevenly over its townships. About one per county every four
    years (varied: x0.3-3).
  - ``referral_line_shift``: after a publicity campaign for 12345 a county's calls move from 12348 to
    12345 for good, +10-30 points over two weeks (varied: from 5-15 to up to 40). About one per county
    every four years (varied: x0.3-3).

  At least one of each per drop, as for the other confounders. Today's world draws these too.

Streams of their own, so that no existing draw moves: ``random.Random(f"referrals-{seed}")`` for the
rates, ``np.random.default_rng([seed, 21])`` for the plan, and per month ``[seed, 21, d0]`` for the
extra cases (``referral_records.py``). The old ``r.random()`` of each case's source and each call's line
is kept, so records outside these patterns keep their values; only the case numbers of a county move on
by the extra cases registered before them.
"""
from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import asdict, dataclass, field
from itertools import accumulate

import numpy as np

from fengqiao.core.disputes import TYPE_LABELS

from .type_mix import TI, K

SOURCES = ("主动排查", "当事人申请", "热线转办", "法院委派", "公安移交", "信访转办", "其他")
REFERRED = ("法院委派", "公安移交", "信访转办")  # one step from escalation
PLAIN_SOURCE_WEIGHTS = (25, 40, 10, 7, 8, 5, 5)  # today's world: the simulator's values before issue 21
SOURCE_RANGES = ((0.10, 0.45), (0.20, 0.55), (0.03, 0.20), (0.02, 0.15), (0.03, 0.15), (0.01, 0.10), (0.01, 0.10))
# Which referral channel a build-up of a type leans to: (法院委派, 公安移交, 信访转办); others (1, 1, 1).
CHANNEL_PRIOR = {"婚姻家庭": (1, 3, 1), "邻里": (0.5, 3, 1), "损害赔偿": (1.5, 2, 0.5), "道路交通事故": (2, 2, 0.3),
                 "征地拆迁": (0.5, 1, 4), "山林土地": (0.7, 1, 3), "房屋宅基地": (1, 1, 3), "环境污染": (0.5, 1, 3),
                 "劳动争议": (1.5, 1, 3), "物业": (1.5, 0.7, 2), "合同": (3, 0.5, 0.5), "生产经营": (2, 1, 1),
                 "消费": (1.5, 0.5, 1), "医疗": (1.5, 1, 2)}
# Type weights of the confounders' extra cases: what courts divert to 诉前调解, what petitions are about.
COURT_TYPES = {"合同": 3, "婚姻家庭": 2.5, "损害赔偿": 2, "道路交通事故": 2, "物业": 1.5, "消费": 1.5, "劳动争议": 1.5,
               "生产经营": 1.5, "医疗": 1}
PETITION_TYPES = {"征地拆迁": 3, "山林土地": 2, "房屋宅基地": 2, "劳动争议": 2, "环境污染": 1.5, "物业": 1.5, "邻里": 1}
OTHER_TYPE_WEIGHT = 0.5
LINE_CAP = 0.95


@dataclass
class ReferralRates:
    """One world's referral rates. The defaults are today's world; ``draw_rates`` gives a varied one."""

    source_weights: tuple = PLAIN_SOURCE_WEIGHTS  # relative, in SOURCES order
    line_12345: float = 0.4
    buildup_share: float = 0.5  # escalations with a referral build-up
    buildup_weeks: tuple = (2, 4)
    buildup_referred: tuple = (0.3, 0.6)  # extra referred share of the episode's cases at the last week
    buildup_extra: float = 3.0  # mean extra referred cases
    buildup_line: tuple = (0.15, 0.35)  # extra 12345 share of the episode's calls at the last week
    buildup_mediation: float = 0.8
    buildup_hotline: float = 0.6
    court_rate: float = 1.0  # x one per county every three years
    court_strength: tuple = (0.2, 0.6)
    court_weeks: tuple = (3, 8)
    petition_rate: float = 1.0  # x one per county every four years
    petition_strength: tuple = (0.4, 1.2)
    line_shift_rate: float = 1.0  # x one per county every four years
    line_shift: tuple = (0.1, 0.3)

    def as_dict(self) -> dict:
        return asdict(self)


def draw_rates(seed: int) -> ReferralRates:
    """A varied world's referral rates (ranges in the module docstring), from a stream of their own."""
    r = random.Random(f"referrals-{seed}")
    u = r.uniform

    def rd(x: float) -> float:
        return round(float(x), 4)

    def logu(a: float, b: float) -> float:
        return rd(math.exp(u(math.log(a), math.log(b))))

    def span(lo: tuple, hi_max: float, gap: float = 0.0) -> tuple:
        a = u(*lo)
        return rd(a), rd(u(a + gap, max(a + gap, hi_max)))

    x = ReferralRates()
    w = [u(a, b) for a, b in SOURCE_RANGES]
    x.source_weights = tuple(rd(v / sum(w)) for v in w)
    x.line_12345, x.buildup_share = rd(u(0.15, 0.75)), rd(u(0.2, 0.8))
    x.buildup_weeks = (r.randint(1, 2), r.randint(3, 6))
    x.buildup_referred, x.buildup_extra = span((0.15, 0.4), 0.8, 0.1), rd(u(1.0, 5.0))
    x.buildup_line = span((0.05, 0.2), 0.45, 0.05)
    x.buildup_mediation, x.buildup_hotline = rd(u(0.5, 0.95)), rd(u(0.2, 0.9))
    x.court_rate, x.court_strength = logu(0.3, 3.0), span((0.1, 0.4), 1.0)
    x.court_weeks = (r.randint(2, 4), r.randint(6, 12))
    x.petition_rate, x.petition_strength = logu(0.3, 3.0), span((0.2, 0.6), 2.0, 0.2)
    x.line_shift_rate, x.line_shift = logu(0.3, 3.0), span((0.05, 0.15), 0.4, 0.05)
    return x


@dataclass
class Wave:
    """Extra referred cases over some of a county's townships on the working days ``d0..d1-1``."""

    kind: str
    source: str
    towns: np.ndarray  # township indices
    town_w: np.ndarray  # relative weight per township (mean 1)
    type_w: np.ndarray  # per type, applied to each township's usual mix and renormalised
    strength: float  # extra cases as a share of the townships' usual cases
    d0: int
    d1: int


@dataclass
class ReferralPlan:
    rates: ReferralRates
    n_weeks: int
    source_cum: list  # cumulative SOURCES weights
    line_p: list  # per county, per week: share of calls on 12345
    # (township, type, week) -> (extra referred share, cumulative REFERRED weights) / extra 12345 share
    case_tilt: dict = field(default_factory=dict)
    line_tilt: dict = field(default_factory=dict)
    buildup_cases: list = field(default_factory=list)  # (day, township, type, source), sorted
    waves: list = field(default_factory=list)


def _weights(table: dict, noise: np.ndarray) -> np.ndarray:
    return np.array([table.get(t, OTHER_TYPE_WEIGHT) for t in TYPE_LABELS]) * noise


def plan_referrals(plan, geo, seed: int, rates: ReferralRates | None = None) -> ReferralPlan:
    """Choose the escalations with a build-up, plant the confounders and add their truth rows to ``plan``."""
    rates = rates or ReferralRates()
    rng = np.random.default_rng([seed, 21])
    n_weeks, C = plan.n_weeks, len(geo.county_codes)
    line_p = np.full((C, n_weeks), rates.line_12345)
    out = ReferralPlan(rates, n_weeks, list(accumulate(rates.source_weights)), [])
    _plant_buildups(out, plan, geo, rng, rates)
    years = n_weeks / 52.0
    town_of = [np.nonzero(geo.t_county == c)[0] for c in range(C)]

    def county_weeks(span: int) -> tuple[int, int]:  # from week 1 on, so that there is a before
        c = int(rng.integers(C))
        return c, int(rng.integers(min(1, n_weeks - 1), max(2, n_weeks - span + 1)))

    for _ in range(max(1, int(rng.poisson(C * years / 3 * rates.court_rate)))):
        n = int(rng.integers(rates.court_weeks[0], rates.court_weeks[1] + 1))
        c, s = county_weeks(n)
        e = min(s + n, n_weeks) - 1
        strength = float(rng.uniform(*rates.court_strength))
        ts = town_of[c]
        out.waves.append(Wave("referral_court_campaign", "法院委派", ts, np.ones(len(ts)),
                              _weights(COURT_TYPES, rng.lognormal(0, 0.3, K)), strength, 7 * s, 7 * e + 7))
        _truth(plan, geo.county_codes[c], s, s, e, "referral_court_campaign", feed="mediation", source="法院委派",
               extra_share=round(strength, 2), weeks=e - s + 1)
    for _ in range(max(1, int(rng.poisson(C * years / 4 * rates.petition_rate)))):
        n = int(rng.integers(1, 3))
        c, s = county_weeks(n)
        e = min(s + n, n_weeks) - 1
        strength = float(rng.uniform(*rates.petition_strength))
        ts = town_of[c]
        town_w = rng.lognormal(0, 0.7, len(ts))  # a backlog is uneven: some townships sent many
        out.waves.append(Wave("referral_petition_backlog", "信访转办", ts, town_w / town_w.mean(),
                              _weights(PETITION_TYPES, rng.lognormal(0, 0.3, K)), strength, 7 * s, 7 * e + 7))
        _truth(plan, geo.county_codes[c], s, s, e, "referral_petition_backlog", feed="mediation", source="信访转办",
               extra_share=round(strength, 2), weeks=e - s + 1)
    for _ in range(max(1, int(rng.poisson(C * years / 4 * rates.line_shift_rate)))):
        c, s = county_weeks(1)
        shift = float(rng.uniform(*rates.line_shift))
        for w in range(s, n_weeks):  # a publicity campaign takes a couple of weeks to move callers
            line_p[c, w] = min(LINE_CAP, line_p[c, w] + shift * min(1.0, (w - s + 1) / 2))
        _truth(plan, geo.county_codes[c], s, s, n_weeks - 1, "referral_line_shift", feed="hotline", line="12345",
               shift=round(shift, 2))
    out.line_p = [[float(x) for x in row] for row in line_p]  # plain floats: 1 - 0.4 is exactly 0.6
    return out


def _truth(plan, region: str, s: int, p: int, e: int, kind: str, **detail) -> None:
    """A truth row as ``episodes.make_plan`` writes them, numbered on from its last one."""
    eid = f"EP{len(plan.truth) + 1:04d}"

    def monday(w: int) -> str:
        return (plan.week0 + dt.timedelta(days=7 * w)).isoformat()

    plan.truth.append(dict(episode_id=eid, region_code=region, dispute_type="", start_week=monday(s),
                           peak_week=monday(p), end_week=monday(e), kind=kind))
    plan.details.append(dict(episode_id=eid, kind=kind, **{k: str(v) for k, v in detail.items()}))


def _plant_buildups(out: ReferralPlan, plan, geo, rng, rates: ReferralRates) -> None:
    """Referral build-ups before some escalations. Every escalation draws the same numbers, chosen or
    not, so that the choice of one does not move the draws of the next."""
    town = {code: i for i, code in enumerate(geo.t_code)}
    chosen_for: dict[str, bool] = {}
    cases: list[tuple[int, int, int, str]] = []
    for row, det in zip(plan.truth, plan.details):
        if row["kind"] != "escalation":
            continue
        core = det.get("part_of") or row["episode_id"]
        chosen = bool(rng.random() < rates.buildup_share)
        chosen = chosen_for.setdefault(core, chosen)  # the townships of one episode go together
        n_w = int(rng.integers(rates.buildup_weeks[0], rates.buildup_weeks[1] + 1))
        share, line = float(rng.uniform(*rates.buildup_referred)), float(rng.uniform(*rates.buildup_line))
        med, hot = bool(rng.random() < rates.buildup_mediation), bool(rng.random() < rates.buildup_hotline)
        n_extra = max(1, int(rng.poisson(rates.buildup_extra)))
        mix = np.array(CHANNEL_PRIOR.get(row["dispute_type"], (1, 1, 1))) * rng.gamma(2.0, 1.0, 3)
        days, week_u = rng.integers(0, 5, n_extra), rng.random(n_extra)
        picks = rng.random(n_extra)
        if not chosen:
            det["referral_buildup"] = "none"
            continue
        med = med or not hot
        t, k = town[row["region_code"]], TI[row["dispute_type"]]
        p = (dt.date.fromisoformat(row["peak_week"]) - plan.week0).days // 7
        first = max(0, p - n_w)
        weeks = list(range(first, p))
        ramp = np.array([(w - (p - n_w) + 1) / n_w for w in weeks])
        cum = list(accumulate(float(x) for x in mix))
        for w, f in zip(weeks, ramp):
            if med:
                out.case_tilt[(t, k, w)] = (share * float(f), cum)
            if hot:
                out.line_tilt[(t, k, w)] = line * float(f)
        if med and weeks:
            # the extra cases come later in the build-up rather than early: weeks drawn by the ramp
            wk = np.searchsorted(np.cumsum(ramp) / ramp.sum(), week_u, side="right")
            for i in range(n_extra):
                source = REFERRED[min(2, int(np.searchsorted(np.array(cum) / cum[-1], picks[i], side="right")))]
                cases.append((7 * weeks[min(int(wk[i]), len(weeks) - 1)] + int(days[i]), t, k, source))
        det.update(referral_buildup="both" if med and hot else "mediation" if med else "hotline",
                   referral_weeks=str(len(weeks)), referral_share=str(round(share, 2)) if med else "0",
                   referral_extra_cases=str(n_extra if med and weeks else 0),
                   line_boost=str(round(line, 2)) if hot else "0",
                   referral_channels="/".join(f"{x / cum[-1]:.2f}" for x in mix))
    out.buildup_cases = sorted(cases)
