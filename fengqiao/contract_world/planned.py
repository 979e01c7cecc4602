"""What the planners write and the generators read: an ``Episode`` with its township ``Site``s.

``episodes.py`` plans escalations and near misses, ``confounders.py`` everything else; both build
``Episode``s and size their counts to the world with ``scaled_count``. The week loop (``state.py``)
reads the episodes back.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from .world import World


@dataclass
class Site:
    row_id: str
    township: str
    start: int
    peak: int
    end: int
    amp: float

    def phase(self, w: int) -> tuple[float, float] | None:
        """(progress 0-1 toward the peak, or >1 after it; expected extra calls this week)."""
        if w < self.start or w > self.end:
            return None
        if w <= self.peak:
            prog = (w - self.start + 1) / (self.peak - self.start + 1)
            return prog, self.amp * (0.15 + 0.85 * prog ** 1.6)
        k = w - self.peak
        return 1.0 + k, self.amp * 0.55 * 0.5 ** (k - 1)


@dataclass
class Episode:
    eid: str
    kind: str
    dtype: str | None
    region: str
    start: int
    peak: int
    end: int
    sites: list[Site] = field(default_factory=list)
    shape: str = ""
    loud: str = ""
    crowd: bool = False
    thing: str = ""
    n_people: int = 0
    core: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)


def scaled_count(rng: random.Random, lo: float, hi: float, world: World, floor: int) -> int:
    """A count drawn from lo..hi for a world of 175 townships and two years, scaled to this world."""
    f = len(world.geo.townships) / 175 * world.weeks / 104
    return max(floor, round(rng.uniform(lo, hi) * f))
