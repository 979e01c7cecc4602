"""A second, independent generator of source drops with ground truth ("the contract world").

Written from docs/source-contract.md and the domain notes alone, sharing nothing with fengqiao.simulator: its own
city (衡阳市, Hunan), wording, rates, seasons and episode shapes. It exists so that the escalation model can be
tested on a world it was not built on.

    from fengqiao.contract_world import simulate
    summary = simulate(Path("drop"), seed=1, scale="small")

writes reference/, hotline/, workorders/, mediation/ (day folders with _READY) and truth/ (episodes.csv, README.md,
damage.csv, masking_forms.csv, referral_buildups.csv) into the folder, and returns counts. The same seed writes the
same bytes.

Referral patterns (issue 21, referrals.py): per-county base rates of each 纠纷来源 and of the 12345 line; referral
build-ups (cases referred by the petition office, the police or a court, and/or calls moving to one line) in the
weeks before 30-70% of the escalations, listed in truth/referral_buildups.csv; and referral patterns that precede
nothing, written to truth/episodes.csv as their own kinds: ``referral_campaign`` (a court's 诉前调解 drive),
``petition_backlog`` (a petition office clearing its backlog) and ``line_shift`` (calls moving from 12348 to 12345).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import random
import shutil
from collections import Counter
from pathlib import Path
from typing import Callable

from . import episodes as episodes_mod
from . import geography, referrals, world as world_mod
from .activity import Driver
from .mess import Mess
from .state import Gen
from .writer import Writer

SCALES = tuple(geography.SCALES)
KINDS = ("escalation", "resolved_buildup", "habitual_complainant", "media_wave", "seasonal", "reporting_change",
         "outage", "duplicate_export", "campaign", *referrals.REFERRAL_KINDS)

_README = """# Ground truth of a contract-world drop

Written by `fengqiao.contract_world` (an independent generator written from docs/source-contract.md alone).
The pipeline never reads this folder.

`episodes.csv`: one row per episode (escalations: one row per affected township), weeks as the Monday of the week.

- `escalation`: a real build-up toward a serious incident (民转刑 or 群体性); `peak_week` is the incident's week.
- `resolved_buildup`: a near miss: a matter builds up the same way, then is settled (no incident).
- `habitual_complainant`: one person calling very often about the same thing for months; never escalates.
- `media_wave`: a news story makes people city-wide ring up with alarming words, out of curiosity (city code).
- `seasonal`: a yearly wave (wages before the Spring Festival, summer neighbour/property/traffic, ...; city code).
- `reporting_change`: a county starts routing 12345 calls here or opens a mobile order channel; volume steps up
  and stays (county code, no type; `end_week` is the drop's last week).
- `outage`: a county's feed is silent for days, then a catch-up day with a backlog (county code).
- `duplicate_export`: the same batch delivered again under another batch name (city code).
- `campaign`: a 矛盾纠纷大排查 drive or the winter wage drive (冬季攻坚) raises mediation counts (county or city).
- `referral_campaign`: a county court's 诉前调解 drive sends many 法院委派 cases to the county's townships for some
  weeks (county code, no type); nothing escalates because of it.
- `petition_backlog`: a county petition office clears its backlog: a batch of 信访转办 cases, many about old matters,
  in one or two weeks (county code, no type).
- `line_shift`: a publicity campaign (some weeks) or the merger of the lines (to the drop's end) moves calls from
  12348 to 12345 without adding any (county or city code, no type; `peak_week` is when the move is complete).

`referral_buildups.csv`: the escalations (by their `episode_id` in episodes.csv, always the first township) that got
a referral build-up: in the weeks `start_week`..`end_week` before the peak, extra cases of the matter referred by
the petition office, the police or a court (`cases`, e.g. `信访转办=3;法院委派=1`, empty when none), and/or the
episode's calls moving to one line (`line`, empty when they did not). The other escalations got none.

`damage.csv`: the records and files deliberately damaged (feed, where, what), so that a quarantine can be checked.

`masking_forms.csv`: personal data planted in a few percent of transcripts and order summaries in forms that defeat
plain masking rules (full-width or read-out digits, numbers split by ideographic spaces, commas or spaces, an
extension, an e-mail address, a compound surname, a name right after a kin word); `value` is the planted string,
`digits` the number's digits. A quarter of the calls that carry one are exported as ASCII-only JSON.
"""


def simulate(out: Path, *, seed: int, scale: str = "city", weeks: int | None = None,
             start: dt.date = dt.date(2024, 11, 4), progress: Callable[[str], None] | None = None) -> dict:
    """Write a contract-world drop into `out` and return a summary (counts of records, files, episodes)."""
    if scale not in geography.SCALES:
        raise ValueError(f"unknown scale {scale!r}: the contract world knows {', '.join(SCALES)}")
    say = progress or (lambda _msg: None)
    weeks = int(weeks if weeks is not None else geography.SCALES[scale][2])
    if weeks < 1:
        raise ValueError(f"weeks must be at least 1, not {weeks}")
    start = start - dt.timedelta(days=start.weekday())  # the Monday of its week
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("reference", "hotline", "workorders", "mediation", "truth"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)  # a fresh drop, so that the same seed gives the same folder

    geo = geography.build(scale)
    world = world_mod.draw(seed, geo, start, weeks)
    referrals.base_rates(world)
    eps = episodes_mod.plan(world)
    say(f"contract world: {len(geo.townships)} townships in {len(geo.counties)} counties of {geo.city.name}, "
        f"{weeks} weeks from {start}, {sum(e.kind == 'escalation' for e in eps)} escalations")
    dups = [dict(e.extra) for e in eps if e.kind == "duplicate_export"]
    mess = Mess(seed, world.days, scale == "small", dups)
    writer = Writer(out, start, world.days, mess, set())
    g = Gen(world, eps, writer)
    driver = Driver(g)
    writer.xlsx_counties = {c for c, h in g.habits.items() if h["xlsx"]}
    for wk in range(weeks):
        driver.week(wk)
        writer.flush_until(wk * 7 + 6)  # exports never hold records of later days, so this week is complete
        if (wk + 1) % 8 == 0 or wk + 1 == weeks:
            c = g.counts
            say(f"week {wk + 1}/{weeks}: {c['hotline']} calls, {c['orders']} orders, {c['mediation']} cases")
    writer.flush_until(world.days - 1)

    _write_reference(out, geo, seed)
    truth = episodes_mod.truth_rows(world, eps)
    _write_csv(out / "truth" / "episodes.csv",
               ["episode_id", "region_code", "dispute_type", "start_week", "peak_week", "end_week", "kind"], truth)
    (out / "truth" / "README.md").write_text(_README, encoding="utf-8")
    _write_csv(out / "truth" / "damage.csv", ["feed", "where", "what"], writer.damages)
    _write_csv(out / "truth" / "masking_forms.csv", ["feed", "form", "value", "digits"], g.forms.log)
    buildups = referrals.buildup_rows(world, eps)
    _write_csv(out / "truth" / "referral_buildups.csv",
               ["episode_id", "region_code", "dispute_type", "start_week", "end_week", "cases", "line"], buildups)
    kinds = Counter(r[6] for r in truth)
    return {"world": "contract", "seed": seed, "scale": scale, "weeks": weeks, "start": start.isoformat(),
            "end": world.date(world.days - 1).isoformat(), "city": geo.city.name,
            "counties": len(geo.counties), "townships": len(geo.townships), "villages": len(geo.villages),
            "records": {"hotline": g.counts["hotline"], "orders": g.counts["orders"], "mediation": g.counts["mediation"]},
            "rows_written": dict(writer.lines), "order_snapshots": g.counts["order_snapshots"],
            "case_snapshots": g.counts["case_snapshots"], "files": dict(writer.files),
            "episodes": {k: kinds.get(k, 0) for k in KINDS},
            "escalations": sum(e.kind == "escalation" for e in eps), "referral_buildups": len(buildups),
            "damaged": len(writer.damages),
            "not_yet_exported": writer.unexported}


def _write_reference(out: Path, geo, seed: int) -> None:
    _write_csv(out / "reference" / "regions.csv", ["code", "name", "level", "parent_code", "lat", "lon", "population"],
               geography.regions_rows(geo))
    _write_csv(out / "reference" / "bureaus.csv", ["region_code", "unit_name", "email", "webhook_url"],
               geography.bureaus_rows(geo, random.Random(seed * 13 + 1)))


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    path.write_bytes(buf.getvalue().encode("utf-8"))
