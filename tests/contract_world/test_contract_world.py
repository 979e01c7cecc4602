"""The contract world (fengqiao.contract_world) writes drops that follow docs/source-contract.md.

Checked on the small scale: layout, formats and encodings of every file, region codes and hierarchy, _READY rules,
the truth file, coverage of the requested weeks, determinism, and that the planned damage stays small.
"""
from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import json
import re
from pathlib import Path

import openpyxl
import pytest

from fengqiao.contract_world import KINDS, simulate

TYPES = {"婚姻家庭", "邻里", "房屋宅基地", "合同", "生产经营", "损害赔偿", "山林土地", "征地拆迁", "环境污染", "劳动争议", "消费", "医疗",
         "道路交通事故", "物业", "其他"}
ORDER_HEADER = ["order_id", "created_at", "channel", "call_id", "region_code", "category", "summary", "urgency", "status",
                "assigned_unit", "due_at", "closed_at", "is_repeat", "repeat_of", "satisfaction", "updated_at"]
MED_HEADER = ["案件编号", "纠纷类型", "纠纷来源", "行政区划代码", "受理日期", "发生日期", "当事人数", "涉案金额", "涉及农民工", "民转刑倾向",
              "群体性倾向", "调解组织", "调解员", "调解结果", "案件状态", "纠纷简介", "当事人姓名", "当事人电话", "更新时间"]
CALL_FIELDS = ["call_id", "line", "started_at", "duration_sec", "caller_number", "caller_name", "region_code", "address_text",
               "request_type", "topic", "transcript", "satisfaction", "work_order_id", "updated_at"]
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$")
START = dt.date(2024, 11, 4)
WEEKS = 20


@pytest.fixture(scope="module")
def drop(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("cw") / "drop"
    summary = simulate(out, seed=3, scale="small")
    return out, summary


@pytest.fixture(scope="module")
def regions(drop) -> dict[str, dict]:
    with open(drop[0] / "reference" / "regions.csv", encoding="utf-8", newline="") as f:
        return {r["code"]: r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def damage(drop) -> list[dict]:
    with open(drop[0] / "truth" / "damage.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _damaged(damage, feed: str, what: str) -> int:
    return sum(1 for d in damage if d["feed"] == feed and what in d["what"])


def _calls(path: Path) -> list[str]:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    return data.decode("utf-8").splitlines()


def _is_date(s: str) -> bool:
    for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y%m%d"):
        try:
            dt.datetime.strptime(s, fmt)
            return True
        except ValueError:
            pass
    return False


def test_layout_and_summary(drop):
    out, summary = drop
    assert (out / "reference" / "regions.csv").is_file() and (out / "reference" / "bureaus.csv").is_file()
    assert summary["weeks"] == WEEKS and summary["start"] == START.isoformat()
    assert summary["townships"] >= 18 and summary["counties"] == 2
    pats = {"hotline": r"^calls-[^/]+\.jsonl(\.gz)?$", "workorders": r"^orders-[^/]+\.csv$", "mediation": r"^cases-[^/]+\.(csv|xlsx)$"}
    for feed, pat in pats.items():
        folders = sorted(p for p in (out / feed).iterdir())
        assert folders, feed
        for folder in folders:
            dt.date.fromisoformat(folder.name)  # day folders are YYYY-MM-DD
            for f in folder.iterdir():
                assert f.name == "_READY" or re.match(pat, f.name), f
    assert list((out / "mediation").rglob("*.xlsx")), "some mediation files are .xlsx"
    days = sorted(dt.date.fromisoformat(p.name) for p in (out / "hotline").iterdir())
    assert days[0] == START and days[-1] == START + dt.timedelta(weeks=WEEKS, days=-1), "day folders cover the weeks"
    assert summary["records"]["hotline"] > 3000 and summary["records"]["mediation"] > 500


def test_regions_hierarchy(regions):
    levels = {"province", "city", "county", "township", "village"}
    assert {r["level"] for r in regions.values()} <= levels
    for code, r in regions.items():
        assert re.fullmatch(r"\d{12}", code), code
        if r["level"] == "province":
            assert code.endswith("0000000000") and r["parent_code"] == ""
            continue
        parent = regions[r["parent_code"]]
        assert float(r["lat"]) and 18 < float(r["lat"]) < 54 and 73 < float(r["lon"]) < 136
        want = {"city": ("province", 2), "county": ("city", 4), "township": ("county", 6), "village": ("township", 9)}
        plevel, prefix = want[r["level"]]
        assert parent["level"] == plevel and code[:prefix] == r["parent_code"][:prefix], code
        tail = {"city": 8, "county": 6, "township": 3, "village": 0}[r["level"]]
        assert tail == 0 or code.endswith("0" * tail), code
        if r["level"] == "township":
            digits = int(code[6:9])
            kind = "街道" if r["name"].endswith("街道") else r["name"][-1]
            assert {"街道": 1 <= digits <= 99, "镇": 100 <= digits <= 199, "乡": 200 <= digits <= 399}[kind], (code, r["name"])
            assert 20000 <= int(r["population"]) <= 80000


def test_bureaus(drop, regions):
    with open(drop[0] / "reference" / "bureaus.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["region_code", "unit_name", "email", "webhook_url"]
    covered = {r["region_code"] for r in rows}
    assert covered == {c for c, r in regions.items() if r["level"] in ("county", "township")}
    assert all("@" in r["email"] for r in rows)
    assert all(r["webhook_url"] == "" or r["webhook_url"].startswith("https://") for r in rows)
    assert any(r["webhook_url"] for r in rows) and any(not r["webhook_url"] for r in rows)


def test_hotline_records(drop, regions, damage):
    out, _ = drop
    bad, n, weeks = 0, 0, set()
    for path in sorted((out / "hotline").rglob("calls-*")):
        for line in _calls(path):
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            n += 1
            assert list(rec) == CALL_FIELDS
            assert isinstance(rec["call_id"], str) and rec["line"] in ("12348", "12345")
            assert ISO.match(rec["started_at"]) and ISO.match(rec["updated_at"]) and rec["updated_at"] >= rec["started_at"]
            assert isinstance(rec["duration_sec"], int) and rec["duration_sec"] > 0
            assert isinstance(rec["caller_number"], str)
            assert rec["caller_name"] is None or isinstance(rec["caller_name"], str)
            assert rec["region_code"] is None or rec["region_code"] in regions
            assert rec["request_type"] in ("咨询", "求助", "投诉", "举报", "建议")
            assert rec["satisfaction"] is None or rec["satisfaction"] in (1, 2, 3, 4, 5)
            assert rec["work_order_id"] is None or isinstance(rec["work_order_id"], str)
            assert rec["transcript"] and all(set(t) == {"speaker", "text"} and t["speaker"] in ("坐席", "来电人")
                                             and isinstance(t["text"], str) for t in rec["transcript"])
            weeks.add((dt.date.fromisoformat(rec["started_at"][:10]) - START).days // 7)
    assert n > 3000
    assert bad <= _damaged(damage, "hotline", "truncated")
    assert weeks >= set(range(WEEKS)), "every requested week has calls"


def _csv_rows(data: bytes, enc: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(enc), newline="")))


def test_workorders(drop, regions, damage):
    out, _ = drop
    n, stray, short = 0, 0, 0
    for path in sorted((out / "workorders").rglob("orders-*.csv")):
        if path.stat().st_size == 0:
            continue  # an empty delivery
        rows = _csv_rows(path.read_bytes(), "utf-8")
        assert rows[0] == ORDER_HEADER, path
        for r in rows[1:]:
            if r == ORDER_HEADER:
                stray += 1
                continue
            if len(r) != len(ORDER_HEADER):
                short += 1
                continue
            o = dict(zip(ORDER_HEADER, r))
            n += 1
            assert o["channel"] in ("热线", "网络", "窗口", "移动端") and o["urgency"] in ("一般", "紧急", "特急")
            assert o["status"] in ("受理", "分派", "办理中", "退回", "办结") and o["is_repeat"] in ("true", "false")
            assert re.fullmatch(r"[^/]+/[^/]+", o["category"])
            assert ISO.match(o["created_at"]) and ISO.match(o["updated_at"]) and ISO.match(o["due_at"])
            assert (o["closed_at"] != "") == (o["status"] == "办结")
            assert o["satisfaction"] in ("", "1", "2", "3", "4", "5") and (o["satisfaction"] == "" or o["closed_at"])
            assert o["region_code"] in regions or o["region_code"] == ""
            assert (o["repeat_of"] != "") == (o["is_repeat"] == "true")
            assert (o["channel"] == "热线") == (o["call_id"] != "")
    assert n > 3000
    assert stray <= _damaged(damage, "orders", "stray header")
    assert short <= _damaged(damage, "orders", "truncated")


def _check_case(c: dict, regions) -> bool:
    """True when the case follows the contract (the damaged ones are counted by the caller)."""
    ok = c["纠纷类型"] in TYPES and c["行政区划代码"] in regions and _is_date(c["受理日期"])
    assert c["纠纷来源"] in ("主动排查", "当事人申请", "热线转办", "法院委派", "公安移交", "信访转办", "其他")
    assert _is_date(c["发生日期"]) and str(c["当事人数"]).isdigit()
    amount = str(c["涉案金额"] or "")
    assert amount == "" or re.fullmatch(r"\d+|\d{1,3}(,\d{3})*\.\d\d|\d+(\.\d)?万", amount), amount
    assert all(c[k] in ("是", "否", "", None) for k in ("涉及农民工", "民转刑倾向", "群体性倾向"))
    assert c["调解结果"] in ("调解成功", "调解不成功", "调解中", "终止") and c["案件状态"] in ("已受理", "调解中", "已结案", "已回访")
    return ok


def test_mediation(drop, regions, damage):
    out, _ = drop
    n, bad, xlsx = 0, set(), 0
    for path in sorted((out / "mediation").rglob("cases-*")):
        if path.stat().st_size == 0:
            continue
        if path.suffix == ".xlsx":
            ws = openpyxl.load_workbook(path, read_only=True).active
            rows = [["" if v is None else v for v in row] for row in ws.iter_rows(values_only=True)]
            xlsx += 1
        else:
            rows = _csv_rows(path.read_bytes(), "gb18030")
        assert list(rows[0]) == MED_HEADER, path
        for r in rows[1:]:
            if list(r) == MED_HEADER or len(r) != len(MED_HEADER):
                continue  # stray header or truncated last line: counted in damage.csv
            n += 1
            if not _check_case(dict(zip(MED_HEADER, r)), regions):
                bad.add(r[0])  # a damaged case is damaged in each of its snapshots
    assert n > 500 and xlsx > 0
    assert len(bad) <= len([d for d in damage if d["feed"] == "mediation"])


def test_ready_rules(drop):
    out, summary = drop
    end = dt.date.fromisoformat(summary["end"])
    for feed in ("hotline", "workorders", "mediation"):
        for folder in sorted((out / feed).iterdir()):
            ready = folder / "_READY"
            if ready.exists():
                assert ready.stat().st_size == 0
                continue
            day = dt.date.fromisoformat(folder.name)
            if (end - day).days < 2:
                continue  # the newest days are still being exported
            # a folder that never became ready was re-delivered the next day under other batch names
            nxt = out / feed / (day + dt.timedelta(days=1)).isoformat()
            assert (nxt / "_READY").exists(), folder
            sizes = sorted(f.stat().st_size for f in folder.iterdir() if f.stat().st_size)
            later = sorted(f.stat().st_size for f in nxt.iterdir())
            assert all(s in later for s in sizes), folder


def test_truth(drop, regions):
    out, summary = drop
    with open(out / "truth" / "episodes.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["episode_id", "region_code", "dispute_type", "start_week", "peak_week", "end_week", "kind"]
    assert len({r["episode_id"] for r in rows}) == len(rows)
    assert {r["kind"] for r in rows} <= set(KINDS)
    last = START + dt.timedelta(weeks=WEEKS - 1)
    for r in rows:
        weeks = [dt.date.fromisoformat(r[k]) for k in ("start_week", "peak_week", "end_week")]
        assert all(w.weekday() == 0 and START <= w <= last for w in weeks) and weeks[0] <= weeks[1] <= weeks[2], r
        assert r["region_code"] in regions and regions[r["region_code"]]["level"] in ("township", "county", "city")
        assert r["dispute_type"] == "" or r["dispute_type"] in TYPES
    esc = [r for r in rows if r["kind"] == "escalation"]
    assert len(esc) >= 2 and all(regions[r["region_code"]]["level"] == "township" and r["dispute_type"] for r in esc)
    assert (out / "truth" / "README.md").read_text(encoding="utf-8").strip()
    assert summary["episodes"]["escalation"] == len(esc)


def test_escalations_show_before_their_peak(drop):
    """Summed over escalation rows, calls from returning callers (same number, same township, within 4 weeks) are
    more frequent in the build-up weeks than in the township's other weeks."""
    out, _ = drop
    with open(out / "truth" / "episodes.csv", encoding="utf-8", newline="") as f:
        esc = [r for r in csv.DictReader(f) if r["kind"] == "escalation"]
    calls = {}
    for path in (out / "hotline").rglob("calls-*"):
        for line in _calls(path):
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            calls[rec["call_id"]] = rec
    last: dict[tuple[str, str], int] = {}
    returning: dict[tuple[str, int], int] = {}
    for rec in sorted(calls.values(), key=lambda r: r["started_at"]):
        code = (rec["region_code"] or "")[:9] + "000"
        wk = (dt.date.fromisoformat(rec["started_at"][:10]) - START).days // 7
        key = (code, rec["caller_number"])
        if key in last and wk - last[key] <= 4:
            returning[(code, wk)] = returning.get((code, wk), 0) + 1
        last[key] = wk
    build, usual = 0.0, 0.0
    for r in esc:
        s, p, e = ((dt.date.fromisoformat(r[k]) - START).days // 7 for k in ("start_week", "peak_week", "end_week"))
        inside = [returning.get((r["region_code"], w), 0) for w in range(s, p + 1)]
        outside = [returning.get((r["region_code"], w), 0) for w in range(WEEKS) if not s - 1 <= w <= e + 4]
        build += sum(inside) / len(inside)
        usual += sum(outside) / max(1, len(outside))
    assert build > 1.5 * usual


def test_damage_is_small(drop, damage):
    _, summary = drop
    records = sum(summary["records"].values())
    assert 0 < len(damage) < 0.01 * records


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_world(tmp_path):
    a = simulate(tmp_path / "a", seed=11, scale="small", weeks=4)
    simulate(tmp_path / "b", seed=11, scale="small", weeks=4)
    c = simulate(tmp_path / "c", seed=12, scale="small", weeks=4)
    da, db, dc = (_digest(tmp_path / x) for x in "abc")
    assert da == db and len(da) > 50
    assert da["truth/episodes.csv"] != dc["truth/episodes.csv"] or a["records"] != c["records"]
    data_a = {k: v for k, v in da.items() if k.split("/")[0] in ("hotline", "workorders", "mediation") and "_READY" not in k}
    other = set(dc.values())
    assert sum(1 for v in data_a.values() if v not in other) > 0.9 * len(data_a)  # another seed, other records


def test_arguments(tmp_path):
    with pytest.raises(ValueError, match="scale"):
        simulate(tmp_path / "x", seed=1, scale="province")
    s = simulate(tmp_path / "w", seed=2, scale="small", weeks=1, start=dt.date(2025, 3, 5))  # a Wednesday
    assert s["start"] == "2025-03-03" and s["weeks"] == 1
    assert sorted(p.name for p in (tmp_path / "w" / "hotline").iterdir())[0] == "2025-03-03"
    with open(tmp_path / "w" / "truth" / "episodes.csv", encoding="utf-8", newline="") as f:
        assert all(r[k] == "2025-03-03" for r in csv.DictReader(f) for k in ("start_week", "peak_week", "end_week"))


def test_masking_forms_planted(drop):
    """A few percent of calls and orders carry personal data in a form that defeats plain rules, each listed in
    truth/masking_forms.csv; a share of those calls is exported as ASCII-only JSON."""
    from fengqiao.contract_world.phrasing import MASKING_FORMS

    out, summary = drop
    with open(out / "truth" / "masking_forms.csv", encoding="utf-8", newline="") as f:
        forms = list(csv.DictReader(f))
    assert {r["form"] for r in forms} == set(MASKING_FORMS) and {r["feed"] for r in forms} == {"hotline", "workorders"}
    calls = [r for r in forms if r["feed"] == "hotline"]
    assert 0.01 < len(calls) / summary["records"]["hotline"] < 0.05
    lines = [line for p in sorted((out / "hotline").rglob("calls-*")) for line in _calls(p)]
    said = []
    for line in lines:
        try:
            said += [t["text"] for t in json.loads(line)["transcript"]]
        except json.JSONDecodeError:
            pass  # a damaged line
    said = "".join(said)
    assert all(r["value"] in said for r in calls)
    orders = "".join(p.read_text(encoding="utf-8", errors="ignore") for p in (out / "workorders").rglob("*.csv"))
    assert all(r["value"] in orders for r in forms if r["feed"] == "workorders")
    assert any("\\u" in line for line in lines)
    numbers = [r["digits"] for r in forms if r["digits"]]
    assert numbers and all(re.fullmatch(r"1[3-9]\d{9}|0734\d{7}|\d{17}[\dX]", d) for d in numbers)
