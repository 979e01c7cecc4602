"""Ingestion, one DAG per upstream feed: land the day's drops in bronze, then rebuild silver.

Runs daily; each DAG publishes its silver table as an Asset, and the features DAG runs when all
three have been updated.
"""
from __future__ import annotations

from airflow.sdk import dag, task

from fengqiao import pipeline
from fengqiao.orchestration import SILVER, START_DATE, default_args
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

        @task(task_id=f"build_silver_{SILVER_TABLES[feed]}", outlets=[SILVER[feed]],
              doc_md="Parse, type, de-duplicate, mask and quarantine; publish the silver table.")
        def build_silver(_landed: dict) -> dict:
            return pipeline.build_silver(feed)

        build_silver(land_bronze())

    return ingest()


for _feed in SILVER_TABLES:
    ingest_dag(_feed)
