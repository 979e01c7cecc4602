"""The weekly driver: how many calls, orders and cases each township makes each day, and what episodes add.

Base volumes are Poisson draws around: population × per-capita rate × type mix × season × (trend, weekday,
holiday) × a slow per-township AR(1) drift × weekly gamma noise. Confounders that change volumes (a county's
12345 routing, a new mobile channel, mediation drives) multiply these; episodes add their own records.
"""
from __future__ import annotations

import numpy as np

from . import hotline, mediation, orders, people, referrals
from .situations import TYPES

CHANNELS = ("网络", "窗口", "移动端")


def _cells(counts: np.ndarray):
    ti, di = np.nonzero(counts)
    return zip(ti.tolist(), di.tolist(), counts[ti, di].tolist())


class Driver:
    def __init__(self, g):
        self.g = g
        w, rng = g.w, g.np
        self.n_t, self.n_d = len(g.towns), len(TYPES)
        g.habits = mediation.habits(g)
        g.source_mix = w.p["source_mix"]  # per county (referrals.base_rates)
        g.ref = referrals.Planter(g)
        g.req_mix = [[float(x) for x in row] for row in w.req_mix]
        self.channel_w = [float(x) for x in rng.dirichlet([4, 2, 3])]
        self.ar_calls = np.zeros((self.n_t, self.n_d))
        self.ar_cases = np.zeros((self.n_t, self.n_d))
        county_idx = np.array([[c.code for c in w.geo.counties].index(t.county) for t in g.towns])
        n_c = len(w.geo.counties)
        self.hot_factor = np.ones((n_c, w.days))       # 12345 routing switched on
        self.mobile_factor = np.ones((n_c, w.days))    # new mobile order channel
        self.case_factor = np.ones((n_c, w.days))      # mediation drives
        self.wage_drive = np.ones(w.days)
        codes = [c.code for c in w.geo.counties]
        for e in g.eps:
            if e.kind == "reporting_change":
                ci = codes.index(e.region)
                arr = self.hot_factor if e.extra["variant"] == "hotline_12345" else self.mobile_factor
                arr[ci, e.extra["day0"]:] = e.extra["factor"]
            elif e.kind == "campaign":
                d0, d1 = e.start * 7, (e.end + 1) * 7
                if e.region in codes:
                    self.case_factor[codes.index(e.region), d0:d1] = e.extra["factor"]
                else:
                    self.wage_drive[d0:d1] = e.extra["factor"]
        self.county_idx = county_idx
        self.wage_i = TYPES.index("劳动争议")
        # the pre-festival wage wave also sounds like a crowd in ordinary calls, a little
        amp = w.p["season_amp"]["wage"]
        self.wage_cue = np.clip((w.season[self.wage_i] - 1.0) / amp, 0, 1) * w.p["wage_crowd_cue"]
        self.site_core: dict[str, list] = {}
        self.called: set[tuple[str, str]] = set()

    def week(self, wk: int) -> None:
        g, w, rng = self.g, self.g.w, self.g.np
        p = w.p
        self.ar_calls = p["ar_phi"] * self.ar_calls + rng.normal(0, p["ar_sd"], self.ar_calls.shape)
        self.ar_cases = p["ar_phi"] * self.ar_cases + rng.normal(0, p["ar_sd"], self.ar_cases.shape)
        k = p["week_noise_k"]
        noise_c = rng.gamma(k, 1 / k, (self.n_t, self.n_d))
        noise_m = rng.gamma(k, 1 / k, (self.n_t, self.n_d))
        base_c = w.base_calls[:, None] * w.mix * np.exp(self.ar_calls) * noise_c
        base_m = w.base_cases[:, None] * w.mix_med * np.exp(self.ar_cases) * noise_m
        base_o = w.base_orders[:, None] * w.mix * np.exp(self.ar_calls) * noise_c
        for day in range(wk * 7, wk * 7 + 7):
            season = w.season[:, day][None, :]
            hf = self.hot_factor[self.county_idx, day]
            counts = rng.poisson(base_c * season * (w.day_factor["hotline"][day] * hf)[:, None])
            routed = (1 - 1 / hf).tolist()
            wage_cue = float(self.wage_cue[day])
            for ti, di, n in _cells(counts):  # plain ints: numpy scalars are slow in these loops
                town, dtype = g.towns[ti], TYPES[di]
                share_routed = routed[ti]
                cue = wage_cue if di == self.wage_i else 0.0
                for _ in range(n):
                    line = "12345" if share_routed > 0 and g.rng.random() < share_routed else None
                    hotline.call(g, day, town, dtype, line=line, extra_level=cue)
            mf = self.mobile_factor[self.county_idx, day]
            counts = rng.poisson(base_o * season * (w.day_factor["orders"][day] * mf)[:, None])
            mobile = (1 - 1 / mf).tolist()
            for ti, di, n in _cells(counts):
                extra_mobile = mobile[ti]
                for _ in range(n):
                    if extra_mobile > 0 and g.rng.random() < extra_mobile:
                        ch = "移动端"
                    else:
                        ch = g.rng.choices(CHANNELS, self.channel_w)[0]
                    orders.other_channel(g, day, g.towns[ti], TYPES[di], ch)
            cf = self.case_factor[self.county_idx, day]
            lam_m = base_m * season * (w.day_factor["mediation"][day] * cf)[:, None]
            lam_m[:, self.wage_i] *= self.wage_drive[day]
            counts = rng.poisson(lam_m)
            cfl, wage_drive = cf.tolist(), float(self.wage_drive[day])
            for ti, di, n in _cells(counts):
                drive = 1 - 1 / cfl[ti] if cfl[ti] > 1 else (1 - 1 / wage_drive if di == self.wage_i else 0.0)
                for _ in range(n):
                    src = "主动排查" if drive > 0 and g.rng.random() < drive else None
                    mediation.case(g, day, g.towns[ti], TYPES[di], src)
        self._episodes(wk)
        g.ref.week(wk)

    # --- episodes --------------------------------------------------------------------------------------
    def _day_in(self, wk: int) -> int:
        return wk * 7 + self.g.rng.choices(range(7), (1.1, 1, 1, 1, 1, 0.6, 0.5))[0]

    def _episodes(self, wk: int) -> None:
        g, rng = self.g, self.g.np
        for e in g.eps:
            if e.kind in ("escalation", "resolved_buildup"):
                for s in e.sites:
                    ph = s.phase(wk)
                    if ph is None:
                        continue
                    prog, lam = ph
                    if e.kind == "resolved_buildup" and prog > 1:
                        lam *= 0.4
                    self._site_week(e, s, wk, prog, int(rng.poisson(lam)))
            elif e.kind == "habitual_complainant":
                if e.start <= wk <= e.end:
                    mid = (e.start + e.end) / 2
                    shape = 1.0 - 0.5 * abs(wk - mid) / max(1.0, (e.end - e.start) / 2)
                    town = g.town[e.region]
                    for _ in range(int(rng.poisson(e.extra["rate"] * shape))):
                        hotline.call(g, self._day_in(wk), town, e.dtype, kind="habitual", ep=e, person=e.core[0],
                                     repeat=True)
                    if g.rng.random() < 0.15:
                        orders.other_channel(g, self._day_in(wk), town, e.dtype, "网络", person=e.core[0])
            elif e.kind == "media_wave" and e.start <= wk <= e.end:
                weekly = g.w.base_calls.sum() * e.extra["share"] * 0.5 ** (wk - e.start)
                urban = np.array([1.5 if t.kind == "街道" else 1.0 for t in g.towns])
                pw = g.w.base_calls * urban
                counts = rng.multinomial(int(rng.poisson(weekly)), pw / pw.sum())
                for ti in np.nonzero(counts)[0]:
                    for _ in range(counts[ti]):
                        hotline.call(g, self._day_in(wk), g.towns[ti], e.dtype, kind="media", ep=e)

    def _site_week(self, e, s, wk: int, prog: float, n: int) -> None:
        g = self.g
        rng = g.rng
        town = g.town[s.township]
        if s.row_id not in self.site_core:  # the first township has the episode's people, neighbours their own
            self.site_core[s.row_id] = list(e.core) if s is e.sites[0] else [people.person(rng) for _ in e.core]
        core = self.site_core[s.row_id]
        hard = min(prog, 1.0)
        for _ in range(n):
            day = self._day_in(wk)
            if rng.random() < 0.45 + 0.35 * hard or not e.crowd:
                person = rng.choice(core)
            else:
                person = people.person(rng)
                core.append(person)
            repeat = (person.phone, s.row_id) in self.called
            self.called.add((person.phone, s.row_id))
            if rng.random() < 0.85:
                hotline.call(g, day, town, e.dtype, kind=e.kind, ep=e, prog=prog, person=person, repeat=repeat)
            else:
                orders.other_channel(g, day, town, e.dtype, rng.choice(("网络", "移动端")), person=person, kind=e.kind, ep=e,
                                     prog=prog)
        # mediation: a case now and then, more as it hardens; at the incident the police or petition office refer one
        scale = min(2.0, s.amp / 6)
        lam = (0.25 + 0.6 * hard) * scale if prog <= 1 else 0.5 * scale
        n_cases = int(g.np.poisson(lam))
        if prog == 1.0 and e.kind == "escalation" and rng.random() < 0.7:
            n_cases += 1
        for i in range(n_cases):
            if prog >= 1.0 and e.kind == "escalation":
                src = rng.choice(("公安移交", "信访转办", "主动排查", "当事人申请"))
            else:
                src = rng.choices(("当事人申请", "主动排查", "信访转办", "公安移交"), (0.45, 0.35, 0.1 * hard, 0.1 * hard + 0.02))[0]
            mediation.case(g, self._day_in(wk), town, e.dtype, src, lead=rng.choice(core), ep=e, prog=prog)
