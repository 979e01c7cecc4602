"""Time-ordered splits of training weeks: ``fit | gap | calibrate | gap | test``, a purge gap between slices.

Each gap is ``horizon_weeks`` long: a label looks ``horizon_weeks`` ahead, so without the gap the last rows of
one slice would share escalation peaks with the first rows of the next. Slices follow the given fractions of
the weeks when every slice then holds an escalation; otherwise the cut closest to those shares in which each
slice holds one is taken (a small simulated province has only a few episodes).
"""
from __future__ import annotations

import numpy as np

class InsufficientEscalationsError(ValueError):
    """Too few weeks or escalations for a time-ordered split in which every slice holds a positive."""


def time_split(weeks, horizon_weeks: int = 4, fractions=(0.6, 0.2, 0.2), targets=None,
               min_positives: int = 1, names=("fit", "calibrate", "test")) -> dict[str, list]:
    """Cut the sorted distinct weeks into consecutive slices (default fit / calibrate / test), with a purge
    gap of ``horizon_weeks`` weeks between slices.

    Returns ``{name: [weeks...]}``: disjoint, in time order (max of one slice < min of the next, at least
    ``horizon_weeks + 1`` weeks apart), each at least 3 weeks long. Without ``targets`` the slices follow
    ``fractions`` of the usable weeks. With ``targets`` (0/1 aligned to ``weeks``) the cut is the one closest
    to ``fractions`` (in weeks) in which every slice holds at least ``min_positives`` positive rows: with few
    escalations (a small simulated province) the boundaries move so that each slice still has one.
    Raises :class:`InsufficientEscalationsError` when no such cut exists.
    """
    names = tuple(names)[:len(fractions)]
    uniq = sorted(set(weeks))
    n, k = len(uniq), len(fractions)
    gap = max(0, int(horizon_weeks))
    usable = n - (k - 1) * gap
    if usable < 3 * k:
        raise InsufficientEscalationsError(f"{n} weeks are too few for a time-ordered split into {k} slices "
                                           f"with {gap}-week gaps")
    total = float(sum(fractions))
    target = [usable * f / total for f in fractions]

    def build(sizes):
        out, pos = {}, 0
        for name, size in zip(names, sizes):
            out[name] = uniq[pos:pos + size]
            pos += size + gap
        return out

    # Positive rows per distinct week, cumulated, to count a slice's positives in O(1).
    if targets is None:
        sizes = [max(3, int(round(t))) for t in target[:-1]]
        while sum(sizes) > usable - 3:
            i = int(np.argmax(sizes))
            sizes[i] -= 1
        return build(sizes + [usable - sum(sizes)])
    index = {w: i for i, w in enumerate(uniq)}
    per_week = np.zeros(n)
    np.add.at(per_week, [index[w] for w in weeks], np.asarray(targets, dtype=float))
    cum = np.concatenate([[0.0], np.cumsum(per_week)])

    def positives(a, b):  # weeks uniq[a:b]
        return cum[b] - cum[a]

    best, best_cost = None, None
    if k == 2:
        candidates = ([a] for a in range(3, usable - 2))
    elif k == 3:
        candidates = ([a, b] for a in range(3, usable - 5) for b in range(3, usable - a - 2))
    else:
        raise ValueError("time_split supports 2 or 3 slices")
    for head in candidates:
        sizes = head + [usable - sum(head)]
        pos, ok = 0, True
        for size in sizes:
            if positives(pos, pos + size) < min_positives:
                ok = False
                break
            pos += size + gap
        if not ok:
            continue
        cost = sum(abs(sz - t) for sz, t in zip(sizes, target))
        if best_cost is None or cost < best_cost:
            best, best_cost = sizes, cost
    if best is None:
        raise InsufficientEscalationsError(
            f"no time-ordered cut of {n} weeks into {k} slices gives each slice {min_positives} escalation "
            f"row(s) ({int(cum[-1])} positive rows in all)")
    return build(best)
