"""Audit silver with Great Expectations, then publish gold/region_week_features (Spark)."""
from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from fengqiao import pipeline
from fengqiao.assets import REGION_WEEK_FEATURES, SILVER


@dag(
    dag_id="fengqiao_features",
    description="Validate silver, build weekly features per township and county",
    doc_md="Write-audit-publish: the silver tables are checked against `expectations/*.json`; a failed "
    "suite stops here with the failed expectations named, and gold is left as it was.",
    schedule=list(SILVER.values()),
    start_date=pendulum.datetime(2024, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "fengqiao", "retries": 1, "retry_delay": pendulum.duration(minutes=2)},
    tags=["fengqiao", "features"],
)
def fengqiao_features():
    @task(retries=0, doc_md="Great Expectations suites on every silver table.")
    def validate_silver() -> dict:
        return pipeline.validate_silver()

    @task(outlets=[REGION_WEEK_FEATURES], doc_md="Spark job: counts, signals, changes, spatial lags.")
    def build_features(_validated: dict) -> dict:
        return pipeline.build_features()

    build_features(validate_silver())


fengqiao_features()
