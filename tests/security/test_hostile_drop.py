"""One hostile record never stops a feed: it is quarantined with a reason, the good records beside it publish.

A small drop whose files mix good records (some with script tags, spreadsheet formulas, NUL and CRLF in
their free text, a 1 MB transcript, a UTF-8 byte-order mark) with bad ones (a wrong type, an 11-digit
region code, a call dated 2099, a call longer than a day, an order closed before it was opened, a status
outside the contract). The silver jobs audit before they publish (write-audit-publish): the audit passes,
and a second run changes nothing.
"""
from __future__ import annotations

import json

from pyspark.sql import functions as F

from drop_builder import PII, REGIONS, WO_HEADER, _csv, _write_day, call, order
from fengqiao.core.settings import Settings
from fengqiao.lake import Lake, tree_fingerprint
from fengqiao.lake.quarantine import read_quarantine
from jobs.silver import hotline_calls as H
from jobs.silver import work_orders as W
from jobs.bronze.land_drops import land_drops

DAY = "2025-03-03"
FORMULAS = ['=HYPERLINK("http://example.org/x","点我")', "+cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0",
            "-2+3+cmd|' /C calc'!A0"]
LONG_TEXT = "欠薪" * (1 << 19)  # 1 Mi characters, 3 MB of UTF-8
ORDINARY_CALLS = 3000


def _hostile_calls() -> bytes:
    good = [call("G1"), call("G2", topic="<script>alert(1)</script>欠薪"), call("G3", topic=FORMULAS[0]),
            call("G4", topic=FORMULAS[1]), call("G5", topic=FORMULAS[2]),
            call("G6", topic="楼上\u0000漏水\r\n第二行\r第三行"), call("G7", text=LONG_TEXT)]
    good += [call(f"N{i}") for i in range(ORDINARY_CALLS)]  # the hostile lines sit among thousands of ordinary ones
    bad = [dict(call("B1"), duration_sec="很长"),          # wrong type
           call("B2", region="37010200100"),              # 11 digits
           call("B3", started="2099-01-01T09:00:00+08:00"),  # far future
           dict(call("B4"), duration_sec=90_000)]         # longer than a day
    lines = [json.dumps(r, ensure_ascii=False) for r in good + bad]
    return "\ufeff".encode() + "\n".join(lines).encode("utf-8") + b"\n"  # a BOM before the first record


def _hostile_orders() -> bytes:
    w2, w3 = order("W2"), order("W3")
    w2[6] = FORMULAS[0]
    w3[6] = FORMULAS[3] + "\r\n第二行\u0000"
    w5 = order("W5", created="2099-01-01T09:00:00+08:00")
    w6 = order("W6")
    w6[11] = "2025-03-01T09:00:00+08:00"   # closed before it was created
    rows = [WO_HEADER, order("W1"), w2, w3, order("W4", region="37010200200"), w5, w6, order("W7", status="已删除")]
    return _csv(rows, "utf-8")


def _write_hostile_drop(root):
    regions = [["code", "name", "level", "parent_code", "lat", "lon", "population"]] + [list(r) for r in REGIONS]
    (root / "reference").mkdir(parents=True)
    (root / "reference" / "regions.csv").write_bytes(_csv(regions, "utf-8"))
    _write_day(root, "hotline", DAY, {"calls-h.jsonl": _hostile_calls()})
    _write_day(root, "workorders", DAY, {"orders-h.csv": _hostile_orders()})
    return root


def _state(lake: Lake) -> tuple:
    return tuple(tree_fingerprint(p) for p in (lake.silver("hotline_calls"), lake.silver("work_orders"),
                                                lake.quarantine))


def test_hostile_records_are_quarantined_and_the_good_ones_published(spark, tmp_path):
    source, lake = _write_hostile_drop(tmp_path / "drop"), Lake.at(tmp_path / "lake")
    land_drops(source, lake, log=lambda _: None)
    # validate=True: each table is audited with its suite before it is published; a failure would raise.
    calls = H.run(spark, lake, Settings.from_env(), validate=True)
    orders = W.run(spark, lake, Settings.from_env(), validate=True)

    assert calls["quarantine_reasons"] == {"unparseable_integer:duration_sec": 1, "invalid_region_code": 1,
                                           "out_of_range:started_at": 1, "out_of_range:duration_sec": 1}
    assert orders["quarantine_reasons"] == {"invalid_region_code": 1, "out_of_range:created_at": 1,
                                            "order_violation:closed_at": 1, "not_in_allowed_set:status": 1}
    hotline = {r["call_id"]: r for r in spark.read.parquet(str(lake.silver("hotline_calls"))).collect()}
    # Every good record is published, G1 (right after the BOM) and the 3,000 ordinary calls included.
    assert set(hotline) == {f"G{i}" for i in range(1, 8)} | {f"N{i}" for i in range(ORDINARY_CALLS)}
    assert hotline["G2"]["topic"].startswith("<script>") and hotline["G3"]["topic"] == FORMULAS[0]
    assert hotline["G6"]["topic"] == "楼上漏水\n第二行\n第三行"  # no NUL, no CR
    assert len(hotline["G7"]["transcript_text"]) > (1 << 20)
    work = {r["order_id"]: r for r in spark.read.parquet(str(lake.silver("work_orders"))).collect()}
    assert set(work) == {"W1", "W2", "W3"}
    assert work["W2"]["summary"] == FORMULAS[0] and work["W3"]["summary"] == FORMULAS[3] + "\n第二行"

    rejected = read_quarantine(spark, lake).where(F.col("feed").isin("hotline", "workorders")).collect()
    assert len(rejected) == 8 and all(r["line_no"] is not None for r in rejected)
    leaked = [PII["id_number"], PII["bank_card"], PII["caller_name"], "13812345678"]
    assert not [r for r in rejected for value in leaked if value in (r["raw_masked"] or "")]

    before = _state(lake)
    again = (H.run(spark, lake, Settings.from_env(), validate=True), W.run(spark, lake, Settings.from_env(), validate=True))
    assert [a["new_files"] for a in again] == [0, 0]
    assert _state(lake) == before
