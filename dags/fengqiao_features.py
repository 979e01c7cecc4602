"""Audit silver with Great Expectations, then publish gold/region_week_features (Spark)."""
from __future__ import annotations

from airflow.sdk import dag, task

from fengqiao import pipeline
from fengqiao.orchestration import REGION_WEEK_FEATURES, SILVER, START_DATE, default_args


@dag(
    dag_id="fengqiao_features",
    description="Validate silver, build weekly features per township and county",
    doc_md="Write-audit-publish: the silver tables are checked against `expectations/*.json`; a failed "
    "suite stops here with the failed expectations named, and gold is left as it was.",
    schedule=list(SILVER.values()),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["fengqiao", "features"],
)
def fengqiao_features():
    # A failed audit is a data problem, not a passing fault: retrying would only repeat it.
    @task(retries=0, doc_md="Great Expectations suites on every silver table.")
    def validate_silver() -> dict:
        return pipeline.validate_silver()

    @task(outlets=[REGION_WEEK_FEATURES], doc_md="Spark job: counts, signals, changes, spatial lags.")
    def build_features(_validated: dict) -> dict:
        return pipeline.build_features()

    build_features(validate_silver())


fengqiao_features()
