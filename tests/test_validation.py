"""Great Expectations suites on silver: good silver passes, a broken frame fails by name."""
from __future__ import annotations

import json

import pytest
from pyspark.sql import functions as F

from drop_builder import REGIONS, case
from jobs import silver_common as C
from jobs import silver_mediation_cases as M
from jobs.silver_validate import EXPECTATIONS_DIR, SilverValidationError, raise_on_failures, validate_frame


@pytest.fixture(scope="module")
def mediation_silver(spark):
    regions = spark.createDataFrame([(r[0], r[1], r[2]) for r in REGIONS], "code string, name string, level string")
    rows = [tuple(case(f"M{i}", accepted=f"2025-03-0{i}")) + (None, "bronze/mediation/d/c.csv", None)
            for i in range(1, 5)]
    schema = ", ".join(f"`{c}` string" for c in M.COLUMNS + [C.CORRUPT, "source_file"]) + ", line_no long"
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
    from jobs.silver_validate import validate_silver

    with pytest.raises(SilverValidationError, match="silver/hotline_calls does not exist"):
        validate_silver(spark, Lake.at(tmp_path / "empty-lake"))
