"""Referral patterns of the contract world (issue 21): base rates, build-ups before some escalations, confounders.

Checked on small drops (two counties, 20 weeks) and on plans alone (the city, two years; planning is fast): that
every 纠纷来源 and line is one the contract allows, that the base rates stay in their ranges and vary, that some but
not all escalations get a referral build-up in the weeks before their peak and that it shows in the registry, and
that the referral confounders are in truth and show in the data where and when truth says.
"""
from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import random
from collections import Counter, defaultdict
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pytest

from fengqiao.contract_world import KINDS, episodes, geography, referrals, simulate, world as world_mod

SOURCES = ("主动排查", "当事人申请", "热线转办", "法院委派", "公安移交", "信访转办", "其他")
REFERRED = {"信访转办", "公安移交", "法院委派"}
START = dt.date(2024, 11, 4)
WEEKS = 20
SEEDS = (5, 8)  # two small drops, each with a build-up of referred cases before one of its escalations


@pytest.fixture(scope="module")
def drops(tmp_path_factory) -> list[SimpleNamespace]:
    """Per seed: the folder, the summary, and the newest case and call records, read once."""
    root = tmp_path_factory.mktemp("referrals")
    out = []
    for seed in SEEDS:
        summary = simulate(root / str(seed), seed=seed, scale="small")
        out.append(SimpleNamespace(out=root / str(seed), summary=summary, cases=_cases(root / str(seed)),
                                   calls=_calls(root / str(seed))))
    return out


def _date(s: str) -> dt.date | None:
    """A hand-kept 受理日期 in any of the contract's four forms; None for a damaged one."""
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y%m%d"):
        try:
            return dt.datetime.strptime(str(s), fmt).date()
        except ValueError:
            pass
    return None


def _cases(out: Path) -> list[dict]:
    """The newest snapshot of each case (by 案件编号), damaged rows left out."""
    header, newest = None, {}
    for path in sorted((out / "mediation").rglob("cases-*")):
        if path.stat().st_size == 0:
            continue
        if path.suffix == ".xlsx":
            rows = [["" if v is None else str(v) for v in r]
                    for r in openpyxl.load_workbook(path, read_only=True).active.iter_rows(values_only=True)]
        else:
            rows = list(csv.reader(io.StringIO(path.read_bytes().decode("gb18030"), newline="")))
        header = rows[0]
        for r in rows[1:]:
            if len(r) != len(header) or r == header:
                continue
            c = dict(zip(header, r))
            if c["案件编号"] not in newest or c["更新时间"] >= newest[c["案件编号"]]["更新时间"]:
                newest[c["案件编号"]] = c
    return list(newest.values())


def _calls(out: Path) -> list[dict]:
    calls = {}
    for path in sorted((out / "hotline").rglob("calls-*")):
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        for line in data.decode("utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            calls[rec["call_id"]] = rec
    return list(calls.values())


def _truth(out: Path, name: str = "episodes.csv") -> list[dict]:
    with open(out / "truth" / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _week(d: dt.date | str) -> int:
    d = dt.date.fromisoformat(d) if isinstance(d, str) else d
    return (d - START).days // 7


def _town(code: str) -> str:
    return code[:9] + "000"


# --- the contract's values -----------------------------------------------------------------------------------

def test_every_source_and_line_is_one_of_the_contract(drops):
    for d in drops:
        sources = Counter(c["纠纷来源"] for c in d.cases)
        assert set(sources) <= set(SOURCES), sources
        assert set(sources) == set(SOURCES), "every source occurs in a 20-week drop"
        lines = Counter(c["line"] for c in d.calls)
        assert set(lines) == {"12348", "12345"}, lines


def test_base_rates_stay_in_their_ranges_and_vary():
    geo = geography.build("small")
    ranges = {"法院委派": (0.03, 0.12), "公安移交": (0.02, 0.08), "信访转办": (0.01, 0.05), "热线转办": (0.05, 0.20)}
    seen = defaultdict(set)
    for seed in range(1, 16):
        w = world_mod.draw(seed, geo, START, WEEKS)
        referrals.base_rates(w)
        for c in geo.counties:
            share = w.p["source_share"][c.code]
            assert abs(sum(share.values()) - 1) < 1e-9 and set(share) == set(SOURCES)
            for s, (lo, hi) in ranges.items():
                assert lo <= share[s] <= hi, (seed, c.code, s, share[s])
                seen[s].add(round(share[s], 4))
            assert 0.2 <= w.p["line_12345"][c.code] <= 0.6
            seen["12345"].add(round(w.p["line_12345"][c.code], 4))
            assert 0 < w.p["hotline_to_med"][c.code] <= 0.35
            assert abs(sum(w.p["source_mix"][c.code]) - 1) < 1e-9  # the weights of directly drawn cases
    assert all(len(v) > 20 for v in seen.values()), "rates differ by seed and county"


def test_observed_shares_are_plausible(drops):
    for d in drops:
        cases = d.cases
        n = Counter(c["纠纷来源"] for c in cases)
        total = sum(n.values())
        assert 0.02 < n["法院委派"] / total < 0.2 and 0.01 < n["公安移交"] / total < 0.12
        assert 0.005 < n["信访转办"] / total < 0.1 and 0.03 < n["热线转办"] / total < 0.3
        calls = d.calls
        assert 0.15 < sum(c["line"] == "12345" for c in calls) / len(calls) < 0.8


# --- build-ups before some escalations ----------------------------------------------------------------------

def test_some_but_not_all_escalations_get_a_referral_buildup():
    geo = geography.build("city")
    shares = []
    for seed in range(1, 13):
        w = world_mod.draw(seed, geo, START, 104)
        referrals.base_rates(w)
        eps = episodes.plan(w)
        esc = [e for e in eps if e.kind == "escalation"]
        built = [e for e in esc if e.extra.get("referral")]
        assert 0 < len(built) < len(esc), seed
        shares.append(len(built) / len(esc))
        for e in built:
            b, s = e.extra["referral"], e.sites[0]
            assert b["township"] == s.township and b["w1"] == s.peak - 1 and 1 <= b["w1"] - b["w0"] + 1 <= 6
            planted = [x for v in b["cases"].values() for x in v]
            assert planted or b["line"], "a build-up plants cases, moves the line, or both"
            assert set(planted) <= REFERRED and len(planted) <= 9
            assert all(b["w0"] <= wk <= b["w1"] for wk in b["cases"]) and b["line"] in (None, "12345", "12348")
        # nothing is planted on the escalations left out
        assert all("referral" not in e.extra for e in esc if e not in built)
    assert 0.25 <= min(shares) and max(shares) <= 0.75 and max(shares) - min(shares) > 0.15, shares


def test_referred_cases_rise_before_the_chosen_peaks(drops):
    """In the build-up weeks the township's share of 信访转办/公安移交/法院委派 cases is above its own earlier weeks, and
    the planted cases of the matter are in the registry."""
    ref_in = all_in = ref_before = all_before = 0
    planted_total = 0
    for d in drops:
        out, summary = d.out, d.summary
        rows = [r for r in _truth(out, "referral_buildups.csv") if r["cases"]]
        assert summary["referral_buildups"] == len(_truth(out, "referral_buildups.csv"))
        assert rows, "the test seeds plant referred cases"
        esc = {r["episode_id"]: r for r in _truth(out) if r["kind"] == "escalation"}
        cases = d.cases
        for r in rows:
            assert r["episode_id"] in esc and esc[r["episode_id"]]["region_code"] == r["region_code"]
            w0, w1 = _week(r["start_week"]), _week(r["end_week"])
            assert w1 == _week(esc[r["episode_id"]]["peak_week"]) - 1 and 1 <= w1 - w0 + 1 <= 6
            planted = {k: int(v) for k, v in (x.split("=") for x in r["cases"].split(";"))}
            assert set(planted) <= REFERRED and 1 <= sum(planted.values()) <= 9
            planted_total += sum(planted.values())
            mine, found = [c for c in cases if _town(c["行政区划代码"]) == r["region_code"]], Counter()
            for c in mine:
                d = _date(c["受理日期"])
                if d is None:
                    continue
                wk, referred = _week(d), c["纠纷来源"] in REFERRED
                if w0 <= wk <= w1:
                    ref_in, all_in = ref_in + referred, all_in + 1
                    if referred and c["纠纷类型"] == r["dispute_type"]:
                        found[c["纠纷来源"]] += 1
                elif wk < w0:
                    ref_before, all_before = ref_before + referred, all_before + 1
            assert all(found[s] >= n - 1 for s, n in planted.items()), (r, found)  # one may fall to an outage
    assert planted_total >= 2 and all_before > 20 and all_in > 0
    assert ref_in / all_in > 1.5 * ref_before / all_before, (ref_in, all_in, ref_before, all_before)


def test_an_episodes_calls_move_to_one_line_in_its_buildup():
    geo = geography.build("city")
    moved = 0
    for seed in range(1, 6):
        w = world_mod.draw(seed, geo, START, 104)
        referrals.base_rates(w)
        eps = episodes.plan(w)
        g = SimpleNamespace(w=w, eps=eps, towns=geo.townships, rng=random.Random(seed))
        planter = referrals.Planter(g)
        town = {t.code: t for t in geo.townships}
        for e in eps:
            b = e.extra.get("referral") if e.kind == "escalation" else None
            if not b or not b["line"]:
                continue
            t, day = town[b["township"]], b["w1"] * 7 + 2
            base = planter.share[t.county][day]
            want = base if b["line"] == "12345" else 1 - base
            during = sum(planter.line(t, day, e) == b["line"] for _ in range(2000)) / 2000
            ordinary = sum(planter.line(t, day) == b["line"] for _ in range(2000)) / 2000
            assert during > want + 0.5 * (1 - want) - 0.05 and abs(ordinary - want) < 0.05, (seed, e.eid)
            moved += 1
    assert moved >= 5


# --- referral patterns that precede nothing -----------------------------------------------------------------

def test_referral_confounders_are_in_truth(drops):
    for d in drops:
        out, summary = d.out, d.summary
        rows = _truth(out)
        with open(out / "reference" / "regions.csv", encoding="utf-8", newline="") as f:
            regions = {r["code"]: r["level"] for r in csv.DictReader(f)}
        kinds = Counter(r["kind"] for r in rows)
        assert set(referrals.REFERRAL_KINDS) <= set(KINDS)
        for k in referrals.REFERRAL_KINDS:
            assert kinds[k] >= 1 and summary["episodes"][k] == kinds[k], k
        for r in rows:
            if r["kind"] in ("referral_campaign", "petition_backlog"):
                assert regions[r["region_code"]] == "county" and r["dispute_type"] == ""
            elif r["kind"] == "line_shift":
                assert regions[r["region_code"]] in ("county", "city") and r["dispute_type"] == ""
        readme = (out / "truth" / "README.md").read_text(encoding="utf-8")
        assert all(f"`{k}`" in readme for k in referrals.REFERRAL_KINDS) and "referral_buildups.csv" in readme


def _weekly(cases: list[dict], county: str, source: str) -> Counter:
    n = Counter()
    for c in cases:
        d = _date(c["受理日期"])
        if d is not None and c["行政区划代码"][:6] == county[:6] and c["纠纷来源"] == source:
            n[_week(d)] += 1
    return n


def test_court_drives_and_petition_backlogs_show_in_the_registry(drops):
    for d in drops:
        out = d.out
        cases = d.cases
        for r in _truth(out):
            if r["kind"] not in ("referral_campaign", "petition_backlog"):
                continue
            source = "法院委派" if r["kind"] == "referral_campaign" else "信访转办"
            n = _weekly(cases, r["region_code"], source)
            s, e = _week(r["start_week"]), _week(r["end_week"])
            inside = sum(n[w] for w in range(s, e + 1)) / (e - s + 1)
            # the county's other weeks, leaving out the other drives and backlogs there
            busy = {w for x in _truth(out) if x["kind"] == r["kind"] and x["region_code"] == r["region_code"]
                    for w in range(_week(x["start_week"]), _week(x["end_week"]) + 1)}
            others = [n[w] for w in range(WEEKS) if w not in busy]
            assert inside > 2 * max(1.0, sum(others) / max(1, len(others))), (r, dict(n))


def test_line_shift_moves_calls_to_12345(drops):
    for d in drops:
        out = d.out
        calls = d.calls
        for r in _truth(out):
            if r["kind"] != "line_shift":
                continue
            prefix = r["region_code"][:6] if r["region_code"][4:6] != "00" else r["region_code"][:4]
            before, after = Counter(), Counter()
            s, p, e = (_week(r[k]) for k in ("start_week", "peak_week", "end_week"))
            for c in calls:
                if not (c["region_code"] or "").startswith(prefix):
                    continue
                wk = _week(dt.date.fromisoformat(c["started_at"][:10]))
                if wk < s:
                    before[c["line"]] += 1
                elif p < wk <= e or (p == e == wk):
                    after[c["line"]] += 1
            share = lambda x: x["12345"] / max(1, sum(x.values()))  # noqa: E731
            assert sum(before.values()) > 200 and share(after) > share(before) + 0.08, (r, before, after)
