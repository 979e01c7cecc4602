"""Silver jobs: tiny raw frames through the pure clean_* functions, and one run over a built drop."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from drop_builder import PII, REGIONS, case, order, write_drop
from silver_frames import call, csv_raw, hotline_raw
from fengqiao.core.settings import Settings
from fengqiao.lake import Lake
from fengqiao.lake.quarantine import read_quarantine
from fengqiao.core.schemas import HOTLINE_CALLS, MEDIATION_CASES, QUARANTINE, WORK_ORDERS
from jobs.silver import hotline_calls as H
from jobs.silver import mediation_cases as M
from jobs.silver import quarantine as Q
from jobs.silver import work_orders as W
from jobs.silver.parsing import parse_amount, parse_cn_date, parse_yes_no, week_of
from jobs.bronze.land_drops import land_drops

KEY = "test-key"


@pytest.fixture(scope="module")
def regions(spark):
    return spark.createDataFrame([(r[0], r[1], r[2]) for r in REGIONS], "code string, name string, level string")


def _shanghai(*parts) -> dt.datetime:
    """A Shanghai wall-clock time as the naive local datetime Spark's collect() returns."""
    return dt.datetime(*parts, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone().replace(tzinfo=None)


def _types(schema: T.StructType) -> list[tuple[str, str]]:
    return [(f.name, f.dataType.simpleString()) for f in schema.fields]


def _codes(rows) -> list[str]:
    return sorted(r["reason"].split(" | ")[0] for r in rows)


def _assert_no_pii(rows):
    text = "\n".join(str(row.asDict().values()) for row in rows)
    for value in (PII["caller_phone"], PII["caller_name"], PII["id_number"], PII["bank_card"], PII["street"],
                  "李秀英", "王强", PII["party_phone"], PII["mediator"], "1234-5678"):
        assert value not in text, value


def test_clean_hotline_calls(spark, regions):
    raw = hotline_raw(spark, [
        call("C1"),
        call("C1", updated="2025-03-05T10:00:00+08:00", topic="老板拖欠工资", source="bronze/hotline/x/b.jsonl"),
        call("C1", updated="2025-03-05T10:00:00+08:00", topic="老板拖欠工资", source="bronze/hotline/x/c.jsonl"),
        call("C2", region=None, address=f"{PII['street']}千佛山街道"),
        call("C3", region="3701"), call("C4", region="370199001001"),
        call("C5", region=None, address="不知道"), call("C6", started="2025-02-30T25:00:00+08:00"),
        (None,) * 14 + (f'{{"call_id": "C7", "caller_name": "{PII["caller_name"]}", "caller_nu', "f", None),
        # A correction that no township can be found for is quarantined; the placed version stays.
        call("C8", topic="邻居噪音"), call("C8", region=None, address="不知道", updated="2025-03-06T10:00:00+08:00"),
    ])
    silver, quarantine = H.clean_hotline_calls(raw, regions, KEY)
    collected = silver.collect()
    rows = {r["call_id"]: r for r in collected}
    assert set(rows) == {"C1", "C2", "C8"}
    assert rows["C8"]["region_code"] == "370102001001" and rows["C8"]["updated_at"] == _shanghai(2025, 3, 3, 10, 0)
    assert rows["C1"]["updated_at"] == _shanghai(2025, 3, 5, 10, 0)  # session time zone Asia/Shanghai
    assert rows["C1"]["source_file"] == "bronze/hotline/x/c.jsonl"   # tie on updated_at: later file wins
    assert rows["C1"]["dispute_type"] == "劳动争议" and rows["C1"]["is_wage_arrears"]
    assert rows["C1"]["has_escalation_terms"] and rows["C1"]["satisfaction"] is None  # 9 is out of 1-5
    assert rows["C1"]["week_start"] == dt.date(2025, 3, 3) and rows["C1"]["duration_sec"] == 65
    assert rows["C1"]["transcript_text"].startswith("坐席:您好\n来电人:我叫[姓名]，电话[电话]")
    assert rows["C1"]["caller_key"] == hmac.new(KEY.encode(), PII["caller_phone"].encode(), hashlib.sha256).hexdigest()
    assert (rows["C2"]["region_code"], rows["C2"]["county_code"]) == ("370102002000", "370102000000")
    assert _types(silver.schema) == _types(HOTLINE_CALLS)
    assert _types(quarantine.schema) == _types(QUARANTINE)
    rejected = quarantine.collect()
    assert _codes(rejected) == ["invalid_region_code", "malformed_record", "missing_region_code",
                                "missing_region_code", "unknown_region_code", "unparseable_date:started_at"]
    _assert_no_pii(collected)
    _assert_no_pii(rejected)


def test_clean_work_orders(spark, regions):
    src = "bronze/workorders/2025-03-03/o.csv"
    raw = csv_raw(spark, W.COLUMNS, [
        (order("W1"), None),
        (order("W1", updated="2025-03-06T09:00:00+08:00", status="办结"), None),
        (order("W2", category="城乡建设/物业收费"), None),
        (order("W5", category="其他/新类") [:6] + ["隔壁装修噪音太大"] + order("W5")[7:], None),
        (W.COLUMNS, None),                                     # stray header row
        (order("W3"), "W3,...,extra"),                          # malformed (extra column)
        (order("W4", created="2025/3/3"), None),                # not ISO 8601
        (order("", region="370102002000"), None),               # no order_id
    ], src)
    silver, quarantine = W.clean_work_orders(raw, regions)
    collected = silver.collect()
    rows = {r["order_id"]: r for r in collected}
    assert set(rows) == {"W1", "W2", "W5"}
    assert rows["W1"]["status"] == "办结" and rows["W1"]["is_wage_arrears"] and rows["W1"]["dispute_type"] == "劳动争议"
    assert rows["W2"]["dispute_type"] == "物业"
    assert rows["W5"]["dispute_type"] == "环境污染"  # category unknown: keyword rules on the summary
    assert rows["W1"]["is_repeat"] is False and rows["W1"]["closed_at"] is None
    assert rows["W1"]["summary"] == "[姓名]反映工资没发，电话[电话]"
    assert _types(silver.schema) == _types(WORK_ORDERS)
    rejected = quarantine.collect()
    assert _codes(rejected) == ["malformed_record", "missing_required_field:order_id", "stray_header_row",
                       "unparseable_date:created_at"]
    _assert_no_pii(collected)
    _assert_no_pii(rejected)


def test_clean_mediation_cases(spark, regions):
    src = "bronze/mediation/2025-03-04/c.csv"
    no_phone = case("M8", accepted="2025-3-4")
    no_phone[17] = ""
    raw = csv_raw(spark, M.COLUMNS, [
        (case("M1", accepted="2025年3月4日", amount="1.2万"), None),
        (case("M1", accepted="2025年3月4日", updated="2025年3月6日 9:05"), None),
        (case("M2", accepted="2025/3/4", amount="1,200.50", dtype="邻里", region="370102001001"), None),
        (case("M3", accepted="20250310", amount=""), None),
        (case("M4", amount="很多"), None), (case("M5", dtype="打架"), None), (case("M6", accepted="三月"), None),
        (case("M7", region="370102009000"), None), (no_phone, None), (M.COLUMNS, None),
    ], src)
    silver, quarantine = M.clean_mediation_cases(raw, regions, KEY)
    collected = silver.collect()
    rows = {r["case_id"]: r for r in collected}
    assert set(rows) == {"M1", "M2", "M3", "M8"}
    assert rows["M1"]["updated_at"] == _shanghai(2025, 3, 6, 9, 5) and rows["M1"]["amount_yuan"] == 12000.0
    assert rows["M2"]["amount_yuan"] == 1200.5 and rows["M2"]["accepted_date"] == dt.date(2025, 3, 4)
    assert rows["M3"]["amount_yuan"] is None and rows["M3"]["week_start"] == dt.date(2025, 3, 10)
    assert rows["M1"]["occurred_date"] == dt.date(2025, 3, 1) and rows["M1"]["party_count"] == 12
    assert (rows["M1"]["involves_migrant_workers"], rows["M1"]["criminal_tendency"]) == (True, False)
    assert rows["M1"]["summary"].startswith("[姓名]等十二名农民工") and rows["M1"]["has_escalation_terms"]
    digest = lambda v: hmac.new(KEY.encode(), v.encode(), hashlib.sha256).hexdigest()  # noqa: E731
    assert rows["M1"]["party_key"] == digest(PII["party_phone"])
    assert rows["M8"]["party_key"] == digest("李秀英")  # no phone: the first party's name
    assert rows["M1"]["mediator_key"] == digest(PII["mediator"])
    assert _types(silver.schema) == _types(MEDIATION_CASES)
    rejected = quarantine.collect()
    assert _codes(rejected) == ["stray_header_row", "unknown_dispute_type", "unknown_region_code", "unparseable_amount",
                       "unparseable_date:受理日期"]
    _assert_no_pii(collected)
    _assert_no_pii(rejected)


def test_parsers(spark):
    df = spark.createDataFrame([("2025-03-04", "12000", "是"), ("2025/3/4", "1,200.50", "否"),
                                ("2025年3月4日", "1.2万", ""), ("20250304", None, None), ("2025-3-4 8:30", "x", "x")],
                               "d string, a string, b string")
    out = df.select(parse_cn_date(F.col("d")).alias("d"), parse_amount(F.col("a")).alias("a"),
                    parse_yes_no(F.col("b")).alias("b"), week_of(parse_cn_date(F.col("d"))).alias("w")).collect()
    assert {r["d"] for r in out} == {dt.date(2025, 3, 4)} and {r["w"] for r in out} == {dt.date(2025, 3, 3)}
    assert [r["a"] for r in out] == [12000.0, 1200.5, 12000.0, None, None]
    assert [r["b"] for r in out] == [True, False, None, None, None]


def test_run_on_a_drop(spark, tmp_path):
    source, lake = write_drop(tmp_path / "drop"), Lake.at(tmp_path / "lake")
    land_drops(source, lake, log=lambda _: None)
    counts = {job.TABLE: job.run(spark, lake, Settings.from_env()) for job in (H, W)}
    counts[M.TABLE] = M.run(spark, lake, Settings.from_env(), validate=True)  # audited in staging before it is published
    assert counts["hotline_calls"]["rows"] == 2      # C1 (corrected, from the .gz) and C2 (placed by address)
    assert counts["hotline_calls"]["quarantine_reasons"]["malformed_record"] == 1  # truncated last line
    assert counts["work_orders"]["rows"] == 4        # W1 (newest), W2, W5, W6 (drifted header); empty file: none
    assert counts["work_orders"]["quarantine_reasons"] == {
        "stray_header_row": 1, "malformed_record": 1, "unparseable_date:created_at": 1}
    assert counts["mediation_cases"]["rows"] == 5    # GB18030 CSV, the .xlsx and a UTF-8 CSV (M8)
    assert counts["mediation_cases"]["quarantine_reasons"]["unreadable_file"] == 1
    hotline = spark.read.parquet(str(lake.silver("hotline_calls")))
    assert {r["source_file"] for r in hotline.collect()} == {
        "bronze/hotline/2025-03-04/calls-b.jsonl.gz", "bronze/hotline/2025-03-03/calls-a.jsonl"}
    mediation = spark.read.parquet(str(lake.silver("mediation_cases")))
    assert mediation.where(F.col("case_id") == "M7").select("source_file").first()[0].endswith("cases-2.xlsx")
    assert mediation.where(F.col("case_id") == "M8").select("summary").first()[0] == "双方因院墙起争执，\n多次调解未果"
    orders = spark.read.parquet(str(lake.silver("work_orders")))
    assert orders.where(F.col("order_id") == "W6").select("channel").first()[0] is None
    assert (lake.silver("work_orders") / "week_start=2025-03-03").is_dir()
    quarantine = read_quarantine(spark, lake)
    assert Q.run(spark, lake)["workorders"] == counts["work_orders"]["quarantine_reasons"]
    assert _types(quarantine.schema) == _types(QUARANTINE)
    for df in (hotline, mediation, orders, quarantine):
        _assert_no_pii(df.collect())
    assert not any(str(Path(tmp_path)) in str(r) for r in quarantine.select("source_file").collect())


def test_township_by_address_longest_name_then_lower_code(spark):
    regions = spark.createDataFrame([
        ("370102001000", "解放路街道", "township"), ("370102002000", "解放街道", "township"),
        ("370112100000", "港沟镇", "township"), ("370112200000", "港沟镇", "township"),
        ("370102000000", "历下区", "county"), ("370102003000", "", "township"),
    ], "code string, name string, level string")
    df = spark.createDataFrame([("a", "历下区解放街道旁解放路街道12号"), ("b", "港沟镇政府对面"), ("c", "历下区某处"),
                                ("d", None)], "id string, address string")
    got = {r["id"]: r["t"] for r in df.select("id", H.township_by_address(F.col("address"), regions).alias("t")).collect()}
    # the longer name wins wherever it stands; equal names go to the lower code; a county or an empty name is no match
    assert got == {"a": "370102001000", "b": "370112100000", "c": None, "d": None}
