"""Ingestion, one DAG per upstream feed: land the day's drops in bronze, then rebuild silver.

Runs daily; each DAG publishes its silver table as an Asset, and the features DAG runs when any of
the three has been updated. A day with nothing new for a feed skips its silver build (a short-circuit
task), so no asset event is emitted and nothing downstream runs for it.
"""
from __future__ import annotations

from airflow.sdk import dag, task

from fengqiao import pipeline
from fengqiao.orchestration import SILVER, START_DATE, default_args, spark_stage
from fengqiao.lake import SILVER_TABLES

FEED_DOCS = {
    "hotline": "12348/12345 hotline calls with transcripts (JSON Lines, UTF-8).",
    "workorders": "Unified work-order system snapshots (CSV, UTF-8); the newest snapshot of each order wins.",
    "mediation": "People's mediation case registry (CSV in GB18030, sometimes .xlsx).",
}


def ingest_dag(feed: str):
    @dag(
        dag_id=f"fengqiao_ingest_{feed}",
        description=f"Land and clean the {feed} feed",
        doc_md=f"**{feed}**: {FEED_DOCS[feed]} Bronze keeps the files as delivered; silver is typed, "
        "de-duplicated, masked, with bad records quarantined.",
        schedule="@daily",
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args=default_args(),
        tags=["fengqiao", "ingest", feed],
    )
    def ingest():
        @task(task_id="land_bronze", doc_md="Copy new, complete (_READY) day folders into bronze with a manifest.")
        def land_bronze() -> dict:
            return pipeline.land_feed(feed)

        # In this process, or submitted to the Spark cluster when SPARK_MASTER names one.
        silver = spark_stage(f"build_silver_{SILVER_TABLES[feed]}", "silver", feed, outlets=[SILVER[feed]],
                             doc_md="Parse, type, de-duplicate, mask and quarantine; publish the silver table.")
        @task.short_circuit(task_id="has_new_files",
                            doc_md="Skip the silver build (and its asset event) when every landed file is merged.")
        def has_new_files() -> bool:
            return pipeline.silver_has_new_files(feed)

        check = has_new_files()
        land_bronze() >> check >> silver
        if feed == "workorders":
            # The order system's PostgreSQL table, as well as its file exports; a logged no-op without a DSN.
            @task(task_id="extract_work_orders_db",
                  doc_md="Land the orders changed since the last extract (updated_at watermark) from the "
                  "work-order database as contract CSV in bronze; skipped when FENGQIAO_WORKORDERS_DSN is unset.")
            def extract_work_orders_db() -> dict:
                return pipeline.extract_work_orders_db()

            extract_work_orders_db() >> check

    return ingest()


for _feed in SILVER_TABLES:
    ingest_dag(_feed)
