"""Province simulator: writes a source drop exactly as the source contract describes it.

``simulate(out_dir, seed, scale, weeks, start)`` builds real Shandong counties with invented
townships and villages, plants escalation episodes and confounders, and writes the three feeds,
the reference files and ``truth/``. Same arguments, same bytes.

Volumes follow per-capita rates times the preset's ``volume`` factor: 0.25 for "small" and "city"
(keeps a two-year city drop to a few minutes), 0.55 for "province", whose ~1,800 townships hold
~90 M invented residents: that gives the contract's province of ~50 M (~10 k calls, ~5 k new work
orders and ~3 k mediation cases a day, ~20 M records in 3 years).
Measured on 2 cores: small (26 weeks) ~10 s; city (104 weeks, ~860 k records, ~1.7 M record
versions, ~26 k files, ~0.75 GB) ~40-50 s of CPU; province, 4 weeks (2026-11-23): 525 k records,
1.07 M record versions, 1,349 files, 273 MB, 23.7 s of CPU and 1.0 GB peak memory; province, all
156 weeks (2026-11-24, seed 42): 22,468,421 records (12.9 M calls, 6.2 M orders, 3.3 M cases),
45.4 M record versions, 52,532 files, 13.2 GB, 1,117 s of CPU (25 min 37 s of wall time beside a
test run) and 1.71 GB peak memory (a month of records is buffered; the caller registry keeps four
weeks). Files are batched per city and day at province scale.
A varied city (``vary=True``, seed 43, 104 weeks, 2026-12-03): 558 k records (its drawn volumes), 59 s of
CPU, 77 s of wall time, 0.23 GB peak memory.

What is planted (all of it listed in ``truth/``): escalation episodes (``episodes.py``,
``escalations.py``), confounders (seasonal waves, reporting changes, outages, duplicate exports, media
stories), referral patterns (``referrals.py``: 信访转办 / 公安移交 / 法院委派 cases and 12345 calls building
up before some escalations, and the confounders ``referral_court_campaign``, ``referral_petition_backlog``
and ``referral_line_shift``, which precede none), dirty records and files (``dirt.py``), and personal
data in the fields and texts where real exports carry it, including, in a few percent of texts, forms
that defeat plain masking rules (full-width, spoken or oddly grouped numbers, e-mail addresses, compound
surnames, names after kin words; ``truth/masking_forms.csv``).

``vary=True`` (domain randomisation): rates, type mixes, seasonality and trend, wording (``wording.py``)
and the number and shape of escalations and confounders, plus habitual complainants, are drawn per seed
from the ranges in ``variation.py`` (referral rates: ``referrals.py``) and written to
``truth/variation.json``; ``vary=False`` is today's world, byte for byte.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import random
import shutil
from collections import Counter
from pathlib import Path
from typing import Callable

from fengqiao.core.disputes import TYPE_LABELS
from fengqiao.core.geography import PROVINCE_CODE, shandong_counties

from .dirt import Dirt, MaskingForms, PersonalData
from .episodes import make_plan
from .feeds import FeedBuilder
from .geography import build_geography, bureaus_frame
from .referrals import ReferralRates, draw_rates, plan_referrals
from .variation import Variation, draw
from .wording import VariedText
from .writer import DropWriter

__all__ = ["SCALES", "simulate"]

SCALES: dict[str, dict] = {
    "small": dict(description="2 counties of 济南市, ~8 townships each", counties=["370102000000", "370126000000"],
                  townships=(7, 9), weeks=26, volume=0.25, batch="county", gz_share=0.2),
    "city": dict(description="all 12 counties of 济南市, 16-18 townships each (~200)", counties="3701",
                 townships=(16, 18), weeks=104, volume=0.25, batch="county", gz_share=0.2),
    # ~1,800 townships of ~50 k residents are ~90 M people; 0.55 brings the daily volumes to the
    # contract's province of ~50 M (~10 k calls, ~5 k new orders, ~3 k cases a day: ~20 M records in
    # 3 years). Most hotline files are gzipped, as a province's export would be, to keep the drop small.
    "province": dict(description="all 136 counties of 山东省, ~13 townships each (~1,800)", counties="37",
                     townships=(9, 17), weeks=156, volume=0.55, batch="city", gz_share=0.8),
}
_DROP_PARTS = {"reference", "hotline", "workorders", "mediation", "truth"}


def _counties(spec) -> list[str]:
    if isinstance(spec, list):
        return spec
    return [c for c in shandong_counties() if c.startswith(spec)]


def _prepare(out_dir: Path) -> None:
    """Start from an empty folder; replace an earlier drop, but never delete anything else."""
    out_dir.mkdir(parents=True, exist_ok=True)
    present = {p.name for p in out_dir.iterdir()}
    if present - _DROP_PARTS:
        raise FileExistsError(f"{out_dir} holds files that are not a drop: {sorted(present - _DROP_PARTS)}")
    for name in present:
        shutil.rmtree(out_dir / name)


def _write_csv(path: Path, header: list[str], rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def simulate(out_dir: Path, seed: int = 42, scale: str = "city", weeks: int | None = None,
             start: dt.date = dt.date(2024, 11, 4), progress: Callable[[str], None] | None = None, *,
             xlsx_share: float = 0.03, gz_share: float | None = None, vary: bool = False) -> dict:
    """Write a simulated drop to ``out_dir`` and return a summary.

    ``xlsx_share`` / ``gz_share``: share of mediation files written as .xlsx and of hotline files
    gzipped (tests raise them to be sure to see one); ``gz_share`` defaults to the scale's preset.
    ``vary``: draw this seed's own world (``variation.py``) instead of today's fixed one.
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; one of {sorted(SCALES)}")
    if start.weekday() != 0:
        raise ValueError("start must be a Monday (weeks are ISO weeks)")
    cfg = SCALES[scale]
    gz_share = cfg["gz_share"] if gz_share is None else gz_share
    n_weeks = int(weeks or cfg["weeks"])
    if n_weeks < 2:
        raise ValueError("weeks must be at least 2")
    n_days = 7 * n_weeks
    out_dir = Path(out_dir)
    say = progress or (lambda msg: None)
    _prepare(out_dir)

    geo = build_geography(_counties(cfg["counties"]), cfg["townships"], seed)
    say(f"geography: {len(geo.county_codes)} counties, {len(geo.t_code)} townships")
    season_region = PROVINCE_CODE if scale == "province" else geo.county_city[0]
    var = draw(seed) if vary else Variation()
    words = VariedText(seed, var) if vary else None
    plan = make_plan(geo, start, n_weeks, seed, season_region, random.Random(f"pools-{seed}"), var)
    ref_rates = draw_rates(seed) if vary else ReferralRates()
    referrals = plan_referrals(plan, geo, seed, ref_rates)  # issue 21; adds its truth rows to the plan's
    dirt, pii, forms = Dirt(seed), PersonalData(), MaskingForms(seed)
    batch_digits = 6 if cfg["batch"] == "county" else 4
    writer = DropWriter(out_dir, start, n_days, seed, dirt, plan.duplicates, geo.county_codes, batch_digits,
                        xlsx_share, gz_share)
    builder = FeedBuilder(geo, plan, start, n_days, cfg["volume"], seed, writer, dirt, pii, batch_digits, var, words,
                          forms=forms, referrals=referrals)

    d0 = 0
    while d0 < n_days:  # month by month: bounded memory, and a progress line per month
        day = start + dt.timedelta(days=d0)
        nxt = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
        d1 = min(n_days, (nxt - start).days)
        builder.month(d0, d1)
        writer.flush(d1 - 1)
        c = builder.counts
        say(f"{day:%Y-%m}: {c['hotline_calls']:,} calls, {c['orders']:,} orders, {c['mediation_cases']:,} cases")
        d0 = d1
    writer.flush(n_days - 1)

    ref = out_dir / "reference"
    ref.mkdir(parents=True, exist_ok=True)
    geo.regions.to_csv(ref / "regions.csv", index=False, encoding="utf-8", lineterminator="\n")
    bureaus_frame(geo, seed).to_csv(ref / "bureaus.csv", index=False, encoding="utf-8", lineterminator="\n")
    truth = out_dir / "truth"
    cols = ["episode_id", "region_code", "dispute_type", "start_week", "peak_week", "end_week", "kind"]
    _write_csv(truth / "episodes.csv", cols, ([e[c] for c in cols] for e in plan.truth))
    _write_csv(truth / "episode_details.csv", ["episode_id", "kind", "detail"],
               ([d["episode_id"], d["kind"], ";".join(f"{k}={v}" for k, v in d.items() if k not in ("episode_id", "kind"))]
                for d in plan.details))
    _write_csv(truth / "personal_data.csv", ["kind", "value"], pii.rows())
    _write_csv(truth / "masking_forms.csv", ["feed", "form", "value", "digits"], forms.log)
    _write_csv(truth / "dirty_records.csv", ["kind", "feed", "where", "detail"],
               ([d["kind"], d["feed"], d["where"], d["detail"]] for d in dirt.log))
    if vary:
        doc = {"seed": seed, "parameters": var.as_dict(), "referrals": ref_rates.as_dict(),
               "text_banks": words.summary(),
               "habitual_complainants": [dict(region_code=geo.t_code[h["t"]], dispute_type=TYPE_LABELS[h["k"]],
                                              first_week=h["first"], last_week=h["last"],
                                              calls_per_week=round(h["rate"], 3), cue_share=round(h["cue"], 3))
                                         for h in plan.habituals]}
        (truth / "variation.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1, default=_plain) + "\n",
                                              encoding="utf-8")
    c = builder.counts
    summary = {
        "scale": scale, "seed": seed, "weeks": n_weeks, "start": start.isoformat(),
        "end": (start + dt.timedelta(days=n_days - 1)).isoformat(),
        "counties": len(geo.county_codes), "townships": len(geo.t_code),
        "villages": int((geo.regions["level"] == "village").sum()),
        "records": {"hotline": c["hotline_calls"], "workorders": c["orders"], "mediation": c["mediation_cases"]},
        "record_versions": {"hotline": c["hotline_versions"], "workorders": c["order_versions"],
                            "mediation": c["mediation_versions"]},
        "calls_without_region": c["calls_without_region"],
        "episodes": dict(sorted(Counter(e["kind"] for e in plan.truth).items())),
        "dirty": dict(sorted(dirt.counts().items())),
        "files": dict(writer.files, total=sum(writer.files.values())),
        "bytes": writer.bytes,
    }
    if vary:  # the drawn world at a glance (all of it in truth/variation.json)
        summary["variation"] = {"volume": var.volume, "esc_rate": var.esc_rate, "subtle_share": var.subtle_share,
                                "implied_share": var.implied_share, "habitual": len(plan.habituals),
                                "line_12345": ref_rates.line_12345, "referral_buildup_share": ref_rates.buildup_share}
    return summary


def _plain(value):
    """numpy scalars in the drawn values, as JSON numbers."""
    return value.item() if hasattr(value, "item") else str(value)
