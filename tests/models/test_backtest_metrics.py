"""The lead a perfect detector would have: the ceiling any detector's median lead is read against."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from models.backtest_metrics import episode_outcomes, lead_ceiling_weeks, possible_leads

MONDAY = dt.date(2025, 1, 6)


def wk(n: int) -> dt.date:
    return MONDAY + dt.timedelta(weeks=n)


def _episode(eid, code, start, peak, kind="escalation"):
    return {"episode_id": eid, "region_code": code, "dispute_type": "物业", "start_week": str(wk(start)),
            "peak_week": str(wk(peak)), "end_week": str(wk(peak + 1)), "kind": kind}


EPISODES = pd.DataFrame([
    _episode("A", "370102001000", 4, 7),          # 3 weeks of build-up
    _episode("B", "370102002000", 8, 10),         # 2
    _episode("C", "370102003000", -3, 2),         # began before the evaluated weeks: 2 from week 0
    _episode("D", "370102004000", 5, 5),          # a flare: 0 whatever detects it
    _episode("E", "370102005201", 1, 2),          # a village's episode is its township's: 1
    _episode("F", "370102006000", 14, 16),        # after the evaluated weeks: not counted
    _episode("S", "370102007000", 1, 9, kind="seasonal"),   # a confounder: not an escalation
    _episode("K", "370102000000", 1, 9),          # a county's escalation: not a township's, not counted
])
WEEKS = [wk(n) for n in range(12)]


def test_possible_leads_count_from_the_build_ups_first_evaluated_week():
    assert sorted(possible_leads(EPISODES, WEEKS)) == [0, 1, 2, 2, 3]
    assert lead_ceiling_weeks(EPISODES, WEEKS) == 2.0
    # Evaluated from week 5 on: A can be warned 2 weeks ahead, B 2, D 0; C and E peaked before.
    assert sorted(possible_leads(EPISODES, WEEKS[5:])) == [0, 2, 2]
    assert np.isnan(lead_ceiling_weeks(EPISODES, []))


def test_no_detector_that_finds_every_episode_leads_by_more():
    # Alert every township of an episode in every evaluated week: all found, each as early as possible.
    towns = ["370102001000", "370102002000", "370102003000", "370102004000", "370102005000"]
    alerts = pd.DataFrame([{"region_code": t, "week_start": w} for t in towns for w in WEEKS])
    out = episode_outcomes(alerts, EPISODES, WEEKS)
    assert out["detected"].all() and len(out) == 5
    assert out["lead_weeks"].median() == lead_ceiling_weeks(EPISODES, WEEKS)
    # A later first alert shortens the lead below the ceiling.
    late = episode_outcomes(alerts[alerts["week_start"] >= wk(6)], EPISODES, WEEKS)
    assert late.loc[late["detected"], "lead_weeks"].to_list() == [1.0, 2.0]   # A from week 6, B from week 8


def test_the_rules_every_alarm_gives_the_lead_the_records_show():
    from models.backtest import rule_alarm_lead_weeks

    # The rule alarms A from week 5 (lead 2), B in its peak week (0), and a township with no escalation;
    # C, D and E it never sees. Unbudgeted alarms (``alarm`` false rows are not alerts).
    rule = pd.DataFrame([
        {"region_code": "370102001000", "week_start": wk(4), "alarm": False},
        {"region_code": "370102001000", "week_start": wk(5), "alarm": True},
        {"region_code": "370102001000", "week_start": wk(6), "alarm": True},
        {"region_code": "370102002000", "week_start": wk(10), "alarm": True},
        {"region_code": "370102009000", "week_start": wk(3), "alarm": True},
    ])
    assert rule_alarm_lead_weeks(rule, EPISODES, WEEKS) == 1.0          # median of 2 and 0
    assert np.isnan(rule_alarm_lead_weeks(rule.assign(alarm=False), EPISODES, WEEKS))
