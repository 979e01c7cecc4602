"""Dispute types as the simulator counts them: their index, today's mixes, and which types escalate.

Arrays are in the order of ``fengqiao.core.disputes.TYPE_LABELS`` (index ``TI[label]``, ``K`` types).
The mixes and escalation weights are today's world; ``Variation`` (``variation.py``) starts from them
and a varied world draws its own. The planners (``episodes.py``, ``escalations.py``), the feeds and
``Variation`` all read this module, so it imports none of them.
"""
from __future__ import annotations

import numpy as np

from fengqiao.core.disputes import TYPE_LABELS

K = len(TYPE_LABELS)
TI = {label: i for i, label in enumerate(TYPE_LABELS)}

# Base type mix (relative weights, order of TYPE_LABELS): rural townships vs urban 街道.
MIX_RURAL = np.array([20, 18, 10, 6, 5, 6, 8, 3, 3, 7, 3, 2, 4, 1, 4], dtype=float)
MIX_URBAN = np.array([12, 8, 3, 12, 5, 6, 0.5, 2, 3, 14, 10, 4, 5, 12, 4], dtype=float)
# Feed-specific emphasis on top of the township's type mix.
FEED_MIX = {
    "hotline": np.array([1, .8, 1, 1.2, 1, 1, 1, 1, 1, 1.5, 1.6, 1.2, 1, 1.3, 1.5]),
    "orders": np.ones(K),
    "mediation": np.array([1.4, 1.6, 1.2, .8, .8, 1, 1.2, .8, .8, .8, .5, .8, 1, .8, .8]),
}
# Which types escalate, how often (relative weight), and which are group disputes.
ESCALATION_TYPES = {"劳动争议": 3.0, "征地拆迁": 2.0, "物业": 2.0, "邻里": 1.5, "婚姻家庭": 1.5,
                    "山林土地": 1.0, "环境污染": 1.0}
GROUP_TYPES = {"劳动争议", "征地拆迁", "物业"}
# A rare type counts as at least this share of a township's volume when it escalates (escalations.py).
MIN_SHARE = 0.08
