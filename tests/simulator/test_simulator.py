"""The province simulator writes a drop that follows the source contract to the letter."""
from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from fengqiao.core.disputes import CATEGORY_TO_TYPE, TYPE_LABELS, type_from_text
from fengqiao.core.geography import county_polygons, shandong_counties
from fengqiao.core.lexicon import ESCALATION_TERMS
from fengqiao.core.privacy import normalise_phone_text
from fengqiao.core.regions import read_regions, township_of
from fengqiao.simulator import SCALES, simulate
from fengqiao.simulator import text as tx
from fengqiao.simulator.text import TYPE_TEXT

WEEKS = 8
HOTLINE_FIELDS = ["call_id", "line", "started_at", "duration_sec", "caller_number", "caller_name", "region_code",
                  "address_text", "request_type", "topic", "transcript", "satisfaction", "work_order_id", "updated_at"]
ORDER_HEADER = ("order_id,created_at,channel,call_id,region_code,category,summary,urgency,status,assigned_unit,"
                "due_at,closed_at,is_repeat,repeat_of,satisfaction,updated_at").split(",")
MEDIATION_HEADER = ("案件编号,纠纷类型,纠纷来源,行政区划代码,受理日期,发生日期,当事人数,涉案金额,涉及农民工,民转刑倾向,"
                    "群体性倾向,调解组织,调解员,调解结果,案件状态,纠纷简介,当事人姓名,当事人电话,更新时间").split(",")
KINDS = {"escalation", "seasonal", "reporting_change", "outage", "duplicate_export", "media",
         "referral_court_campaign", "referral_petition_backlog", "referral_line_shift"}
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$")


@pytest.fixture(scope="module")
def drop(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("drop")
    summary = simulate(root, seed=42, scale="small", weeks=WEEKS, xlsx_share=0.3)
    return root, summary


@pytest.fixture(scope="module")
def dirty(drop) -> pd.DataFrame:
    return pd.read_csv(drop[0] / "truth" / "dirty_records.csv", dtype=str).fillna("")


def _dirty_files(dirty, kinds) -> set[str]:
    return set(dirty.loc[dirty["kind"].isin(kinds), "where"])


def _hotline_records(root: Path) -> list[dict]:
    out = []
    for path in sorted((root / "hotline").glob("*/calls-*")):
        raw = path.read_bytes()
        text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8")
        for line in text.splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass  # the planted truncated line
    return out


def _orders(root: Path, dirty) -> pd.DataFrame:
    skip = _dirty_files(dirty, ["wrong_encoding", "extra_column", "missing_column"])
    frames = []
    for path in sorted((root / "workorders").glob("*/orders-*.csv")):
        if path.stat().st_size and str(path.relative_to(root)) not in skip:
            frames.append(pd.read_csv(path, dtype=str, encoding="utf-8").fillna(""))
    df = pd.concat(frames)
    return df[df["order_id"] != "order_id"]  # planted stray header rows


def _cases(root: Path, dirty) -> pd.DataFrame:
    skip = _dirty_files(dirty, ["wrong_encoding", "extra_column", "missing_column"])
    frames = []
    for path in sorted((root / "mediation").glob("*/cases-*")):
        if not path.stat().st_size or str(path.relative_to(root)) in skip:
            continue
        if path.suffix == ".xlsx":
            frames.append(pd.read_excel(path, dtype=str).fillna(""))
        else:
            frames.append(pd.read_csv(path, dtype=str, encoding="gb18030").fillna(""))
    df = pd.concat(frames)
    return df[df["案件编号"] != "案件编号"]


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_scales_presets():
    assert set(SCALES) == {"small", "city", "province"}
    assert SCALES["small"]["volume"] == SCALES["city"]["volume"] == 0.25
    assert [SCALES[s]["weeks"] for s in ("small", "city", "province")] == [26, 104, 156]


def test_province_volumes_follow_the_contract():
    """Expected records a day at province scale fall in the source contract's ranges (no drop written)."""
    from fengqiao.simulator import _counties
    from fengqiao.simulator.feeds import RATE_HOTLINE, RATE_MEDIATION
    from fengqiao.simulator.geography import build_geography

    cfg = SCALES["province"]
    geo = build_geography(_counties(cfg["counties"]), cfg["townships"], 42)
    people = float(geo.t_pop.sum()) * cfg["volume"]
    assert 1500 <= len(geo.t_code) <= 2000
    assert 5_000 <= people * RATE_HOTLINE <= 15_000  # contract: ~5,000-15,000 calls a day
    assert 2_000 <= people * RATE_MEDIATION <= 5_000  # ~2,000-5,000 cases a day


def test_summary(drop):
    _, s = drop
    assert s["counties"] == 2 and 14 <= s["townships"] <= 18
    assert all(n > 0 for n in s["records"].values())
    assert s["record_versions"]["workorders"] > 3 * s["records"]["workorders"]
    assert set(s["episodes"]) == KINDS


def test_layout_and_ready(drop):
    root, _ = drop
    days = [(dt.date(2024, 11, 4) + dt.timedelta(days=i)).isoformat() for i in range(7 * WEEKS)]
    patterns = {"hotline": r"calls-[\w-]+\.jsonl(\.gz)?", "workorders": r"orders-[\w-]+\.csv",
                "mediation": r"cases-[\w-]+\.(csv|xlsx)"}
    for feed, pattern in patterns.items():
        folders = sorted(p.name for p in (root / feed).iterdir())
        assert folders == days
        for name in days[:-1]:
            ready = root / feed / name / "_READY"
            assert ready.is_file() and ready.stat().st_size == 0
        assert not (root / feed / days[-1] / "_READY").exists()
        assert any((root / feed / days[-1]).iterdir())
        for path in (root / feed).glob("*/*"):
            assert path.name == "_READY" or re.fullmatch(pattern, path.name), path
    assert (root / "reference" / "regions.csv").is_file() and (root / "reference" / "bureaus.csv").is_file()
    assert list((root / "hotline").glob("*/*.jsonl.gz"))


def test_regions_are_valid_and_real(drop):
    root, _ = drop
    with open(root / "reference" / "regions.csv", encoding="utf-8") as fh:
        assert fh.readline().strip() == "code,name,level,parent_code,lat,lon,population"
    regions = read_regions(root / "reference" / "regions.csv")
    assert regions["code"].str.fullmatch(r"\d{12}").all() and regions["code"].is_unique
    by_level = regions.groupby("level")["code"].apply(list).to_dict()
    assert by_level["province"] == ["370000000000"] and by_level["city"] == ["370100000000"]
    real = shandong_counties()
    assert set(by_level["county"]) == {"370102000000", "370126000000"} <= set(real)
    assert dict(zip(regions["code"], regions["name"]))["370102000000"] == real["370102000000"] == "历下区"
    towns = regions[regions["level"] == "township"]
    assert (towns["parent_code"] == towns["code"].str[:6] + "000000").all()
    for code, name in zip(towns["code"], towns["name"]):
        n = int(code[6:9])
        assert (name.endswith("街道") and 1 <= n <= 99) or (name.endswith("镇") and 100 <= n <= 199) or \
            (name.endswith("乡") and 200 <= n <= 399), (code, name)
    assert towns["population"].between(20_000, 80_000).all()
    villages = regions[regions["level"] == "village"]
    assert villages["parent_code"].value_counts().between(10, 25).all()
    assert set(villages["parent_code"]) == set(towns["code"])
    assert regions[["lat", "lon"]].notna().all().all()
    assert regions["lat"].between(34, 38.5).all() and regions["lon"].between(114, 123).all()


def test_county_polygons_hold_their_seats(drop):
    root, _ = drop
    regions = read_regions(root / "reference" / "regions.csv")
    polys = county_polygons(["370102000000", "370126"])
    assert set(polys) == {"370102000000", "370126000000"}
    from shapely.geometry import Point
    for row in regions[regions["level"].isin(["county", "township"])].itertuples():
        poly = polys[row.code[:6] + "000000"]
        assert poly.buffer(0.02).contains(Point(row.lon, row.lat)), row.code


def test_bureaus(drop):
    root, _ = drop
    b = pd.read_csv(root / "reference" / "bureaus.csv", dtype=str).fillna("")
    assert list(b.columns) == ["region_code", "unit_name", "email", "webhook_url"]
    county = b[b["region_code"] == "370102000000"].iloc[0]
    assert county["unit_name"] == "历下区司法局" and county["email"] == "sfj370102@sft.example.cn"
    towns = b[b["region_code"].str[6:9] != "000"]
    assert towns["unit_name"].str.endswith("司法所").all()
    assert (towns["email"] == "sfs" + towns["region_code"].str[:9] + "@sft.example.cn").all()


def test_hotline_records_follow_contract(drop):
    root, _ = drop
    calls = _hotline_records(root)
    assert len(calls) > 1000
    assert all(list(c) == HOTLINE_FIELDS for c in calls)
    good = [c for c in calls if ISO.match(c["started_at"])]
    assert len(good) > 0.99 * len(calls) and all(ISO.match(c["updated_at"]) for c in calls)
    assert {c["line"] for c in calls} == {"12348", "12345"}
    share = Counter(c["request_type"] for c in calls)
    assert set(share) == {"咨询", "求助", "投诉", "举报", "建议"}
    assert 0.35 < share["咨询"] / len(calls) < 0.65
    for c in calls:
        assert 3 <= len(c["transcript"]) <= 9  # up to 8 turns, plus one where a hard-to-mask form is planted
        assert {t["speaker"] for t in c["transcript"]} <= {"坐席", "来电人"}
    no_region = [c for c in calls if c["region_code"] is None]
    assert 0.02 < len(no_region) / len(calls) < 0.1
    regions = read_regions(root / "reference" / "regions.csv")
    town_names = set(regions.loc[regions["level"] == "township", "name"])
    assert all(any(n in (c["address_text"] or "") for n in town_names) for c in no_region)
    # the operator's topic mostly maps to a type by the pipeline's keyword rules
    topics = [c["topic"] for c in calls]
    assert sum(type_from_text(t) != "其他" for t in topics) > 0.75 * len(topics)


def test_topic_words_map_to_their_type():
    for dtype, words in TYPE_TEXT.items():
        for topic in words["topic"]:
            assert type_from_text(topic) == dtype, (dtype, topic)


def test_escalation_phrases_use_the_lexicon():
    from fengqiao.simulator.text import COLLECTIVE_SAY, THREAT_SAY

    for phrase in THREAT_SAY + COLLECTIVE_SAY:
        assert any(term in phrase for term in ESCALATION_TERMS), phrase


def test_orders_lifecycle_and_links(drop, dirty):
    root, _ = drop
    for path in sorted((root / "workorders").glob("*/orders-*.csv")):
        if path.stat().st_size and str(path.relative_to(root)) not in _dirty_files(
                dirty, ["wrong_encoding", "extra_column", "missing_column"]):
            assert path.read_text(encoding="utf-8").splitlines()[0].split(",") == ORDER_HEADER
    orders = _orders(root, dirty)
    assert set(orders["status"]) == {"受理", "分派", "办理中", "退回", "办结"}
    assert set(orders["is_repeat"]) == {"true", "false"}
    assert set(orders["category"]) - set(CATEGORY_TO_TYPE) and set(orders["category"]) & set(CATEGORY_TO_TYPE)
    first = orders.sort_values("updated_at").groupby("order_id").first()
    assert (first["status"] == "受理").mean() > 0.95
    closed = orders[orders["status"] == "办结"]
    assert (closed["closed_at"] != "").all() and (orders.loc[orders["status"] == "受理", "closed_at"] == "").all()
    versions = orders.groupby("order_id")["updated_at"].nunique()
    assert versions.mean() > 3
    repeats = orders[orders["is_repeat"] == "true"]
    assert len(repeats) and repeats["repeat_of"].isin(orders["order_id"]).mean() > 0.9
    calls = _hotline_records(root)
    linked = {c["work_order_id"]: c["call_id"] for c in calls if c["work_order_id"]}
    assert len(linked) > 100
    by_order = dict(zip(orders["order_id"], orders["call_id"]))
    matched = [oid for oid in linked if oid in by_order]
    assert len(matched) > 0.9 * len(linked)
    assert all(by_order[oid] == linked[oid] for oid in matched)
    assert (orders.loc[orders["channel"] == "热线", "call_id"] != "").all()


def test_mediation_gb18030_header_and_formats(drop, dirty):
    root, _ = drop
    skip = _dirty_files(dirty, ["wrong_encoding", "extra_column", "missing_column"])
    csvs = [p for p in sorted((root / "mediation").glob("*/cases-*.csv"))
            if p.stat().st_size and str(p.relative_to(root)) not in skip]
    assert csvs
    for path in csvs:
        text = path.read_bytes().decode("gb18030")
        assert next(csv.reader(io.StringIO(text))) == MEDIATION_HEADER
        with pytest.raises(UnicodeDecodeError):
            path.read_bytes().decode("utf-8")
    cases = _cases(root, dirty)
    assert set(cases["纠纷类型"]) <= set(TYPE_LABELS) and len(set(cases["纠纷类型"])) >= 12
    dates = cases["受理日期"]
    for pattern in (r"\d{4}-\d{2}-\d{2}", r"\d{4}/\d{1,2}/\d{1,2}", r"\d{4}年\d{1,2}月\d{1,2}日", r"\d{8}"):
        assert dates.str.fullmatch(pattern).any(), pattern
    amounts = cases["涉案金额"]
    for pattern in (r"\d+", r"\d{1,3}(,\d{3})*\.\d{2}", r"[\d.]+万", r""):
        assert amounts.str.fullmatch(pattern).any(), pattern
    assert set(cases["民转刑倾向"]) == {"是", "否", ""}
    assert set(cases["调解结果"]) == {"调解成功", "调解不成功", "调解中", "终止"}
    assert cases.groupby("案件编号")["更新时间"].nunique().max() > 1


def test_xlsx_written_when_forced(drop):
    from openpyxl import load_workbook

    root, _ = drop
    books = sorted((root / "mediation").glob("*/cases-*.xlsx"))
    assert books
    ws = load_workbook(books[0], read_only=True).active
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == MEDIATION_HEADER and len(rows) > 1


def test_deterministic_bytes(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    simulate(a, seed=7, scale="small", weeks=3, xlsx_share=0.3)
    simulate(b, seed=7, scale="small", weeks=3, xlsx_share=0.3)
    simulate(c, seed=8, scale="small", weeks=3, xlsx_share=0.3)
    da, db, dc = _digests(a), _digests(b), _digests(c)
    assert any(k.endswith(".xlsx") for k in da) and any(k.endswith(".gz") for k in da)
    assert da == db
    data = {k: v for k, v in dc.items() if not k.endswith("_READY")}
    assert da != dc and sum(da.get(k) == v for k, v in data.items()) < 0.1 * len(data)


def test_refuses_to_clobber_foreign_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        simulate(tmp_path, scale="small", weeks=2)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_episodes_truth(drop):
    root, _ = drop
    with open(root / "truth" / "episodes.csv", encoding="utf-8") as fh:
        assert fh.readline().strip() == "episode_id,region_code,dispute_type,start_week,peak_week,end_week,kind"
    ep = pd.read_csv(root / "truth" / "episodes.csv", dtype=str).fillna("")
    assert set(ep["kind"]) == KINDS and ep["episode_id"].is_unique
    for col in ("start_week", "peak_week", "end_week"):
        assert all(dt.date.fromisoformat(x).weekday() == 0 for x in ep[col])
    assert (ep["start_week"] <= ep["peak_week"]).all() and (ep["peak_week"] <= ep["end_week"]).all()
    regions = set(read_regions(root / "reference" / "regions.csv")["code"])
    assert set(ep["region_code"]) <= regions
    esc = ep[ep["kind"] == "escalation"]
    assert (esc["region_code"].str[6:9] != "000").all() and esc["dispute_type"].isin(TYPE_LABELS).all()


def _weekly(root, dirty, township: str, dtype: str) -> tuple[Counter, Counter]:
    """Records of one township and type per week (all feeds), and those with escalation words."""
    def week(ts: str) -> str:
        d = dt.date.fromisoformat(ts[:10])
        return (d - dt.timedelta(days=d.weekday())).isoformat()

    n, esc = Counter(), Counter()
    seen = set()
    for c in _hotline_records(root):
        if c["region_code"] and township_of(c["region_code"]) == township and type_from_text(c["topic"]) == dtype \
                and ISO.match(c["started_at"]) and c["call_id"] not in seen:
            seen.add(c["call_id"])
            n[week(c["started_at"])] += 1
            esc[week(c["started_at"])] += any(w in t["text"] for t in c["transcript"] for w in ESCALATION_TERMS)
    orders = _orders(root, dirty).drop_duplicates("order_id")
    orders = orders[orders["region_code"].str[:9].eq(township[:9]) & orders["category"].map(CATEGORY_TO_TYPE).eq(dtype)
                    & orders["created_at"].str.match(ISO)]
    for ts, summary in zip(orders["created_at"], orders["summary"]):
        n[week(ts)] += 1
        esc[week(ts)] += any(w in summary for w in ESCALATION_TERMS)
    return n, esc


def test_escalation_signal_visible(drop, dirty):
    root, _ = drop
    ep = pd.read_csv(root / "truth" / "episodes.csv", dtype=str).fillna("")
    esc_eps = ep[ep["kind"] == "escalation"]
    assert len(esc_eps) >= 1
    for row in esc_eps.itertuples():
        n, words = _weekly(root, dirty, row.region_code, row.dispute_type)
        early = [w for w in sorted(n) if w < row.start_week] or ["2024-11-04"]
        baseline = max(n[w] for w in early)
        peak = dt.date.fromisoformat(row.peak_week)
        late = [(peak - dt.timedelta(weeks=i)).isoformat() for i in range(3)]  # the last weeks of build-up
        assert max(n[w] for w in late) > 2 * max(baseline, 1), (row.episode_id, n)
        assert sum(words[w] for w in late) / max(1, sum(n[w] for w in late)) > 0.15, (row.episode_id, words)
        assert sum(words[w] for w in early) <= 1


def test_personal_data_planted(drop, dirty):
    root, _ = drop
    pii = pd.read_csv(root / "truth" / "personal_data.csv", dtype=str)
    assert set(pii["kind"]) == {"name", "phone", "id_number", "bank_card", "address"} and len(pii) <= 5000
    raw = "".join(json.dumps(c, ensure_ascii=False) for c in _hotline_records(root))
    raw += "".join(p.read_bytes().decode("gb18030", errors="ignore") for p in (root / "mediation").glob("*/*.csv"))
    raw += "".join(p.read_text(encoding="utf-8", errors="ignore") for p in (root / "workorders").glob("*/*.csv"))
    for kind, group in pii.groupby("kind"):
        values = list(group["value"])[:50]
        assert sum(v in raw for v in values) > 0.8 * len(values), kind
    ids = pii.loc[pii["kind"] == "id_number", "value"]
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    for v in ids:
        assert len(v) == 18 and v[-1] == "10X98765432"[sum(int(c) * w for c, w in zip(v[:17], weights)) % 11]
    for card in pii.loc[pii["kind"] == "bank_card", "value"]:
        digits = [int(c) for c in reversed(card)]
        total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits))
        assert len(card) in (16, 19) and total % 10 == 0
    phones = pii.loc[pii["kind"] == "phone", "value"]
    for pattern in (r"1\d{10}", r"\+86 1\d{2} \d{4} \d{4}", r"1\d{2}-\d{4}-\d{4}", r"0\d{3}-\d{8}"):
        assert phones.str.fullmatch(pattern).any(), pattern
    assert re.search(r"我叫[\u4e00-\u9fff]{2,3}，", raw)
    assert re.search(r"[\u4e00-\u9fff]+区[\u4e00-\u9fff]+(路|街|大道)\d+号", raw)


def test_dirty_kinds_present_in_files(drop, dirty):
    root, _ = drop
    kinds = set(dirty["kind"])
    assert kinds >= {"truncated_line", "stray_header", "empty_file", "extra_column", "missing_column",
                     "wrong_encoding", "invalid_region_code", "unknown_region_code", "unparseable_date"}
    for where in _dirty_files(dirty, ["truncated_line"]):
        text = (root / where).read_text(encoding="utf-8")
        assert not text.endswith("\n")
        with pytest.raises(json.JSONDecodeError):
            json.loads(text.splitlines()[-1])
    for where in _dirty_files(dirty, ["empty_file"]):
        assert (root / where).stat().st_size == 0
    for where in _dirty_files(dirty, ["stray_header"]):
        enc = "utf-8" if where.startswith("workorders") else "gb18030"
        lines = (root / where).read_bytes().decode(enc).splitlines()
        assert lines[0] in lines[2:]
    for where in _dirty_files(dirty, ["extra_column"]):
        enc = "utf-8" if where.startswith("workorders") else "gb18030"
        header = (root / where).read_bytes().decode(enc).splitlines()[0].split(",")
        assert len(header) == (17 if enc == "utf-8" else 20)
    for where in _dirty_files(dirty, ["wrong_encoding"]):
        if where.startswith("workorders"):
            with pytest.raises(UnicodeDecodeError):
                (root / where).read_bytes().decode("utf-8")
    regions = set(read_regions(root / "reference" / "regions.csv")["code"])
    bad = dirty[dirty["kind"].isin(["invalid_region_code", "unknown_region_code"])]["detail"]
    assert all(code not in regions for code in bad)
    assert any(len(code) == 11 for code in bad)
    raw = "".join(p.read_text(encoding="utf-8", errors="ignore") for p in (root / "hotline").glob("*/*.jsonl"))
    raw += "".join(p.read_text(encoding="utf-8", errors="ignore") for p in (root / "workorders").glob("*/*.csv"))
    assert any(code in raw for code in bad)


def test_duplicate_export_has_identical_bytes(drop):
    root, _ = drop
    seen: dict[str, list[str]] = {}
    for path in sorted(root.glob("[hw]*/*/*")):
        if path.name != "_READY" and path.stat().st_size:
            seen.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), []).append(path.name)
    twins = [names for names in seen.values() if len(names) > 1]
    assert twins and all(len(set(names)) == len(names) for names in twins)


def _iso_week(ts: str) -> int | None:
    try:
        d = dt.date.fromisoformat(ts[:10])
    except ValueError:
        return None  # planted unparseable dates
    return d.toordinal() // 7


def test_repeat_callers_concentrate_in_escalations(drop):
    """Repeat share per township-week as the features define it: a caller heard in the same township in
    the 4 weeks before, or more than once this week. Higher inside escalation episodes than elsewhere."""
    root, _ = drop
    calls = {}
    for c in _hotline_records(root):
        week = _iso_week(c["started_at"])
        if c["region_code"] and week is not None:
            calls[c["call_id"]] = (township_of(c["region_code"]), normalise_phone_text(c["caller_number"]), week)
    per = Counter(calls.values())
    n, rep = Counter(), Counter()
    for (town, caller, week), k in per.items():
        n[(town, week)] += k
        if caller is not None and (k > 1 or any(per.get((town, caller, week - j)) for j in range(1, 5))):
            rep[(town, week)] += k
    ep = pd.read_csv(root / "truth" / "episodes.csv", dtype=str)
    inside = set()
    for e in ep[ep["kind"] == "escalation"].itertuples():
        first, last = _iso_week(e.start_week), _iso_week(e.end_week)
        inside |= {(e.region_code, w) for w in range(first, last + 1)}
    in_n = sum(n[k] for k in n if k in inside)
    out_n = sum(n[k] for k in n if k not in inside)
    in_share = sum(rep[k] for k in n if k in inside) / in_n
    out_share = sum(rep[k] for k in n if k not in inside) / out_n
    assert in_n > 50 and out_n > 1000
    assert 0.01 < out_share < 0.1, out_share  # background repeat callers: a few % of calls
    assert in_share > 2 * out_share, (in_share, out_share)


def test_repeat_orders_link_the_same_person(drop, dirty):
    """is_repeat/repeat_of point to an earlier order of the same caller on the same matter."""
    root, _ = drop
    number = {c["call_id"]: normalise_phone_text(c["caller_number"]) for c in _hotline_records(root)}
    orders = _orders(root, dirty).sort_values("updated_at").drop_duplicates("order_id", keep="last")
    by_id = orders.set_index("order_id")
    repeats = orders[orders["is_repeat"] == "true"]
    assert len(repeats) > 20 and (repeats["repeat_of"] != "").all()
    assert (orders.loc[orders["is_repeat"] == "false", "repeat_of"] == "").all()
    linked = repeats[repeats["repeat_of"].isin(by_id.index)]
    assert len(linked) > 0.9 * len(repeats)
    prev = by_id.loc[linked["repeat_of"]]
    assert (prev["created_at"].to_numpy() < linked["created_at"].to_numpy()).all()
    assert (prev["region_code"].str[:9].to_numpy() == linked["region_code"].str[:9].to_numpy()).all()
    same_type = [CATEGORY_TO_TYPE.get(a) == CATEGORY_TO_TYPE.get(b) for a, b in zip(prev["category"], linked["category"])
                 if a in CATEGORY_TO_TYPE and b in CATEGORY_TO_TYPE]
    assert same_type and all(same_type)
    both_calls = [(number.get(a), number.get(b)) for a, b in zip(prev["call_id"], linked["call_id"]) if a and b]
    assert len(both_calls) > 10 and all(x == y and x for x, y in both_calls)


def test_masking_forms_planted(drop):
    """A few percent of transcripts and order summaries carry personal data in a form that defeats plain
    rules; truth/masking_forms.csv lists each, and some of those calls are exported as ASCII-only JSON."""
    root, summary = drop
    forms = pd.read_csv(root / "truth" / "masking_forms.csv", dtype=str, keep_default_na=False)
    assert set(forms["form"]) == set(tx.MASKING_FORMS) and set(forms["feed"]) == {"hotline", "workorders"}
    calls = forms[forms["feed"] == "hotline"]
    assert 0.01 < len(calls) / summary["records"]["hotline"] < 0.05
    records = _hotline_records(root)
    said = "".join(t["text"] for c in records for t in c["transcript"])
    orders = "".join(p.read_text(encoding="utf-8", errors="ignore") for p in (root / "workorders").glob("*/*.csv"))
    assert all(v in said for v in calls["value"])
    assert all(v in orders for v in forms.loc[forms["feed"] == "workorders", "value"])
    escaped = sum(b"\\u" in p.read_bytes() for p in (root / "hotline").glob("*/calls-*.jsonl"))
    assert escaped > 0
    phones = forms[forms["form"].str.endswith("phone")]
    assert (phones["digits"].str.fullmatch(r"1[3-9]\d{9}|0\d{10,11}")).all()
