"""Referral patterns in the records: each case's ``纠纷来源``, each call's ``line``, and the extra referred
cases of build-ups and referral confounders (planned in ``referrals.py``)."""
from __future__ import annotations

import random
from bisect import bisect

import numpy as np

from .referrals import LINE_CAP, REFERRED, SOURCES

DAY = 86400
_LAST = len(SOURCES) - 1


class ReferralRecords:
    """Mixed into ``FeedBuilder`` (which sets ``referrals``, a ``ReferralPlan``, and ``ordinary_cases``)."""

    def case_source(self, x: float, ti: int, ki: int, day: int) -> str:
        """The 纠纷来源 of a case from one uniform draw ``x`` (as ``random.choices`` draws it, so that a case
        outside the planted patterns gets the source it always got)."""
        ref = self.referrals
        tilt = ref.case_tilt.get((ti, ki, day // 7)) if ref.case_tilt else None
        if tilt is not None:  # a build-up: part of the episode's cases come from court, police or petitions
            b, cum = tilt
            if x < b:
                return REFERRED[bisect(cum, x / b * cum[-1], 0, 2)]
            x = (x - b) / (1 - b)
        cum = ref.source_cum
        return SOURCES[bisect(cum, x * cum[-1], 0, _LAST)]

    def call_line(self, x: float, ti: int, ki: int, day: int) -> str:
        """The line a call came in on, from one uniform draw ``x``."""
        ref = self.referrals
        w = min(day // 7, ref.n_weeks - 1)
        p = ref.line_p[self.t_county_list[ti]][w]
        if ref.line_tilt:
            p = min(LINE_CAP, p + ref.line_tilt.get((ti, ki, w), 0.0))
        return "12348" if x < 1 - p else "12345"

    def referral_cases(self, d0: int, d1: int) -> None:
        """The extra referred cases registered on days d0..d1-1, from streams of their own."""
        ref = self.referrals
        rng = np.random.default_rng([self.seed, 21, d0])
        rows: list[tuple[int, int, int, str, float]] = []  # day, township, type, source, episode draw
        for wave in ref.waves:  # court campaigns and petition backlogs: working days only
            days = [x for x in range(max(d0, wave.d0), min(d1, wave.d1)) if self.days[x].weekday() < 5]
            if not days:
                continue
            usual = self.ordinary_cases[wave.towns]  # township x type, a day
            mix = usual * wave.type_w[None, :]
            mix *= (usual.sum(axis=1) / np.maximum(mix.sum(axis=1), 1e-12))[:, None]
            lam = wave.strength * 7 / 5 * mix * wave.town_w[:, None]
            counts = rng.poisson(np.broadcast_to(lam, (len(days),) + lam.shape))
            for i, j, k in zip(*np.nonzero(counts)):
                # u = 1: never counted in an episode's surge, these cases are not about one
                rows.extend([(days[i], int(wave.towns[j]), int(k), wave.source, 1.0)] * int(counts[i, j, k]))
        # a build-up's own extra cases: u = 0, part of its episode's surge once it has begun
        rows.extend((d, t, k, s, 0.0) for d, t, k, s in ref.buildup_cases if d0 <= d < d1 and d < self.n_days)
        if not rows:
            return
        rows.sort(key=lambda x: (x[0], x[1]))
        r = random.Random(f"{self.seed}-referrals-{d0}")
        secs = rng.integers(8 * 3600, 18 * 3600, size=len(rows))
        with self.dirt.own_stream(f"referrals-{self.seed}-{d0}"):
            for (day, t, k, source, u), s in zip(rows, secs):
                self.case(r, int(day * DAY + s), t, k, u, source)
