"""Great Expectations suites (expectations/*.json) on the published silver tables, and their Data Docs.

Any failed expectation raises SilverValidationError naming the table, the expectation and what was
observed, so the run stops before gold is built from bad silver. great_expectations is imported
inside the functions: importing it costs ~8 s, which DAG parsing and unrelated jobs should not pay.

Suites take two suite parameters, ``latest_timestamp`` and ``latest_date`` (now and today plus a day,
Asia/Shanghai), so date ranges reject records from the future. The validation stage also checks row
counts: each table's records per day over its last 7 days (``silver_daily_counts``) against bounds
derived from its previous 8 weeks, passed as suite parameters. That check is a warning (reported in
the summary and the Data Docs), not a stop: a holiday or a real lull must not halt the pipeline, and
gold/feed_health judges volumes per county. Every validation of the stage is rendered as Great
Expectations Data Docs (HTML) under ``<lake>/_quality/data_docs/`` (``index.html``), published whole
by rename, so the folder always holds one complete run.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from fengqiao.lake import SILVER_TABLES, Lake, publish_directory

EXPECTATIONS_DIR = Path(__file__).resolve().parent.parent / "expectations"
DAILY_COUNTS_SUITE = "silver_daily_counts"
DOCS_SITE = "fengqiao_quality"
# The record's own date of each silver table (the day it counts in).
DATE_COLUMNS = {"hotline_calls": "started_at", "work_orders": "created_at", "mediation_cases": "accepted_date"}
RECENT_DAYS, HISTORY_DAYS, MIN_HISTORY_DAYS = 7, 56, 14
DAY_LOW, DAY_HIGH, WEEK_LOW, WEEK_HIGH = 0.25, 4.0, 0.5, 2.0


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
    seen = {}
    for k in keys:
        value = observed.get(k)
        if hasattr(value, "tolist"):  # pandas batches give numpy arrays and scalars
            value = value.tolist()
        if value is None or (isinstance(value, (list, tuple)) and not value):
            continue
        seen[k] = round(value, 2) if isinstance(value, float) else value
    if result.exception_info and result.exception_info.get("raised_exception"):
        seen["error"] = str(result.exception_info.get("exception_message"))[:200]
    return f"{config.type}({', '.join(f'{k}={v}' for k, v in kwargs.items())}): observed {seen}"


def suite_parameters(now: dt.datetime | None = None) -> dict:
    """The date-range parameters every silver suite takes: nothing may be dated after tomorrow."""
    from fengqiao.settings import get_settings
    from zoneinfo import ZoneInfo

    now = now or dt.datetime.now(ZoneInfo(get_settings().timezone))
    latest = now + dt.timedelta(days=1)
    # Naive local wall-clock values: Spark compares them in its session time zone (Asia/Shanghai).
    return {"latest_timestamp": latest.replace(tzinfo=None).isoformat(timespec="seconds"),
            "latest_date": latest.date().isoformat()}


def _context(docs_dir: Path | None = None):
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # no bars in task logs
    if docs_dir is not None:
        context.add_data_docs_site(site_name=DOCS_SITE, site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        })
    return context


def _report(suite_name: str, result) -> dict:
    failures = [_describe(r) for r in result.results if not r.success]
    return {"suite": suite_name, "success": bool(result.success), "evaluated": len(result.results),
            "failures": failures}


def _run_suite(context, engine: str, asset: str, frame, suite_name: str, parameters: dict,
               docs: bool) -> dict:
    """Validate ``frame`` (Spark or pandas) against a suite; through a Checkpoint that stores the result
    and updates the Data Docs when ``docs``."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    sources = context.data_sources
    source = (sources.add_spark if engine == "spark" else sources.add_pandas)(name=f"{engine}-{asset}")
    batch_definition = source.add_dataframe_asset(name=asset).add_batch_definition_whole_dataframe(name="whole")
    suite = load_suite(suite_name)
    if not docs:
        result = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(
            suite, expectation_parameters=parameters)
        return _report(suite_name, result)
    if suite_name not in {s.name for s in context.suites.all()}:
        context.suites.add(suite)
    suite = context.suites.get(suite_name)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{asset}:{suite_name}", data=batch_definition, suite=suite))
    checkpoint = context.checkpoints.add(gx.Checkpoint(
        name=f"{asset}:{suite_name}", validation_definitions=[definition],
        actions=[UpdateDataDocsAction(name="data_docs", site_names=[DOCS_SITE])],
        result_format={"result_format": "SUMMARY"}))
    run = checkpoint.run(batch_parameters={"dataframe": frame}, expectation_parameters=parameters)
    (result,) = run.run_results.values()
    return _report(suite_name, result)


def validate_frame(df: DataFrame, suite_name: str, parameters: dict | None = None) -> dict:
    """Run one suite on a Spark DataFrame; return {suite, success, evaluated, failures}."""
    return _run_suite(_context(), "spark", suite_name, df, suite_name,
                      parameters if parameters is not None else suite_parameters(), docs=False)


# --- row-count anomalies ---------------------------------------------------------------------------

def daily_counts(df: DataFrame, date_column: str) -> pd.DataFrame:
    """(day, records) of a silver table by its records' own date (session time zone, Asia/Shanghai)."""
    rows = df.groupBy(F.to_date(F.col(date_column)).alias("day")).count().collect()
    return pd.DataFrame([(r["day"], int(r["count"])) for r in rows if r["day"] is not None],
                        columns=["day", "records"])


def count_window(daily: pd.DataFrame, recent_days: int = RECENT_DAYS,
                 history_days: int = HISTORY_DAYS) -> tuple[pd.DataFrame, dict | None]:
    """The last ``recent_days`` calendar days (missing days as 0) with bounds from the weeks before them.

    Each recent day gets ``lower``/``upper``: DAY_LOW and DAY_HIGH (+5) × the median of the same weekday
    over the previous ``history_days`` (weekends are quieter than weekdays). The suite parameters bound
    the recent days' total: WEEK_LOW and WEEK_HIGH × the median 7-day total of that history. ``None``
    (not judged) with fewer than MIN_HISTORY_DAYS days of history.
    """
    if daily.empty:
        return pd.DataFrame({"day": [], "records": [], "lower": [], "upper": []}), None
    last = max(daily["day"])
    calendar = pd.date_range(min(daily["day"]), last, freq="D").date
    full = (daily.groupby("day")["records"].sum().reindex(calendar, fill_value=0)
            .rename_axis("day").reset_index())
    full["weekday"] = [d.weekday() for d in full["day"]]
    start = last - dt.timedelta(days=recent_days - 1)
    recent = full[full["day"] >= start].reset_index(drop=True)
    history = full[(full["day"] < start) & (full["day"] >= start - dt.timedelta(days=history_days))]
    if len(history) < MIN_HISTORY_DAYS:
        return recent.assign(lower=0, upper=0), None
    by_weekday = history.groupby("weekday")["records"].median()
    usual = recent["weekday"].map(by_weekday).fillna(float(history["records"].median()))
    recent["lower"] = [math.floor(DAY_LOW * u) for u in usual]
    recent["upper"] = [math.ceil(DAY_HIGH * u) + 5 for u in usual]
    # Medians of the 7-day totals ending on each history day with a full week behind it.
    weekly = history["records"].rolling(7).sum().dropna()
    week = float(weekly.median()) if len(weekly) else 7.0 * float(history["records"].median())
    return recent, {"week_min": math.floor(WEEK_LOW * week), "week_max": math.ceil(WEEK_HIGH * week)}


def _count_report(context, table: str, df: DataFrame, docs: bool) -> dict:
    recent, bounds = count_window(daily_counts(df, DATE_COLUMNS[table]))
    suite = DAILY_COUNTS_SUITE
    if bounds is None:
        return {"suite": suite, "table": table, "success": True, "evaluated": 0, "failures": [],
                "blocking": False, "note": f"fewer than {MIN_HISTORY_DAYS} days of history: row counts not judged"}
    frame = recent.assign(day=recent["day"].astype(str))[["day", "records", "lower", "upper"]]
    report = _run_suite(context, "pandas", f"{table}_daily_counts", frame, suite, bounds, docs)
    return {**report, "table": table, "blocking": False, "bounds": bounds,
            "recent_days": [f"{d}={n} [{lo}, {hi}]" for d, n, lo, hi in
                            zip(frame["day"], frame["records"], frame["lower"], frame["upper"])]}


def raise_on_failures(reports: list[dict]) -> None:
    failed = [r for r in reports if not r["success"] and r.get("blocking", True)]
    if failed:
        lines = []
        for report in failed:
            lines.append(f"{report['suite']}: {len(report['failures'])} of {report['evaluated']} expectations failed")
            lines += [f"  - {failure}" for failure in report["failures"]]
        raise SilverValidationError("silver validation failed; gold is not built from it\n" + "\n".join(lines))


def data_docs_dir(lake: Lake) -> Path:
    return lake.root / "_quality" / "data_docs"


def validate_silver(spark: SparkSession, lake: Lake, docs: bool = True) -> list[dict]:
    """Validate every silver table and its row counts; raise SilverValidationError if a blocking
    expectation fails. With ``docs`` the Data Docs of this run replace ``<lake>/_quality/data_docs``
    first, so a failed run's page shows what failed."""
    staged = lake.new_staging_path("quality-data-docs") if docs else None
    context = _context(staged)
    parameters = suite_parameters()
    reports = []
    for table in SILVER_TABLES.values():
        path = lake.silver(table)
        if not path.exists():
            reports.append({"suite": f"silver_{table}", "success": False, "evaluated": 0,
                            "failures": [f"table silver/{table} does not exist: its silver job has not run"]})
            continue
        df = spark.read.parquet(str(path))
        reports.append({"table": table, **_run_suite(context, "spark", table, df, f"silver_{table}", parameters,
                                                     docs)})
        reports.append(_count_report(context, table, df, docs))
    if staged is not None:
        context.build_data_docs(site_names=[DOCS_SITE])
        publish_directory(staged, data_docs_dir(lake))
    raise_on_failures(reports)
    return reports


def row_count_warnings(reports: list[dict]) -> list[str]:
    """Readable lines for the non-blocking row-count checks that failed."""
    return [f"{r['table']}: {'; '.join(r['failures'])} (recent days {', '.join(r.get('recent_days', []))})"
            for r in reports if not r["success"] and not r.get("blocking", True)]


def run(spark: SparkSession, lake: Lake) -> dict:
    reports = validate_silver(spark, lake)
    return {r["suite"] if "table" not in r else f"{r['suite']}:{r['table']}": r["evaluated"] for r in reports}
