"""benchmarks/ingest_reference.py: the reference does the pipeline's checks and masks, in DuckDB's SQL.

The ratio of issue 22 is only honest if the reference does the same work: its masks must find what silver's
find, and every row-level rule of the silver suites must compile to SQL that DuckDB runs.
"""
from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest
from pyspark.sql import types as T

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import ingest_reference as R  # noqa: E402

from fengqiao.core.schemas import HOTLINE_CALLS, MEDIATION_CASES, WORK_ORDERS  # noqa: E402


def test_re2_form_drops_every_look_around_and_nothing_else():
    assert R.re2(r"(?<![0-9])1[3-9](?=x)") == "1[3-9]"
    assert R.re2(r"a(?!b(?:c|d))e") == "ae"
    assert R.re2(r"(?=[)(])x\(y\)") == r"x\(y\)"  # brackets inside a class and escaped ones
    assert R.re2(r"(?:ab)|(c)") == r"(?:ab)|(c)"


def test_reference_masks_what_silver_masks():
    text = "电话13812345678，身份证370102199001011234，住建设路12号3栋，来电人张伟反映我老婆王秀英不在"
    masked = duckdb.sql(f"select {R.mask_personal(R.lit(text))}").fetchall()[0][0]
    for secret in ("13812345678", "370102199001011234", "建设路12号", "张伟", "王秀英"):
        assert secret not in masked, masked
    assert "[电话]" in masked and "[身份证]" in masked and "[姓名]" in masked


_DUCK = {T.StringType: "varchar", T.TimestampType: "timestamptz", T.DateType: "date", T.IntegerType: "int",
         T.LongType: "bigint", T.DoubleType: "double", T.BooleanType: "boolean"}


@pytest.mark.parametrize("suite, schema", [("silver_hotline_calls", HOTLINE_CALLS),
                                           ("silver_work_orders", WORK_ORDERS),
                                           ("silver_mediation_cases", MEDIATION_CASES)])
def test_every_row_level_rule_compiles_to_sql(suite, schema):
    columns = ", ".join(f"null::{_DUCK[type(f.dataType)]} as {f.name}" for f in schema.fields)
    rows = duckdb.sql(f"select {R.suite_checks(suite)} from (select {columns})").fetchall()
    assert rows[0][0].startswith("null_value:")  # an empty record breaks the first not-null rule


def test_gzip_files_are_read_under_their_own_names(tmp_path):
    import gzip

    day = tmp_path / "lake" / "bronze" / "hotline" / "2025-01-06"
    day.mkdir(parents=True)
    text = '{"call_id": "c1", "topic": "欠薪"}\n{"call_id": "c2"}\n'
    (day / "calls-a.jsonl").write_text(text, encoding="utf-8")
    (day / "calls-b.jsonl.gz").write_bytes(gzip.compress(text.encode("utf-8")))
    con = duckdb.connect()
    listed = R.readable_text_files(con, sorted(day.iterdir()), tmp_path / "scratch")
    rows = con.execute(f"select n.source_file, r.content from read_text([{listed}]) r "
                       "join file_names n on n.path = r.filename order by 1").fetchall()
    assert rows == [("bronze/hotline/2025-01-06/calls-a.jsonl", text),
                    ("bronze/hotline/2025-01-06/calls-b.jsonl.gz", text)]


def _tables(out: Path) -> dict:
    """Every silver table and quarantine the reference wrote, as sorted rows (source paths without the drop's root)."""
    found = {}
    for name, pattern in [("hotline_calls", "silver/hotline_calls/*/*.parquet"),
                          ("work_orders", "silver/work_orders/*/*.parquet"),
                          ("mediation_cases", "silver/mediation_cases/*/*.parquet")]:
        found[name] = sorted(map(str, duckdb.sql(f"select * from read_parquet('{out}/{pattern}')").fetchall()))
    for feed in ("hotline", "workorders", "mediation"):
        found[feed] = sorted(map(str, duckdb.sql(f"select * from read_parquet('{out}/quarantine/{feed}*.parquet')").fetchall()))
    return found


def test_batches_of_days_give_the_silver_of_one_pass(tmp_path):
    """A province's years are read in batches of day folders: the newest version of a record must win across
    batches (C1 and W1 are corrected in later day folders) and the quarantine must hold the same records."""
    from tests.drop_builder import write_drop, write_later_days

    # A drop's layout is bronze's (<feed>/<day>/<file>); named so, its paths are bronze's as the suites expect.
    drop = write_later_days(write_drop(tmp_path / "bronze"))
    regions = drop / "reference" / "regions.csv"
    one = R.run(drop, regions, tmp_path / "one", b"k", echo=lambda *_: None)
    batched = R.run(drop, regions, tmp_path / "batched", b"k", echo=lambda *_: None, batch_days=1)
    assert one["counts"] == batched["counts"]
    tables = _tables(tmp_path / "batched")
    assert tables == _tables(tmp_path / "one")
    calls = duckdb.sql(f"select call_id, topic, region_code from read_parquet('{tmp_path}/batched/silver/hotline_calls/*/*.parquet')"
                       " order by call_id").fetchall()
    assert ("C1", "欠薪已经解决", "370102001001") in calls  # the correction of 2025-03-10, three batches later
    assert ("C2", "楼上漏水", "370102002000") in calls  # no region code: placed by the township its address names
    assert len(calls) == len({c[0] for c in calls})
    assert {p.name.split("=")[0] for p in (tmp_path / "batched" / "silver" / "hotline_calls").iterdir()} == {"week_start"}


def test_batches_of_days_split_by_day_folder():
    files = [Path(f"bronze/hotline/2025-03-0{d}/calls-{k}.jsonl") for d in (3, 4, 5, 6, 7) for k in "ab"]
    batches = R.batches_of_days(files, 2)
    assert [sorted({p.parent.name for p in b}) for b in batches] == [
        ["2025-03-03", "2025-03-04"], ["2025-03-05", "2025-03-06"], ["2025-03-07"]]
    assert R.batches_of_days(files, None) == [files]
