"""Referral patterns (issue 21): where mediation cases come from (纠纷来源) and which line people ring.

A dispute that reaches the petition office (信访转办) or the police (公安移交), or that a court sends down (法院委派),
is one step from escalation; but offices also refer cases in batches for reasons of their own. Drawn per seed:

1. Base rates, per county (``base_rates``): the share of each 纠纷来源 among all cases — 法院委派 3-12%, 公安移交 2-8%,
   信访转办 1-5%, 热线转办 5-20%, 其他 2-8%, the rest split between 主动排查 (35-60% of it) and 当事人申请 — and the
   12345 share of calls (20-60%). A seed draws a centre in each range, each county wobbles around it.
2. Referral build-ups before some escalations (``plan``): a per-seed share of 30-70% of the escalation episodes. In
   the 1-6 weeks before the peak, the main township gets 2-9 extra cases of the matter referred by the petition
   office, the police or a court (a per-episode mix leaning on the type of matter), more each week; and/or the
   episode's calls move to one line (mostly 12345: the legal line did not help, so people ring the government).
   Their truth rows stay ``escalation``; truth/referral_buildups.csv lists what was planted, case by case.
3. Referral patterns that precede nothing (confounders), each a row in truth/episodes.csv, with regions and weeks
   drawn independently of the escalations:
   - ``referral_campaign``: a county court's 诉前调解 drive sends many 法院委派 cases (20-60% on top of a
     township's usual weekly cases) to all the county's townships for 3-8 weeks (county code, no type).
   - ``petition_backlog``: a county petition office clears its backlog: a batch of 信访转办 cases (15-45% of the
     county's weekly cases), many about old matters, in one or two weeks (county code, no type).
   - ``line_shift``: a publicity campaign (3-10 weeks) or the merger of 12348 into 12345 (to the drop's end) moves
     25-60% of a county's or the city's 12348 calls to 12345, without adding any calls (county or city code).

``Planter`` does it during the week loop: ``line`` picks the line of each call, ``week`` adds the referred cases.
"""
from __future__ import annotations

import random

import numpy as np

from . import mediation
from .planned import Episode, scaled_count
from .situations import TYPES
from .world import World

REFERRED = ("信访转办", "公安移交", "法院委派")
REFERRAL_KINDS = ("referral_campaign", "petition_backlog", "line_shift")
# Which office a hardening matter of each type tends to reach first: (信访转办, 公安移交, 法院委派) weights.
_LEAN = {"征地拆迁": (3.0, 1.0, 0.8), "山林土地": (2.0, 1.2, 0.8), "劳动争议": (2.0, 1.0, 1.5), "环境污染": (2.5, 0.8, 0.6),
         "房屋宅基地": (1.5, 1.5, 1.0), "婚姻家庭": (0.5, 2.5, 1.5), "邻里": (0.7, 2.5, 0.8), "损害赔偿": (0.6, 1.5, 2.0),
         "道路交通事故": (0.4, 2.0, 2.0), "合同": (0.8, 0.8, 3.0), "生产经营": (1.0, 1.0, 2.0), "医疗": (1.5, 1.5, 1.0),
         "物业": (1.8, 0.8, 1.0), "消费": (1.2, 0.8, 1.5), "其他": (1.0, 1.0, 1.0)}
# What a court's 诉前调解 drive sends down, and what a petition backlog holds (multipliers on the township's mix).
_COURT = {"合同": 3.0, "婚姻家庭": 2.0, "损害赔偿": 2.0, "道路交通事故": 2.5, "劳动争议": 1.5, "物业": 2.0, "消费": 1.5,
          "房屋宅基地": 1.0, "生产经营": 1.5, "医疗": 1.0}
_PETITION = {"征地拆迁": 4.0, "房屋宅基地": 2.5, "劳动争议": 2.0, "山林土地": 2.0, "环境污染": 2.0, "物业": 1.2, "邻里": 1.0}
# (low, high) of each source's share of all cases; 主动排查 and 当事人申请 share what is left.
_RANGES = {"法院委派": (0.03, 0.12), "公安移交": (0.02, 0.08), "信访转办": (0.01, 0.05), "热线转办": (0.05, 0.20),
           "其他": (0.02, 0.08)}
LINE_12345 = (0.2, 0.6)


def _tilted(world: World, town_index: int, tilt: dict) -> np.ndarray:
    w = world.mix_med[town_index] * np.array([tilt.get(t, 0.5) for t in TYPES])
    return w / w.sum()


def base_rates(world: World) -> None:
    """Per county: the base 纠纷来源 mix, the hotline-to-mediation transfer chance and the 12345 share (into world.p).

    Transfers (热线转办) are made by the hotline from calls that opened an order, so the transfer chance is set to
    reach the county's 热线转办 share; what it cannot reach (few calls per case) is drawn directly."""
    rng = np.random.default_rng([world.seed, 2121])
    u = lambda a, b: float(rng.uniform(a, b))  # noqa: E731
    p, geo = world.p, world.geo
    centre = {s: u(*r) for s, r in _RANGES.items()}
    active_centre, line_centre = u(0.35, 0.6), u(*LINE_12345)
    # expected orders per call of each township: its type mix through the request mix and each request's order chance
    p_order = np.array([p["p_order"][r] for r in ("咨询", "求助", "投诉", "举报", "建议")])
    orders_per_call = world.mix @ (world.req_mix @ p_order)
    p["source_mix"], p["hotline_to_med"], p["line_12345"], p["source_share"] = {}, {}, {}, {}
    for c in geo.counties:
        idx = [i for i, t in enumerate(geo.townships) if t.county == c.code]
        share = {s: float(np.clip(centre[s] * rng.lognormal(0, 0.25), *_RANGES[s])) for s in _RANGES}
        rest = 1.0 - sum(share.values())
        active = float(np.clip(active_centre + rng.normal(0, 0.06), 0.3, 0.65))
        share["主动排查"], share["当事人申请"] = rest * active, rest * (1 - active)
        cases = world.base_cases[idx].sum()
        ordered = float((world.base_calls[idx] * orders_per_call[idx]).sum())
        h = share["热线转办"]
        r = h / (1 - h)  # transfers per directly drawn case that give the share h
        chance = min(0.35, r * cases / max(ordered, 1e-9))
        r = chance * ordered / cases
        weights = {s: v * (1 + r) for s, v in share.items()}
        weights["热线转办"] = max(0.0, h * (1 + r) - r)
        p["source_mix"][c.code] = [weights[s] for s in mediation.SOURCES]
        p["source_share"][c.code] = {s: share[s] for s in mediation.SOURCES}
        p["hotline_to_med"][c.code] = chance
        p["line_12345"][c.code] = float(np.clip(line_centre + rng.normal(0, 0.07), *LINE_12345))


# --- planning ------------------------------------------------------------------------------------------------

def plan(world: World, eps: list[Episode]) -> None:
    """Referral build-ups on some escalations (in their ``extra``) and the referral confounders (appended)."""
    rng = random.Random(world.seed * 6007 + 21)  # its own stream: regions and weeks independent of escalations
    _buildups(world, rng, [e for e in eps if e.kind == "escalation"])
    if world.weeks < 6:
        return  # a drive, a backlog or a line shift needs weeks around it to be one
    _court_drives(world, rng, eps)
    _petition_backlogs(world, rng, eps)
    _line_shifts(world, rng, eps)


def _buildups(world: World, rng: random.Random, esc: list[Episode]) -> None:
    share = rng.uniform(0.3, 0.7)
    k = round(share * len(esc))
    if len(esc) >= 2:
        k = min(max(k, 1), len(esc) - 1)  # some, never all
    eligible = [e for e in esc if e.sites[0].peak > e.sites[0].start]  # room for a week before the peak
    for e in rng.sample(eligible, min(k, len(eligible))):
        s = e.sites[0]
        lead = rng.randint(1, 6)
        w0, w1 = max(s.start, s.peak - lead), s.peak - 1
        n_weeks = w1 - w0 + 1
        mode = rng.choices(("cases", "both", "line"), (0.5, 0.3, 0.2))[0]
        cases: dict[int, list[str]] = {}
        if mode != "line":
            mix = [a * (rng.random() ** 2 + 0.05) for a in _LEAN[e.dtype]]  # often one office dominates
            for _ in range(rng.randint(2, 3 + n_weeks)):
                wk = w0 + rng.choices(range(n_weeks), [(i + 1) ** 1.5 for i in range(n_weeks)])[0]
                cases.setdefault(wk, []).append(rng.choices(REFERRED, mix)[0])
        line, line_share = None, {}
        if mode != "cases":
            line = "12345" if rng.random() < 0.8 else "12348"
            top = rng.uniform(0.7, 0.95)
            line_share = {w0 + i: (i + 1) / n_weeks * top for i in range(n_weeks)}  # blended with the base below
        e.extra["referral"] = {"row": s.row_id, "township": s.township, "w0": w0, "w1": w1, "cases": cases,
                               "line": line, "line_share": line_share}


def _court_drives(world: World, rng: random.Random, eps: list[Episode]) -> None:
    for i in range(scaled_count(rng, 2, 5, world, 1)):
        c = rng.choice(world.geo.counties)
        start = rng.randint(1, world.weeks - 3)
        end = min(world.weeks - 1, start + rng.randint(3, 8) - 1)
        eps.append(Episode(f"F{i + 1:03d}", "referral_campaign", None, c.code, start, (start + end) // 2, end,
                           extra={"rate": rng.uniform(0.2, 0.6)}))


def _petition_backlogs(world: World, rng: random.Random, eps: list[Episode]) -> None:
    for i in range(scaled_count(rng, 2, 6, world, 1)):
        c = rng.choice(world.geo.counties)
        start = rng.randint(1, world.weeks - 2)
        end = min(world.weeks - 1, start + rng.choice((0, 0, 1)))
        eps.append(Episode(f"X{i + 1:03d}", "petition_backlog", None, c.code, start, start, end,
                           extra={"share": rng.uniform(0.15, 0.45)}))


def _line_shifts(world: World, rng: random.Random, eps: list[Episode]) -> None:
    for i in range(scaled_count(rng, 1, 3, world, 1)):
        region = world.geo.city.code if rng.random() < 0.3 else rng.choice(world.geo.counties).code
        start = rng.randint(max(1, int(world.weeks * 0.1)), int(world.weeks * 0.85))
        merger = rng.random() < 0.5
        ramp = rng.randint(1, 3) if merger else 1
        end = world.weeks - 1 if merger else min(world.weeks - 1, start + rng.randint(3, 10) - 1)
        peak = min(end, start + ramp - 1)
        eps.append(Episode(f"L{i + 1:03d}", "line_shift", None, region, start, peak, end,
                           extra={"moved": rng.uniform(0.25, 0.6), "ramp": ramp, "merger": merger,
                                  "day0": start * 7 + rng.randint(0, 4)}))


def buildup_rows(world: World, eps: list[Episode]) -> list[list]:
    """truth/referral_buildups.csv: per escalation with a referral build-up, its window and what was planted."""
    monday = lambda w: world.date(w * 7).isoformat()  # noqa: E731
    rows = []
    for e in eps:
        b = e.extra.get("referral") if e.kind == "escalation" else None
        if b:
            planted = [src for wk in sorted(b["cases"]) for src in b["cases"][wk]]
            counts = ";".join(f"{s}={planted.count(s)}" for s in REFERRED if s in planted)
            rows.append([b["row"], b["township"], e.dtype, monday(b["w0"]), monday(b["w1"]), counts, b["line"] or ""])
    return rows


# --- during the week loop ------------------------------------------------------------------------------------

class Planter:
    def __init__(self, g):
        self.g = g
        w = g.w
        # 12345 share per county and day: the base share, moved by the line shifts
        self.share = {c.code: [w.p["line_12345"][c.code]] * w.days for c in w.geo.counties}
        for e in g.eps:
            if e.kind != "line_shift":
                continue
            x = e.extra
            counties = [c.code for c in w.geo.counties] if e.region == w.geo.city.code else [e.region]
            last = w.days if x["merger"] else (e.end + 1) * 7
            for code in counties:
                row = self.share[code]
                base = row[0]
                for day in range(x["day0"], last):
                    ramp = min(1.0, (day - x["day0"] + 1) / (7 * x["ramp"]))
                    row[day] = base + (1 - base) * x["moved"] * ramp
        self.buildups = [e for e in g.eps if e.kind == "escalation" and e.extra.get("referral")]
        self.drives = [e for e in g.eps if e.kind in ("referral_campaign", "petition_backlog")]
        self.towns_of = {c.code: [i for i, t in enumerate(g.towns) if t.county == c.code] for c in w.geo.counties}

    def line(self, town, day: int, ep=None) -> str:
        rng = self.g.rng
        base = self.share[town.county][day]
        b = ep.extra.get("referral") if ep is not None and ep.kind == "escalation" else None
        if b and b["line"] and town.code == b["township"]:
            top = b["line_share"].get(day // 7)
            if top is not None:  # the episode's callers move to one line, more as the peak nears
                p_target = base if b["line"] == "12345" else 1 - base
                p_target += (1 - p_target) * top
                if rng.random() < p_target:
                    return b["line"]
                return "12348" if b["line"] == "12345" else "12345"
        return "12345" if rng.random() < base else "12348"

    def week(self, wk: int) -> None:
        g = self.g
        rng = g.rng
        for e in self.buildups:
            b = e.extra["referral"]
            srcs = b["cases"].get(wk)
            if not srcs:
                continue
            town, site = g.town[b["township"]], e.sites[0]
            ph = site.phase(wk)
            prog = ph[0] if ph else 0.2
            for src in srcs:
                mediation.case(g, self._workday(wk), town, e.dtype, src, lead=rng.choice(e.core), ep=e, prog=prog)
        for e in self.drives:
            if not e.start <= wk <= e.end:
                continue
            idx = self.towns_of[e.region]
            if e.kind == "referral_campaign":
                ramp = 0.5 if wk == e.start else 1.0  # the court's first week sends fewer
                counts = g.np.poisson(g.w.base_cases[idx] * e.extra["rate"] * ramp)
                self._cases(wk, idx, counts, "法院委派", _COURT, old=False)
            else:
                total = g.w.base_cases[idx].sum() * e.extra["share"] / (e.end - e.start + 1)
                weights = g.w.base_cases[idx] / g.w.base_cases[idx].sum()
                counts = g.np.multinomial(int(g.np.poisson(total)), weights)
                self._cases(wk, idx, counts, "信访转办", _PETITION, old=True)

    def _cases(self, wk: int, idx: list[int], counts, source: str, tilt: dict, old: bool) -> None:
        g = self.g
        for ti, n in zip(idx, counts.tolist()):
            if not n:
                continue
            mix = _tilted(g.w, ti, tilt).tolist()
            for _ in range(n):
                dtype = g.rng.choices(TYPES, mix)[0]
                mediation.case(g, self._workday(wk), g.towns[ti], dtype, source, old=old)

    def _workday(self, wk: int) -> int:
        """Offices refer on working days."""
        return wk * 7 + self.g.rng.choices(range(7), (1, 1, 1, 1, 1, 0.1, 0.05))[0]
