"""A tiny drop in the source contract's layout, formats and encodings, for tests.

Two counties, three townships; a few records per feed including broken ones and personal data.
``PII`` lists the personal strings planted so tests can assert none reaches silver.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

PII = {
    "caller_phone": "13812345678",
    "caller_name": "张伟",
    "id_number": "37010219900101123X",
    "bank_card": "6222021234567890123",
    "street": "经十路17923号",
    "party_names": "李秀英、王强",
    "party_phone": "13912345678",
    "mediator": "赵调解",
}

REGIONS = [
    ("370000000000", "山东省", "province", "", 36.67, 117.02, ""),
    ("370100000000", "济南市", "city", "370000000000", 36.65, 117.12, "9410000"),
    ("370102000000", "历下区", "county", "370100000000", 36.67, 117.08, "800000"),
    ("370102001000", "解放路街道", "township", "370102000000", 36.67, 117.03, "60000"),
    ("370102002000", "千佛山街道", "township", "370102000000", 36.64, 117.04, "50000"),
    ("370102001001", "历山社区", "village", "370102001000", 36.67, 117.03, "3000"),
    ("370112000000", "历城区", "county", "370100000000", 36.68, 117.07, "1100000"),
    ("370112100000", "港沟镇", "township", "370112000000", 36.62, 117.17, "70000"),
]

WO_HEADER = ["order_id", "created_at", "channel", "call_id", "region_code", "category", "summary", "urgency",
             "status", "assigned_unit", "due_at", "closed_at", "is_repeat", "repeat_of", "satisfaction",
             "updated_at"]
MED_HEADER = ["案件编号", "纠纷类型", "纠纷来源", "行政区划代码", "受理日期", "发生日期", "当事人数", "涉案金额",
              "涉及农民工", "民转刑倾向", "群体性倾向", "调解组织", "调解员", "调解结果", "案件状态", "纠纷简介",
              "当事人姓名", "当事人电话", "更新时间"]


def call(call_id: str, region: str | None = "370102001001", updated: str = "2025-03-03T10:00:00+08:00",
         started: str = "2025-03-03T09:15:22+08:00", topic: str = "工地老板欠薪", address: str | None = None,
         text: str | None = None) -> dict:
    return {
        "call_id": call_id, "line": "12348", "started_at": started, "duration_sec": 180,
        "caller_number": "+86 138-1234-5678", "caller_name": PII["caller_name"], "region_code": region,
        "address_text": address, "request_type": "求助", "topic": topic,
        "transcript": [
            {"speaker": "坐席", "text": "您好，12348法律服务热线。"},
            {"speaker": "来电人", "text": text or (
                f"我叫{PII['caller_name']}，住{PII['street']}3号楼2单元501室，身份证{PII['id_number']}，"
                f"老板三个月工资没发，再不给我们就集体上访。卡号{PII['bank_card']}")},
        ],
        "satisfaction": 4, "work_order_id": None, "updated_at": updated,
    }


def order(order_id: str, created: str = "2025-03-03T11:00:00+08:00", region: str = "370102002000",
          category: str = "劳动社保/欠薪", updated: str = "2025-03-03T12:00:00+08:00", status: str = "受理") -> list:
    return [order_id, created, "热线", "C1", region, category,
            f"{PII['caller_name']}反映工资没发，电话{PII['caller_phone']}", "紧急", status, "历下区人社局",
            "2025-03-10T11:00:00+08:00", "", "false", "", "", updated]


def case(case_id: str, accepted: str = "2025年3月4日", amount: str = "1.2万", dtype: str = "劳动争议",
         region: str = "370112100000", updated: str = "2025/3/4 10:30") -> list:
    return [case_id, dtype, "当事人申请", region, accepted, "20250301", "12", amount, "是", "否", "是",
            "港沟镇人民调解委员会", PII["mediator"], "调解中", "调解中",
            f"{PII['party_names'].split('、')[0]}等十二名农民工被拖欠工资，情绪激动扬言堵路", PII["party_names"],
            f"{PII['party_phone']}、13700000000", updated]


def _write_day(root: Path, feed: str, day: str, files: dict[str, bytes], ready: bool = True) -> None:
    folder = root / feed / day
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_bytes(content)
    if ready:
        (folder / "_READY").write_bytes(b"")


def _jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def _csv(rows: list[list], encoding: str) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def write_drop(root: Path) -> Path:
    """Write the drop under ``root`` and return it."""
    root = Path(root)
    (root / "reference").mkdir(parents=True, exist_ok=True)
    regions = [["code", "name", "level", "parent_code", "lat", "lon", "population"]] + [list(r) for r in REGIONS]
    (root / "reference" / "regions.csv").write_bytes(_csv(regions, "utf-8"))
    (root / "reference" / "bureaus.csv").write_bytes(_csv(
        [["region_code", "unit_name", "email", "webhook_url"],
         ["370102000000", "历下区司法局", "lixia@example.org", ""]], "utf-8"))

    day1 = _jsonl([
        call("C1"),
        call("C2", region=None, address="千佛山街道某小区门口", topic="楼上漏水"),
        call("C3", region="37010"),                          # invalid region code
        call("C4", region="370199001001"),                   # unknown township
        call("C5", region=None, address="不知道在哪"),        # cannot be placed
        call("C6", started="昨天上午"),                        # unparseable date
    ]) + b'{"call_id": "C7", "caller_name": "' + PII["caller_name"].encode() + b'", "caller_number": "139'
    _write_day(root, "hotline", "2025-03-03", {"calls-a.jsonl": day1})
    # The same batch again under another name, and a correction of C1 (newer updated_at), gzipped.
    _write_day(root, "hotline", "2025-03-04", {
        "calls-a-resent.jsonl": day1,
        "calls-b.jsonl.gz": gzip.compress(_jsonl([call("C1", updated="2025-03-04T08:00:00+08:00",
                                                       topic="欠薪已解决一半")]), mtime=0),
    })
    _write_day(root, "hotline", "2025-03-05", {"calls-c.jsonl": _jsonl([call("C9")])}, ready=False)

    orders = [WO_HEADER, order("W1"), order("W1", updated="2025-03-05T09:00:00+08:00", status="办结"),
              order("W2", category="城乡建设/物业收费"), WO_HEADER,           # stray header row
              order("W3") + ["extra"],                                     # extra trailing column
              order("W4", created="2025-13-45"),                            # unparseable date
              order("W5", category="新类别/未知")]                           # keyword rules decide
    _write_day(root, "workorders", "2025-03-03", {"orders-1.csv": _csv(orders, "utf-8"), "orders-2.csv": b""})
    # A later export dropped the channel column and added one of its own: read by header names.
    drifted = [[c for c in WO_HEADER if c != "channel"] + ["remark"],
               [v for c, v in zip(WO_HEADER, order("W6")) if c != "channel"] + ["备注"]]
    _write_day(root, "workorders", "2025-03-04", {"orders-3.csv": _csv(drifted, "utf-8")})

    cases = [MED_HEADER, case("M1"), case("M1", updated="2025-03-06 09:00:00"),
             case("M2", accepted="2025-03-04", amount="1,200.50", dtype="邻里", region="370102001001"),
             case("M3", accepted="20250305", amount=""), case("M4", accepted="2025/3/4", amount="很多"),
             case("M5", dtype="打架"), case("M6", accepted="三月四日")]
    _write_day(root, "mediation", "2025-03-04", {"cases-1.csv": _csv(cases, "gb18030")})
    multiline = case("M8", accepted="2025-03-05")
    multiline[15] = "双方因院墙起争执，\n多次调解未果"  # a hand-typed line break inside a quoted field
    _write_day(root, "mediation", "2025-03-05", {
        "cases-2.xlsx": _xlsx([MED_HEADER, case("M7", accepted="2025-03-05")]),
        "cases-3.csv": _csv([MED_HEADER, multiline], "utf-8"),     # the wrong encoding (UTF-8)
        "cases-4.csv": "编号;类型\nX;Y\n".encode("utf-16"),        # unreadable: no known header
    })

    (root / "truth").mkdir(exist_ok=True)
    (root / "truth" / "episodes.csv").write_text(
        "episode_id,region_code,dispute_type,start_week,peak_week,end_week,kind\n", encoding="utf-8")
    return root


def _xlsx(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --- later deliveries (incremental ingestion tests) ----------------------------------------------

def write_later_days(root: Path) -> Path:
    """Day folders after write_drop's: corrections with a later updated_at, records moved to another week.

    - workorders/2025-03-06: W1 again, newer than both of its 2025-03-03 versions (status 退回);
    - hotline/2025-03-10: C1 corrected again; C2 with its call moved to the week of 2025-03-10;
    - workorders/2025-03-10: W2 closed; mediation/2025-03-10: M2 with 受理日期 moved to 2025-03-10.
    """
    root = Path(root)
    _write_day(root, "workorders", "2025-03-06", {"orders-5.csv": _csv(
        [WO_HEADER, order("W1", updated="2025-03-06T09:00:00+08:00", status="退回")], "utf-8")})
    _write_day(root, "hotline", "2025-03-10", {"calls-d.jsonl": _jsonl([
        call("C1", updated="2025-03-10T08:00:00+08:00", topic="欠薪已经解决"),
        call("C2", region=None, address="千佛山街道某小区门口", topic="楼上漏水",
             started="2025-03-10T09:00:00+08:00", updated="2025-03-10T10:00:00+08:00"),
    ])})
    _write_day(root, "workorders", "2025-03-10", {"orders-6.csv": _csv(
        [WO_HEADER, order("W2", category="城乡建设/物业收费", updated="2025-03-10T09:00:00+08:00", status="办结")],
        "utf-8")})
    _write_day(root, "mediation", "2025-03-10", {"cases-5.csv": _csv(
        [MED_HEADER, case("M2", accepted="2025-03-10", amount="1,200.50", dtype="邻里", region="370102001001",
                          updated="2025-03-10 09:00:00")], "gb18030")})
    return root


# Two deliveries of write_drop + write_later_days: the second brings earlier day folders (out of
# order: workorders 2025-03-03 after 2025-03-06, mediation 2025-03-04 after 2025-03-05) and corrections.
DELIVERIES = (
    {"hotline": ["2025-03-03"], "workorders": ["2025-03-04", "2025-03-06"], "mediation": ["2025-03-05"]},
    {"hotline": ["2025-03-04", "2025-03-10"], "workorders": ["2025-03-03", "2025-03-10"],
     "mediation": ["2025-03-04", "2025-03-10"]},
)


def copy_days(full_root: Path, dest: Path, days_by_feed: dict[str, list[str]]) -> Path:
    """Deliver some day folders of a full drop into ``dest`` (reference/ too), as an upstream would."""
    import shutil

    full_root, dest = Path(full_root), Path(dest)
    shutil.copytree(full_root / "reference", dest / "reference", dirs_exist_ok=True)
    for feed, days in days_by_feed.items():
        for day in days:
            shutil.copytree(full_root / feed / day, dest / feed / day, dirs_exist_ok=True)
    return dest
