"""Ingestion: land each feed's new day folders in bronze, then rebuild its silver table.

One DAG for the three upstream feeds, run daily, so that a day's deliveries start the chain downstream
once: each feed's silver table is its own Asset, and ``announce_silver`` emits ``fengqiao.silver``
(the features DAG's schedule) when the feeds are done and at least one table changed. A feed with
nothing new skips its silver build (a short-circuit task: no asset event, nothing downstream for it);
a feed whose build fails does not hold the others back (the run is marked failed and retried, and the
tables that were built are still announced).
"""
from __future__ import annotations

from airflow.sdk import dag, task
from airflow.sdk.exceptions import AirflowSkipException

from fengqiao.core.settings import Settings
from fengqiao.orchestration import SILVER, SILVER_TABLES, SILVER_UPDATED, START_DATE, default_args, spark_stage
from jobs import stages as pipeline

SETTINGS = Settings.from_env()  # once per parse of this file; the tasks read theirs when they run

FEED_DOCS = {
    "hotline": "12348/12345 hotline calls with transcripts (JSON Lines, UTF-8).",
    "workorders": "Unified work-order system snapshots (CSV, UTF-8); the newest snapshot of each order wins.",
    "mediation": "People's mediation case registry (CSV in GB18030, sometimes .xlsx).",
}


def feed_tasks(feed: str):
    """land → has new files? → build silver, for one feed; returns the silver build task."""
    @task(task_id=f"land_bronze_{feed}", doc_md=f"**{feed}**: {FEED_DOCS[feed]} Copy new, complete (_READY) "
          "day folders into bronze with a manifest; bronze keeps the files as delivered.")
    def land_bronze() -> dict:
        return pipeline.land_feed(feed)

    # Only this task is skipped when nothing is new: announce_silver still runs on the other feeds' trigger rule.
    @task.short_circuit(task_id=f"has_new_files_{feed}", ignore_downstream_trigger_rules=False,
                        doc_md="Skip the silver build (and its asset event) when every landed file is merged.")
    def has_new_files() -> bool:
        return pipeline.silver_has_new_files(feed)

    # In this process, or submitted to the Spark cluster when SPARK_MASTER names one.
    silver = spark_stage(f"build_silver_{SILVER_TABLES[feed]}", "silver", feed, settings=SETTINGS,
                         outlets=[SILVER[feed]],
                         doc_md="Parse, type, de-duplicate, mask and quarantine; publish the silver table.")
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
    return silver


@dag(
    dag_id="fengqiao_ingest",
    description="Land and clean the hotline, work-order and mediation feeds",
    doc_md=__doc__,
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    # Spark builds one silver table at a time on a small machine; a cluster deployment can raise this.
    max_active_tasks=2,
    default_args=default_args(SETTINGS),
    tags=["fengqiao", "ingest"],
)
def fengqiao_ingest():
    builds = [feed_tasks(feed) for feed in SILVER_TABLES]

    # all_done: a feed whose build failed must not keep the others' new tables from the features DAG. Whether a
    # table changed is read from the lake (its publish time), the same whether Spark ran here or on a cluster.
    @task(outlets=[SILVER_UPDATED], trigger_rule="all_done",
          doc_md="Announce the day's silver (asset fengqiao.silver) once every feed is done, if a table changed.")
    def announce_silver(dag_run=None) -> dict:
        changed = pipeline.silver_tables_published_since(dag_run.start_date)
        if not changed:
            raise AirflowSkipException("no silver table changed in this run: nothing to announce")
        return {"changed": changed}

    # A leaf that fails the run (upstream_failed) when a feed's build failed: announce_silver, which still ran
    # for the other feeds, would otherwise leave the run marked successful.
    @task(trigger_rule="none_failed", doc_md="Marks the run failed when a feed's silver build failed after retries.")
    def every_feed_ingested() -> None:
        return None

    builds >> announce_silver()
    builds >> every_feed_ingested()


fengqiao_ingest()
