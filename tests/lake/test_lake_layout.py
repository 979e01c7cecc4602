"""Lake file layout: one file per week partition, rows sorted by region_code, row-group statistics.

Both writers are checked: ``write_spark_table`` (silver, quarantine, features) and ``write_table``
(pandas gold tables), plus the quarantine's compaction of the small files that incremental runs add.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow.parquet as pq

from fengqiao.lake import Lake, read_table, write_spark_table, write_table

WEEKS = [dt.date(2025, 3, 3) + dt.timedelta(weeks=k) for k in range(3)]
# Township codes of two counties, in no particular order.
CODES = ["370112100000", "370102001000", "370112101000", "370102002000", "370102003000", "370112102000"]


def _frame(n: int = 600) -> pd.DataFrame:
    return pd.DataFrame({
        "record_id": [f"R{i:05d}" for i in range(n)],
        "region_code": [CODES[(i * 7) % len(CODES)] for i in range(n)],
        "week_start": [WEEKS[(i * 5) % len(WEEKS)] for i in range(n)],
        "amount": [float(i) for i in range(n)],
    })


def _data_files(table) -> list:
    return sorted(p for p in table.rglob("*.parquet") if not p.name.startswith(("_", ".")))


def _assert_layout(table, expected_rows: int) -> None:
    files = _data_files(table)
    folders = [f.parent.name for f in files]
    assert sorted(folders) == sorted(f"week_start={w}" for w in WEEKS)  # exactly one file per week
    rows = 0
    for f in files:
        parquet = pq.ParquetFile(f)
        codes = parquet.read(columns=["region_code"]).column("region_code").to_pylist()
        assert codes == sorted(codes), f
        rows += len(codes)
        meta = parquet.metadata
        col = meta.schema.to_arrow_schema().get_field_index("region_code")
        for g in range(meta.num_row_groups):
            stats = meta.row_group(g).column(col).statistics
            assert stats is not None and stats.has_min_max
        assert meta.row_group(0).column(col).statistics.min == codes[0]
    assert rows == expected_rows


def test_spark_tables_get_one_sorted_file_per_week(spark, tmp_path):
    pdf = _frame()
    # Spread over 8 partitions, as a shuffle leaves it: without the layout every week gets up to 8 files.
    df = spark.createDataFrame(pdf).repartition(8)
    write_spark_table(df, tmp_path / "t")
    _assert_layout(tmp_path / "t", len(pdf))
    back = read_table(tmp_path / "t").sort_values("record_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(back[pdf.columns.tolist()], pdf, check_dtype=False)


def test_unpartitioned_spark_table_is_one_file(spark, tmp_path):
    df = spark.createDataFrame(_frame(50).drop(columns=["week_start"])).repartition(8)
    write_spark_table(df, tmp_path / "q", partition_by=())
    assert len(_data_files(tmp_path / "q")) == 1
    assert spark.read.parquet(str(tmp_path / "q")).count() == 50


def test_pandas_gold_tables_get_the_same_layout_and_keep_tie_order(tmp_path):
    pdf = _frame()
    lake = Lake.at(tmp_path / "lake")
    path = write_table(pdf.sample(frac=1.0, random_state=3), lake, "gold", "demo")
    _assert_layout(path, len(pdf))
    first = pq.ParquetFile(_data_files(path)[0]).metadata.row_group(0).column(0)
    assert first.compression == "ZSTD"
    # Equal region codes keep their input order (a stable sort): a rebuild writes the same bytes.
    again = write_table(pdf.sample(frac=1.0, random_state=3), Lake.at(tmp_path / "lake2"), "gold", "demo")
    assert [f.read_bytes() for f in _data_files(path)] == [f.read_bytes() for f in _data_files(again)]


def test_incremental_quarantine_is_compacted_when_its_files_pile_up(spark, tmp_path, monkeypatch):
    import jobs.silver.quarantine as quarantine
    from fengqiao.core.schemas import QUARANTINE

    monkeypatch.setattr(quarantine, "COMPACT_AT_FILES", 3)
    lake = Lake.at(tmp_path / "lake")
    now = dt.datetime(2025, 3, 3, 8, tzinfo=dt.timezone.utc)
    counts = []
    for run in range(5):
        rows = [{"feed": "hotline", "source_file": f"bronze/hotline/2025-03-0{run + 1}/a.jsonl", "line_no": i,
                 "reason": "malformed_record | 无法解析", "raw_masked": "{", "quarantined_at": now} for i in range(4)]
        quarantine.publish_quarantine(spark, spark.createDataFrame(rows, QUARANTINE), lake, "hotline",
                                      incremental=run > 0)
        counts.append(len(_data_files(lake.quarantine / "feed=hotline")))
    # One file per run until there are 3, then the old ones are rewritten with the new rows as one.
    assert counts == [1, 2, 3, 1, 2]
    assert spark.read.parquet(str(lake.quarantine / "feed=hotline")).count() == 5 * 4
