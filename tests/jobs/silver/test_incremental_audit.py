"""The silver audit reads only what changed: the validate stage skips week partitions it validated
before (state in <lake>/_quality/validated.json), and publish_silver in a merge audits only the
rebuilt weeks. Each test uses its own small lake: one table (mediation_cases), four weeks.
"""
from __future__ import annotations

import datetime as dt
import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from drop_builder import REGIONS, case
from fengqiao.lake import Lake, tree_fingerprint, week_partitions, write_spark_table
from fengqiao.lake.validated import state_path
from jobs.silver import mediation_cases as M
from jobs.silver import validate as V
from jobs.silver.publish import publish_silver
from jobs.silver.raw_files import CORRUPT
from jobs.silver.row_counts import count_partitions, count_window
from jobs.silver.validate import SilverValidationError

TABLE = "mediation_cases"
FIRST = dt.date(2025, 1, 6)  # a Monday: 28 days are the weeks of 01-06, 01-13, 01-20 and 01-27
WEEKS = [f"week_start={FIRST + dt.timedelta(days=7 * i)}" for i in range(4)]


def _silver(spark, rows):
    regions = spark.createDataFrame([(r[0], r[1], r[2]) for r in REGIONS], "code string, name string, level string")
    schema = ", ".join(f"`{c}` string" for c in M.COLUMNS + [CORRUPT, "source_file"]) + ", line_no long"
    raw = [tuple(r) + (None, "bronze/mediation/d/c.csv", None) for r in rows]
    silver, _ = M.clean_mediation_cases(spark.createDataFrame(raw, schema), regions, "k")
    return silver


@pytest.fixture(scope="module")
def cases(spark):
    """28 days of mediation cases, 1-2 a day."""
    rows = [case(f"A{i}-{k}", accepted=(FIRST + dt.timedelta(days=i)).isoformat())
            for i in range(28) for k in range(1 + i % 2)]
    return _silver(spark, rows).cache()


@pytest.fixture
def lake(spark, tmp_path, monkeypatch, cases):
    monkeypatch.setattr(V, "SILVER_TABLES", {"mediation": TABLE})
    lake = Lake.at(tmp_path / "lake")
    write_spark_table(cases, lake.silver(TABLE))
    assert sorted(week_partitions(lake.silver(TABLE))) == WEEKS
    return lake


@pytest.fixture
def reads(monkeypatch):
    """The partition lists validate_silver reads (suite batches, bisection, then the row-count window)."""
    calls = []
    original = V._read_partitions

    def spy(spark, table_path, names):
        calls.append(list(names))
        return original(spark, table_path, names)

    monkeypatch.setattr(V, "_read_partitions", spy)
    return calls


def _rewrite(folder, region_code=None):
    """Rewrite a partition's file as a new file (new mtime and size), its first row's region_code replaced."""
    (path,) = folder.glob("*.parquet")
    table = pq.read_table(path)
    if region_code is not None:
        codes = table.column("region_code").to_pylist()
        codes[0] = region_code
        table = table.set_column(table.schema.get_field_index("region_code"), "region_code",
                                 pa.array(codes, table.schema.field("region_code").type))
    path.unlink()
    pq.write_table(table, folder / "part-rewritten.parquet")


def _summary(reports):
    return reports[0], V.partition_counts(reports)


def test_second_run_without_change_validates_nothing_and_still_passes(spark, lake, reads):
    first, counts = _summary(V.validate_silver(spark, lake, docs=False))
    assert first["success"] and first["evaluated"] > 20
    assert counts == {"validated": 4, "skipped": 0}
    state = json.loads(state_path(lake).read_text(encoding="utf-8"))["tables"][TABLE]
    assert sorted(state["partitions"]) == WEEKS
    assert state["suite_sha256"] == V.suite_hash("silver_mediation_cases")

    reads.clear()
    reports = V.validate_silver(spark, lake, docs=True)
    second, counts = _summary(reports)
    assert counts == {"validated": 0, "skipped": 4}
    assert second["success"] and second["evaluated"] == 0
    assert reads == [WEEKS]  # only the row-count window (all four weeks are in it), no suite batch
    daily = reports[1]
    assert daily["suite"] == "silver_daily_counts" and daily["success"] and daily["evaluated"] == 5
    html = (V.data_docs_dir(lake) / "index.html").read_text(encoding="utf-8")
    assert "silver_daily_counts" in html


def test_changed_partition_is_validated_alone_and_fails_until_fixed(spark, lake, reads):
    V.validate_silver(spark, lake, docs=False)
    saved = state_path(lake).read_bytes()
    bad_week, good_week = WEEKS[1], WEEKS[3]
    _rewrite(lake.silver(TABLE) / bad_week, region_code="37A112100001")
    reads.clear()
    with pytest.raises(SilverValidationError) as error:
        V.validate_silver(spark, lake, docs=False)
    assert reads[0] == [bad_week]  # the one changed partition, alone
    message = str(error.value)
    assert f"silver_mediation_cases in week partition(s) {bad_week} of silver/{TABLE}" in message
    assert "expect_column_values_to_match_regex(column=region_code" in message
    assert state_path(lake).read_bytes() == saved

    # Not recorded: the next run validates it again and fails again, also when another week changed
    # too (that good week is told apart by bisection and not named).
    _rewrite(lake.silver(TABLE) / good_week)
    reads.clear()
    with pytest.raises(SilverValidationError) as error:
        V.validate_silver(spark, lake, docs=False)
    assert reads[0] == [bad_week, good_week]
    assert f"week partition(s) {bad_week} of silver/{TABLE}" in str(error.value)
    assert good_week not in str(error.value)
    assert state_path(lake).read_bytes() == saved

    # Fixed (rewritten with a good code): both changed weeks are validated, pass and are recorded.
    _rewrite(lake.silver(TABLE) / bad_week, region_code="370112100001")
    reports = V.validate_silver(spark, lake, docs=False)
    assert V.partition_counts(reports) == {"validated": 2, "skipped": 2}
    state = json.loads(state_path(lake).read_text(encoding="utf-8"))["tables"][TABLE]["partitions"]
    assert state[bad_week] == tree_fingerprint(lake.silver(TABLE) / bad_week)


def test_editing_the_suite_revalidates_every_partition(spark, lake, tmp_path, monkeypatch):
    V.validate_silver(spark, lake, docs=False)
    assert V.partition_counts(V.validate_silver(spark, lake, docs=False)) == {"validated": 0, "skipped": 4}

    edited = tmp_path / "expectations"
    shutil.copytree(V.EXPECTATIONS_DIR, edited)
    path = edited / "silver_mediation_cases.json"
    suite = json.loads(path.read_text(encoding="utf-8"))
    amount = next(e for e in suite["expectations"] if e["type"] == "expect_column_values_to_be_between"
                  and e["kwargs"]["column"] == "amount_yuan")
    amount["kwargs"]["max_value"] = 1000  # every case is 1.2万 yuan: the edited suite fails every week
    path.write_text(json.dumps(suite, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setattr(V, "EXPECTATIONS_DIR", edited)
    with pytest.raises(SilverValidationError, match="column=amount_yuan, min_value=0.0, max_value=1000.0\\)") as error:
        V.validate_silver(spark, lake, docs=False)
    assert all(week in str(error.value) for week in WEEKS)

    # Loosened instead: every week validated again (and passes), then skipped again.
    amount["kwargs"]["max_value"] = 10 ** 9
    path.write_text(json.dumps(suite, ensure_ascii=False), encoding="utf-8")
    assert V.partition_counts(V.validate_silver(spark, lake, docs=False)) == {"validated": 4, "skipped": 0}
    assert V.partition_counts(V.validate_silver(spark, lake, docs=False)) == {"validated": 0, "skipped": 4}


@pytest.mark.parametrize("last_weekday", range(7))
def test_row_count_window_reads_enough_weeks(last_weekday):
    """The weeks count_partitions picks give count_window the same result as the whole history."""
    import pandas as pd

    last = dt.date(2025, 6, 2) + dt.timedelta(days=last_weekday)
    days = [last - dt.timedelta(days=i) for i in range(200)]
    daily = pd.DataFrame({"day": days, "records": [100 if d.weekday() < 5 else 30 for d in days]})
    mondays = {d - dt.timedelta(days=d.weekday()) for d in days}
    chosen = count_partitions([f"week_start={m}" for m in mondays])
    assert 10 <= len(chosen) < len(mondays)
    kept = daily[[f"week_start={d - dt.timedelta(days=d.weekday())}" in chosen for d in daily["day"]]]
    (full_recent, full_bounds), (recent, bounds) = count_window(daily), count_window(kept)
    assert bounds == full_bounds and bounds is not None
    pd.testing.assert_frame_equal(recent, full_recent)


def test_merge_audits_only_the_rebuilt_weeks(spark, tmp_path, cases):
    lake = Lake.at(tmp_path / "lake")
    merge = lambda: {"key": "case_id", "schema": cases.schema, "drop_prefixes": []}  # noqa: E731
    publish_silver(spark, cases, lake, TABLE, validate=True)
    table = lake.silver(TABLE)
    # A bad row planted in a published week that no merge below touches.
    _rewrite(table / WEEKS[0], region_code="37A112100001")

    # By design this merge publishes: week 1 is not rebuilt, and its files were audited when published.
    fresh = merge()
    publish_silver(spark, _silver(spark, [case("N1", accepted="2025-01-29")]), lake, TABLE,
                     validate=True, merge=fresh)
    assert fresh["weeks"] == ["2025-01-27"] and fresh["unchanged_weeks"] == 3
    published = spark.read.parquet(str(table))
    assert published.where("case_id = 'N1'").count() == 1

    # A bad new record is caught in its own week, and the table stays as it was.
    before = {name: tree_fingerprint(folder) for name, folder in week_partitions(table).items()}
    bad = _silver(spark, [case("N2", accepted="2025-01-15")]).withColumn("region_code", F.lit("37A112100002"))
    with pytest.raises(SilverValidationError, match="expect_column_values_to_match_regex\\(column=region_code"):
        publish_silver(spark, bad, lake, TABLE, validate=True, merge=merge())
    assert {name: tree_fingerprint(folder) for name, folder in week_partitions(table).items()} == before

    # A full build audits every week, so it does catch the planted row.
    with pytest.raises(SilverValidationError, match="expect_column_values_to_match_regex\\(column=region_code"):
        publish_silver(spark, spark.read.parquet(str(table)), lake, TABLE, validate=True)


def test_weeks_audited_at_publish_are_not_audited_again(spark, tmp_path, monkeypatch, cases, reads):
    monkeypatch.setattr(V, "SILVER_TABLES", {"mediation": TABLE})
    lake = Lake.at(tmp_path / "lake")
    publish_silver(spark, cases, lake, TABLE, validate=True)  # a full build: every week audited
    assert V.partition_counts(V.validate_silver(spark, lake, docs=False)) == {"validated": 0, "skipped": 4}
    merge = {"key": "case_id", "schema": cases.schema, "drop_prefixes": []}
    publish_silver(spark, _silver(spark, [case("N1", accepted="2025-01-29")]), lake, TABLE, validate=True,
                     merge=merge)
    assert V.partition_counts(V.validate_silver(spark, lake, docs=False)) == {"validated": 0, "skipped": 4}
    # A week rewritten behind the audit's back (not by a publish) is still checked.
    _rewrite(lake.silver(TABLE) / WEEKS[1])
    assert V.partition_counts(V.validate_silver(spark, lake, docs=False)) == {"validated": 1, "skipped": 3}
