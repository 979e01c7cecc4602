"""Great Expectations suites (expectations/*.json) on the published silver tables.

Any failed expectation raises SilverValidationError naming the table, the expectation and what was
observed, so the run stops before gold is built from bad silver. great_expectations is imported
inside the functions: importing it costs ~8 s, which DAG parsing and unrelated jobs should not pay.
"""
from __future__ import annotations

import json
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from fengqiao.lake import SILVER_TABLES, Lake

EXPECTATIONS_DIR = Path(__file__).resolve().parent.parent / "expectations"


class SilverValidationError(RuntimeError):
    """Silver failed its expectations; the message is meant for an operator."""


def load_suite(suite_name: str):
    import great_expectations as gx

    document = json.loads((EXPECTATIONS_DIR / f"{suite_name}.json").read_text(encoding="utf-8"))
    return gx.ExpectationSuite(name=document["name"], expectations=document["expectations"],
                               meta=document.get("meta") or {})


def _describe(result) -> str:
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "value_set")}
    if "value_set" in config.kwargs:
        kwargs["value_set"] = f"<{len(config.kwargs['value_set'])} allowed values>"
    observed = result.result or {}
    keys = ("observed_value", "unexpected_count", "unexpected_percent", "partial_unexpected_list")
    seen = {k: round(observed[k], 2) if isinstance(observed[k], float) else observed[k]
            for k in keys if observed.get(k) not in (None, [])}
    if result.exception_info and result.exception_info.get("raised_exception"):
        seen["error"] = str(result.exception_info.get("exception_message"))[:200]
    return f"{config.type}({', '.join(f'{k}={v}' for k, v in kwargs.items())}): observed {seen}"


def validate_frame(df: DataFrame, suite_name: str) -> dict:
    """Run one suite on a Spark DataFrame; return {suite, success, evaluated, failures}."""
    import great_expectations as gx

    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # no bars in task logs
    batch_definition = (context.data_sources.add_spark(name="silver")
                        .add_dataframe_asset(name=suite_name)
                        .add_batch_definition_whole_dataframe(name="whole"))
    result = batch_definition.get_batch(batch_parameters={"dataframe": df}).validate(load_suite(suite_name))
    failures = [_describe(r) for r in result.results if not r.success]
    return {"suite": suite_name, "success": bool(result.success), "evaluated": len(result.results),
            "failures": failures}


def raise_on_failures(reports: list[dict]) -> None:
    failed = [r for r in reports if not r["success"]]
    if failed:
        lines = []
        for report in failed:
            lines.append(f"{report['suite']}: {len(report['failures'])} of {report['evaluated']} expectations failed")
            lines += [f"  - {failure}" for failure in report["failures"]]
        raise SilverValidationError("silver validation failed; gold is not built from it\n" + "\n".join(lines))


def validate_silver(spark: SparkSession, lake: Lake) -> list[dict]:
    """Validate every silver table; raise SilverValidationError if any expectation fails."""
    reports = []
    for table in SILVER_TABLES.values():
        path = lake.silver(table)
        if not path.exists():
            reports.append({"suite": f"silver_{table}", "success": False, "evaluated": 0,
                            "failures": [f"table silver/{table} does not exist: its silver job has not run"]})
            continue
        reports.append({"table": table, **validate_frame(spark.read.parquet(str(path)), f"silver_{table}")})
    raise_on_failures(reports)
    return reports


def run(spark: SparkSession, lake: Lake) -> dict:
    reports = validate_silver(spark, lake)
    return {r["suite"]: r["evaluated"] for r in reports}
