"""Great Expectations suites (expectations/*.json) on the published silver tables, and their Data Docs.

Any failed expectation raises SilverValidationError naming the table, the expectation, its column and
how many records broke it, so the run stops before gold is built from bad silver. Never the values:
GE is asked for no examples of unexpected values (``partial_unexpected_count`` 0, so neither the
message, the task log nor the Data Docs can carry a leaked name or phone number). Row-level rules are
applied to each record at parse time (jobs/silver/rules.py), so this audit only catches what that missed.
great_expectations is imported inside the functions: importing it costs 2.6 s with the environment's compiled
bytecode (6.6 s without), which DAG parsing and unrelated jobs should not pay.

Suites take two suite parameters, ``latest_timestamp`` and ``latest_date`` (now and today plus a day,
Asia/Shanghai), so date ranges reject records from the future. The validation stage also checks row
counts: each table's records per day over its last 7 days (``silver_daily_counts``) against bounds
derived from its previous 8 weeks (:mod:`jobs.silver.row_counts`), passed as suite parameters. That check
is a warning (reported in the summary and the Data Docs), not a stop: a holiday or a real lull must not
halt the pipeline, and gold/feed_health judges volumes per county. Every validation of the stage is
rendered as Great Expectations Data Docs (HTML) under ``<lake>/_quality/data_docs/`` (``index.html``),
published whole by rename, so the folder always holds one complete run.

Incremental audit: a run validates only the week partitions it has not validated before. The lake keeps
``<lake>/_quality/validated.json`` (:mod:`fengqiao.lake.validated`): per table, the sha256 of its suite
file and, per ``week_start=`` partition that passed, a fingerprint of the partition's files (name, size,
mtime_ns). Publishes rewrite only the weeks that changed and hard-link the others, so an untouched week
keeps its fingerprint and is skipped; a rewritten week, a new one, or every week of a table whose suite
was edited is validated (all the table's such partitions in one batch). The state is replaced only after
every blocking suite passed, so a failed partition is validated again by the next run. The row-count
check reads only the weeks that cover its window (RECENT_DAYS + HISTORY_DAYS days, plus slack).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from fengqiao.core.spark import read_parquet
from fengqiao.lake import SILVER_TABLES, Lake, partition_fingerprints, publish_directory, week_partitions
from fengqiao.lake.partitions import PARTITION_PREFIX
from fengqiao.lake.validated import read_state, state_lock, write_state
from jobs.silver.row_counts import DATE_COLUMNS, MIN_HISTORY_DAYS, count_partitions, count_window, daily_counts
from fengqiao.core.weeks import TZ_NAME

EXPECTATIONS_DIR = Path(__file__).resolve().parents[2] / "expectations"
DAILY_COUNTS_SUITE = "silver_daily_counts"
DOCS_SITE = "fengqiao_quality"


class SilverValidationError(RuntimeError):
    """Silver failed its expectations; the message is meant for an operator."""


def load_suite(suite_name: str):
    import great_expectations as gx  # seconds: only when a suite runs (module docstring)

    document = json.loads((EXPECTATIONS_DIR / f"{suite_name}.json").read_text(encoding="utf-8"))
    return gx.ExpectationSuite(name=document["name"], expectations=document["expectations"],
                               meta=document.get("meta") or {})


# Summary results without example values: counts only (the values may be personal data).
SUMMARY_WITHOUT_VALUES = {"result_format": "SUMMARY", "partial_unexpected_count": 0}
_COUNT_KEYS = ("element_count", "unexpected_count", "unexpected_percent", "missing_count")


def _describe(result) -> str:
    """The rule, its arguments and the failing counts; of what was observed, only numbers and type names."""
    config = result.expectation_config
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id", "value_set")}
    if "value_set" in config.kwargs:
        kwargs["value_set"] = f"<{len(config.kwargs['value_set'])} allowed values>"
    observed = result.result or {}
    seen = {}
    for k in _COUNT_KEYS:
        value = observed.get(k)
        if hasattr(value, "item"):  # pandas batches give numpy scalars
            value = value.item()
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            seen[k] = round(value, 2) if isinstance(value, float) else value
    value = observed.get("observed_value")
    if hasattr(value, "item"):
        value = value.item()
    # An aggregate's number (a row count, a sum) or a column's type; never a value taken from a record.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seen["observed_value"] = round(value, 2) if isinstance(value, float) else value
    elif config.type == "expect_column_values_to_be_of_type" and isinstance(value, str):
        seen["observed_value"] = value
    if result.exception_info and result.exception_info.get("raised_exception"):
        # The message of an exception raised on the data may quote it: only its kind is reported.
        seen["error"] = str(result.exception_info.get("exception_message")).split(":", 1)[0][:80]
    return f"{config.type}({', '.join(f'{k}={v}' for k, v in kwargs.items())}): {seen}"


def suite_parameters(now: dt.datetime | None = None) -> dict:
    """The date-range parameters every silver suite takes: nothing may be dated after tomorrow."""
    from zoneinfo import ZoneInfo

    now = now or dt.datetime.now(ZoneInfo(TZ_NAME))
    latest = now + dt.timedelta(days=1)
    # Naive local wall-clock values: Spark compares them in its session time zone (Asia/Shanghai).
    return {"latest_timestamp": latest.replace(tzinfo=None).isoformat(timespec="seconds"),
            "latest_date": latest.date().isoformat()}


def _context(docs_dir: Path | None = None):
    import great_expectations as gx  # seconds: only when a suite runs (module docstring)
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
               docs: bool, result_format: str | dict = SUMMARY_WITHOUT_VALUES) -> dict:
    """Validate ``frame`` (Spark or pandas) against a suite; through a Checkpoint that stores the result
    and updates the Data Docs when ``docs``."""
    import great_expectations as gx  # seconds: only when a suite runs (module docstring)
    from great_expectations.checkpoint import UpdateDataDocsAction

    sources = context.data_sources
    # persist=False: GE would cache the whole Spark frame (and never release it) before its queries. Building
    # that cache unrolls a task's rows on the heap: on 156 weeks of province calls (12 M rows with their
    # transcripts) it ran the 4 GB driver out of heap. Uncached, each query reads only its columns from the
    # Parquet files, and the audit of 52 weeks of calls (4.0 M rows) took 38.3 s instead of 81.1 s. Nothing
    # cached also means a later read of rewritten files cannot be answered with the rows of an earlier audit.
    source = (sources.add_spark(name=f"{engine}-{asset}", persist=False) if engine == "spark"
              else sources.add_pandas(name=f"{engine}-{asset}"))
    batch_definition = source.add_dataframe_asset(name=asset).add_batch_definition_whole_dataframe(name="whole")
    suite = load_suite(suite_name)
    if not docs:
        result = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(
            suite, expectation_parameters=parameters, result_format=result_format)
        return _report(suite_name, result)
    if suite_name not in {s.name for s in context.suites.all()}:
        context.suites.add(suite)
    suite = context.suites.get(suite_name)
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=f"{asset}:{suite_name}", data=batch_definition, suite=suite))
    checkpoint = context.checkpoints.add(gx.Checkpoint(
        name=f"{asset}:{suite_name}", validation_definitions=[definition],
        actions=[UpdateDataDocsAction(name="data_docs", site_names=[DOCS_SITE])],
        result_format=SUMMARY_WITHOUT_VALUES))
    run = checkpoint.run(batch_parameters={"dataframe": frame}, expectation_parameters=parameters)
    (result,) = run.run_results.values()
    return _report(suite_name, result)


def validate_frame(df: DataFrame, suite_name: str, parameters: dict | None = None, details: bool = True) -> dict:
    """Run one suite on a Spark DataFrame; return {suite, success, evaluated, failures}.

    Checked first with GE's BOOLEAN_ONLY results: pass or fail per expectation, the counts bundled into
    a few Spark queries. The SUMMARY results (unexpected counts) cost one more query per
    expectation, three times the whole audit on a week of provincial calls (11-18 s against 4-5 s), so they
    are asked for only when something failed, to say what (``details=False``: pass or fail is enough).
    """
    parameters = parameters if parameters is not None else suite_parameters()
    report = _run_suite(_context(), "spark", suite_name, df, suite_name, parameters, docs=False,
                        result_format="BOOLEAN_ONLY")
    if report["success"] or not details:
        return report
    return _run_suite(_context(), "spark", suite_name, df, suite_name, parameters, docs=False)


# --- row-count anomalies ---------------------------------------------------------------------------

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
            where = f" in {report['where']}" if report.get("where") else ""
            lines.append(f"{report['suite']}{where}: {len(report['failures'])} of {report['evaluated']} "
                         "expectations failed")
            lines += [f"  - {failure}" for failure in report["failures"]]
        raise SilverValidationError("silver validation failed; gold is not built from it\n" + "\n".join(lines))


def data_docs_dir(lake: Lake) -> Path:
    return lake.quality / "data_docs"


# --- incremental audit: which partitions were validated -------------------------------------------

def suite_hash(suite_name: str) -> str:
    """sha256 of a suite's JSON file: editing a suite invalidates every partition validated under it."""
    return hashlib.sha256((EXPECTATIONS_DIR / f"{suite_name}.json").read_bytes()).hexdigest()


def _read_partitions(spark: SparkSession, table_path: Path, names) -> DataFrame:
    # basePath keeps week_start a column when only some partition folders are read.
    return read_parquet(spark, [table_path / n for n in names], base_path=table_path)


def _failing_partitions(spark: SparkSession, table_path: Path, names: list[str], suite_name: str,
                        parameters: dict) -> list[str]:
    """The partitions among ``names`` (which failed together) that fail on their own, by bisection:
    about 2·log2(n) suite runs per bad partition instead of one per partition. Empty when the failure
    only exists across partitions."""
    if len(names) == 1:
        return list(names)
    middle = len(names) // 2
    found = []
    for half in (names[:middle], names[middle:]):
        if not validate_frame(_read_partitions(spark, table_path, half), suite_name, parameters,
                              details=False)["success"]:
            found += _failing_partitions(spark, table_path, half, suite_name, parameters)
    return found


def _table_report(spark: SparkSession, context, table: str, table_path: Path, parts: dict[str, Path],
                  todo: list[str], parameters: dict, docs: bool) -> dict:
    suite = f"silver_{table}"
    counts = {"validated_partitions": len(todo), "skipped_partitions": len(parts) - len(todo)}
    if not parts:
        return {"table": table, "suite": suite, "success": False, "evaluated": 0, **counts,
                "failures": [f"table silver/{table} has no {PARTITION_PREFIX} partitions: nothing to validate"]}
    if not todo:
        return {"table": table, "suite": suite, "success": True, "evaluated": 0, "failures": [], **counts,
                "note": "every partition was validated before and is unchanged"}
    report = {"table": table, **_run_suite(context, "spark", table, _read_partitions(spark, table_path, todo),
                                           suite, parameters, docs), **counts}
    if not report["success"]:
        bad = _failing_partitions(spark, table_path, todo, suite, parameters)
        where = (f"week partition(s) {', '.join(bad)} of silver/{table}" if bad else
                 f"silver/{table} across week partitions {', '.join(todo)} (each passes on its own)")
        report.update(failed_partitions=bad, where=where)
    return report


def validate_silver(spark: SparkSession, lake: Lake, docs: bool = True) -> list[dict]:
    """Validate the silver partitions not validated before, and each table's row counts; raise
    SilverValidationError if a blocking expectation fails. With ``docs`` the Data Docs of this run
    replace ``<lake>/_quality/data_docs`` first, so a failed run's page shows what failed."""
    staged = lake.new_staging_path("quality-data-docs") if docs else None
    context = _context(staged)
    parameters = suite_parameters()
    state = read_state(lake)
    new_state, reports = {}, []
    for table in SILVER_TABLES.values():
        path = lake.silver(table)
        if not path.exists():
            reports.append({"suite": f"silver_{table}", "success": False, "evaluated": 0,
                            "failures": [f"table silver/{table} does not exist: its silver job has not run"]})
            continue
        # Fingerprints first: a partition rewritten while it is read gets a new one and is validated again.
        parts = week_partitions(path)
        prints = {name: f for name, f in partition_fingerprints(path).items() if name in parts}
        digest = suite_hash(f"silver_{table}")
        known = state.get(table) or {}
        seen = (known.get("partitions") or {}) if known.get("suite_sha256") == digest else {}
        todo = [name for name in parts if name not in seen or seen[name] != prints[name]]
        # Uniqueness of keys is checked within the validated weeks only; across weeks the merge keeps it
        # (a new record whose key sits in another week rebuilds that week too: merge_silver), and a full
        # build rewrites every week, so all are validated together.
        reports.append(_table_report(spark, context, table, path, parts, todo, parameters, docs))
        new_state[table] = {"suite_sha256": digest, "partitions": prints}
        if parts:
            reports.append(_count_report(context, table, _read_partitions(spark, path, count_partitions(parts)),
                                         docs))
    if staged is not None:
        context.build_data_docs(site_names=[DOCS_SITE])
        publish_directory(staged, data_docs_dir(lake))
    raise_on_failures(reports)
    # Only now: every blocking suite passed, so every partition fingerprinted above is good.
    with state_lock(lake):
        write_state(lake, {**read_state(lake), **new_state})
    return reports


def partition_counts(reports: list[dict]) -> dict:
    """How many silver partitions this run validated and how many it skipped as validated before."""
    return {key: sum(r.get(f"{key}_partitions", 0) for r in reports) for key in ("validated", "skipped")}


def row_count_warnings(reports: list[dict]) -> list[str]:
    """Readable lines for the non-blocking row-count checks that failed."""
    return [f"{r['table']}: {'; '.join(r['failures'])} (recent days {', '.join(r.get('recent_days', []))})"
            for r in reports if not r["success"] and not r.get("blocking", True)]


def run(spark: SparkSession, lake: Lake) -> dict:
    reports = validate_silver(spark, lake)
    return {r["suite"] if "table" not in r else f"{r['suite']}:{r['table']}": r["evaluated"] for r in reports}
