"""Audit silver with Great Expectations, then publish gold/region_week_features (Spark)."""
from __future__ import annotations

from airflow.sdk import dag, task

from fengqiao.core.settings import Settings
from fengqiao.orchestration import REGION_WEEK_FEATURES, SILVER_UPDATED, START_DATE, default_args, spark_stage
from jobs import stages as pipeline

SETTINGS = Settings.from_env()  # once per parse of this file; the tasks read theirs when they run


@dag(
    dag_id="fengqiao_features",
    description="Validate silver, build weekly features per township and county",
    doc_md="Write-audit-publish: the silver tables are checked against `expectations/*.json`; a failed "
    "suite stops here with the failed expectations named, and gold is left as it was.",
    # Once per ingest run that changed any silver table: a day with new calls only does not wait for the other feeds.
    schedule=[SILVER_UPDATED],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=default_args(SETTINGS),
    tags=["fengqiao", "features"],
)
def fengqiao_features():
    # Both in this process, or submitted to the Spark cluster when SPARK_MASTER names one.
    # A failed audit is a data problem, not a passing fault: retrying would only repeat it.
    validate_silver = spark_stage("validate_silver", "validate", settings=SETTINGS, retries=0,
                                  doc_md="Great Expectations suites on every silver table.")
    build_features = spark_stage("build_features", "features", settings=SETTINGS, outlets=[REGION_WEEK_FEATURES],
                                 doc_md="Spark job: counts, signals, changes, spatial lags.")
    # Pandas on per-day counts (no Spark): which county's feed went silent; scoring marks those weeks.
    @task(doc_md="gold/feed_health: per feed and county, freshness, volume against its own history, outages.")
    def build_feed_health() -> dict:
        return pipeline.build_feed_health()

    validate_silver >> build_feed_health() >> build_features


fengqiao_features()
