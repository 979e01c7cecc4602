"""Quarantine line numbers for CSV and JSON-lines files: the true 1-based line of each record."""
from __future__ import annotations

import gzip
import json

from jobs.silver import hotline_calls as H
from jobs.silver import raw_files as R
from fengqiao.lake import Lake


def _call(call_id: str) -> str:
    return json.dumps({"call_id": call_id, "line": "12348", "started_at": "2025-03-03T09:15:22+08:00",
                       "transcript": [{"speaker": "来电人", "text": "工资没发"}]}, ensure_ascii=False)


def test_hotline_line_numbers(spark, tmp_path):
    lake = Lake(tmp_path / "lake")
    day = lake.bronze("hotline") / "2025-03-03"
    day.mkdir(parents=True)
    # line 1 good, 2 blank, 3 good, 4 truncated, 5 good, 6 garbage, 7 truncated last line
    lines = [_call("c1"), "", _call("c3"), _call("c4")[:30], _call("c5"), "not json at all", _call("c7")[:20]]
    (day / "calls-a.jsonl").write_text("\r\n".join(lines), encoding="utf-8")
    with gzip.open(day / "calls-b.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write("\n".join([_call("g1"), "{broken", "", "", _call("g5")]) + "\n")
    rows = H.read_raw_hotline(spark, lake).collect()
    got = {(r["source_file"].rsplit("/", 1)[1], r["line_no"], r["call_id"], r[R.CORRUPT] is not None) for r in rows}
    assert got == {
        ("calls-a.jsonl", 1, "c1", False), ("calls-a.jsonl", 3, "c3", False), ("calls-a.jsonl", 4, None, True),
        ("calls-a.jsonl", 5, "c5", False), ("calls-a.jsonl", 6, None, True), ("calls-a.jsonl", 7, None, True),
        ("calls-b.jsonl.gz", 1, "g1", False), ("calls-b.jsonl.gz", 2, None, True),
        ("calls-b.jsonl.gz", 5, "g5", False),
    }
    # The same rows as Spark's own JSON reader (the values, not only the line numbers).
    native = spark.read.schema(H.RAW_SCHEMA).json([str(p) for p in sorted(day.iterdir())])
    assert sorted(map(str, native.collect())) == sorted(
        str(r) for r in H.read_raw_hotline(spark, lake).drop("source_file", "line_no").collect())


def test_csv_line_numbers(spark, tmp_path):
    lake = Lake(tmp_path / "lake")
    day = lake.bronze("workorders") / "2025-03-03"
    day.mkdir(parents=True)
    text = "\n".join([
        "order_id,summary,status",          # 1 header
        'o1,"漏水\n已报修",受理',              # 2-3 a quoted line break
        "",                                  # 4 blank: skipped by the reader
        "o5,只有两列",                         # 5 too few columns
        'o6,"引号里,逗号",办结,多余',            # 6 too many columns
        "order_id,summary,status",          # 7 a stray header row
        'o8,"三行\n的\n摘要",分派',             # 8-10
        "o11,好,办结",                        # 11
        'o12,"他说""要堵路""\n了",受理',          # 12-13 RFC 4180 doubled quotes and a line break
    ])
    (day / "orders-a.csv").write_bytes(text.encode("utf-8"))
    (day / "orders-b.csv").write_bytes("order_id,summary,status\r\nb1,欠薪,受理\r\nb2,坏行\r\n".encode("gb18030"))
    files = sorted(day.iterdir())
    raw, unreadable = R.read_csv_files(spark, lake, files, "order_id", ("utf-8", "gb18030"),
                                       ["order_id", "summary", "status"])
    assert unreadable == []
    assert raw.where(raw["line_no"].isNotNull()).count() == 0  # given to the rows that need it (quarantine)
    raw = R.with_line_numbers(raw, raw)
    got = {(r["source_file"].rsplit("/", 1)[1], r["order_id"], r["line_no"]) for r in raw.collect()}
    assert got == {("orders-a.csv", "o1", 2), ("orders-a.csv", "o5", 5), ("orders-a.csv", "o6", 6),
                   ("orders-a.csv", "order_id", 7), ("orders-a.csv", "o8", 8), ("orders-a.csv", "o11", 11),
                   ("orders-a.csv", "o12", 12),
                   ("orders-b.csv", "b1", 2), ("orders-b.csv", "b2", 3)}
    bad = {r["order_id"]: r["line_no"] for r in raw.where(raw[R.CORRUPT].isNotNull()).collect()}
    assert bad == {"o5": 5, "o6": 6, "b2": 3}
    summaries = {r["order_id"]: r["summary"] for r in raw.collect()}
    assert summaries["o12"] == '他说"要堵路"\n了' and summaries["o1"] == "漏水\n已报修"


def test_csv_record_starts_quoted_blank_lines_and_unclosed_quote(spark, tmp_path):
    """Lines inside a quoted field (blank ones too) start no record; an unclosed quote runs to the file's end."""
    files = {
        "d.csv": 'order_id,summary,status\n\nd1,"a\n\nb",x\r\nd2,y,z\n',   # blank line 1; d1 spans lines 2-4
        "c.csv": 'order_id,summary,status\nc1,"never closed\n\nc2,x,y\n',  # everything after c1 is inside its quote
        "e.csv": 'order_id,summary,status\ne1,"""quoted""",x\ne2,"two\nlines",y\n',  # doubled quotes balance
    }
    for name, text in files.items():
        (tmp_path / name).write_bytes(text.encode("utf-8"))
    got = {r["_path"].rsplit("/", 1)[1]: list(r["_starts"])
           for r in R._csv_record_starts(spark, [str(tmp_path / n) for n in files]).collect()}
    assert got == {"d.csv": [0, 2, 5], "c.csv": [0, 1], "e.csv": [0, 1, 2]}


def test_delivered_file_names_with_spaces_percent_and_glob_characters_are_read_as_named(spark, tmp_path):
    """``orders 2025-03-03 (1)+%.csv`` and ``orders[1].csv`` are read, named as delivered, bad rows get their lines.

    Spark names scanned files by percent-encoded URIs (read back by such a name a file is not found) and
    expands glob characters in the paths it is given (``orders[1].csv`` would read ``orders1.csv``).
    """
    lake = Lake(tmp_path / "lake")
    day = lake.bronze("workorders") / "2025-03-03"
    day.mkdir(parents=True)
    spaced, globbed = "orders 2025-03-03 (1)+%.csv", "orders[1].csv"
    (day / spaced).write_bytes("order_id,summary,status\no1,好,办结\no2,坏行\n".encode("utf-8"))
    (day / globbed).write_bytes("order_id,summary,status\ng1,坏行\ng2,好,办结\n".encode("utf-8"))
    (day / "orders1.csv").write_bytes("order_id,summary,status\nx1,不该读到,办结\n".encode("utf-8"))  # not read
    raw, unreadable = R.read_csv_files(spark, lake, [day / spaced, day / globbed], "order_id", ("utf-8",),
                                       ["order_id", "summary", "status"])
    assert unreadable == []
    got = {(r["source_file"].rsplit("/", 1)[1], r["order_id"], r["line_no"])
           for r in R.with_line_numbers(raw, raw).collect()}
    assert got == {(spaced, "o1", 2), (spaced, "o2", 3), (globbed, "g1", 2), (globbed, "g2", 3)}

    calls = lake.bronze("hotline") / "2025-03-03"
    calls.mkdir(parents=True)
    for name in ("calls a+b 100%.jsonl", "calls{a}[1]*.jsonl"):
        (calls / name).write_text(_call("c1") + "\n{broken\n", encoding="utf-8")
    rows = {(r["source_file"], r["line_no"]) for r in H.read_raw_hotline(spark, lake).collect()}
    assert rows == {(f"bronze/hotline/2025-03-03/{name}", line)
                    for name in ("calls a+b 100%.jsonl", "calls{a}[1]*.jsonl") for line in (1, 2)}
