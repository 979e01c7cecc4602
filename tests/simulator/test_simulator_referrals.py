"""Referral patterns (issue 21): 纠纷来源 and 12345 calls build up before some escalations; referral
confounders (a court's 诉前调解 drive, a petition backlog, a shift to 12345) precede none."""
from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import random
import re
from pathlib import Path

import pandas as pd
import pytest

from fengqiao.core.disputes import type_from_text
from fengqiao.simulator import SCALES, _counties, simulate
from fengqiao.simulator.episodes import make_plan
from fengqiao.simulator.geography import build_geography
from fengqiao.simulator.referral_records import ReferralRecords
from fengqiao.simulator.referrals import (PLAIN_SOURCE_WEIGHTS, REFERRED, SOURCE_RANGES, SOURCES, ReferralRates,
                                          draw_rates, plan_referrals)
from fengqiao.simulator.type_mix import TI
from fengqiao.simulator.variation import Variation, draw

START = dt.date(2024, 11, 4)
# Seed 7, 16 weeks: both escalations of the plain small world have a mediation build-up with at least
# four weeks before it (a world where none had would make the build-up test vacuous, it asserts some).
PLAIN = dict(seed=7, weeks=16)
# Two varied seeds whose drawn 12345 shares lie far apart (0.68 and 0.17).
VARIED = (2, 7)
REFERRAL_KINDS = {"referral_court_campaign", "referral_petition_backlog", "referral_line_shift"}
CODE = re.compile(r"^\d{12}$")


def _week(d: dt.date) -> int:
    return (d - START).days // 7


def _accepted(text: str) -> dt.date | None:
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y%m%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    return None  # a planted unparseable date


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")  # a file planted in the wrong encoding
    except UnicodeDecodeError:
        return raw.decode("gb18030")


def _cases(root: Path) -> pd.DataFrame:
    """Mediation cases with a valid region code and a readable 受理日期, all their 纠纷来源 kept."""
    frames = []
    for path in sorted((root / "mediation").glob("*/cases-*.csv")):
        try:
            frames.append(pd.read_csv(io.StringIO(_text(path.read_bytes())), dtype=str, keep_default_na=False))
        except (pd.errors.ParserError, pd.errors.EmptyDataError):
            pass  # the planted broken files
    m = pd.concat(frames).drop_duplicates("案件编号")
    m = m[m["行政区划代码"].str.match(CODE) & (m["纠纷来源"] != "纠纷来源")].copy()  # | a stray header row
    day = m["受理日期"].map(_accepted)
    m = m[day.notna()].assign(week=day[day.notna()].map(_week))
    m["township"] = m["行政区划代码"].str[:9] + "000"
    m["referred"] = m["纠纷来源"].isin(REFERRED)
    return m


def _calls(root: Path) -> pd.DataFrame:
    rows = []
    for path in sorted((root / "hotline").glob("*/calls-*")):
        raw = path.read_bytes()
        for line in (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8").splitlines():
            try:
                c = json.loads(line)
            except json.JSONDecodeError:
                continue  # the planted truncated line
            day = _accepted(c["started_at"][:10])
            if day and c["region_code"] and CODE.match(c["region_code"]):
                rows.append(dict(call_id=c["call_id"], line=c["line"], week=_week(day), code=c["region_code"],
                                 dtype=type_from_text(c["topic"] or "")))
    return pd.DataFrame(rows).drop_duplicates("call_id")


def _truth(root: Path) -> pd.DataFrame:
    ep = pd.read_csv(root / "truth" / "episodes.csv", dtype=str, keep_default_na=False)
    det = pd.read_csv(root / "truth" / "episode_details.csv", dtype=str, keep_default_na=False)
    ep = ep.merge(det, on=["episode_id", "kind"])
    for col in ("start_week", "peak_week", "end_week"):
        ep[col.replace("_week", "")] = ep[col].map(lambda x: _week(dt.date.fromisoformat(x)))
    ep["info"] = ep["detail"].map(lambda s: dict(kv.split("=", 1) for kv in s.split(";") if "=" in kv))
    return ep


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("referrals_plain")
    simulate(root, scale="small", **PLAIN)
    return root


@pytest.fixture(scope="module")
def varied(tmp_path_factory) -> dict[int, Path]:
    out = {}
    for seed in VARIED:
        out[seed] = tmp_path_factory.mktemp(f"referrals_vary{seed}")
        simulate(out[seed], seed=seed, scale="small", weeks=3, vary=True)
    return out


def test_sources_and_lines_follow_the_contract(plain):
    cases, calls = _cases(plain), _calls(plain)
    assert set(cases["纠纷来源"]) == set(SOURCES), set(cases["纠纷来源"]) - set(SOURCES)
    assert set(calls["line"]) == {"12348", "12345"}
    share = cases["纠纷来源"].value_counts(normalize=True)
    assert 0.25 < share["当事人申请"] < 0.5 and 0.12 < cases["referred"].mean() < 0.4, share


def test_referral_confounders_in_truth(plain):
    ep = _truth(plain)
    ref = ep[ep["kind"].isin(REFERRAL_KINDS)]
    assert set(ref["kind"]) == REFERRAL_KINDS and ep["episode_id"].is_unique
    assert (ref["region_code"].str[6:] == "000000").all() and (ref["dispute_type"] == "").all()
    assert (ref["start"] >= 1).all() and (ref["end"] < PLAIN["weeks"]).all()


def _share(frame: pd.DataFrame, col: str, inside) -> tuple[float, float]:
    mask = inside(frame)
    return frame.loc[mask, col].mean(), frame.loc[~mask, col].mean()


def test_referral_confounders_show_in_the_records(plain):
    ep, cases, calls = _truth(plain), _cases(plain), _calls(plain)
    for row in ep[ep["kind"].isin(REFERRAL_KINDS)].itertuples():
        if row.kind == "referral_line_shift":
            calls["is_12345"] = calls["line"] == "12345"
            county = calls[calls["code"].str[:6] == row.region_code[:6]]
            after, before = _share(county, "is_12345", lambda f: f["week"] >= row.start + 1)
            assert after > before + 0.05, (row.episode_id, after, before)
            continue
        source = "法院委派" if row.kind == "referral_court_campaign" else "信访转办"
        county = cases[cases["township"].str[:6] == row.region_code[:6]].assign(
            hit=lambda f: f["纠纷来源"] == source)
        inside, outside = _share(county, "hit", lambda f: f["week"].between(row.start, row.end))
        assert inside > 1.5 * outside and inside > outside + 0.05, (row.episode_id, inside, outside)


def test_referrals_build_up_before_chosen_escalations(plain):
    """In the weeks before the peak of an episode chosen for a build-up, the township's share of
    信访转办 / 公安移交 / 法院委派 cases exceeds its own earlier weeks."""
    ep, cases, calls = _truth(plain), _cases(plain), _calls(plain)
    esc = ep[ep["kind"] == "escalation"]
    assert esc["info"].map(lambda d: "referral_buildup" in d).all()
    built = esc[esc["info"].map(lambda d: d["referral_buildup"] in ("mediation", "both"))]
    assert len(built) >= 2
    pooled = {"before": [0, 0], "window": [0, 0]}
    for row in built.itertuples():
        first = row.peak - int(row.info["referral_weeks"])
        own = cases[cases["township"] == row.region_code]
        window, before = own[own["week"].between(first, row.peak - 1)], own[own["week"] < first]
        assert window["referred"].mean() > before["referred"].mean(), (row.episode_id, window, before)
        for key, part in (("window", window), ("before", before)):
            pooled[key][0] += int(part["referred"].sum())
            pooled[key][1] += len(part)
    share = {k: a / b for k, (a, b) in pooled.items()}
    assert share["window"] > 1.5 * share["before"] and share["window"] > share["before"] + 0.1, share


def _plans(vary: bool, seeds, weeks: int = 30):
    cfg = SCALES["small"]
    for seed in seeds:
        geo = build_geography(_counties(cfg["counties"]), cfg["townships"], seed)
        var = draw(seed) if vary else Variation()
        plan = make_plan(geo, START, weeks, seed, geo.county_city[0], random.Random(f"pools-{seed}"), var)
        rates = draw_rates(seed) if vary else ReferralRates()
        yield geo, plan, rates, plan_referrals(plan, geo, seed, rates)


def test_buildups_precede_some_escalations_not_all():
    cores = {}
    for _, plan, _, _ in _plans(False, range(1, 41)):
        for row, det in zip(plan.truth, plan.details):
            if row["kind"] == "escalation":
                cores[(id(plan), det.get("part_of") or row["episode_id"])] = det["referral_buildup"] != "none"
    assert 0.35 < sum(cores.values()) / len(cores) < 0.65, sum(cores.values()) / len(cores)
    shares, kinds = [], set()
    for _, plan, rates, _ in _plans(True, range(1, 21)):
        rows = [d for t, d in zip(plan.truth, plan.details) if t["kind"] == "escalation"]
        kinds |= {d["referral_buildup"] for d in rows}
        shares.append(rates.buildup_share)
        extra = [int(d["referral_extra_cases"]) for d in rows if d["referral_buildup"] in ("mediation", "both")]
        assert all(e <= 15 for e in extra)  # a few extra referred cases, not dozens
    assert kinds == {"none", "mediation", "hotline", "both"}
    assert min(shares) < 0.35 and max(shares) > 0.65


class _Records(ReferralRecords):
    def __init__(self, referrals, geo_county):
        self.referrals, self.t_county_list = referrals, [int(c) for c in geo_county]


def test_buildups_tilt_sources_and_lines_of_their_episode_only():
    """Per uniform draw, as the feeds call them: in a build-up's last week its type's cases are referred
    and its calls on 12345 more often than in the week before the build-up began; other types are not."""
    grid = [(i + 0.5) / 1000 for i in range(1000)]
    lifts = {"mediation": [], "hotline": []}
    for geo, plan, _, ref in _plans(False, range(1, 11)):
        rec = _Records(ref, geo.t_county)
        for row, det in zip(plan.truth, plan.details):
            if row["kind"] != "escalation" or det["referral_buildup"] == "none":
                continue
            t, k = geo.t_code.index(row["region_code"]), TI[row["dispute_type"]]
            p = _week(dt.date.fromisoformat(row["peak_week"]))
            last, before = 7 * (p - 1), 7 * (p - 1 - int(det["referral_weeks"]))
            if before < 0:
                continue

            def referred(day: int, kk: int) -> float:
                return sum(rec.case_source(x, t, kk, day) in REFERRED for x in grid) / len(grid)

            def on_12345(day: int, kk: int) -> float:
                return sum(rec.call_line(x, t, kk, day) == "12345" for x in grid) / len(grid)

            other = (k + 1) % len(TI)
            assert referred(last, other) == referred(before, other)
            if det["referral_buildup"] in ("mediation", "both"):
                lifts["mediation"].append(referred(last, k) - referred(before, k))
            if det["referral_buildup"] in ("hotline", "both"):
                lifts["hotline"].append(on_12345(last, k) - on_12345(before, k))
    # at the last week 30-60 % of the cases are sent on top of the 20 % base; calls +15-35 points (capped at 95 %)
    assert len(lifts["mediation"]) >= 3 and min(lifts["mediation"]) >= 0.2, lifts
    assert len(lifts["hotline"]) >= 3 and min(lifts["hotline"]) >= 0.1, lifts


def test_plain_rates_are_todays_and_varied_rates_differ_by_seed():
    plain = ReferralRates()
    assert plain.source_weights == PLAIN_SOURCE_WEIGHTS == (25, 40, 10, 7, 8, 5, 5) and plain.line_12345 == 0.4
    a, b = draw_rates(3).as_dict(), draw_rates(4).as_dict()
    assert sum(a[k] != b[k] for k in a) >= len(a) - 1 and a["source_weights"] != b["source_weights"]
    assert draw_rates(3) == draw_rates(3) and draw(3) == draw(3)  # its own stream: no other draw moved
    for seed in range(30):
        x = draw_rates(seed)
        assert abs(sum(x.source_weights) - 1) < 1e-3 and 0.15 <= x.line_12345 <= 0.75
        assert 0.2 <= x.buildup_share <= 0.8 and x.buildup_referred[0] < x.buildup_referred[1] <= 0.8
        lo = [a / sum(b for _, b in SOURCE_RANGES) for a, _ in SOURCE_RANGES]
        assert all(w >= 0.5 * m for w, m in zip(x.source_weights, lo))


def test_varied_rates_show_in_the_records(varied):
    rates = {s: draw_rates(s) for s in VARIED}
    assert rates[2].line_12345 - rates[7].line_12345 > 0.4  # the seeds this test was written for
    seen = {s: (_calls(root)["line"] == "12345").mean() for s, root in varied.items()}
    assert seen[2] > seen[7] + 0.25, seen
    doc = json.loads((varied[2] / "truth" / "variation.json").read_text(encoding="utf-8"))
    assert doc["referrals"] == json.loads(json.dumps(rates[2].as_dict()))
