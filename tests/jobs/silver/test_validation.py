"""Great Expectations suites on silver: good silver passes, a broken frame fails by name."""
from __future__ import annotations

import json

import pytest
from pyspark.sql import functions as F

from drop_builder import REGIONS, case
from jobs.silver import mediation_cases as M
from jobs.silver.raw_files import CORRUPT
from jobs.silver.validate import EXPECTATIONS_DIR, SilverValidationError, raise_on_failures, validate_frame


@pytest.fixture(scope="module")
def mediation_silver(spark):
    regions = spark.createDataFrame([(r[0], r[1], r[2]) for r in REGIONS], "code string, name string, level string")
    rows = [tuple(case(f"M{i}", accepted=f"2025-03-0{i}")) + (None, "bronze/mediation/d/c.csv", None)
            for i in range(1, 5)]
    schema = ", ".join(f"`{c}` string" for c in M.COLUMNS + [CORRUPT, "source_file"]) + ", line_no long"
    silver, _ = M.clean_mediation_cases(spark.createDataFrame(rows, schema), regions, "k")
    return silver.cache()


def test_suites_are_valid_json_with_expectations():
    for name in ("silver_hotline_calls", "silver_work_orders", "silver_mediation_cases"):
        document = json.loads((EXPECTATIONS_DIR / f"{name}.json").read_text(encoding="utf-8"))
        assert document["name"] == name and len(document["expectations"]) >= 20


def test_good_silver_passes(mediation_silver):
    report = validate_frame(mediation_silver, "silver_mediation_cases")
    assert report["success"], report["failures"]
    raise_on_failures([report])  # does not raise


def test_audit_reads_the_table_without_caching_it(mediation_silver, monkeypatch):
    """Great Expectations caches a Spark batch by default; on 156 weeks of province calls building that cache
    ran the driver out of heap. The audit must query the files instead, passing and failing as before."""
    def no_cache(self, *args, **kwargs):
        raise AssertionError("the audit cached the table it checks")

    frame_class = type(mediation_silver)  # Spark 4's classic DataFrame, which implements persist and cache
    monkeypatch.setattr(frame_class, "persist", no_cache)
    monkeypatch.setattr(frame_class, "cache", no_cache)
    assert validate_frame(mediation_silver, "silver_mediation_cases")["success"]
    bad = mediation_silver.withColumn("dispute_type", F.lit("不存在的类型"))
    assert not validate_frame(bad, "silver_mediation_cases")["success"]


def test_bad_silver_fails_with_named_expectations(mediation_silver):
    bad = mediation_silver.unionByName(mediation_silver.limit(1)).withColumn(
        "party_count", F.when(F.col("case_id") == "M2", F.lit(0)).otherwise(F.col("party_count")))
    report = validate_frame(bad, "silver_mediation_cases")
    assert not report["success"]
    with pytest.raises(SilverValidationError) as error:
        raise_on_failures([report])
    message = str(error.value)
    assert "silver_mediation_cases" in message
    assert "expect_column_values_to_be_unique(column=case_id" in message
    assert "expect_column_values_to_be_between(column=party_count, min_value=1" in message
    assert "unexpected_count" in message


def test_validate_silver_names_missing_tables(spark, tmp_path):
    from fengqiao.lake import Lake
    from jobs.silver.validate import validate_silver

    with pytest.raises(SilverValidationError, match="silver/hotline_calls does not exist"):
        validate_silver(spark, Lake.at(tmp_path / "empty-lake"))


# --- faults the extended suites catch ---------------------------------------------------------------

FAULTS = [  # (case, column, value, the expectation that must name it)
    ("M1", "county_code", "370112100000", "expect_column_values_to_match_regex(column=county_code"),
    ("M1", "township_code", "370112000000", "expect_column_values_to_match_regex(column=township_code"),
    ("M2", "summary", "当事人电话13912345678", "expect_column_values_to_not_match_regex(column=summary"),
    ("M2", "party_key", "13912345678", "expect_column_values_to_match_regex(column=party_key"),
    ("M3", "source_file", "/abs/path/c.csv", "expect_column_values_to_match_regex(column=source_file"),
    ("M3", "status", "已撤销", "expect_column_values_to_be_in_set(column=status"),
    ("M4", "mediator_key", "赵调解", "expect_column_values_to_match_regex(column=mediator_key"),
]


def test_extended_suite_catches_each_fault(mediation_silver):
    bad = mediation_silver
    for case_id, column, value, _ in FAULTS:
        bad = bad.withColumn(column, F.when(F.col("case_id") == case_id, F.lit(value)).otherwise(F.col(column)))
    report = validate_frame(bad, "silver_mediation_cases")
    assert not report["success"]
    for _, column, _, expectation in FAULTS:
        assert any(f.startswith(expectation) for f in report["failures"]), (column, report["failures"])
    # An ID number left in the clear is caught by the same masking check.
    leak = mediation_silver.withColumn("summary", F.lit("身份证370102199001011234"))
    assert any(f.startswith("expect_column_values_to_not_match_regex(column=summary")
               for f in validate_frame(leak, "silver_mediation_cases")["failures"])


def test_dates_from_the_future_and_wrong_types_fail(mediation_silver):
    import datetime as dt

    from jobs.silver.validate import suite_parameters

    future = mediation_silver.withColumn("accepted_date", F.when(F.col("case_id") == "M3", F.lit(dt.date(2031, 1, 1)))
                                         .otherwise(F.col("accepted_date")))
    report = validate_frame(future, "silver_mediation_cases",
                            suite_parameters(dt.datetime(2025, 6, 1, 12, 0)))
    assert any(f.startswith("expect_column_values_to_be_between(column=accepted_date") for f in report["failures"])
    assert validate_frame(mediation_silver, "silver_mediation_cases",
                          suite_parameters(dt.datetime(2025, 6, 1, 12, 0)))["success"]
    # a case dated before its own acceptance date is fine; one dated in 2030 is in the future for 2025-06-01
    typed = mediation_silver.withColumn("amount_yuan", F.col("amount_yuan").cast("string"))
    report = validate_frame(typed, "silver_mediation_cases")
    assert any(f.startswith("expect_column_values_to_be_of_type(column=amount_yuan") for f in report["failures"])


# --- row counts against their own history -------------------------------------------------------------

def _weekly_pattern(days: int, start="2025-01-06", silent=(), factor=None):
    """Daily counts with a weekday/weekend pattern (100 on weekdays, 30 at weekends)."""
    import datetime as dt

    import pandas as pd

    first = dt.date.fromisoformat(start)
    rows = []
    for i in range(days):
        day = first + dt.timedelta(days=i)
        n = 100 if day.weekday() < 5 else 30
        if i in silent:
            n = 0
        if factor and i in factor[0]:
            n = int(n * factor[1])
        rows.append((day, n))
    return pd.DataFrame(rows, columns=["day", "records"])


def test_count_window_bounds_follow_the_weekday():
    from jobs.silver.row_counts import count_window

    recent, bounds = count_window(_weekly_pattern(70))
    assert len(recent) == 7 and bounds == {"week_min": 280, "week_max": 1120}  # median week 560
    weekend = recent[[d.weekday() >= 5 for d in recent["day"]]]
    assert set(weekend["lower"]) == {7} and set(weekend["upper"]) == {125}
    assert count_window(_weekly_pattern(15))[1] is None  # 8 days of history: not judged


@pytest.mark.parametrize("days,ok", [
    (dict(), True),
    (dict(silent={66}), False),                 # one weekday of the last week delivered nothing
    (dict(factor=(range(63, 70), 3.0)), False),  # the whole last week three times the usual
    (dict(factor=(range(63, 70), 0.8)), True),   # a quieter week, within bounds
])
def test_row_count_check_flags_silent_days_and_bursts(days, ok):
    from jobs.silver.row_counts import count_window
    from jobs.silver.validate import DAILY_COUNTS_SUITE, _context, _run_suite

    recent, bounds = count_window(_weekly_pattern(70, **days))
    frame = recent.assign(day=recent["day"].astype(str))[["day", "records", "lower", "upper"]]
    report = _run_suite(_context(), "pandas", "t", frame, DAILY_COUNTS_SUITE, bounds, docs=False)
    assert report["success"] is ok, report["failures"]


# --- Data Docs ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def long_mediation_silver(spark):
    """70 days of mediation cases (1-3 a day), enough history for the row-count check."""
    import datetime as dt

    regions = spark.createDataFrame([(r[0], r[1], r[2]) for r in REGIONS], "code string, name string, level string")
    rows, first = [], dt.date(2025, 1, 6)
    for i in range(70):
        day = first + dt.timedelta(days=i)
        for k in range(1 + i % 3):
            rows.append(tuple(case(f"L{i}-{k}", accepted=day.isoformat())) + (None, "bronze/mediation/d/c.csv", None))
    schema = ", ".join(f"`{c}` string" for c in M.COLUMNS + [CORRUPT, "source_file"]) + ", line_no long"
    silver, _ = M.clean_mediation_cases(spark.createDataFrame(rows, schema), regions, "k")
    return silver.cache()


def test_data_docs_show_the_suites_and_their_results(spark, tmp_path, monkeypatch, long_mediation_silver):
    from fengqiao.lake import Lake
    from jobs.silver import validate as V

    monkeypatch.setattr(V, "SILVER_TABLES", {"mediation": "mediation_cases"})
    lake = Lake.at(tmp_path / "lake")
    long_mediation_silver.write.partitionBy("week_start").parquet(str(lake.silver("mediation_cases")))
    reports = V.validate_silver(spark, lake)
    assert [r["suite"] for r in reports] == ["silver_mediation_cases", "silver_daily_counts"]
    assert all(r["success"] for r in reports) and reports[1]["evaluated"] == 5
    index = V.data_docs_dir(lake) / "index.html"
    html = index.read_text(encoding="utf-8")
    for name in ("silver_mediation_cases", "silver_daily_counts"):
        assert name in html
    pages = list((V.data_docs_dir(lake) / "validations").rglob("*.html"))
    assert len(pages) == 2
    page = next(p for p in pages if "silver_mediation_cases" in p.as_posix()).read_text(encoding="utf-8")
    assert "expect_column_values_to_be_unique" in page or "values must be unique" in page
    assert "Success" in page or "Succeeded" in page

    # A broken table: publishing stops with a readable reason, and the docs show the failure.
    bad = long_mediation_silver.unionByName(long_mediation_silver.limit(1))
    broken = Lake.at(tmp_path / "broken")
    bad.write.partitionBy("week_start").parquet(str(broken.silver("mediation_cases")))
    with pytest.raises(SilverValidationError, match="expect_column_values_to_be_unique\\(column=case_id"):
        V.validate_silver(spark, broken)
    html = (V.data_docs_dir(broken) / "index.html").read_text(encoding="utf-8")
    assert "silver_mediation_cases" in html and "Failed" in html


# --- the suites' row-level rules, applied at parse time (jobs/silver/rules.py) --------------------------

SILVER_SUITES = {"silver_hotline_calls": "HOTLINE_CALLS", "silver_work_orders": "WORK_ORDERS",
                 "silver_mediation_cases": "MEDIATION_CASES"}


def test_every_expectation_has_a_parse_time_counterpart(spark):
    """Each expectation of each silver suite is compiled into a per-record check, or is table-level by nature."""
    from fengqiao.core import schemas
    from jobs.silver import rules as R

    for suite, schema_name in SILVER_SUITES.items():
        schema = getattr(schemas, schema_name)
        expectations = R.load_expectations(suite)
        rows = R.row_expectations(suite)
        assert {e["type"] for e in expectations} <= set(R.ROW_LEVEL) | set(R.TABLE_LEVEL)
        assert len(rows) == sum(e["type"] in R.ROW_LEVEL for e in expectations) >= 20
        for expectation in rows:
            R.violation(expectation, schema, {"latest_timestamp": "2026-01-01T00:00:00", "latest_date": "2026-01-01"})
    with pytest.raises(ValueError, match="no parse-time counterpart"):
        R.row_expectations("silver_daily_counts")  # a sum over a table has none: not a silver table's suite


LEAKED = "电话13912345678"


def _violating(expectation: dict, data_type, parameters: dict):
    """A value breaking the row-level expectation (for a column of ``data_type``)."""
    import datetime as dt
    import re

    from pyspark.sql import types as T

    kind, kw = expectation["type"], expectation["kwargs"]
    if kind == "expect_column_values_to_not_be_null":
        return None
    if kind == "expect_column_values_to_be_in_set":
        return "不在集合中"
    if kind == "expect_column_values_to_match_regex":
        assert not re.search(kw["regex"], "不合格")
        return "不合格"
    if kind == "expect_column_values_to_not_match_regex":
        assert re.search(kw["regex"], LEAKED)
        return LEAKED
    assert kind == "expect_column_values_to_be_between", kind
    if isinstance(data_type, (T.DateType, T.TimestampType)):
        return dt.date(2099, 1, 1) if kw.get("max_value") is not None else dt.date(1980, 1, 1)
    return kw["max_value"] + 1 if kw.get("max_value") is not None else kw["min_value"] - 1


def test_parse_time_rules_and_the_audit_agree_and_the_audit_names_no_value(spark, mediation_silver):
    """One record per row-level rule of the mediation suite, each breaking only that rule: the parse-time
    check rejects each with the rule's code and column, the audit fails the same rules, and the audit's
    message names rules, columns and counts but none of the values (which could be personal data)."""
    from jobs.silver import rules as R
    from jobs.silver.validate import suite_parameters

    suite, parameters = "silver_mediation_cases", suite_parameters()
    good = mediation_silver.where(F.col("case_id") == "M1")
    rules = R.row_expectations(suite)
    frames = []
    for i, expectation in enumerate(rules):
        column = expectation["kwargs"]["column"]
        data_type = mediation_silver.schema[column].dataType
        value = _violating(expectation, data_type, parameters)
        frames.append(good.withColumn("case_id", F.lit(f"R{i}")).withColumn("_rule", F.lit(i))
                      .withColumn(column, F.lit(value).cast(data_type)))
    bad = frames[0]
    for frame in frames[1:]:
        bad = bad.unionByName(frame)
    bad = spark.createDataFrame(bad.collect(), bad.schema)  # a small local table: GE queries it ~60 times
    assert good.select(R.suite_failure(suite, mediation_silver.schema, parameters).alias("r")).first()["r"] is None
    reasons = dict(bad.select("_rule", R.suite_failure(suite, mediation_silver.schema, parameters).alias("r"))
                   .collect())
    for i, expectation in enumerate(rules):
        assert reasons[i].startswith(R.rule_label(expectation) + " | "), (expectation, reasons[i])

    report = validate_frame(bad, suite, parameters)
    failed = " ".join(report["failures"])
    for expectation in rules:
        kw = expectation["kwargs"]
        assert f"{expectation['type']}(column={kw['column']}" in failed, expectation
    with pytest.raises(SilverValidationError) as error:
        raise_on_failures([report])
    message = str(error.value)
    assert "'unexpected_count': 1" in message
    for value in (LEAKED, "不合格", "不在集合中", "13912345678", "2099"):
        assert value not in message
