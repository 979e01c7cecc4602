"""Escalation episodes (and, in a varied world, habitual complainants) planted into a ``Plan``.

``plant_default`` is today's world, unchanged draw for draw: 2+ episodes of seven usual types, a 3-8
week build-up to 3-6x the baseline, a mild spill-over to one or two neighbours. ``plant_varied`` draws
a world per seed (ranges in ``variation.py``): any of the 15 types, 1-2 week flares as well as slow
builds, loud episodes and subtle ones (a few more contacts, few cue words, mostly the same people
calling again), and episodes that span 2-4 neighbouring townships, each township its own truth row.
"""
from __future__ import annotations

import numpy as np

from .people import person_name, phone
from .type_mix import ESCALATION_TYPES, GROUP_TYPES, MIN_SHARE, MIX_RURAL, MIX_URBAN, TI, K


def plant_default(plan, geo, rng, years: float, text_rng, add_truth) -> None:
    """Today's escalations (the code as it always was, so that the same seed draws the same)."""
    mult, level, episode, n_weeks, T = plan.mult, plan.level, plan.episode, plan.n_weeks, len(geo.t_code)
    # Escalations: about 5 per 100 townships per year, at least 2 so that small drops have signal.
    n_esc = max(2, int(rng.poisson(0.05 * T * years)))
    types = list(ESCALATION_TYPES)
    tw = np.array([ESCALATION_TYPES[x] for x in types])
    mix = np.where(geo.t_urban[:, None], MIX_URBAN[None, :], MIX_RURAL[None, :])
    share = mix / mix.sum(axis=1, keepdims=True)
    for _ in range(n_esc):
        dtype = types[rng.choice(len(types), p=tw / tw.sum())]
        k = TI[dtype]
        p_t = geo.t_pop * mix[:, k]
        t = int(rng.choice(T, p=p_t / p_t.sum()))
        build = int(rng.integers(3, 9))
        build = max(1, min(build, n_weeks - 3))
        s = int(rng.integers(1, max(2, n_weeks - build - 1)))
        p = min(s + build, n_weeks - 1)
        e = min(p + int(rng.integers(1, 4)), n_weeks - 1)
        peak_mult = float(rng.uniform(3.0, 6.0))
        # A rare type (a land requisition in a town) counts as at least MIN_SHARE of the township's
        # volume, so that 3-6x its baseline is a real surge and not 3-6x of almost nothing.
        boost = max(1.0, MIN_SHARE / share[t, k])
        spill = geo.t_neighbours[t][: 1 + int(rng.random() < 0.5)]
        idx = len(plan.pools)
        for w in range(s, e + 1):
            f = (w - s + 1) / (p - s + 1) if w <= p else 1 - (w - p) / (e - p + 1)
            mult[t, k, w] = max(mult[t, k, w], 1 + (peak_mult - 1) * boost * f ** 1.5)
            level[t, k, w] = max(level[t, k, w], f)
            episode[t, k, w] = idx
            if w >= p - 2:  # spill-over to the nearest townships in the last weeks
                for j in spill:
                    mult[j, k, w] = max(mult[j, k, w], 1 + 0.5 * max(1.0, MIN_SHARE / share[j, k]))
                    level[j, k, w] = max(level[j, k, w], 0.4 * f)
        city4 = geo.t_code[t][:4]
        # The aggrieved parties who call again and again: a crowd's core for group disputes (unpaid
        # workers, home owners, villagers), one or two families for a personal one.
        size = int(rng.integers(8, 26)) if dtype in GROUP_TYPES else int(rng.integers(2, 6))
        plan.pools.append([(person_name(text_rng), phone(text_rng, city4)) for _ in range(size)])
        plan.episode_type.append(dtype)
        add_truth(geo.t_code[t], dtype, s, p, e, "escalation", peak_multiplier=round(peak_mult, 2),
                  callers=len(plan.pools[-1]), neighbours=";".join(geo.t_code[j] for j in geo.t_neighbours[t][:2]))


def _mix_share(geo, var) -> tuple[np.ndarray, np.ndarray]:
    mix = np.where(geo.t_urban[:, None], np.array(var.mix_urban)[None, :], np.array(var.mix_rural)[None, :])
    return mix, mix / mix.sum(axis=1, keepdims=True)


def _curve(plan, t: int, k: int, s: int, p: int, e: int, height: float, tone: float, idx: int) -> None:
    """Rise from s to the peak p, decay to e: volume 1 + height x f^1.5, level tone x f (f: 0..1..0)."""
    for w in range(s, e + 1):
        f = (w - s + 1) / (p - s + 1) if w <= p else 1 - (w - p) / (e - p + 1)
        plan.mult[t, k, w] = max(plan.mult[t, k, w], 1 + height * f ** 1.5)
        plan.level[t, k, w] = max(plan.level[t, k, w], tone * f)
        plan.episode[t, k, w] = idx


def plant_varied(plan, geo, rng, var, years: float, text_rng, add_truth) -> None:
    """A varied world's escalations; ``rng`` is a numpy stream of its own."""
    T, n_weeks = len(geo.t_code), plan.n_weeks
    mix, share = _mix_share(geo, var)
    types = list(var.esc_types)
    tw = np.array([var.esc_types[x] for x in types])
    for _ in range(max(2, int(rng.poisson(var.esc_rate * T * years)))):
        dtype = types[int(rng.choice(len(types), p=tw / tw.sum()))]
        k = TI[dtype]
        p_t = geo.t_pop * mix[:, k]
        t = int(rng.choice(T, p=p_t / p_t.sum()))
        flare = bool(rng.random() < var.flare_share)  # a sudden flare (a death, a demolition) or a slow build
        build = int(rng.integers(1, 3)) if flare else int(rng.integers(3, var.build_max + 1))
        build = max(1, min(build, n_weeks - 2))
        s = int(rng.integers(1, max(2, n_weeks - build - 1)))
        p = min(s + build, n_weeks - 1)
        e = min(p + int(rng.integers(1, var.decay_max + 1)), n_weeks - 1)
        subtle = bool(rng.random() < var.subtle_share)
        if subtle:  # a few more contacts, hardly any cue words, mostly the same people calling again
            peak, tone = float(rng.uniform(1.3, 2.0)), float(rng.uniform(0.15, 0.45))
            pool = float(rng.uniform(1.3, 1.8))
            cue = (float(rng.uniform(0.0, 0.04)), float(rng.uniform(0.0, 0.15)))
        else:
            peak, tone = float(rng.uniform(2.5, 8.0)), float(rng.uniform(0.6, 1.0))
            pool = float(rng.uniform(0.7, 1.2))
            cue = (float(rng.uniform(0.05, 0.3)), float(rng.uniform(0.2, 0.7)))
        collective = bool(rng.random() < (0.85 if dtype in GROUP_TYPES else var.group_share_other))
        n_parts = 1 + (int(rng.integers(1, 4)) if rng.random() < var.multi_share else 0)
        parts = [t] + list(geo.t_neighbours[t][: n_parts - 1])
        core_id = ""
        for j, town in enumerate(parts):
            # neighbours join up to two weeks later, a little weaker, and peak with the core
            lag = 0 if j == 0 else int(rng.integers(0, 3))
            strength = 1.0 if j == 0 else float(rng.uniform(0.4, 1.0))
            sj = min(s + lag, p)
            height = (peak - 1) * strength * max(1.0, MIN_SHARE / share[town, k])
            _curve(plan, town, k, sj, p, e, height, tone, len(plan.pools))
            size = int(rng.integers(8, 26)) if collective else int(rng.integers(2, 6))
            plan.pools.append([(person_name(text_rng), phone(text_rng, geo.t_code[town][:4])) for _ in range(size)])
            plan.episode_type.append(dtype)
            plan.signal.append(dict(cue=cue, pool=pool, collective=collective))
            add_truth(geo.t_code[town], dtype, sj, p, e, "escalation",
                      peak_multiplier=round(1 + (peak - 1) * strength, 2), callers=size,
                      neighbours=";".join(geo.t_code[x] for x in parts if x != town),
                      shape="flare" if flare else "slow", build_weeks=p - sj, signal="subtle" if subtle else "loud",
                      tone=round(tone, 2), cue_base=round(cue[0], 3), cue_slope=round(cue[1], 3),
                      pool_factor=round(pool, 2), collective=collective, townships=len(parts), part_of=core_id)
            core_id = core_id or plan.truth[-1]["episode_id"]
        # A weak, unlabelled echo next door: neighbours hear of it, they do not escalate.
        rest = [x for x in geo.t_neighbours[t] if x not in parts]
        if rest and rng.random() < 0.5:
            x, lift = rest[0], float(rng.uniform(0.2, 0.6)) * max(1.0, MIN_SHARE / share[rest[0], k])
            for w in range(max(s, p - 2), e + 1):
                f = 1.0 if w <= p else 1 - (w - p) / (e - p + 1)
                plan.mult[x, k, w] = max(plan.mult[x, k, w], 1 + lift)
                plan.level[x, k, w] = max(plan.level[x, k, w], 0.4 * tone * f)


def plant_habituals(plan, geo, rng, var, years: float, text_rng, add_truth) -> None:
    """Habitual complainants (老上访户, professional complainers): one person calling about the same
    matter week after week, often with strong words, without any escalation. A confounder for repeat
    callers and the lexicon; listed in ``truth/episodes.csv`` as kind ``habitual``."""
    T, n_weeks = len(geo.t_code), plan.n_weeks
    _, share = _mix_share(geo, var)
    for _ in range(int(rng.poisson(var.habitual_rate * T))):
        t = int(rng.integers(T))
        k = int(rng.choice(K, p=share[t]))
        first = int(rng.integers(0, max(1, n_weeks // 2)))
        last = n_weeks - 1 if rng.random() < 0.7 else int(rng.integers(first, n_weeks))
        rate, cue = float(rng.uniform(*var.habitual_calls)), float(rng.uniform(*var.habitual_cue))
        name, number = person_name(text_rng), phone(text_rng, geo.t_code[t][:4])
        plan.habituals.append(dict(t=t, k=k, first=first, last=last, rate=rate, cue=cue, name=name, phone=number))
        add_truth(geo.t_code[t], list(TI)[k], first, first, last, "habitual", calls_per_week=round(rate, 2),
                  cue_share=round(cue, 2))
