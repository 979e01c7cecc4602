"""benchmarks/early_signal.py: a build-up's weeks before the keyword rule first alarms, against ordinary weeks."""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import early_signal  # noqa: E402

MONDAY = dt.date(2025, 1, 6)
ESCALATING, QUIET = "370102001000", "370102002000"


def wk(n: int) -> dt.date:
    return MONDAY + dt.timedelta(weeks=n)


def _features(signs_escalating: dict[int, int]) -> pd.DataFrame:
    rows = []
    for n in range(40):
        for code in (ESCALATING, QUIET):
            signs = signs_escalating.get(n, 1) if code == ESCALATING else 1
            rows.append({"region_code": code, "level": "township", "week_start": wk(n), "county_code": "370102000000",
                         "escalation_term_records": signs, "total_contacts": 20})
    return pd.DataFrame(rows)


EPISODES = pd.DataFrame([{"episode_id": "E1", "region_code": ESCALATING, "dispute_type": "物业",
                          "start_week": str(wk(20)), "peak_week": str(wk(25)), "end_week": str(wk(27)),
                          "kind": "escalation"}])


def test_early_weeks_end_where_the_rule_first_alarms():
    # Signs rise to 10 from week 23 (the rule alarms: 3 more than usual, and double); weeks 20-22 are early.
    out = early_signal.early_and_ordinary(_features({n: 10 for n in range(23, 28)}), EPISODES)
    assert int(out["early"].sum()) == 3
    # Ordinary: the quiet township's 40 weeks and the escalating one's weeks at least 8 weeks from the episode.
    assert int((~out["early"]).sum()) == 40 + len([n for n in range(40) if n < 12 or n > 35])


def test_a_build_up_the_rule_never_sees_is_early_to_its_peak():
    out = early_signal.early_and_ordinary(_features({}), EPISODES)
    assert int(out["early"].sum()) == 5          # weeks 20-24; the peak week itself is not before it
